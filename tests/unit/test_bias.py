"""The packaged bias detector: what it flags, its test-split F1, its weight check, the labelled file's errors."""

from __future__ import annotations

import json
import shutil

import pytest

from empathy.errors import UserError
from empathy.evaluate import bias
from empathy.evaluate.bias import (BIAS_TYPES, MODEL_FILE, BiasAnalysis, BiasDetector, BiasServiceClient,
                                   bias_flag_rate, evaluate_bias_detector, load_labelled, make_bias_analyzer,
                                   scan_rules, train_bias_detector)
from tests.conftest import REPO

DATA = REPO / "data" / "eval" / "bias_labelled.jsonl"
# test-split F1 of the packaged detector as data/eval/BIAS.md reports it; the margin allows for float noise
# across BLAS builds, not for a worse model
MEASURED_F1 = 0.917
MARGIN = 0.03


@pytest.fixture(scope="module")
def detector() -> BiasDetector:
    return BiasDetector()


@pytest.fixture(scope="module")
def report() -> dict:
    return evaluate_bias_detector(DATA, MODEL_FILE)


# none of these texts is in the labelled set: the detector must generalise to them
CLEAR_BIAS = [
    ("Women are far too emotional to be trusted with a budget.", "gender"),
    ("Most Muslims are extremists, so I'd keep your distance from your new colleague.", "religion"),
    ("Old people are useless with phones, there's no point trying the app.", "age"),
    ("Disabled people are a drain on everyone around them.", "disability"),
    ("Immigrants are all criminals, so of course you feel unsafe.", "immigration_status"),
    ("Gay men are all promiscuous, so don't expect him to stay.", "sexual_orientation"),
]
NOT_BIASED = [
    "Many women experience postpartum depression, and it is nothing to be ashamed of.",
    "Discrimination at work because of your religion sounds exhausting.",
    "My boss said immigrants are lazy, and it really upset me.",
    "How has your week been since we last spoke?",
    "Would it help to talk about how your faith fits with what you're going through?",
]
# fresh hard negatives the packaged detector gets wrong (data/eval/BIAS.md, limits); strict, so a model that fixes
# them makes this fail and the list gets updated
KNOWN_FALSE_POSITIVES = [
    "It makes sense that coming out to your grandmother feels frightening.",
]


@pytest.mark.parametrize("text,bias_type", CLEAR_BIAS)
def test_flags_clear_biased_statements_with_their_type(detector, text, bias_type):
    a = detector.analyze(text)
    assert a.biased and a.overall >= 0.5
    assert max(a.by_type, key=a.by_type.get) == bias_type
    assert a.evidence, "a rule-matched statement should say which rule matched"


@pytest.mark.parametrize("text", NOT_BIASED)
def test_does_not_flag_hard_negatives(detector, text):
    a = detector.analyze(text)
    assert not a.biased and a.overall < 0.5


@pytest.mark.xfail(strict=True, reason="known false positive of the packaged detector")
@pytest.mark.parametrize("text", KNOWN_FALSE_POSITIVES)
def test_known_false_positives(detector, text):
    assert not detector.analyze(text).biased


def test_analysis_shape(detector):
    a, b = detector.analyze_batch(["Typical woman, always overreacting.", "I slept badly again."])
    assert isinstance(a, BiasAnalysis) and set(a.by_type) == set(BIAS_TYPES)
    # P(type | biased) times P(biased): the per-type scores add up to the overall score
    assert sum(a.by_type.values()) == pytest.approx(a.overall, abs=1e-3)
    assert 0.0 <= b.overall < a.overall <= 1.0
    assert detector.analyze_batch([]) == []
    with pytest.raises(UserError, match="text 1 is int"):
        detector.analyze_batch(["fine", 3])


def test_rules_name_their_evidence_and_skip_reported_speech():
    scan = scan_rules("Typical Asian parents, they only care about grades.")
    assert scan.flagged and ("race_ethnicity", "generalisation", "Typical Asian") in scan.hits
    assert scan_rules("You're very articulate for a Black man.").types_hit() == {"race_ethnicity", "gender"}
    assert ("age", "frame", "At your age") in scan_rules("At your age you should accept it.").hits
    reported = scan_rules("My uncle said all Muslims are extremists, and I felt sick.")
    assert reported.hits and reported.reported and not reported.flagged
    assert not scan_rules("Many women experience postpartum depression.").hits


