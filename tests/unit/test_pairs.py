"""empathy.data.pairs: extracted and contextual Q/A pairs.

Covers extraction (asker question + following responder turn, asker turns
without a question skipped except for content_type qa, short replies
skipped, up to context_turns preceding turns kept as context), the helpers
sentences / has_question / segment_text, make_pairs rejections
(`no_usable_pair`) and counts, and, last in the file because it loads the
MiniLM model (~15 s), contextual question generation.
"""

from __future__ import annotations

import pytest

from empathy.config import PairsConfig
from empathy.data.pairs import TEMPLATES, THEMES, has_question, make_pairs, segment_text, sentences
from empathy.data.schema import Attribution, Record, Turn

SRC = Attribution(dataset="t", source_id="s", kind="transcript", licence="CC0-1.0")
ANSWER = "That sounds really hard, and it makes sense that you feel tired by it all."  # 15 words


def _turn(role: str, text: str) -> Turn:
    return Turn(speaker={"asker": "Client", "responder": "Therapist"}[role], role=role, text=text)


def _record(id_: str, turns: list[tuple[str, str]], content_type: str = "interview") -> Record:
    return Record(id=id_, content_type=content_type, source=SRC, turns=[_turn(r, t) for r, t in turns])


def _words(n: int, word: str = "word") -> str:
    return " ".join([word] * n)


# --- helpers --------------------------------------------------------------------------------


def test_sentences_split_on_terminal_punctuation() -> None:
    assert sentences("I am tired. Why is that? I do not know!  trailing bit") == [
        "I am tired.", "Why is that?", "I do not know!", "trailing bit",
    ]


@pytest.mark.parametrize("text, expected", [
    ("What can I do about it?", True),
    ("I feel bad. What can I do?", True),
    ("Why?", False),                   # too short a question
    ("I do not know what to do.", False),
    ("What can I do? I feel bad.", True),
])
def test_has_question(text: str, expected: bool) -> None:
    assert has_question(text, min_words=3) is expected


# --- extraction -----------------------------------------------------------------------------


def test_asker_question_paired_with_following_responder_turn() -> None:
    rec = _record("r", [("asker", "I keep waking at night. What can I do about it?"), ("responder", ANSWER)])
    result = make_pairs([rec], PairsConfig())
    (pair,) = result.pairs
    assert pair.question == "I keep waking at night. What can I do about it?"
    assert pair.answer == ANSWER
    assert pair.pair_type == "extracted"
    assert pair.record_id == "r" and pair.id == "r#t1"
    assert pair.content_type == "interview" and pair.source == SRC and pair.question_origin == "content"
    assert pair.context == []
    assert result.rejected == []


def test_asker_without_question_is_skipped() -> None:
    rec = _record("r", [
        ("asker", "I have been so tired lately."), ("responder", ANSWER),
        ("asker", "How do I get more rest?"), ("responder", ANSWER + " Rest matters."),
    ])
    (pair,) = make_pairs([rec], PairsConfig()).pairs
    assert pair.question == "How do I get more rest?"
    assert pair.id == "r#t3"


def test_qa_content_type_needs_no_question_mark() -> None:
    rec = _record("faq:1", [("asker", "Tips for sleeping better please"), ("responder", ANSWER)], content_type="qa")
    (pair,) = make_pairs([rec], PairsConfig()).pairs
    assert pair.question == "Tips for sleeping better please"
    assert pair.content_type == "qa"
    # the same turns as an interview give nothing: an interviewer's turn needs a question
    interview = _record("d", [("asker", "Tips for sleeping better please"), ("responder", ANSWER)])
    assert make_pairs([interview], PairsConfig()).pairs == []


def test_short_reply_is_skipped() -> None:
    rec = _record("r", [
        ("asker", "What should I do now?"), ("responder", "Breathe slowly and wait."),  # 4 words
        ("asker", "What else could help me?"), ("responder", ANSWER),
    ])
    pairs = make_pairs([rec], PairsConfig(min_answer_words=8)).pairs
    assert [p.id for p in pairs] == ["r#t3"]
    # a lower threshold keeps it
    assert len(make_pairs([rec], PairsConfig(min_answer_words=4)).pairs) == 2


def test_responder_must_follow_directly() -> None:
    rec = _record("r", [("asker", "What should I do now?"), ("asker", "Is that normal?"), ("responder", ANSWER)])
    pairs = make_pairs([rec], PairsConfig()).pairs
    assert [p.question for p in pairs] == ["Is that normal?"]


