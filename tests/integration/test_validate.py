"""Semantic validation with real all-MiniLM-L6-v2 embeddings: on-topic answers kept,
off-topic and malformed pairs rejected with their reason codes and scores."""

from __future__ import annotations

import pytest

from empathy.config import ValidateConfig
from empathy.data.schema import Attribution, QAPair
from empathy.data.validate import validate_pairs

pytestmark = pytest.mark.integration

SOURCE = Attribution(dataset="t", source_id="s", kind="qa_jsonl", licence="CC0-1.0")


def _pair(i, question, answer):
    return QAPair(id=f"p{i}", record_id=f"r{i}", pair_type="extracted", question=question, answer=answer,
                  content_type="qa", source=SOURCE)


def test_keeps_on_topic_and_rejects_the_rest():
    pairs = [
        _pair(0, "How can I sleep better when my mind races at night?",
              "Racing thoughts at night are common. Try a wind-down routine, keep a notebook by the bed for worries, "
              "and get up if you cannot sleep after twenty minutes."),
        _pair(1, "How can I sleep better when my mind races at night?",
              "The quarterly revenue grew by four percent, driven mostly by strong sales in the northern region and "
              "lower shipping costs."),
        _pair(2, "Is it normal to still cry about my mother a year later?",
              "Yes."),
        _pair(3, "Hi?",
              "Grief has no timetable, and crying a year later is a normal part of missing someone you loved deeply."),
        _pair(4, "Why do I feel so tired all the time since my breakup?",
              " ".join(["word"] * 500)),
    ]
    result = validate_pairs(pairs, ValidateConfig())
    assert [p.id for p in result.accepted] == ["p0"]
    assert result.accepted[0].score is not None and result.accepted[0].score > 0.3
    reasons = {r.id: r.reason for r in result.rejected}
    assert reasons == {"p1": "low_similarity", "p2": "answer_too_short", "p3": "question_too_short",
                       "p4": "answer_too_long"}
    assert all("score=" in r.detail for r in result.rejected)
    assert result.counts == {"pairs_in": 5, "accepted": 1, "rejected": 4}
