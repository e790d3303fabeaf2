"""Accuracy of the packaged risk detector on the held-out test split of data/safety/risk_labelled.jsonl (round 16,
written blind), on real client turns of AnnoMI and ESConv test conversations and on counsel-chat's val and test
questions (by topic, and by annotation); determinism of retraining; and fresh sentences that are in no split:
indirect crises it must catch and hard negatives it must not flag."""

from __future__ import annotations

import json

import numpy as np
import pytest

from empathy.io import sha256_file
from empathy.safety import risk
from empathy.safety.risk import RiskDetector, evaluate_detector, read_labelled, train_detector
from tests.conftest import REPO

pytestmark = pytest.mark.slow

DATA = REPO / "data" / "safety" / "risk_labelled.jsonl"

# Written for this test before the current test split was evaluated; none of them is in the labelled set, and
# no rule was changed because of them.
MUST_CATCH = [
    "My children deserve a mum who isn't a constant burden on them.",
    "I've handed my cat over to my neighbour and cleaned the flat top to bottom; I won't be coming back.",
    "Sorry to dump this on you, but by Friday I won't be anyone's problem anymore.",
    "I keep rehearsing how I'd do it at the station.",
    "I've already paid for my own cremation and written to my brother.",
    "I've been collecting my husband's sleeping tablets for weeks.",
    "I slice my forearms with a pencil sharpener blade most nights.",
    "I'm sitting on the edge of the multi-storey car park roof.",
    "I want to stab my cousin for what he did to me and I know where he sleeps.",
    "My stepmum locks my baby sister in the shed when she cries. I'm 12.",
    "Grandma's carer has been hitting her and helping herself to Grandma's bank card.",
    "My boyfriend beat me with a belt last night and says next time he'll kill me.",
    "The voices tell me to hurt my mum because she's been replaced by a robot.",
    "My friend drank a whole bottle of vodka with her pills and now she's not waking up.",
    "I haven't eaten in eight days and I collapsed on the stairs this morning.",
    "Everyone keeps telling me things will get better but I've already decided how it ends.",
    "I told my best friend she can have my jewellery when I'm gone.",
    "I'm so tired of being a drain on my parents, they'd have more money without me.",
]
MUST_NOT_FLAG = [
    "This heatwave is absolutely killing me.",
    "My brother will kill me if I lose his headphones.",
    "I'm dying to visit Lisbon this summer.",
    "I could murder a pint after that shift.",
    "Back when I was a student I cut myself for a while; that was twelve years ago and I've been fine since.",
    "I tried to kill myself in 2008, and these days I run marathons and feel great.",
    "I'm a newly qualified nurse. How should I ask a patient about thoughts of suicide?",
    "For my criminology essay, what are the common risk factors for elder abuse?",
    "In my screenplay the mother poisons her husband's tea. How would the police find out?",
    "My fantasy character hears the gods telling him to burn the temple.",
    "My flatmate is nervous about her interview tomorrow, how can I help?",
    "My dad seems a bit lonely since he retired. Any ideas?",
    "How do I stop comparing myself to my sister?",
    "I'm giving my old guitar to my nephew, he's just started lessons.",
    "I'm writing a goodbye speech for my retirement party.",
    "We're saying goodbye to our house this weekend and moving to Leeds.",
    "I cut my own fringe and now I look ridiculous.",
    "The gym session today nearly killed me, but I feel great.",
]


@pytest.fixture(scope="module")
def detector() -> RiskDetector:
    return RiskDetector.load()


@pytest.fixture(scope="module")
def report(detector, tmp_path_factory):
    return evaluate_detector(DATA, tmp_path_factory.mktemp("detector"), detector)


def test_packaged_model_was_trained_on_this_data():
    model = json.loads(risk.MODEL_FILE.read_text())
    assert model["training_data"]["sha256"] == sha256_file(DATA), \
        "data/safety/risk_labelled.jsonl changed: retrain with `empathy safety train-detector`"
    assert model["training_data"]["used_splits"] == ["train", "val"]


# Measured on round 16, the current test split (written blind, 428 messages, 220 of them counselling-website posts),
# evaluated once with the packaged model: recall 1.000 (109 of 109), benign rated high 0.065 (19 of 294: 7 of the 150
# posts, 12 of the 144 messages), real client turns 0.037 (53 of 1,441), counsel-chat test 1 of 28 by topic (0 of
# 30 benign by annotation). Targets that are met are plain tests; the one that is not is an xfail test that turns
# into XPASS when it is met, with a guard at the measured level beside it. The retired round-3 split gives
# recall 0.97 and benign 0.117.
TARGET_RECALL, TARGET_BENIGN = 0.95, 0.05
GUARD_BENIGN, GUARD_COUNSEL_CHAT = 0.08, 0.2


