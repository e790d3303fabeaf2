"""Semantic validation with real all-MiniLM-L6-v2 embeddings and the packaged validator: an on-topic answer is
kept with its score; off-topic, generic and malformed pairs are rejected with their reason codes and signals; and
`empathy data validate-pairs` answers every line of a file with bad lines in it, in order."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from empathy.config import ValidateConfig
from empathy.data.schema import Attribution, QAPair
from empathy.data.validate import validate_pairs
from tests.conftest import REPO

pytestmark = pytest.mark.integration

SOURCE = Attribution(dataset="t", source_id="s", kind="qa_jsonl", licence="CC0-1.0")
SLEEP_Q = "How can I sleep better when my mind races at night?"
SLEEP_A = ("Racing thoughts at night are common. Try a wind-down routine, keep a notebook by the bed for worries, "
           "and get up if you cannot sleep after twenty minutes.")


def _pair(i, question, answer):
    return QAPair(id=f"p{i}", record_id=f"r{i}", pair_type="extracted", question=question, answer=answer,
                  content_type="qa", source=SOURCE)


def test_keeps_on_topic_and_rejects_the_rest():
    pairs = [
        _pair(0, SLEEP_Q, SLEEP_A),
        _pair(1, SLEEP_Q, "The quarterly revenue grew by four percent, driven mostly by strong sales in the northern "
                          "region and lower shipping costs."),
        _pair(2, "Is it normal to still cry about my mother a year later?", "Yes."),
        _pair(3, "Hi?", "Grief has no timetable, and crying a year later is a normal part of missing someone you loved "
                        "deeply."),
        _pair(4, "Why do I feel so tired all the time since my breakup?", " ".join(["word"] * 700)),
        _pair(5, SLEEP_Q, "Thank you so much for sharing this with us. I really hope things get better for you soon."),
    ]
    result = validate_pairs(pairs, ValidateConfig())
    assert [p.id for p in result.accepted] == ["p0"]
    assert result.accepted[0].score is not None and result.accepted[0].score > 0.5
    reasons = {r.id: r.reason for r in result.rejected}
    assert reasons == {"p1": "off_topic", "p2": "answer_too_short", "p3": "question_too_short",
                       "p4": "answer_too_long", "p5": "generic_answer"}
    assert all("score=" in r.detail and "cosine=" in r.detail for r in result.rejected)
    assert result.counts == {"pairs_in": 6, "accepted": 1, "rejected": 5}


def test_validate_pairs_cli_answers_every_line_in_order(tmp_path):
    lines = [json.dumps({"id": "good", "question": SLEEP_Q, "answer": SLEEP_A}).encode(),
             b"{broken",
             json.dumps({"id": "no-answer", "question": SLEEP_Q}).encode(),
             b'{"id": "latin1", "question": "How can I sleep better when my mind races at night \xe9?", "answer": '
             + json.dumps(SLEEP_A).encode() + b"}",
             json.dumps({"id": "long", "question": SLEEP_Q, "answer": "sleep " * 100_000}).encode()]
    src = tmp_path / "pairs.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "results.jsonl"
    run = subprocess.run([sys.executable, "-m", "empathy.cli", "data", "validate-pairs", str(src), "--out", str(out)],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["good", None, "no-answer", "latin1", "long"]
    assert rows[0]["accepted"] and rows[0]["reason"] is None and rows[0]["score"] > 0.5
    assert rows[1]["line"] == 2 and "malformed JSON" in rows[1]["error"] and rows[1]["reason"] == "invalid_input"
    assert rows[2]["error"] == 'missing "answer"'
    assert rows[3]["accepted"] and "not valid UTF-8" in rows[3]["warning"]
    assert rows[4]["reason"] == "answer_too_long" and rows[4]["score"] is not None
    assert "validated 5 lines, 2 errors; accepted 2" in run.stderr