def test_context_keeps_up_to_context_turns_preceding_turns() -> None:
    turns = [
        ("asker", "Hello there."), ("responder", "Hello, welcome."),
        ("asker", "I feel low. Why do I feel this way?"), ("responder", ANSWER),
        ("asker", "What can I do tomorrow morning?"), ("responder", ANSWER + " Start small."),
    ]
    rec = _record("r", turns)
    pairs = make_pairs([rec], PairsConfig(context_turns=2)).pairs
    assert [p.id for p in pairs] == ["r#t3", "r#t5"]
    assert [t.text for t in pairs[0].context] == ["Hello there.", "Hello, welcome."]
    assert [t.text for t in pairs[1].context] == ["I feel low. Why do I feel this way?", ANSWER]
    assert [t.role for t in pairs[1].context] == ["asker", "responder"]

    wide = make_pairs([rec], PairsConfig(context_turns=10)).pairs
    assert len(wide[0].context) == 2 and len(wide[1].context) == 4  # never more than exists
    assert [t.text for t in wide[1].context] == [t for _, t in turns[:4]]

    none = make_pairs([rec], PairsConfig(context_turns=0)).pairs
    assert all(p.context == [] for p in none)


def test_topic_carried_to_pairs() -> None:
    rec = _record("r", [("asker", "What can I do about it?"), ("responder", ANSWER)]).model_copy(
        update={"topic": "sleep"})
    assert make_pairs([rec], PairsConfig()).pairs[0].topic == "sleep"


def test_a_session_client_turn_is_the_prompt_without_a_question_mark() -> None:
    rec = _record("s", [("asker", "I have been so tired lately, I cannot get up."), ("responder", ANSWER),
                        ("asker", "Yeah."), ("responder", "Mm-hmm."),
                        ("asker", "Mm-hmm, okay."), ("responder", ANSWER + " Go on.")], content_type="dialogue")
    pairs = make_pairs([rec], PairsConfig()).pairs
    assert [(p.id, p.pair_type) for p in pairs] == [("s#t1", "extracted")]   # backchannel is no prompt


def test_qa_question_pairs_with_each_answer() -> None:
    rec = _record("q", [("asker", "How can I sleep better?"), ("responder", ANSWER),
                        ("responder", ANSWER + " Keep a routine.")], content_type="qa")
    pairs = make_pairs([rec], PairsConfig()).pairs
    assert [p.id for p in pairs] == ["q#t1", "q#t2"] and {p.question for p in pairs} == {"How can I sleep better?"}


# --- segment_text ---------------------------------------------------------------------------


def _paras(*sizes: int) -> str:
    return "\n\n".join(_words(n, f"p{i}") for i, n in enumerate(sizes))


def test_segment_text_groups_paragraphs_near_target() -> None:
    segments = segment_text(_paras(50, 50, 50, 50, 50, 50), target_words=100)
    assert [len(s.split()) for s in segments] == [100, 100, 100]
    # paragraph boundaries kept: no paragraph is cut
    assert segments[0] == _words(50, "p0") + " " + _words(50, "p1")


def test_segment_text_never_exceeds_one_and_a_half_target_by_grouping() -> None:
    segments = segment_text(_paras(70, 70, 70, 70), target_words=100)
    # 70+70 = 140 <= 150 grouped, reaching the target
    assert [len(s.split()) for s in segments] == [140, 140]
    segments = segment_text(_paras(90, 90, 90), target_words=100)
    # 90+90 > 150: each stands alone (the last one is a long enough tail)
    assert [len(s.split()) for s in segments] == [90, 90, 90]


def test_segment_text_long_paragraph_stands_alone() -> None:
    segments = segment_text(_paras(30, 400, 30, 80), target_words=100)
    assert [len(s.split()) for s in segments] == [30, 400, 110]


def test_segment_text_merges_short_tail() -> None:
    segments = segment_text(_paras(100, 100, 20), target_words=100)
    assert [len(s.split()) for s in segments] == [100, 120]
    assert segments[-1].endswith(_words(20, "p2"))
    # a tail of at least a third of the target stays a segment of its own
    assert [len(s.split()) for s in segment_text(_paras(100, 100, 40), 100)] == [100, 100, 40]


def test_segment_text_edge_cases() -> None:
    assert segment_text("", 100) == []
    assert segment_text("\n\n  \n\n", 100) == []
    assert segment_text(_words(10), 100) == [_words(10)]  # a short text alone is kept
    text = _paras(30, 60, 45, 120, 10, 75, 75)
    joined = " ".join(segment_text(text, 80))
    assert joined.split() == text.split()  # nothing lost, nothing reordered


# --- make_pairs rejections and counts (no model needed) -------------------------------------


def test_record_without_usable_pair_is_rejected() -> None:
    no_question = _record("nq", [("asker", "I am tired."), ("responder", ANSWER)])
    short_reply = _record("sr", [("asker", "What can I do now?"), ("responder", "Rest.")])
    only_asker = _record("oa", [("asker", "What can I do now?")])
    short_text = Record(id="st", content_type="monologue", source=SRC, text="Too short.\n\nStill short.")
    empty_text = Record(id="et", content_type="speech", source=SRC, text="")
    good = _record("g", [("asker", "What can I do now?"), ("responder", ANSWER)])
    records = [no_question, short_reply, only_asker, short_text, empty_text, good]
    result = make_pairs(records, PairsConfig())
    assert [p.record_id for p in result.pairs] == ["g"]
    assert [r.id for r in result.rejected] == ["nq", "sr", "oa", "st", "et"]
    for rej in result.rejected:
        assert rej.stage == "pairs" and rej.reason == "no_usable_pair" and rej.detail
        assert rej.source == SRC
    assert "no passage long enough" in result.rejected[3].detail
    assert result.counts == {
        "records_in": 6, "pairs": 1, "extracted": 1, "contextual": 0, "records_without_pair": 5,
        "questions_by_origin": {"content": 1},
    }