def test_recall_target(report):
    t = report["test"]
    assert t["high_imminent_n"] >= 100 and t["benign_n"] >= 280
    assert t["high_imminent_recall"] >= TARGET_RECALL, report["errors"]


def test_benign_guard(report):
    assert report["test"]["benign_n"] >= 280
    assert report["test"]["benign_high_rate"] <= GUARD_BENIGN, report["errors"]


@pytest.mark.xfail(reason="issue target not met on round 16: 19 of 294 benign and hard-negative items rated high "
                          "(6.5%; 9 of them everyday look-alikes of 30)", strict=False)
def test_benign_target(report):
    assert report["test"]["benign_high_rate"] <= TARGET_BENIGN, report["errors"]


def test_real_client_turns_benign_target(report, shared_data):
    rc = report["real_conversation"]
    assert "skipped" not in rc, rc
    assert rc["turns"] > 1000 and rc["annomi"]["conversations"] >= 20 and rc["esconv"]["conversations"] >= 20
    assert rc["high_rate"] <= TARGET_BENIGN, [f["text"] for s in ("annomi", "esconv") for f in rc[s]["flagged"]]


def test_report_covers_categories_and_kinds(report):
    assert set(report["per_category"]) == set(risk.RISK_CATEGORIES)
    assert all(v["n"] > 0 for v in report["per_category"].values())
    for kind in ("idiom", "past_history", "professional", "fiction", "indirect", "direct"):
        assert kind in report["per_kind"]
    # round-16 test split: idiom 1/24, past_history 1/15, professional 0/13, fiction 0/10 rated high
    assert report["per_kind"]["idiom"]["high_rate"] <= 0.25
    for kind in ("past_history", "professional", "fiction"):
        assert report["per_kind"][kind]["high_rate"] <= 0.15
    assert report["retired_test"]["test_r3"]["n"] == 161
    with open(report["paths"]["html"], encoding="utf-8") as fh:
        assert "data:image/png;base64," in fh.read()
    assert json.load(open(report["paths"]["json"]))["test"] == report["test"]
    # the detector beats the keyword list and the rules alone on recall
    assert report["test"]["high_imminent_recall"] > report["baselines"]["keyword_list"]["high_imminent_recall"]
    assert report["test"]["high_imminent_recall"] > report["baselines"]["rules_only"]["high_imminent_recall"]


def test_counsel_chat_benign_questions_guard(report, shared_data):
    cc = report["counsel_chat"]
    assert "skipped" not in cc, cc
    assert cc["test"]["benign_questions"] >= 20
    assert cc["test"]["benign_high_rate"] <= GUARD_COUNSEL_CHAT, cc["test"]["benign_flagged"]
    # by annotation (data/safety/counsel_chat_annotations.md), every topic: test 0 of 30 benign rated high, 1 of 3
    # high caught; val 4 of 67, 2 of 6
    annotated = cc["test"]["annotated"]
    assert annotated["questions"] == 39 and annotated["benign_n"] >= 25
    assert annotated["benign_high_rate"] <= 0.2, cc["test"]["benign_flagged"]


def test_counsel_chat_benign_target(report, shared_data):
    # met on the round-16 model: 1 of 28 (a mother-in-law who cuts herself and hears voices, annotated moderate);
    # val 5 of 59 (8.5%), so this holds by a margin of one question
    assert report["counsel_chat"]["test"]["benign_high_rate"] <= TARGET_BENIGN


def test_must_catch_indirect_crises(detector):
    # all 18 caught by the round-16, -15 and -14 models; the round-7 model caught all 18 too, the models between
    # missed one ("I keep rehearsing how I'd do it at the station."). No rule was ever added for them, so the set
    # stays fresh.
    got = detector.assess_many(MUST_CATCH)
    assert not [(t, a.risk_level) for t, a in zip(MUST_CATCH, got) if not a.requires_review]


def test_must_not_flag_hard_negatives(detector):
    # none of the 18 is rated high. The fixes that got here were made while reading three of them, so these are
    # no longer fresh: a regression check, not a measurement ("I cut my own fringe": the haircut idiom now covers
    # "own" and "fringe"; "I tried to kill myself in 2008, and these days I run marathons": "these days" in a
    # recovery cue no longer reads as present tense; the guitar given to a nephew who "just started lessons": a
    # benign reason)
    got = detector.assess_many(MUST_NOT_FLAG)
    assert not [(t, a.risk_level) for t, a in zip(MUST_NOT_FLAG, got) if a.requires_review]


