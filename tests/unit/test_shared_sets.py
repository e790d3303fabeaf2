"""Readers of the public data sets in ../shared/data: locating them, the conversation-level split of real
client turns, and clear errors for malformed files."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from empathy.data import shared_sets
from empathy.data.shared_sets import (
    ANNOMI, ESCONV, conversational_turns, counsel_chat_questions, esconv_conversations, find_shared_file,
)
from empathy.errors import UserError


def test_find_prefers_explicit_then_environment(tmp_path, monkeypatch):
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / ESCONV).write_text("[]")
    explicit = tmp_path / "mine.json"
    explicit.write_text("[]")
    monkeypatch.setenv(shared_sets.SHARED_DATA_ENV, str(tmp_path / "env"))
    assert find_shared_file(ESCONV, explicit) == explicit
    assert find_shared_file(ESCONV) == tmp_path / "env" / ESCONV
    assert find_shared_file("no-such-file.csv") is None


def test_a_named_path_that_is_missing_is_an_error_not_a_fallback(tmp_path, monkeypatch):
    (tmp_path / "env").mkdir()
    (tmp_path / "env" / ESCONV).write_text("[]")
    monkeypatch.setenv(shared_sets.SHARED_DATA_ENV, str(tmp_path / "env"))
    with pytest.raises(UserError, match="typo.json is not a file"):
        find_shared_file(ESCONV, tmp_path / "typo.json")


def test_esconv_errors_name_the_file_and_conversation(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(UserError, match="bad.json"):
        esconv_conversations(bad)
    bad.write_text(json.dumps([{"dialog": []}, {"no_dialog": 1}]))
    with pytest.raises(UserError, match="conversation 1"):
        esconv_conversations(bad)


def test_turns_from_small_files_split_by_conversation(tmp_path):
    annomi = tmp_path / ANNOMI
    lines = ["transcript_id,utterance_id,interlocutor,utterance_text,topic"]
    for t in range(30):
        lines += [f"{t},0,therapist,How have things been this week for you?,smoking",
                  f"{t},1,client,Honestly I have cut down to five a day now.,smoking",
                  f"{t},2,client,Yeah.,smoking"]
    annomi.write_text("\n".join(lines) + "\n")
    esconv = tmp_path / ESCONV
    esconv.write_text(json.dumps([{"problem_type": "job crisis", "dialog": [
        {"speaker": "seeker", "content": "I lost my job last week and feel lost."},
        {"speaker": "supporter", "content": "That sounds really hard."}]}]))
    turns = conversational_turns(annomi, esconv)
    # therapist turns and turns under MIN_TURN_WORDS are left out
    assert len(turns) == 31 and {t["source"] for t in turns} == {"annomi", "esconv"}
    by_conv = defaultdict(set)
    for t in turns:
        by_conv[t["conversation"]].add(t["split"])
    assert all(len(s) == 1 for s in by_conv.values())
    assert {t["split"] for t in turns} <= {"train", "val", "test"}
    assert conversational_turns(annomi, esconv) == turns     # deterministic


def test_real_files_when_present(shared_data):
    turns = conversational_turns(shared_data / ANNOMI, shared_data / ESCONV)
    share = {s: sum(t["split"] == s for t in turns) / len(turns) for s in ("train", "val", "test")}
    assert len(turns) > 5000 and 0.45 < share["train"] < 0.75 and share["test"] > 0.1
    qs = counsel_chat_questions(shared_data / "counsel_chat.csv", frozenset({"depression"}))
    assert len(qs) > 700 and not any(q["benign"] for q in qs if q["topic"] == "depression")
