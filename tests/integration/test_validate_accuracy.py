"""The packaged semantic validator on counsel-chat's test split: the four rates the issue sets, against the
plain-cosine baseline calibrated the same way; that training never reads the test split; and that retraining
reproduces the packaged model. Needs ../shared/data/counsel_chat.csv (or $EMPATHY_SHARED_DATA): skips with a
message without it.

Targets (issue 4): true pairs kept >= 0.90, cross-topic mismatches rejected >= 0.97, generic answers rejected
>= 0.95; same-topic mismatches are reported, with a floor a few points below the rate measured on the test split
(docs/data.md), and must stay at or above plain cosine calibrated the same way on val. (At an equal share of true
pairs kept, chosen on test labels, plain cosine rejects more same-topic pairs on this small test split; the
validator's gain shows on val and in cross-validation, docs/data.md.)
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from empathy.data import validate_eval as ev
from empathy.data.shared_sets import COUNSEL_CHAT, find_shared_file
from empathy.data.validate import MODEL_FILE, SemanticValidator
from empathy.io import sha256_file
from tests.conftest import REPO

pytestmark = [pytest.mark.integration, pytest.mark.slow]

GENERIC = REPO / "data" / "validate" / "generic_answers.jsonl"
TRUE_KEPT = 0.90
CROSS_REJECTED = 0.97
GENERIC_REJECTED = 0.95
# measured on the test split: 0.607 (65 of 107), docs/data.md; one same-topic pair is 0.0093
SAME_REJECTED_FLOOR = 0.55


@pytest.fixture(scope="module")
def counsel_chat():
    path = find_shared_file(COUNSEL_CHAT)
    if path is None:
        pytest.skip(f"{COUNSEL_CHAT} not found in $EMPATHY_SHARED_DATA or ../shared/data: the validator's accuracy "
                    "on counsel-chat cannot be measured here (CI has it; see ../shared/data/README.md)")
    return path


@pytest.fixture(scope="module")
def report(counsel_chat, tmp_path_factory):
    return ev.evaluate_validator(counsel_chat, GENERIC, tmp_path_factory.mktemp("validator"))


def test_packaged_model_was_trained_on_this_data(counsel_chat):
    model = json.loads(MODEL_FILE.read_text())
    assert model["training_data"]["counsel_chat"]["sha256"] == sha256_file(counsel_chat), \
        "counsel_chat.csv differs from the one the validator was trained on: retrain with `empathy data train-validator`"
    assert model["training_data"]["generic_answers"]["sha256"] == sha256_file(GENERIC), \
        "data/validate/generic_answers.jsonl changed: retrain with `empathy data train-validator`"
    assert model["training_data"]["used_splits"] == {"fit": "train", "calibration": "val"}


def test_test_split_is_the_one_the_baseline_was_measured_on(report):
    # ../shared/ENVIRONMENT.md's cosine baseline: 117 true pairs on counsel-chat's test split
    assert report["test"]["true"]["n"] == 117
    assert report["test"]["cross"]["n"] == 117 and report["test"]["generic"]["n"] == 117
    assert report["test"]["same"]["n"] >= 100


def test_true_pairs_kept(report):
    assert report["test"]["true"]["rate"] >= TRUE_KEPT, report["errors"]["true_rejected"]


def test_cross_topic_rejected(report):
    assert report["test"]["cross"]["rate"] >= CROSS_REJECTED, report["errors"]["cross_or_generic_accepted"]


def test_generic_rejected(report):
    assert report["test"]["generic"]["rate"] >= GENERIC_REJECTED, report["errors"]["cross_or_generic_accepted"]


def test_same_topic_rejected_and_not_below_plain_cosine(report):
    same = report["test"]["same"]["rate"]
    assert same >= SAME_REJECTED_FLOOR
    assert same >= report["baselines"]["plain_cosine_val_calibrated"]["same"]["rate"]


def test_report_files_and_reasons(report):
    assert report["model"]["trained_on_this_data"]
    html = open(report["paths"]["html"], encoding="utf-8").read()
    assert "data:image/png;base64," in html and "same-topic" in html
    assert set(report["reasons"]["generic"]) <= {"generic_answer", "low_score", "off_topic", "answer_too_short"}
    assert report["reasons"]["generic"].get("generic_answer", 0) >= 0.8 * report["test"]["generic"]["rejected"]


def test_training_never_reads_the_test_split(counsel_chat, monkeypatch, tmp_path):
    splits: list[set[str]] = []

    class Stop(Exception):
        pass

    real = ev.make_examples

    def spy(questions, generics, rounds, seed):
        splits.append({q.split for q in questions} | {g["split"] for g in generics})
        if len(splits) == 2:     # train and val examples made: enough, stop before the encoder runs
            raise Stop
        return real(questions, generics, rounds, seed)

    monkeypatch.setattr(ev, "make_examples", spy)
    with pytest.raises(Stop):
        ev.train_validator(counsel_chat, GENERIC, tmp_path / "m.json")
    assert splits == [{"train"}, {"val"}]


def test_retraining_reproduces_the_packaged_model(counsel_chat, tmp_path):
    out = tmp_path / "validate_model.json"
    ev.train_validator(counsel_chat, GENERIC, out)
    packaged, fresh = json.loads(MODEL_FILE.read_text()), json.loads(out.read_text())
    # bit-identical only with the same embedding vectors: a fresh encoder run (another batching, no cache) moves
    # the last float bits, so the bank and the coefficients are compared within a tolerance, not by sha256
    with np.load(MODEL_FILE.with_name(packaged["bank"]["file"])) as a, np.load(out.with_name(fresh["bank"]["file"])) as b:
        assert sorted(a.files) == sorted(b.files)
        for name in a.files:
            np.testing.assert_allclose(b[name], a[name], atol=1e-3, err_msg=name)
    for head in ("pair", "generic"):
        np.testing.assert_allclose(fresh["heads"][head]["coef"], packaged["heads"][head]["coef"], atol=2e-3)
    assert fresh["thresholds"] == pytest.approx(packaged["thresholds"], abs=2e-3)
    SemanticValidator.load(out)
