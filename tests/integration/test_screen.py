"""The safety screen of pairs, end to end with the real de-identifier, the real risk detector (MiniLM) and a real
SQLite review queue: identifiers replaced and counted, high risk held until a clinician approves exactly that
text, a rejection kept as review_rejected, and every pair in exactly one place."""

from __future__ import annotations

import pytest

from empathy.config import ScreenConfig
from empathy.data.schema import Attribution, QAPair, Turn
from empathy.data.screen import review_record, screen_pairs
from empathy.safety.review import ReviewQueue, content_sha256

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SRC = Attribution(dataset="t", source_id="s", kind="chat_jsonl", licence="CC0-1.0")


def _pair(i: int, question: str, answer: str, context: list[Turn] | None = None) -> QAPair:
    return QAPair(id=f"p{i}", record_id=f"r{i}", pair_type="extracted", question=question, answer=answer,
                  context=context or [], content_type="dialogue", source=SRC)


PAIRS = [
    _pair(1, "Hi, I'm Sarah Jenkins, you can call me on 0207 946 0321. I've been so stressed at work lately.",
          "Thanks for reaching out, Sarah. Work stress can build up quietly; what has been hardest this week?",
          [Turn(speaker="client", role="asker", text="My email is sarah.jenkins@example.com if you need it.")]),
    _pair(2, "I've got the pills counted out and I'm going to take them all tonight when everyone is asleep.",
          "I'm really glad you told me. Your safety matters most right now: are the pills with you at the moment?"),
    _pair(3, "My boss keeps giving me more work than I can handle. How do I say no?",
          "It can help to name your current priorities and ask which one should move to make room for the new task."),
    _pair(4, "I keep thinking everyone would be better off without me, and I've written letters to my kids.",
          "Thank you for trusting me with this. Are you thinking about ending your life? Let's talk about staying safe."),
]


def test_screen_deidentifies_and_holds_high_risk_until_approved(tmp_path):
    url = f"sqlite:///{tmp_path / 'review.db'}"
    first = screen_pairs(PAIRS, ScreenConfig(), review_url=url)
    assert first.pairs_in == 4 and len(first.passed) + len(first.held) + len(first.rejected) == 4
    assert {p.id for p in first.held} == {"p2", "p4"}, [(p.id, p.risk) for p in first.passed + first.held]
    benign = {p.id: p for p in first.passed}["p1"]
    assert "Sarah Jenkins" not in benign.question and "0207 946 0321" not in benign.question
    assert "sarah.jenkins@example.com" not in benign.context[0].text
    assert benign.deid.get("NAME", 0) >= 1 and sum(benign.deid.values()) >= 3
    assert first.counts["identifiers_replaced"] and first.counts["held_for_review"] == 2
    assert all(p.risk["review"] == "not_required" for p in first.passed)

    held = {p.id: p for p in first.held}
    with ReviewQueue(url) as queue:
        assert queue.counts()["pending"] == 2
        item = queue.get("pair:p2")
        assert item.content_sha256 == content_sha256(review_record(held["p2"])) and item.category.startswith("data:")
        queue.decide("pair:p2", "approved", reviewer="dr.okafor", note="the reply assesses safety")
        queue.decide("pair:p4", "rejected", reviewer="dr.okafor", note="reply too brief for training")

    second = screen_pairs(PAIRS, ScreenConfig(), review_url=url)
    approved = {p.id: p for p in second.passed}["p2"]
    assert approved.risk["review"] == "approved" and approved.risk["reviewer"] == "dr.okafor"
    assert [r.id for r in second.rejected] == ["p4"] and second.rejected[0].reason == "review_rejected"
    assert not second.held and second.counts["approved_high_risk"] == 1

    # a changed text goes back to pending: the approval was for the exact words
    changed = [PAIRS[0], PAIRS[1].model_copy(update={"answer": PAIRS[1].answer + " Call 999 now."}), *PAIRS[2:]]
    third = screen_pairs(changed, ScreenConfig(), review_url=url)
    assert "p2" in {p.id for p in third.held}


def test_screen_switches(tmp_path):
    url = f"sqlite:///{tmp_path / 'review.db'}"
    off = screen_pairs(PAIRS, ScreenConfig(deidentify=False, risk_screen=False), review_url=url)
    assert [p.question for p in off.passed] == [p.question for p in PAIRS] and not off.held
    assert all(p.risk is None for p in off.passed)
