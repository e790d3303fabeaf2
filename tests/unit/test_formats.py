"""Loaders of the public and chat formats (empathy.data.formats): records with attribution, and every bad item
rejected with its file and line while the rest of the file still loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from empathy.data.formats import MAX_ITEM_CHARS
from empathy.data.sources import LOADERS, ingest_specs, source_from_arg
from empathy.errors import UserError

ANNOMI_HEADER = ("mi_quality,transcript_id,video_title,video_url,topic,utterance_id,interlocutor,timestamp,"
                 "utterance_text")


def _load(kind: str, path: Path):
    spec = source_from_arg(f"{kind}:{path}")
    return LOADERS[kind](spec)


def test_counsel_chat_groups_answers_under_their_question(tmp_path) -> None:
    f = tmp_path / "cc.csv"
    f.write_text('questionID,questionTitle,questionText,questionLink,topic,therapistInfo,answerText,split\n'
                 '1,Sleep,"I cannot sleep.\nWhat helps?",https://x/1,sleep,Dr A,"Try a routine, and keep it.",train\n'
                 '1,Sleep,"I cannot sleep.\nWhat helps?",https://x/1,sleep,Dr B,Keep the lights low at night.,train\n'
                 '2,,,https://x/2,anxiety,Dr C,An answer to nothing.,test\n'
                 '1,Work,Another question under the same id.,https://x/9,work,Dr D,A different answer.,train\n',
                 encoding="utf-8")
    records, rejected = _load("counsel_chat", f)
    rec, other = records     # counsel-chat reuses some questionIDs for different questions: keep them apart
    assert other.id.endswith(":1-2") and [t.text for t in other.turns][1] == "A different answer."
    assert rec.content_type == "qa" and rec.items == 2 and rec.topic == "sleep"
    assert [t.role for t in rec.turns] == ["asker", "responder", "responder"]
    assert rec.turns[0].text == "Sleep I cannot sleep. What helps?"
    assert rec.source.url == "https://x/1" and rec.source.dataset == "counsel-chat" and rec.source.licence
    assert rec.meta == {"split": "train"}    # the data set's own split, which the semantic validator trains on
    (bad,) = rejected
    assert bad.reason == "missing_field" and "cc.csv: line 6" in bad.detail   # quoted fields span lines


def test_annomi_rows_become_transcripts_with_timestamps(tmp_path) -> None:
    f = tmp_path / "annomi.csv"
    rows = [ANNOMI_HEADER,
            'high,7,"Video",https://youtu.be/v,smoking,1,client,00:00:09,I smoke about ten a day.',
            'high,7,"Video",https://youtu.be/v,smoking,0,therapist,00:00:05,How much do you smoke?',
            'high,7,"Video",https://youtu.be/v,smoking,2,narrator,00:00:12,Who is this?',
            'high,7,"Video",https://youtu.be/v,smoking,x,client,00:00:13,Bad id.',
            'high,7,"Video",https://youtu.be/v,smoking,3,client,00:00:14,',
            'high,7,"Video",https://youtu.be/v,smoking,4,client']
    f.write_text("\n".join(rows) + "\n", encoding="utf-8")
    records, rejected = _load("annomi", f)
    (rec,) = records
    assert [t.text for t in rec.turns] == ["How much do you smoke?", "I smoke about ten a day."]   # utterance order
    assert rec.turns[0].meta["timestamp"] == "00:00:05" and rec.source.url == "https://youtu.be/v"
    assert sorted(r.reason for r in rejected) == ["empty_text", "invalid_field", "malformed_csv_row", "unknown_speaker"]
    assert all("annomi.csv: line " in r.detail for r in rejected)
    assert rec.items + len(rejected) == 6      # every row accounted for


def test_invalid_utf8_and_oversized_rows_are_rejected_not_fatal(tmp_path) -> None:
    f = tmp_path / "annomi.csv"
    ok = 'high,1,"V",https://y/v,t,0,client,00:00:01,I feel fine today thanks.'
    big = 'high,1,"V",https://y/v,t,1,therapist,00:00:02,' + "x" * (MAX_ITEM_CHARS + 10)
    f.write_bytes((ANNOMI_HEADER + "\n" + ok + "\n").encode() + b'high,1,"V",https://y/v,t,2,client,00:00:03,caf\xe9\n'
                  + (big + "\n").encode())
    records, rejected = _load("annomi", f)
    assert len(records) == 1 and records[0].items == 1
    assert sorted((r.reason, r.detail.split(":")[1].strip()) for r in rejected) == [
        ("invalid_utf8", "line 3"), ("too_long", "line 4")]


def test_esconv_merges_split_turns_and_keeps_strategies(tmp_path) -> None:
    f = tmp_path / "es.json"
    f.write_text(json.dumps([
        {"problem_type": "job crisis", "emotion_type": "anxiety", "situation": "lost job", "dialog": [
            {"speaker": "seeker", "content": "I lost my job."}, {"speaker": "seeker", "content": "I'm scared."},
            {"speaker": "supporter", "annotation": {"strategy": "Reflection of feelings"}, "content": "That is scary."}]},
        {"dialog": [{"speaker": "robot", "content": "hi"}]},
        "not a conversation"]), encoding="utf-8")
    records, rejected = _load("esconv", f)
    (rec,) = records
    assert [t.text for t in rec.turns] == ["I lost my job. I'm scared.", "That is scary."]
    assert rec.turns[1].meta == {"strategy": "Reflection of feelings"} and rec.topic == "job crisis / anxiety"
    assert sorted(r.reason for r in rejected) == ["malformed_record", "unknown_speaker"]


def test_chat_jsonl_reads_openai_and_sharegpt_and_rejects_bad_lines(tmp_path) -> None:
    f = tmp_path / "chats.jsonl"
    lines = [json.dumps({"id": "a", "messages": [{"role": "system", "content": "be kind"},
                                                 {"role": "user", "content": "I feel low."},
                                                 {"role": "assistant", "content": "I'm sorry to hear that."}]}),
             json.dumps({"conversations": [{"from": "human", "value": "Hi, can we talk?"},
                                           {"from": "gpt", "value": "Of course."}]}),
             "{not json", json.dumps([1, 2]), json.dumps({"messages": [{"role": "user", "content": "alone"}]}),
             json.dumps({"messages": [{"role": "wizard", "content": "?"}, {"role": "user", "content": "x"}]})]
    f.write_bytes(("\n".join(lines) + "\n").encode() + b'{"messages": "\xff"}\n')
    records, rejected = _load("chat_jsonl", f)
    assert [r.id for r in records] == ["chats:a", "chats:line2"]
    assert [t.role for t in records[0].turns] == ["asker", "responder"]
    assert sorted(r.reason for r in rejected) == ["empty_text", "invalid_utf8", "malformed_json", "malformed_record",
                                                  "malformed_record"]
    assert all("chats.jsonl: line" in r.detail for r in rejected)


def test_knowledge_base_list_and_dual_persona(tmp_path) -> None:
    kb = tmp_path / "kb.json"
    kb.write_text(json.dumps([{"title": "Grounding", "content": "Grounding brings attention to the present.",
                               "category": "skills", "related_concepts": ["mindfulness"],
                               "therapeutic_approaches": ["DBT"], "source": "textbook"},
                              {"title": "", "content": "no title"}]), encoding="utf-8")
    records, rejected = _load("knowledge_base", kb)
    assert records[0].text and records[0].topic == "Grounding" and records[0].meta["therapeutic_approaches"] == "DBT"
    assert [r.reason for r in rejected] == ["missing_field"]
    dp = tmp_path / "dp.jsonl"
    dp.write_text("\n".join([
        json.dumps({"id": "d1", "scenario": "first session", "personas": [{"name": "Maya", "role": "client"},
                                                                          {"name": "Dr Lee", "role": "therapist"}],
                    "turns": [{"speaker": "Maya", "text": "I don't know where to start."},
                              {"speaker": "Dr Lee", "text": "Wherever feels easiest."}]}),
        json.dumps({"id": "d2", "scenario": "x", "personas": [{"name": "A", "role": "client"}], "turns": []}),
    ]) + "\n", encoding="utf-8")
    records, rejected = _load("dual_persona", dp)
    assert [t.role for t in records[0].turns] == ["asker", "responder"] and records[0].topic == "first session"
    assert [r.reason for r in rejected] == ["invalid_field"]


def test_source_arguments_and_duplicate_ids(tmp_path) -> None:
    f = tmp_path / "a.jsonl"
    f.write_text("{}\n")
    with pytest.raises(UserError, match="KIND:PATH"):
        source_from_arg("just-a-path")
    with pytest.raises(UserError, match="unknown kind"):
        source_from_arg(f"podcast_rss:{f}")
    with pytest.raises(UserError, match="file not found"):
        source_from_arg("chat_jsonl:/nonexistent.jsonl")
    spec = source_from_arg(f"chat_jsonl:{f}")
    with pytest.raises(UserError, match="share the id"):
        ingest_specs([spec, spec])


def test_a_transcript_named_on_the_command_line_gets_roles_and_a_detected_type(tmp_path) -> None:
    podcast = tmp_path / "pod.txt"
    podcast.write_text("Host: Welcome back to the show, everyone. What got you into therapy?\n\n"
                       "Guest: A hard year, honestly. I stopped sleeping and my work fell apart.\n\n"
                       "Host: How did it change you, and what would you tell our listeners?\n\n"
                       "Guest: I learned to slow down and to ask for help before things get that bad.\n",
                       encoding="utf-8")
    (rec,), rejected = _load("transcript", podcast)
    assert not rejected and {t.speaker: t.role for t in rec.turns} == {"Host": "asker", "Guest": "responder"}
    assert rec.content_type in ("podcast", "interview") and "content_type_detected" in rec.meta
    talk = tmp_path / "talk.vtt"
    talk.write_text("WEBVTT\n\n00:00:01.000 --> 00:00:04.000\nThank you all for coming tonight.\n\n"
                    "00:00:04.000 --> 00:00:09.000\nI want to talk to you about rest, and why we fear it.\n",
                    encoding="utf-8")
    (rec,), _ = _load("transcript", talk)
    assert rec.text and not rec.turns and rec.content_type in ("speech", "monologue")
    broken = tmp_path / "broken.srt"
    broken.write_text("1\n00:00:01,000 --> nonsense\nHello\n", encoding="utf-8")
    records, (bad,) = _load("transcript", broken)
    assert not records and bad.reason == "malformed_subtitles" and "broken.srt" in bad.detail
