"""empathy.data.sources: the manifest and the source loaders.

Covers ingest_corpus on the bundled data/demo corpus (a record per transcript,
one per Q&A line, attribution, content types, speaker roles, unlabelled text)
and on small corpora built in tmp_path: speaker-label rejections
(`unknown_speaker`, `missing_speaker`), continuation paragraphs, qa_jsonl line
rejections (`malformed_json`, `missing_field`), the items_in accounting, and
manifest errors that raise a UserError naming the manifest.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from empathy.config import IngestConfig
from empathy.data.schema import Record
from empathy.data.sources import LABEL_RE, ingest_corpus, read_manifest
from empathy.errors import UserError
from empathy.io import read_jsonl, write_models

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "data" / "demo"

GOOD_SESSION = (
    "Client: I keep worrying about work at night. What can I do about it?\n\n"
    "Therapist: It sounds exhausting to carry that worry to bed. One small step is to write the worries down "
    "an hour before sleep.\n\n"
    "Client: Thanks, I will try that.\n"
)


@pytest.fixture(scope="module")
def demo():
    return ingest_corpus(DEMO, IngestConfig())


@pytest.fixture(scope="module")
def manifest() -> dict:
    return yaml.safe_load((DEMO / "sources.yaml").read_text(encoding="utf-8"))


def _corpus(root: Path, sources: list[dict], files: dict[str, str], **top) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    data = {"dataset": "tiny", "licence": "CC0-1.0", **top, "sources": sources}
    (root / "sources.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root


def _transcript(id_: str, path: str, speakers: dict | None = None, content_type: str = "dialogue") -> dict:
    entry = {"id": id_, "path": path, "kind": "transcript", "content_type": content_type}
    if speakers is not None:
        entry["speakers"] = speakers
    return entry


SPEAKERS = {"Client": "asker", "Therapist": "responder"}


# --- the demo corpus ------------------------------------------------------------------------


def test_demo_every_manifest_entry_gives_records(demo, manifest) -> None:
    assert demo.rejected == []
    for entry in manifest["sources"]:
        if entry["kind"] == "transcript":
            got = [r for r in demo.records if r.id == entry["id"]]
            assert len(got) == 1, entry["id"]
        else:
            lines = [ln for ln in (DEMO / entry["path"]).read_text(encoding="utf-8").splitlines() if ln.strip()]
            got = [r for r in demo.records if r.id.startswith(entry["id"] + ":")]
            assert len(got) == len(lines), entry["id"]
            qa_ids = [json.loads(ln)["id"] for ln in lines]
            assert [r.source.source_id for r in got] == qa_ids
            assert [r.id for r in got] == [f"{entry['id']}:{q}" for q in qa_ids]
    n_transcripts = sum(e["kind"] == "transcript" for e in manifest["sources"])
    assert len(demo.records) > n_transcripts
    assert len({r.id for r in demo.records}) == len(demo.records)


def test_demo_records_carry_attribution(demo, manifest) -> None:
    entries = {e["id"]: e for e in manifest["sources"]}
    for rec in demo.records:
        src = rec.source
        assert src.dataset == manifest["dataset"]
        assert src.licence == manifest["licence"]
        assert src.source_id
        assert src.kind in {"transcript", "qa_jsonl"}
        entry = entries[rec.id.split(":")[0]]
        assert src.kind == entry["kind"]
        assert src.title == entry["title"]
        assert src.path == entry["path"]
        assert src.timestamp == entry["timestamp"]


def test_demo_content_types_match_manifest(demo, manifest) -> None:
    entries = {e["id"]: e for e in manifest["sources"]}
    for rec in demo.records:
        assert rec.content_type == entries[rec.id.split(":")[0]]["content_type"]


def test_demo_labelled_transcripts_have_roles_from_manifest(demo, manifest) -> None:
    records = {r.id: r for r in demo.records}
    labelled = [e for e in manifest["sources"] if e.get("speakers")]
    assert labelled
    for entry in labelled:
        rec = records[entry["id"]]
        assert rec.text is None
        assert len(rec.turns) >= 10
        for turn in rec.turns:
            assert turn.speaker in entry["speakers"], (entry["id"], turn.speaker)
            assert turn.role == entry["speakers"][turn.speaker]
            assert turn.text and not turn.text.startswith(turn.speaker + ":")
        roles = {t.role for t in rec.turns}
        assert roles == {"asker", "responder"}
        paragraphs = [p for p in (DEMO / entry["path"]).read_text(encoding="utf-8").split("\n\n") if p.strip()]
        assert len(rec.turns) == len(paragraphs)


def test_demo_unlabelled_transcripts_have_text_no_turns(demo, manifest) -> None:
    records = {r.id: r for r in demo.records}
    unlabelled = [e for e in manifest["sources"] if e["kind"] == "transcript" and not e.get("speakers")]
    assert unlabelled
    for entry in unlabelled:
        rec = records[entry["id"]]
        assert rec.turns == []
        assert rec.text and len(rec.text.split()) > 100
        assert rec.content_type in {"monologue", "speech"}
        # paragraphs kept, whitespace inside them normalised
        assert rec.text.count("\n\n") >= 1
        for para in rec.text.split("\n\n"):
            assert para == " ".join(para.split())


def test_demo_qa_records_are_asker_then_responder(demo) -> None:
    qa = [r for r in demo.records if r.content_type == "qa"]
    assert qa
    for rec in qa:
        assert [t.role for t in rec.turns] == ["asker", "responder"]
        assert rec.topic
        assert rec.text is None


def test_demo_counts(demo) -> None:
    assert demo.counts == {"items_in": len(demo.records), "records": len(demo.records), "rejected": 0}


def test_write_models_round_trip(demo, tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    assert write_models(path, demo.records) == len(demo.records)
    back = [Record.model_validate(row) for row in read_jsonl(path)]
    assert back == demo.records


# --- labelled transcripts -------------------------------------------------------------------


def test_unknown_speaker_rejects_that_transcript_only(tmp_path: Path) -> None:
    bad = GOOD_SESSION.replace("Therapist: It sounds", "Therapsit: It sounds")
    corpus = _corpus(tmp_path / "c", [
        _transcript("good", "good.txt", SPEAKERS), _transcript("bad", "bad.txt", SPEAKERS),
    ], {"good.txt": GOOD_SESSION, "bad.txt": bad})
    result = ingest_corpus(corpus, IngestConfig())
    assert [r.id for r in result.records] == ["good"]
    assert len(result.rejected) == 1
    rej = result.rejected[0]
    assert (rej.id, rej.stage, rej.reason) == ("bad", "ingest", "unknown_speaker")
    assert "Therapsit" in rej.detail and "paragraph 2" in rej.detail and "bad.txt" in rej.detail
    assert rej.source is not None and rej.source.source_id == "bad"
    assert result.items_in == 2


def test_first_paragraph_without_label_is_missing_speaker(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "c", [_transcript("s", "s.txt", SPEAKERS)],
                     {"s.txt": "Some preamble without a label.\n\n" + GOOD_SESSION})
    result = ingest_corpus(corpus, IngestConfig())
    assert result.records == []
    assert [r.reason for r in result.rejected] == ["missing_speaker"]
    assert "paragraph 1" in result.rejected[0].detail


def test_paragraph_without_label_continues_previous_turn(tmp_path: Path) -> None:
    text = (
        "Client: I cannot sleep.\n\nIt has been weeks now, honestly.\n\n"
        "Therapist: That sounds hard.\n  It often\n  helps to keep a steady wake time.\n"
    )
    corpus = _corpus(tmp_path / "c", [_transcript("s", "s.txt", SPEAKERS)], {"s.txt": text})
    result = ingest_corpus(corpus, IngestConfig())
    assert result.rejected == []
    (rec,) = result.records
    assert [(t.speaker, t.role) for t in rec.turns] == [("Client", "asker"), ("Therapist", "responder")]
    assert rec.turns[0].text == "I cannot sleep. It has been weeks now, honestly."
    # line breaks inside a paragraph are folded into single spaces
    assert rec.turns[1].text == "That sounds hard. It often helps to keep a steady wake time."


def test_labels_with_spaces_and_multiple_askers(tmp_path: Path) -> None:
    text = "Dr Lee: How are you?\n\nCo Host: And why now?\n\nGuest: Because it is time to talk about it openly.\n"
    speakers = {"Dr Lee": "asker", "Co Host": "asker", "Guest": "responder"}
    corpus = _corpus(tmp_path / "c", [_transcript("p", "p.txt", speakers, "podcast")], {"p.txt": text})
    (rec,) = ingest_corpus(corpus, IngestConfig()).records
    assert [t.speaker for t in rec.turns] == ["Dr Lee", "Co Host", "Guest"]
    assert [t.role for t in rec.turns] == ["asker", "asker", "responder"]


def test_label_regex() -> None:
    assert LABEL_RE.match("Client: hello").group(1, 2) == ("Client", "hello")
    assert LABEL_RE.match("client: lower case is not a label") is None
    assert LABEL_RE.match("Client:no space") is None
    assert LABEL_RE.match("Plain sentence without colon.") is None


def test_unlabelled_transcript_keeps_paragraphs(tmp_path: Path) -> None:
    text = "First   paragraph\nwrapped.\n\n\n\nSecond paragraph.\n"
    corpus = _corpus(tmp_path / "c", [_transcript("m", "m.txt", None, "monologue")], {"m.txt": text})
    (rec,) = ingest_corpus(corpus, IngestConfig()).records
    assert rec.text == "First paragraph wrapped.\n\nSecond paragraph."
    assert rec.turns == []


def test_missing_source_file_is_a_user_error_naming_it(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "c", [_transcript("s", "gone.txt", SPEAKERS)], {})
    with pytest.raises(UserError, match="gone.txt"):
        ingest_corpus(corpus, IngestConfig())


# --- qa_jsonl -------------------------------------------------------------------------------


def _qa_line(id_: str | None, question: str | None = "How can I sleep better?",
             answer: str | None = "Keep a regular wake time and a wind-down routine each night.", **extra) -> str:
    obj = {k: v for k, v in {"id": id_, "question": question, "answer": answer, **extra}.items() if v is not None}
    return json.dumps(obj)


def test_qa_jsonl_bad_lines_rejected_others_kept(tmp_path: Path) -> None:
    lines = [
        _qa_line("q1", topic="sleep"),
        '{"id": "q2", "question": "broken',
        _qa_line("q3", answer=None),
        "",
        _qa_line("q5", question="   "),
        _qa_line(None),
        _qa_line("q7"),
    ]
    corpus = _corpus(tmp_path / "c", [{"id": "faq", "path": "faq.jsonl", "kind": "qa_jsonl", "content_type": "qa"}],
                     {"faq.jsonl": "\n".join(lines) + "\n"})
    result = ingest_corpus(corpus, IngestConfig())
    assert [r.id for r in result.records] == ["faq:q1", "faq:line6", "faq:q7"]
    assert result.records[0].topic == "sleep"
    assert result.records[0].source.source_id == "q1"
    assert result.records[1].source.source_id == "line6"
    reasons = [(r.id, r.reason) for r in result.rejected]
    assert reasons == [("faq:line2", "malformed_json"), ("faq:line3", "missing_field"), ("faq:line5", "missing_field")]
    assert "line 2" in result.rejected[0].detail
    assert "answer" in result.rejected[1].detail and "line 3" in result.rejected[1].detail
    assert "question" in result.rejected[2].detail
    # the blank line is not an item
    assert result.items_in == 6 == len(result.records) + len(result.rejected)
    assert result.counts == {"items_in": 6, "records": 3, "rejected": 3}


def test_qa_text_whitespace_normalised(tmp_path: Path) -> None:
    line = _qa_line("q", question="  How do I\nstop   worrying? ",
                    answer="Try  a worry\twindow each afternoon, then let it go.")
    corpus = _corpus(tmp_path / "c", [{"id": "faq", "path": "faq.jsonl", "kind": "qa_jsonl", "content_type": "qa"}],
                     {"faq.jsonl": line + "\n"})
    (rec,) = ingest_corpus(corpus, IngestConfig()).records
    assert rec.turns[0].text == "How do I stop worrying?"
    assert rec.turns[1].text == "Try a worry window each afternoon, then let it go."


def test_qa_json_line_not_an_object_is_rejected(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "c", [{"id": "faq", "path": "faq.jsonl", "kind": "qa_jsonl", "content_type": "qa"}],
                     {"faq.jsonl": _qa_line("q1") + "\n[1, 2]\n"})
    result = ingest_corpus(corpus, IngestConfig())
    assert [r.id for r in result.records] == ["faq:q1"]
    assert len(result.rejected) == 1 and "line 2" in result.rejected[0].detail
    assert result.rejected[0].reason == "malformed_record"


def test_qa_non_string_topic_is_rejected_not_a_crash(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "c", [{"id": "faq", "path": "faq.jsonl", "kind": "qa_jsonl", "content_type": "qa"}],
                     {"faq.jsonl": _qa_line("q1") + "\n" + _qa_line("q2", topic=5) + "\n"})
    result = ingest_corpus(corpus, IngestConfig())
    assert [r.id for r in result.records] == ["faq:q1"]
    assert len(result.rejected) == 1 and result.rejected[0].reason == "invalid_field"
    assert "topic" in result.rejected[0].detail


def test_sentence_with_a_colon_continues_the_turn(tmp_path: Path) -> None:
    text = "Client: I keep waking early.\n\nAnd one more thing: I wake at four.\n\nTherapist: Let us look at that."
    corpus = _corpus(tmp_path / "c", [_transcript("s", "s.txt", SPEAKERS)], {"s.txt": text})
    (rec,) = ingest_corpus(corpus, IngestConfig()).records
    assert [t.speaker for t in rec.turns] == ["Client", "Therapist"]
    assert rec.turns[0].text.endswith("And one more thing: I wake at four.")


def test_items_in_adds_up_across_kinds(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "c", [
        _transcript("ok", "ok.txt", SPEAKERS),
        _transcript("nolabel", "nolabel.txt", SPEAKERS),
        _transcript("mono", "mono.txt", None, "monologue"),
        {"id": "faq", "path": "faq.jsonl", "kind": "qa_jsonl", "content_type": "qa"},
    ], {
        "ok.txt": GOOD_SESSION, "nolabel.txt": "no label here\n", "mono.txt": "Some words here.\n",
        "faq.jsonl": _qa_line("a") + "\nnot json\n" + _qa_line("c") + "\n",
    })
    result = ingest_corpus(corpus, IngestConfig())
    assert result.items_in == 1 + 1 + 1 + 3
    assert len(result.records) == 4 and len(result.rejected) == 2
    assert result.items_in == len(result.records) + len(result.rejected)


def test_licence_per_source_overrides_corpus_licence(tmp_path: Path) -> None:
    entry = {**_transcript("s", "s.txt", SPEAKERS), "licence": "MIT", "url": "https://example.org/x",
             "title": "T", "timestamp": "2026-01-01"}
    corpus = _corpus(tmp_path / "c", [entry, _transcript("t", "t.txt", SPEAKERS)],
                     {"s.txt": GOOD_SESSION, "t.txt": GOOD_SESSION})
    recs = {r.id: r for r in ingest_corpus(corpus, IngestConfig()).records}
    assert recs["s"].source.licence == "MIT"
    assert recs["s"].source.url == "https://example.org/x"
    assert recs["s"].source.timestamp == "2026-01-01"
    assert recs["t"].source.licence == "CC0-1.0"
    assert recs["t"].source.dataset == "tiny"


def test_custom_manifest_name(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "c", [_transcript("s", "s.txt", SPEAKERS)], {"s.txt": GOOD_SESSION})
    (corpus / "sources.yaml").rename(corpus / "other.yaml")
    assert len(ingest_corpus(corpus, IngestConfig(manifest="other.yaml")).records) == 1
    with pytest.raises(UserError, match="sources.yaml"):
        ingest_corpus(corpus, IngestConfig())


# --- manifest errors ------------------------------------------------------------------------


def test_missing_corpus_dir(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(UserError) as info:
        read_manifest(missing, "sources.yaml")
    assert str(missing) in str(info.value) and "not found" in str(info.value)


def test_missing_manifest(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    with pytest.raises(UserError) as info:
        read_manifest(tmp_path / "c", "sources.yaml")
    msg = str(info.value)
    assert str(tmp_path / "c" / "sources.yaml") in msg and "not found" in msg


GOOD_ENTRY = {"id": "s", "path": "s.txt", "kind": "transcript", "content_type": "dialogue", "speakers": SPEAKERS}


@pytest.mark.parametrize("top, sources, needle", [
    ({"dataset": None}, [GOOD_ENTRY], "'dataset' and 'licence' are required"),
    ({"licence": ""}, [GOOD_ENTRY], "'dataset' and 'licence' are required"),
    ({}, [], "'sources' must be a non-empty list"),
    ({}, [GOOD_ENTRY, {**GOOD_ENTRY, "path": "t.txt"}], "source #2: duplicate id 's'"),
    ({}, [{**GOOD_ENTRY, "kind": "pdf"}], "source #1: unknown kind 'pdf'"),
    ({}, [{**GOOD_ENTRY, "speakers": {"Client": "asker", "Therapist": "listener"}}],
     "speaker roles must be asker or responder, got listener"),
    ({}, [{**GOOD_ENTRY, "content_type": "lecture"}], "source #1: ('content_type',)"),
    ({}, [{k: v for k, v in GOOD_ENTRY.items() if k != "path"}], "source #1: missing path"),
    ({}, ["just a string"], "source #1: expected a mapping"),
])
def test_manifest_errors_name_the_manifest(tmp_path: Path, top: dict, sources: list, needle: str) -> None:
    root = tmp_path / "c"
    root.mkdir()
    data = {"dataset": "tiny", "licence": "CC0-1.0", "sources": sources}
    data.update(top)
    manifest = root / "sources.yaml"
    manifest.write_text(yaml.safe_dump(data), encoding="utf-8")
    (root / "s.txt").write_text(GOOD_SESSION, encoding="utf-8")
    with pytest.raises(UserError) as info:
        ingest_corpus(root, IngestConfig())
    msg = str(info.value)
    assert msg.startswith(f"corpus manifest {manifest}")
    assert needle in msg


def test_narrator_role_is_not_allowed_in_manifest(tmp_path: Path) -> None:
    # Role allows 'narrator' in the schema, but the manifest only takes asker/responder.
    corpus = _corpus(tmp_path / "c", [_transcript("s", "s.txt", {"Client": "narrator", "Therapist": "responder"})],
                     {"s.txt": GOOD_SESSION})
    with pytest.raises(UserError, match="narrator"):
        ingest_corpus(corpus, IngestConfig())


def test_speakers_not_a_mapping_is_a_user_error(tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "c", [_transcript("s", "s.txt", ["Client", "Therapist"])], {"s.txt": GOOD_SESSION})
    with pytest.raises(UserError, match="speakers"):
        ingest_corpus(corpus, IngestConfig())
