"""The Evidently drift report on real embeddings: no drift for the same distribution,
drift (and an alert) for off-topic inference inputs; the HTML and the summary are written."""

from __future__ import annotations

import json

import pytest

from empathy.config import MonitorConfig
from empathy.errors import UserError
from empathy.monitor.drift import drift_report, user_texts

pytestmark = pytest.mark.integration

COUNSELLING = [
    "I lie awake worrying about work and cannot switch off.",
    "Since my dad died I feel numb and tired all the time.",
    "How do I tell my partner I need more time for myself?",
    "My heart races before every meeting and I want to run away.",
    "I feel lonely since I moved to a new city for my job.",
    "I keep snapping at my kids after long days and feel guilty.",
    "How can I stop putting things off until the last minute?",
    "I am exhausted by trying to please everyone at work.",
]


def _texts(base, n):
    return [f"{base[i % len(base)]} (day {i})" for i in range(n)]


def _demo_questions() -> list[str]:
    from empathy.config import IngestConfig
    from empathy.data.sources import ingest_corpus
    from tests.conftest import DEMO_CORPUS

    records = ingest_corpus(DEMO_CORPUS, IngestConfig()).records
    return [t.text for r in records for t in r.turns if t.role == "asker"]


def test_same_distribution_does_not_alert(tmp_path):
    questions = _demo_questions()
    summary = drift_report(questions[0::2], questions[1::2], MonitorConfig(), tmp_path)
    assert summary["alert"] is False
    assert "nearest_train_similarity" not in summary["drifted_columns"]
    assert (tmp_path / "drift_report.html").stat().st_size > 10_000
    assert json.loads((tmp_path / "drift_summary.json").read_text())["drift_share"] == summary["drift_share"]


OFF_TOPIC = [
    "SELECT * FROM users WHERE id = 1; DROP TABLE logs;",
    "What is the capital of Australia and its population in 1990?",
    "Convert 45 degrees Fahrenheit to Celsius, show the formula!!!",
    "Write a haiku about tax returns: 2023/24 edition #finance",
]


def test_off_topic_inputs_drift(tmp_path):
    summary = drift_report(_texts(COUNSELLING, 80), _texts(OFF_TOPIC, 40), MonitorConfig(drift_share_alert=0.4), tmp_path)
    assert "nearest_train_similarity" in summary["drifted_columns"]
    means = summary["mean_nearest_train_similarity"]
    assert means["current"] < means["reference"] - 0.2
    assert summary["alert"] is True


def test_user_texts_takes_the_last_user_message():
    example = {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "first"},
                            {"role": "assistant", "content": "a"}, {"role": "user", "content": "second"},
                            {"role": "assistant", "content": "b"}]}
    assert user_texts([example]) == ["second"]


def test_too_little_data_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="at least 2 reference texts"):
        drift_report(["only one"], ["x"], MonitorConfig(), tmp_path)