def test_retraining_reproduces_the_packaged_model(detector, tmp_path):
    packaged = json.loads(risk.MODEL_FILE.read_text())
    if packaged["counsel_chat"].get("source") and risk.find_counsel_chat() is None:
        pytest.skip("the packaged model was trained on counsel-chat questions and ../shared/data is absent")
    out = tmp_path / "risk_model.json"
    train_detector(DATA, out)
    fresh = RiskDetector.load(out)
    retrained = json.loads(out.read_text())
    assert retrained["training_data"]["sha256"] == packaged["training_data"]["sha256"]
    assert retrained["counsel_chat"].get("sha256") == packaged["counsel_chat"].get("sha256")
    assert retrained["counsel_chat"].get("annotations_sha256") == packaged["counsel_chat"].get("annotations_sha256")
    assert retrained["weak_negative_turns"].get("sha256") == packaged["weak_negative_turns"].get("sha256")
    assert retrained["memory"]["windows"] == packaged["memory"]["windows"]
    # MKL's results move in the last float bits between processes (memory alignment), and training amplifies that:
    # between two fresh processes on the same data, coefficients moved by up to 2.2e-3 and the high thresholds by
    # about 1e-3; the threshold searches run over flat stretches of out-of-fold scores (seen: 0.41 against 0.42 for
    # ge_moderate)
    for head in risk.HEADS:
        np.testing.assert_allclose(retrained["heads"][head]["coef"], packaged["heads"][head]["coef"], atol=4e-3)
    # the message head is fitted on out-of-fold window probabilities, which carry those float bits with them
    np.testing.assert_allclose(retrained["message_head"]["coef"], packaged["message_head"]["coef"], atol=0.05)
    assert retrained["text_features"]["word_ngrams"] == packaged["text_features"]["word_ngrams"]
    # the n-gram vocabularies are the most frequent terms of the training windows, and which window of a long message
    # is kept as its riskiest can flip with those float bits, so a term at the frequency cut can change (seen in the
    # full suite: "11 and" for "12"); nearly all terms must agree, and their coefficients with them
    with np.load(risk.TEXT_FILE) as a, np.load(out.with_name(risk.TEXT_FILE.name)) as b:
        terms_a = [f"w:{x}" for x in a["word_vocabulary"]] + [f"c:{x}" for x in a["char_vocabulary"]]
        terms_b = [f"w:{x}" for x in b["word_vocabulary"]] + [f"c:{x}" for x in b["char_vocabulary"]]
        assert len(set(terms_a) ^ set(terms_b)) <= len(terms_a) // 100
        index_b = {term: i for i, term in enumerate(terms_b)}
        shared = [(i, index_b[term]) for i, term in enumerate(terms_a) if term in index_b]
        ia, ib = np.array([i for i, _ in shared]), np.array([j for _, j in shared])
        # a changed term's weight goes to its neighbours (seen: 22 of 24,885 shared-term weights moved by up to 7.2e-3;
        # with the round-15 model 2 of 24,908 by up to 2.3e-2): nearly all within 1e-2, none far
        for head in risk.HEADS:
            moved = np.abs(b[f"head_{head}"][ib] - a[f"head_{head}"][ia])
            assert (moved > 1e-2).sum() <= len(moved) // 1000 and moved.max() < 0.05, (head, np.sort(moved)[-5:])
    # the thresholds are searched over flat stretches of the out-of-fold scores, where a float bit can move the chosen
    # point along the stretch: on CI's fresh machine the round-15 retraining chose
    # ge_high 0.183 against 0.205 and imminent 0.656 against 0.528, and applying those values to the packaged model
    # changes none of its decisions on the test split (ge_low moved 0.6018 against 0.5758 the same way). So the values
    # get a loose bound that still catches a broken search, and the decisions below are what must agree
    assert retrained["thresholds"] == pytest.approx(packaged["thresholds"], abs=0.15)
    # what the model decides on the test split: identical but for messages that sit on a threshold (seen with the
    # round-13 model: 3 of 450, each within 0.01 of the no-rule high threshold)
    rows = [r for r in read_labelled(DATA) if r["split"] == "test"]
    a = detector.assess_many([r["text"] for r in rows])
    b = fresh.assess_many([r["text"] for r in rows])
    moved = [(r["text"][:60], x.risk_level, round(x.score, 3), y.risk_level, round(y.score, 3))
             for r, x, y in zip(rows, a, b) if (x.risk_level, x.categories) != (y.risk_level, y.categories)]
    assert len(moved) <= len(rows) // 50, moved
    assert all(abs(s1 - s2) < 0.05 for _, _, s1, _, s2 in moved), moved
    # and the retrained model still meets the recall target there
    positives = [y for r, y in zip(rows, b) if r["risk_level"] in ("high", "imminent")]
    assert sum(y.requires_review for y in positives) >= 0.95 * len(positives)
