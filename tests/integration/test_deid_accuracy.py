"""De-identification accuracy: guards on the labelled set (data/deid/labelled.jsonl) and checks on the real data
sets of ../shared/data (skipped when absent).

The guards sit a little below the measured numbers (docs/data-deid.md): they catch a rule that stops working, not
small wording changes. dev/test rows were in view while the rules were written; the holdout rounds were written
afterwards and scored once before any rule changed, which is why their guards are lower and why they are reported
separately.
"""

from __future__ import annotations

import os
import re

import pytest

from empathy.data.deid import TYPES, deidentify
from empathy.data.deid_eval import evaluate_deid, load_labelled, score
from tests.conftest import REPO

DATA = REPO / "data" / "deid" / "labelled.jsonl"
STRUCTURED = ("DATE", "AGE", "PHONE", "EMAIL", "URL", "IP_ADDRESS", "ID_NUMBER", "USERNAME")
HOLDOUTS = ("holdout", "holdout2", "holdout3", "holdout4", "holdout5")


@pytest.fixture(scope="module")
def rows():
    return load_labelled(DATA)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    return evaluate_deid(DATA, tmp_path_factory.mktemp("deid"), real_data=False)


def _pooled(report, splits, types):
    """Removed recall over the gold spans of `types` in `splits`, from the per-type counts."""
    gold = removed = 0
    for s in splits:
        for t, v in report["splits"][s]["per_type"].items():
            if t in types and v["gold"]:
                gold += v["gold"]
                removed += round(v["removed_recall"] * v["gold"])
    return removed / gold


def test_labelled_set_shape(rows):
    assert len(rows) >= 150
    kinds = {k: sum(r["kind"] == k for r in rows) for k in ("identifiers", "none", "hard_negative")}
    assert kinds["identifiers"] >= 100 and kinds["none"] >= 10 and kinds["hard_negative"] >= 25, kinds
    gold = {t: sum(s["type"] == t for r in rows for s in r["spans"]) for t in TYPES}
    assert all(gold[t] >= 5 for t in ("NAME", "LOCATION", "DATE", "AGE", "PHONE", "EMAIL", "URL", "ID_NUMBER")), gold
    assert gold["IP_ADDRESS"] >= 3 and gold["USERNAME"] >= 2, gold
    assert all(r["kind"] == "identifiers" or not r["spans"] for r in rows)


def test_structured_types_recall(report):
    """The issue's target, on every labelled row: >= 0.95 of the structured identifiers removed."""
    assert _pooled(report, ("all",), STRUCTURED) >= 0.95
    per_type = report["splits"]["all"]["per_type"]
    low = {t: per_type[t]["removed_recall"] for t in STRUCTURED if per_type[t]["removed_recall"] < 0.9}
    assert not low, low


def test_dev_and_test_guards(report):
    for split in ("dev", "test"):
        s = report["splits"][split]
        assert s["removed_recall"] >= 0.95, (split, s["misses"])
        assert s["precision"] >= 0.95, (split, s["false_positives"])


def test_holdout_guards(report):
    """Rounds written after the rules: lower, honest numbers; names and places are the weak types."""
    assert _pooled(report, ("holdouts",), STRUCTURED) >= 0.9
    assert report["splits"]["holdouts"]["per_type"]["NAME"]["removed_recall"] >= 0.8
    assert report["splits"]["holdouts"]["per_type"]["LOCATION"]["removed_recall"] >= 0.75
    assert report["splits"]["holdouts"]["removed_recall"] >= 0.85
    for split in HOLDOUTS:
        assert report["splits"][split]["precision"] >= 0.9, report["splits"][split]["false_positives"]


def test_rows_without_identifiers_stay_unchanged(report):
    s = report["splits"]["all"]
    assert s["rows_without_identifiers"] >= 40
    assert s["rows_without_identifiers_changed"] <= 1, [f for f in s["false_positives"] if f["kind"] != "identifiers"]
    assert s["precision"] >= 0.95


def test_scoring_is_deterministic(rows, report):
    assert score(rows, [deidentify(r["text"]) for r in rows]) == report["splits"]["all"]


# --- the real data sets --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real(shared_data):
    from empathy.data.deid_eval import _real_data

    old = os.environ.get("EMPATHY_SHARED_DATA")
    os.environ["EMPATHY_SHARED_DATA"] = str(shared_data)
    try:
        result = _real_data(sample_per_type=10_000)
    finally:
        if old is None:
            os.environ.pop("EMPATHY_SHARED_DATA", None)
        else:
            os.environ["EMPATHY_SHARED_DATA"] = old
    if "skipped" in result:
        pytest.skip(result["skipped"])
    return result


def test_real_data_sets_are_all_read(real):
    assert set(real) == {"annomi_utterances", "esconv_turns", "counsel_chat_questions", "counsel_chat_answers"}
    assert real["annomi_utterances"]["texts"] > 13_000 and real["counsel_chat_answers"]["texts"] > 2_000


def test_counsellors_contact_details_are_removed(real, shared_data):
    """Counsel-chat answers carry therapists' phone numbers, websites and signatures: all must go, while the
    hotlines they give stay."""
    import csv

    with open(shared_data / "counsel_chat.csv", newline="", encoding="utf-8") as fh:
        answers = [r["answerText"] or "" for r in csv.DictReader(fh)]
    outs = [deidentify(a).text for a in answers]
    with_phone = [i for i, a in enumerate(answers) if "787-466-5478" in a]
    assert with_phone and not any("787-466-5478" in outs[i] for i in with_phone)
    assert not any(re.search(r"https?://|www\.", o, re.I) for o in outs)
    kept = [i for i, a in enumerate(answers) if "1-800-273-8255" in a]
    assert kept and all("1-800-273-8255" in outs[i] for i in kept)
    assert real["counsel_chat_answers"]["counts"].get("PHONE", 0) >= 20
    assert real["counsel_chat_answers"]["counts"].get("URL", 0) >= 100


def test_real_conversation_is_not_over_replaced(real):
    """Client and therapist turns mostly hold no identifier: a rule that fires on ordinary words shows up here."""
    for src, limit in (("annomi_utterances", 0.08), ("esconv_turns", 0.03), ("counsel_chat_questions", 0.05)):
        v = real[src]
        assert v["texts_changed"] / v["texts"] <= limit, (src, v["texts_changed"], v["rules"])
    words = {x["found"] for v in real.values() for xs in v["samples"].values() for x in xs}
    assert not words & {"My", "In", "So", "Ok", "Tai Chi", "Many", "Don", "Love", "Hope", "Will", "Grace"}


def test_role_play_names_are_found(real):
    """AnnoMI's demonstration sessions name their clients; some are replaced (names: see docs for the misses)."""
    assert real["annomi_utterances"]["counts"].get("NAME", 0) >= 300


def test_short_texts_throughput(real):
    """Several thousand short texts a second on 2 cores (measured 6-9k/s on AnnoMI); the guard leaves room for a
    busy machine."""
    assert real["annomi_utterances"]["texts_per_second"] >= 1500
    assert real["esconv_turns"]["texts_per_second"] >= 1500