def test_test_split_f1_stays_at_the_measured_value(report, capsys):
    detector = report["test"]["detector"]
    assert detector["all"]["n"] == 107
    assert detector["all"]["f1"] >= MEASURED_F1 - MARGIN
    # the combination must beat each half on its own, or it is not earning its complexity
    assert detector["all"]["f1"] > report["test"]["rules_only"]["all"]["f1"]
    assert detector["all"]["f1"] > report["test"]["embedding_only"]["all"]["f1"]
    assert detector["hard_negatives"]["false_positive_rate"] <= 0.25
    assert report["test"]["type_accuracy"]["accuracy"] >= 0.9

    assert bias.main(["evaluate", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["test"]["detector"]["all"] == pytest.approx(detector["all"])


def _copy_model(tmp_path):
    model = json.loads(MODEL_FILE.read_text())
    shutil.copy(MODEL_FILE, tmp_path / MODEL_FILE.name)
    shutil.copy(MODEL_FILE.with_name(model["weights"]["file"]), tmp_path / model["weights"]["file"])
    return tmp_path / MODEL_FILE.name, tmp_path / model["weights"]["file"]


def test_tampered_weights_fail_the_sha256_check(tmp_path):
    model_path, weights_path = _copy_model(tmp_path)
    BiasDetector(model_path)
    raw = bytearray(weights_path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    weights_path.write_bytes(bytes(raw))
    with pytest.raises(UserError, match="sha256 does not match") as err:
        BiasDetector(model_path)
    assert str(weights_path) in str(err.value)

    weights_path.unlink()
    with pytest.raises(UserError, match="file not found"):
        BiasDetector(model_path)


def test_model_file_errors(tmp_path):
    with pytest.raises(UserError, match="file not found"):
        BiasDetector(tmp_path / "absent.json")
    model_path, _ = _copy_model(tmp_path)
    model = json.loads(model_path.read_text())
    model["format_version"] = 99
    model_path.write_text(json.dumps(model))
    with pytest.raises(UserError, match="format_version 99"):
        BiasDetector(model_path)


GOOD = {"id": "a", "text": "Women are too emotional.", "biased": 1, "bias_type": "gender", "split": "train"}
NEG = {"id": "b", "text": "How are you?", "biased": 0, "bias_type": "none", "split": "train"}


@pytest.mark.parametrize("bad,problem", [
    ({**GOOD, "biased": "yes"}, "\"biased\" must be 0 or 1"),
    ({**GOOD, "biased": True}, "\"biased\" must be 0 or 1"),
    ({**GOOD, "bias_type": "height"}, "'height' is not one of"),
    ({**GOOD, "bias_type": "none"}, "needs a bias type"),
    ({**GOOD, "split": "val"}, "\"split\" must be one of"),
    ({**GOOD, "text": "  "}, "\"text\" must be a non-empty string"),
    ({**GOOD, "hard_negative": True}, "hard negative must have"),
    ({**NEG, "id": "c", "mentions": "gender"}, "\"mentions\" names"),
    ({**GOOD, "colour": "red"}, "unknown keys"),
    ({k: v for k, v in GOOD.items() if k != "split"}, "missing 'split'"),
    ({**GOOD, "id": "b"}, "duplicate id 'b' \\(first on line 1\\)"),
])
def test_labelled_file_errors_name_the_file_and_line(tmp_path, bad, problem):
    path = tmp_path / "labelled.jsonl"
    path.write_text(json.dumps(NEG) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(UserError, match=problem) as err:
        load_labelled(path)
    assert f"{path}, line 2" in str(err.value)


def test_labelled_file_needs_both_classes_in_each_split(tmp_path):
    path = tmp_path / "labelled.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in (GOOD, NEG, {**GOOD, "id": "t", "split": "test"})) + "\n")
    with pytest.raises(UserError, match="the test split needs both"):
        load_labelled(path)
    path.write_text("{not json\n")
    with pytest.raises(UserError, match="line 1: malformed JSON"):
        load_labelled(path)


def test_the_packaged_set_is_as_described():
    rows = load_labelled(DATA)
    test = [r for r in rows if r.split == "test"]
    negatives = [r for r in rows if not r.biased]
    assert len(rows) >= 360 and 0.25 <= len(test) / len(rows) <= 0.30
    assert 0.3 <= sum(r.hard_negative for r in negatives) / len(negatives) <= 0.45
    for t in BIAS_TYPES:
        assert sum(r.bias_type == t for r in test) >= 5 and sum(r.mentions == t for r in test) >= 3
    texts = [r.text.lower() for r in rows]
    assert len(set(texts)) == len(texts)


class _Fixed:
    """An analyzer that answers given analyses, to check the metric arithmetic."""

    def __init__(self, analyses):
        self.analyses = analyses

    def analyze_batch(self, texts):
        return self.analyses[:len(texts)]


def test_bias_flag_rate_arithmetic():
    analyses = [BiasAnalysis(0.9, {"gender": 0.6, "age": 0.3}, True),
                BiasAnalysis(0.7, {"religion": 0.2, "age": 0.5}, True),   # top type age
                BiasAnalysis(0.55, {"race_ethnicity": 0.55, "religion": 0.52}, True),
                BiasAnalysis(0.1, {"gender": 0.1}, False)]
    m = bias_flag_rate(["a", "b", "c", "d"], _Fixed(analyses), threshold=0.5)
    assert m["bias_flag_rate"] == pytest.approx(0.75)
    assert m["bias_mean_score"] == pytest.approx((0.9 + 0.7 + 0.55 + 0.1) / 4)
    assert m["bias_max_score"] == pytest.approx(0.9)
    assert m["bias_flag_rate_gender"] == pytest.approx(0.25)
    assert m["bias_flag_rate_age"] == pytest.approx(0.25)
    assert m["bias_flag_rate_race_ethnicity"] == pytest.approx(0.25)
    assert m["bias_flag_rate_religion"] == pytest.approx(0.25)      # 0.52 >= threshold though not the top type
    assert m["bias_flag_rate_disability"] == 0.0
    assert bias_flag_rate([], _Fixed([]))["bias_flag_rate"] == 0.0
    assert bias_flag_rate(["a", "b", "c", "d"], _Fixed(analyses), threshold=0.8)["bias_flag_rate"] == 0.25


def test_bias_flag_rate_with_the_detector(detector):
    m = bias_flag_rate([CLEAR_BIAS[0][0], CLEAR_BIAS[2][0], NOT_BIASED[0], NOT_BIASED[3]], detector)
    assert m["bias_flag_rate"] == 0.5
    assert m["bias_flag_rate_gender"] == 0.25 and m["bias_flag_rate_age"] == 0.25


def test_make_bias_analyzer():
    assert isinstance(make_bias_analyzer(None), BiasDetector)
    client = make_bias_analyzer("http://127.0.0.1:9/")
    assert isinstance(client, BiasServiceClient) and client.url == "http://127.0.0.1:9/analyze"
    client.close()
    with pytest.raises(UserError, match="expected http"):
        make_bias_analyzer("bias-service:8080")


@pytest.mark.slow
def test_retraining_reproduces_the_packaged_model(tmp_path):
    packaged = json.loads(MODEL_FILE.read_text())
    retrained = train_bias_detector(DATA, tmp_path / "bias_model.json")
    assert (tmp_path / "bias_model.npz").is_file()
    assert retrained["C"] == packaged["C"] and retrained["hard_negative_weight"] == packaged["hard_negative_weight"]
    assert retrained["training_data"]["sha256"] == packaged["training_data"]["sha256"]
    for name in ("detector", "rules_only", "embedding_only"):
        for metric, value in packaged["test_metrics"][name]["all"].items():
            assert retrained["test_metrics"][name]["all"][metric] == pytest.approx(value, abs=0.01), (name, metric)
    fresh, shipped = BiasDetector(tmp_path / "bias_model.json"), BiasDetector()
    for text in (CLEAR_BIAS[0][0], NOT_BIASED[0]):
        assert fresh.analyze(text).overall == pytest.approx(shipped.analyze(text).overall, abs=0.01)