def test_counts_add_up_on_many_records() -> None:
    records = []
    for i in range(10):
        turns = [("asker", "What can I do now?"), ("responder", ANSWER)] * (i % 3)  # 0, 1 or 2 pairs
        records.append(_record(f"r{i}", turns or [("asker", "hi")]))
    result = make_pairs(records, PairsConfig())
    counts = result.counts
    assert counts["pairs"] == sum(i % 3 for i in range(10)) == len(result.pairs)
    assert counts["extracted"] + counts["contextual"] == counts["pairs"]
    assert counts["records_without_pair"] == sum(i % 3 == 0 for i in range(10))
    assert len({p.record_id for p in result.pairs}) + counts["records_without_pair"] == counts["records_in"]
    assert len({p.id for p in result.pairs}) == len(result.pairs)  # pair ids unique


# --- contextual questions (loads MiniLM: keep last) -----------------------------------------


@pytest.mark.slow
def test_contextual_questions_deterministic_and_on_theme() -> None:
    para = ("When you lie awake at night and your thoughts keep racing, try getting up for a while and "
            "reading something calm in dim light. Keep the same wake time every morning, even after a bad "
            "night, and avoid screens in the hour before bed so that sleep can come on its own.")
    text = "\n\n".join([para] * 4)
    rec = Record(id="mono-sleep", content_type="monologue", source=SRC, text=text)
    config = PairsConfig(segment_words=60, min_answer_words=8)
    first = make_pairs([rec], config)
    second = make_pairs([rec.model_copy()], config)
    assert first.rejected == []
    assert len(first.pairs) == len(segment_text(text, 60)) >= 2
    assert [(p.id, p.question, p.answer) for p in first.pairs] == [(p.id, p.question, p.answer) for p in second.pairs]
    theme_questions = {t.format(theme=theme) for t in TEMPLATES for theme in THEMES}
    for pair in first.pairs:
        assert pair.pair_type == "contextual"
        assert pair.question.endswith("?")
        assert pair.question in theme_questions
        assert "sleep" in pair.question  # nearest theme: "trouble sleeping"
        assert pair.context == []
    # identical segment text, different ids: same theme, template picked by id hash
    assert len({p.id for p in first.pairs}) == len(first.pairs)
    # the same segment in a different record list still gets the same question
    other = Record(id="mono-other", content_type="monologue", source=SRC,
                   text="Anger is a signal that something matters to you. " * 5)
    mixed = make_pairs([other, rec], config)
    assert [p.question for p in mixed.pairs if p.record_id == "mono-sleep"] == [p.question for p in first.pairs]
    assert mixed.counts["contextual"] == mixed.counts["pairs"] == len(mixed.pairs)


@pytest.mark.slow
def test_unused_replies_and_knowledge_base_entries_get_contextual_questions(tmp_path) -> None:
    from empathy.config import ProviderConfig

    explanation = ("Worry tends to grow when we try to push it away, so one thing that helps is setting aside a "
                   "short worry time each day and writing the worries down, then coming back to them later.")
    session = _record("s", [("asker", "Yeah."), ("responder", explanation)], content_type="dialogue")
    kb_src = SRC.model_copy(update={"kind": "knowledge_base"})
    kb = Record(id="kb:cbt", content_type="monologue", source=kb_src, topic="Cognitive restructuring",
                text="Cognitive restructuring is a way of noticing and testing unhelpful thoughts. " * 4)
    pairs = make_pairs([session, kb], PairsConfig(segment_words=40)).pairs
    origin = {p.id: (p.pair_type, p.question_origin) for p in pairs}
    assert origin["s#c1"] == ("contextual", "template")
    kb_pairs = [p for p in pairs if p.record_id == "kb:cbt"]
    assert kb_pairs and all(p.question_origin == "title" and "Cognitive restructuring" in p.question for p in kb_pairs)
    # through the provider layer (the offline provider here: deterministic, no keys), resumable in state_dir
    llm = make_pairs([session], PairsConfig(question_provider=ProviderConfig()), state_dir=tmp_path / "q")
    assert [p.question_origin for p in llm.pairs] == ["llm"] and llm.pairs[0].question.endswith("?")
    assert (tmp_path / "q" / "completions.jsonl").is_file()
    with pytest.raises(ValueError, match="state_dir"):
        make_pairs([session], PairsConfig(question_provider=ProviderConfig()))
