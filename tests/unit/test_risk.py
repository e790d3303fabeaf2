"""The clinical risk detector: the rule layer and its context modifiers, the JSONL classifier's handling of
bad input (every input line gives exactly one output line), the output schema, the model file checks and
the CLI. Tests that load the MiniLM encoder are marked slow and share one detector."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from empathy.errors import UserError
from empathy.safety import risk
from empathy.safety.risk import (
    RISK_CATEGORIES, RISK_LEVELS, RiskAssessment, RiskDetector, classify_jsonl, rule_assess, scan_rules, sentences,
    summarise, windows,
)

CRISIS = "I have the pills counted out and I'm taking all of them tonight."


class RulesOnly:
    """A stand-in detector (the rule layer) so the JSONL tests run without the encoder."""

    calls: list[int]

    def __init__(self):
        self.calls = []

    def assess_many(self, texts, batch_size=64):
        self.calls.append(len(texts))
        return [rule_assess(t) for t in texts]


def undiscounted(text: str) -> set[str]:
    return {m.category for m in scan_rules(text).matches if not m.discounts and m.strength >= 2}


def discounts(text: str) -> set[str]:
    return {d for m in scan_rules(text).matches for d in m.discounts}


# --- the rule layer --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, category", [
    ("I want to kill myself", "suicidality"),
    ("Everyone would be better off without me.", "suicidality"),
    ("I'm just a burden to my family.", "suicidality"),
    ("I won't be around much longer anyway.", "suicidality"),
    ("I've started giving my things away to my friends.", "suicidality"),
    ("I wrote letters to my kids so they'll understand afterwards.", "suicidality"),
    ("I've been saving up my sleeping pills.", "suicidality"),
    ("I cut my arms again last night.", "self_harm"),
    ("I keep thinking about stabbing my stepdad.", "homicidal_ideation"),
    ("My uncle touches me and says it's our secret.", "child_abuse"),
    ("The carer took Gran's pension and she has bruises.", "elder_abuse"),
    ("My husband choked me last night.", "domestic_violence"),
    ("The voices tell me to hurt people.", "psychosis"),
    ("My friend took heroin and now he isn't breathing.", "substance_crisis"),
    ("I haven't eaten in four days and I keep fainting.", "eating_disorder_medical"),
])
def test_rules_find_each_category(text, category):
    assert category in undiscounted(text)


@pytest.mark.parametrize("text", [
    "This commute is killing me.", "I could murder a burger right now.", "I'm dying to see it!",
    "My mum is going to kill me when she sees the bill.", "These shoes are to die for.",
    "I'm bored to death in this meeting.",
])
def test_idioms_are_masked_before_matching(text):
    scan = scan_rules(text)
    assert scan.idioms and not [m for m in scan.matches if m.strength >= 3]


def test_a_real_threat_is_not_masked_as_an_idiom():
    assert "domestic_violence" in undiscounted("He said he'd kill me if I ever tried to leave.")
    assert not scan_rules("He said he'd kill me if I ever tried to leave.").idioms


@pytest.mark.parametrize("text, modifier", [
    ("I would never hurt my kids.", "negated"),
    ("I'm not going to kill myself, I just feel low.", "negated"),
    ("He has never hit me.", "negated"),
    ("Ten years ago I attempted suicide, but I'm doing well now.", "past"),
    ("I used to self harm as a teenager.", "past"),
    ("What are the warning signs of suicide?", "professional"),
    ("As a school counsellor, how should I respond if a student discloses self-harm?", "professional"),
    ("In my novel the main character wants to kill himself.", "fiction"),
    ("What if someone says they want to die?", "hypothetical"),
    ("I cut myself shaving this morning.", "accident"),
    ("I bought a new rope for the climbing trip this weekend.", "benign_reason"),
    ("My friend lost her brother to suicide last year.", "bereavement"),
    ("I'm going to strangle my brother lol", "jokey"),
])
def test_context_modifiers_discount_matches(text, modifier):
    assert modifier in discounts(text)


def test_modifiers_do_not_hide_a_current_crisis():
    assert "suicidality" in undiscounted("I'm a nurse and I want to kill myself tonight.")
    assert "suicidality" in undiscounted("I used to be fine. Now I want to kill myself.")
    assert "suicidality" in undiscounted("I don't want help, I just want to die.")
    assert "self_harm" in undiscounted("I relapsed and cut again after 6 months clean.")


def test_caring_is_not_abuse_and_looking_after_is_not_a_goodbye():
    # two rule-precision bugs: "take care of" counted as an elder-abuse harm verb, "look after my ..." as a goodbye
    assert not undiscounted("I look after my dad, who has dementia. How do I take care of myself too?")
    assert not undiscounted("I take care of my grandmother every weekend.")
    assert "elder_abuse" in undiscounted("My grandad's carer takes his money.")
    assert "suicidality" in undiscounted("Promise you'll look after my cat when I'm not here.")


def test_rule_levels_and_imminence():
    assert rule_assess("I took the whole packet of paracetamol an hour ago.").risk_level == "imminent"
    assert rule_assess("Everyone would be better off without me.").risk_level == "high"
    assert rule_assess("How do I set boundaries with my mother-in-law?").risk_level == "none"
    assert rule_assess("").risk_level == "none"


def test_fast_scan_equals_full_scan_on_long_text():
    parts = ["I went shopping and the queue was long.", "My husband hit me again last night.",
             "In my novel the villain wants to kill the king.", "This commute is killing me.",
             "I've been saving up my pills and I'm doing it tonight.", "How do I stop overthinking?"]
    text = " ".join(parts[i % len(parts)] + f" Paragraph {i}." for i in range(3000))
    assert len(text) > risk.PREFILTER_MIN_CHARS
    fast, full = scan_rules(text), scan_rules(text, full=True)
    key = lambda s: [(m.category, m.strength, m.start, m.end, m.discounts) for m in s.matches]  # noqa: E731
    assert key(fast) == key(full) and len(fast.matches) > 1000


def test_windows_cover_the_whole_text():
    text = " ".join(f"Sentence number {i} is here." for i in range(200)) + " " + CRISIS
    spans = windows(sentences(text), text)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    covered = set()
    for s, e in spans:
        covered.update(range(s, e))
    assert all(i in covered for i, c in enumerate(text) if not c.isspace())
    assert windows(sentences("One short line."), "One short line.") == [(0, 15)]
    giant = "x" * 50_000
    assert sentences(giant)[-1][1] == len(giant)


# --- classify_jsonl: bad input never stops the run ---------------------------------------------------------------

def write_lines(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_every_line_gives_one_output_in_order(tmp_path):
    lines = [
        json.dumps({"id": "ok", "text": "Everyone would be better off without me."}).encode(),
        b"{not json",
        json.dumps({"id": "empty", "text": "   "}).encode(),
        json.dumps({"id": "missing"}).encode(),
        json.dumps({"id": "number", "text": 42}).encode(),
        json.dumps(["a", "list"]).encode(),
        b"",
        json.dumps({"text": "I want to die"}).encode(),
        b'{"id": "latin1", "text": "caf\xe9 is fine but I want to kill myself"}',
        "\ufeff".encode() + json.dumps({"id": "bom", "text": "How do I relax?"}).encode(),
        json.dumps({"id": "crlf", "text": "This traffic is killing me"}).encode() + b"\r",
    ]
    det = RulesOnly()
    out = list(classify_jsonl(write_lines(tmp_path / "in.jsonl", lines), det))
    assert len(out) == len(lines)
    by = {o.get("id"): o for o in out}
    assert by["ok"] == {"id": "ok", "risk_level": "high", "categories": ["suicidality"], "requires_review": True}
    assert out[1] == {"id": None, "line": 2, "error": out[1]["error"]} and "malformed JSON" in out[1]["error"]
    assert by["empty"]["error"] == 'empty "text"' and by["empty"]["line"] == 3
    assert by["missing"]["error"] == 'missing "text"'
    assert "must be a string" in by["number"]["error"]
    assert "expected a JSON object" in out[5]["error"]
    assert out[6] == {"id": None, "line": 7, "error": "empty line"}
    assert out[7]["id"] is None and out[7]["line"] == 8 and out[7]["requires_review"] is True  # classified anyway
    assert by["latin1"]["requires_review"] is True and "not valid UTF-8" in by["latin1"]["warning"]
    assert by["bom"]["risk_level"] == "none" and by["crlf"]["risk_level"] == "none"
    s = summarise(out)
    assert s["lines"] == len(lines) and s["errors"] == 6 and sum(s["levels"].values()) == 5


def test_output_schema(tmp_path):
    path = write_lines(tmp_path / "in.jsonl", [json.dumps({"id": i, "text": t}).encode() for i, t in
                                               enumerate(["hello", "I want to die", "My husband hit me"])])
    for row in classify_jsonl(path, RulesOnly()):
        assert set(row) == {"id", "risk_level", "categories", "requires_review"}
        assert row["risk_level"] in RISK_LEVELS and set(row["categories"]) <= set(RISK_CATEGORIES)
        assert row["requires_review"] == (row["risk_level"] in ("high", "imminent"))
        json.dumps(row)


def test_lines_are_batched(tmp_path):
    path = write_lines(tmp_path / "in.jsonl", [json.dumps({"id": i, "text": f"line {i}"}).encode() for i in range(150)])
    det = RulesOnly()
    assert len(list(classify_jsonl(path, det, batch_size=64))) == 150
    assert det.calls == [64, 64, 22]


def test_long_text_keeps_a_crisis_sentence_at_the_end(tmp_path):
    filler = "Today I went to the market and bought apples, and the queue was short. "
    text = filler * (300_000 // len(filler)) + CRISIS
    path = write_lines(tmp_path / "in.jsonl", [json.dumps({"id": "long", "text": text}).encode()])
    (row,) = classify_jsonl(path, RulesOnly())
    assert row["requires_review"] is True and "suicidality" in row["categories"]


def test_missing_input_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="file not found"):
        list(classify_jsonl(tmp_path / "nope.jsonl", RulesOnly()))


# --- the model file -------------------------------------------------------------------------------------------

def test_packaged_model_file_is_consistent():
    model = json.loads(risk.MODEL_FILE.read_text())
    assert model["embedding_model"] == "all-MiniLM-L6-v2" and model["feature_names"] == risk.feature_names()
    assert set(model["heads"]) == set(risk.HEADS) and set(model["categories"]) == set(RISK_CATEGORIES)
    n = len(risk.feature_names())
    assert all(len(h["coef"]) == n for h in list(model["heads"].values()) + list(model["categories"].values()))
    assert len(model["training_data"]["sha256"]) == 64
    assert model["message_head"]["features"] == risk.MESSAGE_FEATURES
    assert len(model["message_head"]["coef"]) == len(risk.MESSAGE_FEATURES)
    # the riskiest window counts most, and more windows need more evidence (the chance of a look-alike grows)
    coef = dict(zip(risk.MESSAGE_FEATURES, model["message_head"]["coef"]))
    assert coef["top1_logit"] > 0 and coef["log_windows"] < 0
    assert risk.MODEL_FILE.stat().st_size < 500_000
    memory = risk.MEMORY_FILE
    # the memory grows with the labelled windows (10.2 MB at 10,839 rows, 12.5 MB at 12,874 rows, 14.1 MB at 13,302
    # rows with counsel-chat's benign train windows added: 19,835 windows, float16); int8 storage would halve it
    assert model["memory"]["file"] == memory.name and memory.stat().st_size < 16_000_000
    assert model["memory"]["windows"] == model["memory"]["crisis_windows"] + model["memory"]["benign_windows"]
    text = risk.TEXT_FILE
    assert model["text_features"]["file"] == text.name and text.stat().st_size < 3_000_000
    with np.load(text) as z:
        n_text = len(z["word_vocabulary"]) + len(z["char_vocabulary"])
        assert n_text == model["text_features"]["word_ngrams"] + model["text_features"]["char_ngrams"]
        for name in [f"head_{h}" for h in risk.HEADS] + [f"cat_{c}" for c in RISK_CATEGORIES]:
            assert z[name].shape == (n_text,)


def test_packaged_model_lists_its_operating_points():
    """The model lists what each recall target costs out-of-fold; its thresholds are the listed ones for its target."""
    model = json.loads(risk.MODEL_FILE.read_text())
    points = model["operating_points"]
    assert [p["recall_target"] for p in points] == list(risk.OPERATING_POINTS)
    for p in points:
        assert p["high_imminent_recall"] >= p["recall_target"]
        assert p["ge_high"] <= p["ge_high_no_rule"]
    recall = [p["high_imminent_recall"] for p in points]
    assert recall == sorted(recall)
    chosen = next(p for p in points if p["recall_target"] == model["fit"]["recall_target"])
    assert model["thresholds"]["ge_high"] == chosen["ge_high"]
    assert model["thresholds"]["ge_high_no_rule"] == chosen["ge_high_no_rule"]
    assert model["cross_validation"]["benign_high_rate"] == chosen["benign_high_rate"]


def test_recall_target_out_of_range_exits_2(tmp_path, capsys):
    from empathy.cli import main

    assert main(["safety", "train-detector", "--recall-target", "1.2", "--out", str(tmp_path / "m.json")]) == 2
    assert "recall target 1.2" in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()


def test_ngram_features_round_trip_through_their_arrays():
    texts = ["this commute is killing me", "i want to kill myself tonight", "killing time before the train",
             "i want a cup of tea", "the commute is long tonight"]
    fitted = risk.TextFeatures.fit(texts)
    loaded = risk.TextFeatures.from_arrays(fitted.arrays(), fitted.weight)
    a, b = fitted.transform(texts).toarray(), loaded.transform(texts).toarray()
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert fitted.size == a.shape[1] and a.max() <= fitted.weight + 1e-4 and a.sum() > 0


def test_ngram_file_must_match_its_model(tmp_path):
    import shutil

    shutil.copy(risk.MODEL_FILE, tmp_path / "risk_model.json")
    shutil.copy(risk.MEMORY_FILE, tmp_path / risk.MEMORY_FILE.name)
    with pytest.raises(UserError, match="n-grams .* file not found"):
        RiskDetector.load(tmp_path / "risk_model.json")
    with np.load(risk.TEXT_FILE) as z:
        arrays = {k: z[k] for k in z.files if k != "head_ge_high"}
    np.savez_compressed(tmp_path / risk.TEXT_FILE.name, **arrays)
    with pytest.raises(UserError, match="does not match"):
        RiskDetector.load(tmp_path / "risk_model.json")


def test_memory_must_match_its_model(tmp_path):
    import shutil

    shutil.copy(risk.MODEL_FILE, tmp_path / "risk_model.json")
    with pytest.raises(UserError, match="memory .* file not found"):
        RiskDetector.load(tmp_path / "risk_model.json")
    np.savez_compressed(tmp_path / risk.MEMORY_FILE.name, embeddings=np.zeros((2, 384), np.float16),
                        risky=np.array([True, False]), benign=np.array([False, True]))
    with pytest.raises(UserError, match="does not match"):
        RiskDetector.load(tmp_path / "risk_model.json")


def test_neighbour_features_hide_a_windows_own_sentence():
    bank = np.eye(4, 384, dtype=np.float32)
    risky, benign = np.array([True, True, False, False]), np.array([False, False, True, True])
    near_risky = bank[:1] * 0.9 + bank[1:2] * 0.1
    feats = risk.knn_features(near_risky, bank, risky, benign)
    assert feats[0, 1] == pytest.approx(0.9) and feats[0, 3] == pytest.approx(0.0) and feats[0, 5] > 0.8
    hidden = risk.knn_features(bank[:1], bank, risky, benign, exclude=np.array([[True, False, False, False]]))
    assert hidden[0, 1] == pytest.approx(0.0)     # its own row is not its neighbour


def test_model_load_errors(tmp_path):
    with pytest.raises(UserError, match="file not found"):
        RiskDetector.load(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    with pytest.raises(UserError, match="malformed JSON"):
        RiskDetector.load(bad)
    model = json.loads(risk.MODEL_FILE.read_text())
    model["embedding_model"] = "some-other-encoder"
    other = tmp_path / "other.json"
    other.write_text(json.dumps(model))
    with pytest.raises(UserError, match="retrain"):
        RiskDetector.load(other)
    model = json.loads(risk.MODEL_FILE.read_text())
    model["message_head"]["max_windows"] = 12
    other.write_text(json.dumps(model))
    with pytest.raises(UserError, match="message features differ"):
        RiskDetector(model, other)


def test_assessment_dict():
    a = RiskAssessment("high", ["suicidality"], True, 0.9, ["x"])
    assert a.to_dict() == {"risk_level": "high", "categories": ["suicidality"], "requires_review": True,
                           "score": 0.9, "evidence": ["x"]}


def test_cli_missing_file_exits_2(tmp_path, capsys):
    from empathy.cli import main

    assert main(["safety", "classify", str(tmp_path / "missing.jsonl")]) == 2
    assert "file not found" in capsys.readouterr().err


# --- with the encoder -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def detector() -> RiskDetector:
    return RiskDetector.load()


@pytest.mark.slow
def test_detector_levels_and_batch_consistency(detector):
    texts = ["Everyone would be better off without me.", "This commute is killing me.", "",
             "I took the whole packet of paracetamol an hour ago.", "How do I stop overthinking?"]
    many = detector.assess_many(texts)
    assert [a.risk_level in ("high", "imminent") for a in many] == [True, False, False, True, False]
    assert many[2].risk_level == "none" and many[3].risk_level == "imminent"
    assert detector.assess(texts[0]) == many[0]
    assert detector.assess_many([]) == []
    for a in many:
        assert a.requires_review == (a.risk_level in ("high", "imminent")) and 0.0 <= a.score <= 1.0
    assert many[0].categories == ["suicidality"] and many[0].evidence


@pytest.mark.slow
def test_one_megabyte_with_the_crisis_at_the_end(detector, tmp_path):
    filler = "Today I went to the market and bought some apples. The weather was mild and the queue was short. "
    text = filler * (1_000_000 // len(filler)) + CRISIS
    path = write_lines(tmp_path / "big.jsonl", [json.dumps({"id": "big", "text": text}).encode(),
                                                json.dumps({"id": "calm", "text": filler * 5000}).encode()])
    big, calm = classify_jsonl(path, detector)
    assert big["requires_review"] is True and "suicidality" in big["categories"]
    assert calm["requires_review"] is False


@pytest.mark.slow
def test_cli_classify(tmp_path, capsys):
    from empathy.cli import main

    src = write_lines(tmp_path / "in.jsonl", [json.dumps({"id": "a", "text": "I want to end my life tonight"}).encode(),
                                              b"garbage", json.dumps({"id": "b", "text": "I'm dying to see it"}).encode()])
    assert main(["safety", "classify", str(src)]) == 0
    captured = capsys.readouterr()
    rows = [json.loads(line) for line in captured.out.splitlines()]
    assert [r.get("id") for r in rows] == ["a", None, "b"] and rows[0]["requires_review"] and "error" in rows[1]
    assert "classified 3 lines, 1 errors" in captured.err
    out = tmp_path / "out.jsonl"
    assert main(["safety", "classify", str(src), "--out", str(out)]) == 0
    assert [json.loads(line) for line in out.read_text().splitlines()] == rows


def test_high_thresholds_keep_recall_and_cut_false_alarms():
    rng = np.random.default_rng(0)
    n = 400
    positive = np.zeros(n, dtype=bool)
    positive[:100] = True
    evidence = rng.random(n) < 0.5
    evidence[:80] = True                   # most crises have a rule match
    p = np.where(positive, rng.uniform(0.3, 1.0, n), rng.uniform(0.0, 0.6, n))
    p[200:300] = np.where(evidence[200:300], p[200:300], rng.uniform(0.4, 0.7, 100))  # look-alikes without rules
    negative = ~positive & (np.arange(n) < 300)
    turn = np.arange(n) >= 300
    t_rule, t_no_rule = risk._high_thresholds(p, [positive], [negative, turn], evidence, 0.95)
    flagged = np.where(evidence, p >= t_rule, p >= t_no_rule)
    assert flagged[positive].mean() >= 0.95
    assert t_no_rule >= t_rule
    single = risk._high_threshold(p, positive, 0.95)
    assert flagged[negative].mean() + flagged[turn].mean() <= (p[negative] >= single).mean() + (p[turn] >= single).mean()


def test_text_without_rule_evidence_needs_the_higher_threshold():
    th = {"ge_low": 0.5, "ge_moderate": 0.5, "ge_high": 0.3, "ge_high_no_rule": 0.6, "imminent": 0.9}
    high = risk._message_high(np.array([0.45, 0.45, 0.65]), np.array([True, False, False]), th)
    assert high.tolist() == [True, False, True]
    heads = {"ge_low": np.array([0.9, 0.9, 0.1]), "ge_moderate": np.array([0.9, 0.1, 0.1])}
    assert risk._levels_below_high(heads, th).tolist() == [2, 1, 0]


def test_message_features_take_the_three_riskiest_windows_and_cap_the_length():
    # doc 0: one window; doc 1: four windows; doc 2: no window (empty text); doc 3: 64 windows
    p = np.array([0.9] + [0.2, 0.8, 0.5, 0.1] + [0.01] * 63 + [0.99])
    doc = np.array([0] + [1] * 4 + [3] * 64)
    m = risk.message_features(p, doc, 4, np.array([True, False, False, True]))
    logit = risk._logit
    assert m.shape == (4, len(risk.MESSAGE_FEATURES))
    np.testing.assert_allclose(m[0, :3], logit(np.array([0.9] * 3)))          # the riskiest repeated
    np.testing.assert_allclose(m[1, :3], logit(np.array([0.8, 0.5, 0.2])))    # riskiest first
    assert m[0, 3] == 0.0 and m[1, 3] == pytest.approx(np.log(4))
    assert m[2, 0] == pytest.approx(logit(np.zeros(1))[0]) and m[2, 3] == 0.0
    # a text longer than any labelled crisis message counts as MESSAGE_MAX_WINDOWS windows, no more
    assert m[3, 3] == pytest.approx(np.log(risk.MESSAGE_MAX_WINDOWS))
    assert m[3, 0] == pytest.approx(logit(np.array([0.99]))[0])
    assert m[:, 4].tolist() == [1.0, 0.0, 0.0, 1.0]


def test_counsel_chat_annotations_sit_beside_the_labelled_set(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    repo_data = Path(__file__).resolve().parents[2] / "data" / "safety" / "risk_labelled.jsonl"
    notes = risk.read_counsel_chat_annotations(risk.annotations_file(repo_data))
    assert len(notes) == 815 and {n["risk_level"] for n in notes.values()} <= set(RISK_LEVELS)
    assert risk.read_counsel_chat_annotations(risk.annotations_file(tmp_path / "risk_labelled.jsonl")) == {}


def test_bad_counsel_chat_annotation_names_the_file_and_line(tmp_path):
    path = tmp_path / risk.ANNOTATIONS_NAME
    path.write_text('{"id": "cc-1", "risk_level": "none", "categories": []}\n'
                    '{"id": "cc-2", "risk_level": "high", "categories": []}\n')
    with pytest.raises(UserError, match=r"counsel_chat_annotations.jsonl, line 2"):
        risk.read_counsel_chat_annotations(path)
