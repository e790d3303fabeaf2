"""Accuracy of the packaged content-type detector on the held-out test split of data/content_type/labelled.jsonl.

The floors sit a little below the accuracy measured once on the test split (docs/data-content-type.md), so that
a change that makes detection worse fails here. Real items (AnnoMI, ESConv, counsel-chat) are references into
../shared/data: the tests that need them skip with a clear message when it is absent; the others then run on
the handwritten and demo items alone, and the report says how many references were left out and why.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from empathy.data import content_type_eval as ev
from empathy.data.content_type import CONTENT_TYPES, MODEL_FILE, ContentTypeModel
from empathy.io import sha256_file
from tests.conftest import REPO

DATA = REPO / "data" / "content_type" / "labelled.jsonl"
# measured once on the test split: 0.962 (51 of 53), lowest per-type recall 0.889; see docs/data-content-type.md
ACCURACY_FLOOR = 0.90
RECALL_FLOOR = 0.75          # per type: 8 or 9 test items each, so one error costs 0.11 to 0.125
REAL_TEST_FLOOR = 0.75       # the 8 real test items: 7 measured correct
# the real sets outside the labelled set (hundreds of items), measured once: floors a few points below
REAL_SET_FLOORS = {"annomi/original": 0.93, "annomi/anonymous": 0.85, "esconv/original": 0.92,
                   "esconv/anonymous": 0.83, "counsel-chat/original": 0.95, "counsel-chat/text": 0.75}


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return ev.evaluate_content_type(DATA, tmp_path_factory.mktemp("content_type"), ContentTypeModel.load())


def test_packaged_model_was_trained_on_this_data():
    model = json.loads(MODEL_FILE.read_text())
    assert model["training_data"]["sha256"] == sha256_file(DATA), \
        "data/content_type/labelled.jsonl changed: retrain with `empathy data train-content-type`"
    assert model["training_data"]["used_splits"] == ["train", "val"]
    assert model["selection"]["chosen_on"] == "val"


def test_training_never_reads_the_test_split(monkeypatch, tmp_path):
    seen: list[str] = []
    real = ev.resolve

    def spy(row, path=ev.DEFAULT_DATA):
        seen.append(row["split"])
        return real(row, path)

    monkeypatch.setattr(ev, "resolve", spy)
    ev.train_content_type(DATA, tmp_path / "m.json")
    assert seen and "test" not in seen


def test_test_accuracy(report):
    assert report["model"]["trained_on_this_data"]
    assert report["test"]["n"] >= 40
    assert report["test"]["accuracy"] >= ACCURACY_FLOOR, report["errors"]


def test_every_type_is_recalled(report):
    for ctype in CONTENT_TYPES:
        assert report["per_type"][ctype]["recall"] >= RECALL_FLOOR, (ctype, report["per_type"][ctype])


def test_beats_the_rules_only_baseline(report):
    assert report["test"]["accuracy"] > report["baseline_rules"]["accuracy"]


def test_report_files(report):
    data = json.loads(open(report["paths"]["json"], encoding="utf-8").read())
    conf = np.array(data["confusion"]["rows_true_cols_pred"])
    assert conf.shape == (6, 6) and conf.sum() == data["test"]["n"]
    assert np.trace(conf) == data["test"]["correct"]
    html = open(report["paths"]["html"], encoding="utf-8").read()
    assert "data:image/png;base64," in html and "<th>precision</th>" in html and "Errors" in html


def test_real_items_are_resolved_and_detected(shared_data, report):
    assert report["data"]["references_skipped"] == []
    real = {k: v for k, v in report["by_source"].items() if k in ("annomi", "esconv", "counsel-chat")}
    assert set(real) == {"annomi", "esconv", "counsel-chat"}
    n = sum(v["n"] for v in real.values())
    correct = sum(v["correct"] for v in real.values())
    assert correct / n >= REAL_TEST_FLOOR, real


def test_real_sets_outside_the_labelled_set(shared_data, report):
    real = report["real_sets"]
    assert "skipped" not in real
    for name, floor in REAL_SET_FLOORS.items():
        assert real[name]["n"] >= 30, name
        assert real[name]["accuracy"] >= floor, (name, real[name])


def test_references_resolve_without_copying_text(shared_data):
    rows = {r["id"]: r for r in ev.read_labelled(DATA)}
    annomi = ev.resolve(rows["ct-annomi-34"], DATA)
    assert len(annomi["turns"]) == 24 and {t["speaker"] for t in annomi["turns"]} == {"Therapist", "Client"}
    anonymous = ev.resolve(rows["ct-annomi-124"], DATA)
    assert {t["speaker"] for t in anonymous["turns"]} == {"Speaker 1", "Speaker 2"}
    cc_text = ev.resolve(rows["ct-counsel-chat-833"], DATA)
    assert "turns" not in cc_text and "?" in cc_text["text"].split("\n\n")[0]
    cc_turns = ev.resolve(rows["ct-counsel-chat-522"], DATA)
    assert [t["speaker"] for t in cc_turns["turns"]] == ["asker", "responder"]


def test_missing_shared_data_is_reported_not_fatal(monkeypatch, tmp_path):
    def absent(name):
        raise ev.Unresolved(f"{name} not found in ../shared/data or $EMPATHY_SHARED_DATA")

    monkeypatch.setattr(ev, "_shared", absent)
    rep = ev.evaluate_content_type(DATA, tmp_path, ContentTypeModel.load())
    skipped = rep["data"]["references_skipped"]
    assert skipped and all("not found" in s["reason"] for s in skipped)
    assert {s["ref"].split(":")[0] for s in skipped} <= {"annomi", "esconv", "counsel-chat"}
    assert rep["test"]["n"] + len(skipped) == sum(1 for r in ev.read_labelled(DATA) if r["split"] == "test")
    assert "not found" in rep["real_sets"]["skipped"]
    assert "real items skipped" in (tmp_path / "report.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_retraining_is_deterministic(shared_data, tmp_path):
    ev.train_content_type(DATA, tmp_path / "m.json")
    fresh = json.loads((tmp_path / "m.json").read_text())
    packaged = json.loads(MODEL_FILE.read_text())
    for key in ("classes", "features", "C"):
        assert fresh[key] == packaged[key]
    for key in ("mean", "scale", "coef", "intercept"):
        assert np.allclose(fresh[key], packaged[key], atol=1e-6), key
