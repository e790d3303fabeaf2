"""empathy.data.validate without the encoder: features, generic-answer signals, format checks, the decision rule,
the model file checks, and the per-line handling of `validate_jsonl` (every input line gives one output line, in
order). The validator itself, with real embeddings, is measured in tests/integration/test_validate_accuracy.py."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from empathy.config import ValidateConfig
from empathy.data import validate as v
from empathy.data.validate import (
    GENERIC_FEATURES,
    PAIR_FEATURES,
    REASONS,
    Bank,
    SemanticValidator,
    Verdict,
    content_words,
    features,
    format_problem,
    generic_phrase_share,
    validate_jsonl,
)
from empathy.errors import UserError

Q = "I can't sleep because my mind races with worries about work. What can I do?"
A = "Racing thoughts about work at night are common; keep a notebook by the bed and write the worries down."


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def packaged() -> dict:
    return json.loads(v.MODEL_FILE.read_text(encoding="utf-8"))


# --- words and generic phrases ------------------------------------------------------------------------------

def test_content_words_drop_stop_words_and_meet_across_inflections():
    assert content_words("I am worried and I keep worrying about my worries") == {"worr", "keep"}
    assert "sleep" in content_words("sleeping") and "sleep" in content_words("sleeps")
    assert content_words("it is what it is") == set()


def test_generic_phrases_are_a_share_of_sentences():
    assert generic_phrase_share("Thank you for sharing. I hope things get better for you soon.") == 1.0
    assert generic_phrase_share("You should talk to a professional about this.") == 1.0
    specific = "Keep a notebook by the bed. Write each worry down. Then set a time tomorrow to deal with it."
    assert generic_phrase_share(specific) == 0.0
    assert generic_phrase_share(specific + " Take care.") == 0.25


# --- format checks ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("question,answer,reason", [
    ("Why?", A, "question_too_short"),
    (Q, "Yes.", "answer_too_short"),
    (Q, " ".join(["word"] * 601), "answer_too_long"),
    (Q, Q.upper() + "!!", "answer_repeats_question"),
    (Q, A, None),
])
def test_format_problem(question, answer, reason):
    assert format_problem(question, answer, ValidateConfig()) == reason


def test_config_refuses_limits_that_reject_everything():
    with pytest.raises(ValueError, match="min_answer_words"):
        ValidateConfig(min_answer_words=50, max_answer_words=40)


# --- features -----------------------------------------------------------------------------------------------

def test_features_from_embeddings():
    rng = np.random.default_rng(0)
    Qe, Ae = _unit(rng.normal(size=(2, 384))), _unit(rng.normal(size=(2, 384)))
    bank = Bank(_unit(rng.normal(size=(5, 384))), _unit(rng.normal(size=(6, 384))), _unit(rng.normal(size=(4, 384))))
    # the second answer is the first question itself: cosine 1, and no centroid is closer to it than its question
    Ae[1] = Qe[1]
    cols = features([Q, Q], [A, "Thank you for sharing. I hope things get better."], Qe, Ae, bank)
    assert set(PAIR_FEATURES) <= set(cols) and set(GENERIC_FEATURES) <= set(cols)
    assert cols["cosine"] == pytest.approx(np.einsum("ij,ij->i", Qe, Ae), abs=1e-6)
    assert cols["cosine"][1] == pytest.approx(1.0, abs=1e-6)
    assert cols["answer_rank"][1] == 0.0 and cols["question_rank"][1] == 0.0
    expected_rank = np.log1p((Ae[0] @ bank.question_centroids.T > cols["cosine"][0]).sum())
    assert cols["answer_rank"][0] == pytest.approx(expected_rank)
    assert cols["answer_hub"][0] == pytest.approx(np.sort(Ae[0] @ bank.question_centroids.T)[-3:].mean(), abs=1e-6)
    assert cols["generic_similarity"][0] == pytest.approx((Ae[0] @ bank.generic.T).max(), abs=1e-6)
    wq, wa = content_words(Q), content_words(A)
    assert cols["overlap_question"][0] == pytest.approx(len(wq & wa) / len(wq)) and len(wq & wa) >= 2
    assert cols["overlap_answer"][0] == pytest.approx(len(wq & wa) / len(wa))
    assert cols["overlap_question"][1] == 0.0
    assert cols["generic_phrases"].tolist() == [0.0, 1.0]
    assert cols["answer_words_log"][0] == pytest.approx(np.log1p(len(A.split())))


def test_a_prototype_can_be_left_out_of_its_own_generic_similarity():
    rng = np.random.default_rng(1)
    G = _unit(rng.normal(size=(3, 384)))
    bank = Bank(G, G, G)
    Qe = _unit(rng.normal(size=(1, 384)))
    with_self = features([Q], [A], Qe, G[:1], bank)["generic_similarity"][0]
    without = features([Q], [A], Qe, G[:1], bank, skip_self_generic=True)["generic_similarity"][0]
    assert with_self == pytest.approx(1.0, abs=1e-6) and without < 0.5


# --- the decision rule --------------------------------------------------------------------------------------

def _cols(score, cosine, generic):
    return {"score": np.array(score, dtype=float), "cosine": np.array(cosine, dtype=float),
            "generic": np.array(generic, dtype=float)}


def test_decide_reasons_in_order(packaged):
    det = SemanticValidator(packaged, v.MODEL_FILE)
    th = det.thresholds
    hi, lo = min(1.0, th["accept"] + 0.1), th["accept"] / 2
    cases = [
        ("Why?", A, hi, 0.9, 0.0, "question_too_short"),
        (Q, A, hi, 0.9, min(1.0, th["generic_sure"]), "generic_answer"),        # the veto, whatever the score
        (Q, A, lo, 0.9, th["generic_lean"], "generic_answer"),
        (Q, A, lo, th["off_topic_cosine"] - 0.05, 0.0, "off_topic"),
        (Q, A, lo, th["off_topic_cosine"] + 0.05, 0.0, "low_score"),
        (Q, A, hi, 0.1, 0.0, None),                                               # the score decides, not cosine
    ]
    got = det.decide([c[0] for c in cases], [c[1] for c in cases],
                     _cols([c[2] for c in cases], [c[3] for c in cases], [c[4] for c in cases]), ValidateConfig())
    assert [g.reason for g in got] == [c[5] for c in cases]
    assert {g.reason for g in got} - {None} <= set(REASONS)
    assert [g.accepted for g in got] == [c[5] is None for c in cases]
    assert all(g.score is not None and "score=" in g.detail and "cosine=" in g.detail for g in got)


def test_config_threshold_overrides_the_model(packaged):
    det = SemanticValidator(packaged, v.MODEL_FILE)
    cols = _cols([0.6], [0.5], [0.0])
    assert det.decide([Q], [A], cols, ValidateConfig(threshold=0.5))[0].accepted
    assert det.decide([Q], [A], cols, ValidateConfig(threshold=0.7))[0].reason == "low_score"


# --- the model file -----------------------------------------------------------------------------------------

def test_packaged_model_is_complete(packaged):
    assert packaged["heads"]["pair"]["features"] == list(PAIR_FEATURES)
    assert packaged["heads"]["generic"]["features"] == list(GENERIC_FEATURES)
    for head in packaged["heads"].values():
        assert len(head["coef"]) == len(head["mean"]) == len(head["scale"]) == len(head["features"])
    assert 0 < packaged["thresholds"]["accept"] < 1
    assert packaged["training_data"]["used_splits"] == {"fit": "train", "calibration": "val"}
    assert packaged["generic_prototypes"] and packaged["embedding_model"] == "all-MiniLM-L6-v2"
    SemanticValidator.load()


@pytest.mark.parametrize("change,message", [
    (lambda m: m.update(format_version=0), "format_version"),
    (lambda m: m.update(embedding_model="all-mpnet-base-v2"), "all-mpnet-base-v2"),
    (lambda m: m["heads"]["pair"]["features"].reverse(), "pair head reads features"),
    (lambda m: m["heads"]["generic"]["features"].append("sentiment"), "generic head reads features"),
    (lambda m: m["bank"].update(sha256="0" * 64), "does not match its model file"),
    (lambda m: m["bank"].update(file="no-such-bank.npz"), "file not found"),
])
def test_loading_refuses_a_model_made_for_something_else(packaged, tmp_path, change, message):
    model = copy.deepcopy(packaged)
    change(model)
    path = tmp_path / "validate_model.json"
    path.write_text(json.dumps(model), encoding="utf-8")
    (tmp_path / v.BANK_FILE.name).write_bytes(v.BANK_FILE.read_bytes())
    with pytest.raises(UserError, match=message):
        SemanticValidator.load(path)


def test_loading_a_missing_or_malformed_file_names_it(tmp_path):
    with pytest.raises(UserError, match="no-such.json: file not found"):
        SemanticValidator.load(tmp_path / "no-such.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{\n  \"format_version\": 1,\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"bad.json, line \d+: malformed JSON"):
        SemanticValidator.load(bad)


# --- JSONL in, one line out per line ------------------------------------------------------------------------

class FakeValidator:
    """Accepts an answer that mentions "sleep"; records what it was asked."""

    def __init__(self):
        self.calls: list[int] = []

    def judge(self, questions, answers, config, batch_size=None, progress=False):
        self.calls.append(len(questions))
        return [Verdict(score=0.9 if "sleep" in a else 0.1, cosine=0.5, generic=0.0, accepted="sleep" in a,
                        reason=None if "sleep" in a else "low_score", detail="") for a in answers]


def _write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_every_line_gives_one_result_in_order(tmp_path):
    good = {"question": Q, "answer": "Go to sleep at the same time."}
    lines = [
        json.dumps({"id": "a", **good}).encode(),
        b"{not json",
        b"",
        json.dumps({"id": "b", "question": Q}).encode(),
        json.dumps({"id": "c", "question": Q, "answer": "  "}).encode(),
        json.dumps({"id": "d", "question": 3, "answer": "x"}).encode(),
        b"[1, 2]",
        json.dumps(good).encode(),
        b'{"id": "e", "question": "How do I rest?", "answer": "Good sleep \xff\xfe helps."}',
        json.dumps({"id": "f", "question": Q, "answer": "no " * 200_000}).encode(),
        json.dumps({"id": "g", "question": Q, "answer": "Unrelated."}).encode(),
    ]
    fake = FakeValidator()
    out = list(validate_jsonl(_write(tmp_path / "in.jsonl", lines), ValidateConfig(), fake, batch_size=4))
    assert len(out) == len(lines)
    assert [o["id"] for o in out] == ["a", None, None, "b", "c", "d", None, None, "e", "f", "g"]
    assert all({"score", "accepted", "reason"} <= set(o) for o in out)
    errors = {o["line"]: o["error"] for o in out if "error" in o}
    assert errors == {2: errors[2], 3: "empty line", 4: 'missing "answer"', 5: 'empty "answer"',
                      6: '"question" must be a string, got int', 7: "expected a JSON object, got list"}
    assert errors[2].startswith("malformed JSON")
    assert all(o["reason"] == "invalid_input" and o["accepted"] is False and o["score"] is None
               for o in out if "error" in o)
    assert out[0] == {"id": "a", "score": 0.9, "accepted": True, "reason": None}
    assert out[7]["line"] == 8 and out[7]["accepted"]        # no id: the line number says which
    assert "not valid UTF-8" in out[8]["warning"] and out[8]["accepted"]
    assert out[10]["reason"] == "low_score"
    assert sum(fake.calls) == 5                               # only readable lines reach the validator


def test_a_file_of_bad_lines_never_loads_the_validator(tmp_path, monkeypatch):
    def refuse(config):
        raise AssertionError("the validator was loaded for a file with no readable line")

    monkeypatch.setattr(v, "load_validator", refuse)
    out = list(validate_jsonl(_write(tmp_path / "bad.jsonl", [b"{", b"[]"]), ValidateConfig()))
    assert [o["line"] for o in out] == [1, 2]


def test_a_missing_input_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="no-such.jsonl: file not found"):
        list(validate_jsonl(tmp_path / "no-such.jsonl", ValidateConfig(), FakeValidator()))
