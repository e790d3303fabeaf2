"""`empathy data process` end to end: sources of several kinds (the demo corpus's files named on the command line,
a knowledge base, chats, a malformed file) through ingest, pairs, validate, screen and split, with the real
MiniLM, de-identifier, risk detector and a SQLite review queue. Every input item ends in exactly one place, the
export is half extracted and half contextual, bad lines are rejected with file and line, and a rerun is served
from the embedding cache. On ../shared/data: at least 99.9% of the items of the three real data sets load."""

from __future__ import annotations

import json

import pytest

from empathy.cli import main
from empathy.config import load_pipeline_config
from empathy.data.process import process_sources
from empathy.data.sources import ingest_specs, source_from_arg
from empathy.io import read_jsonl
from tests.conftest import DEMO_CORPUS, REPO

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sources")
    kb = tmp / "concepts.json"
    kb.write_text(json.dumps([
        {"title": "Cognitive restructuring", "category": "CBT", "related_concepts": ["automatic thoughts"],
         "therapeutic_approaches": ["CBT"], "source": "written for this test",
         "content": "Cognitive restructuring is a way of catching an unhelpful thought, looking at the evidence for "
                    "and against it, and finding a more balanced way to see the situation. It takes practice: most "
                    "people start by writing the thought down when their mood drops, naming the feeling, and asking "
                    "what they would say to a friend who had the same thought."},
        {"title": "Behavioural activation", "category": "depression", "source": "written for this test",
         "content": "Behavioural activation starts from the idea that low mood makes us do less, and doing less "
                    "lowers mood further. Planning small, achievable activities that bring a sense of pleasure or "
                    "achievement, and doing them whatever the mood, slowly breaks that cycle. Start very small."},
        {"title": "", "content": "an entry without a title"}]), encoding="utf-8")
    chats = tmp / "chats.jsonl"
    chats.write_bytes((json.dumps({"id": "c1", "messages": [
        {"role": "user", "content": "My name is Tom Baxter and I feel anxious every time I open my work email."},
        {"role": "assistant", "content": "That sounds draining, Tom. What goes through your mind just before "
                                         "you open it, and what happens in your body?"}]}) + "\n").encode()
                      + b"{broken json\n" + b'{"messages": [{"role": "user", "content": "caf\xe9"}]}\n')
    demo = [f"transcript:{DEMO_CORPUS / p}" for p in (
        "sessions/anxiety_01.txt", "sessions/grief_01.txt", "interviews/sleep_psychologist.txt",
        "podcasts/anger_episode.txt", "monologues/sleep_and_worry.txt", "monologues/understanding_panic.txt",
        "speeches/community_wellbeing_day.txt")]
    return [*demo, f"qa_jsonl:{DEMO_CORPUS / 'qa' / 'counselling_qa.jsonl'}", f"knowledge_base:{kb}",
            f"chat_jsonl:{chats}"]


@pytest.fixture(scope="module")
def run(sources, tmp_path_factory):
    out = tmp_path_factory.mktemp("processed")
    cfg = load_pipeline_config(REPO / "configs/pipeline/demo.yaml")
    report = process_sources(sources, cfg, out, review_url=f"sqlite:///{out / 'review.db'}", progress=False)
    return out, report, cfg


def test_every_item_ends_in_exactly_one_place(run):
    out, report, _ = run
    assert report["accounted"] and report["items_in"] == report["items_loaded"] + report["items_rejected_at_ingest"]
    exported = [row for name in ("train", "val", "test") for row in read_jsonl(out / f"{name}.jsonl", allow_empty=True)]
    rejected = read_jsonl(out / "rejected.jsonl")
    held = read_jsonl(out / "held_for_review.jsonl", allow_empty=True)
    assert len(exported) == report["exported"] > 0 and len(held) == report["held_for_review"]
    pair_ids = [p["id"] for p in read_jsonl(out / "stages" / "pairs.jsonl")]
    placed = [r["id"] for r in exported] + [p["id"] for p in held] + \
             [r["id"] for r in rejected if r["stage"] in ("validate", "screen", "curate")]
    assert sorted(placed) == sorted(pair_ids), "a pair is missing or in two places"
    reasons = {f"{r['stage']}:{r['reason']}" for r in rejected}
    assert {"ingest:malformed_json", "ingest:invalid_utf8", "ingest:missing_field"} <= reasons
    bad = [r for r in rejected if r["reason"] == "invalid_utf8"]
    assert bad[0]["detail"].startswith("chats.jsonl: line 3")


def test_export_is_half_extracted_and_carries_metadata(run):
    out, report, _ = run
    assert abs(report["extracted_share"] - 0.5) <= 0.01
    assert report["curation"]["mix"]["exported"] == report["exported"]
    rows = read_jsonl(out / "train.jsonl")
    row = rows[0]
    assert {"messages", "pair_type", "question_origin", "content_type", "source_group", "score", "risk",
            "deidentified", "source"} <= set(row)
    assert row["messages"][0]["role"] == "system" and row["messages"][-1]["role"] == "assistant"
    origins = {r["question_origin"] for name in ("train", "val", "test")
               for r in read_jsonl(out / f"{name}.jsonl", allow_empty=True)}
    assert "content" in origins and origins & {"template", "title"}
    groups = report["curation"]["mix"]["groups"]
    assert groups["psychologist_voice"]["selected"] > 0 and groups["standard_therapy"]["selected"] > 0
    assert any("edge_cases" in s for s in report["curation"]["mix"]["shifted"])
    html = (out / "report.html").read_text()
    assert "data:image/png;base64," in html and "Source mix" in html


def test_detected_content_types_and_deidentified_text(run):
    out, report, _ = run
    records = {r["id"]: r for r in read_jsonl(out / "stages" / "records.jsonl")}
    session = next(r for r in records.values() if r["source"]["path"].endswith("anxiety_01.txt"))
    assert session["content_type"] == "dialogue" and session["meta"]["content_type_detected"]
    speech = next(r for r in records.values() if r["source"]["path"].endswith("community_wellbeing_day.txt"))
    assert speech["content_type"] in ("speech", "monologue") and speech["text"]
    text = json.dumps([read_jsonl(out / f"{n}.jsonl", allow_empty=True) for n in ("train", "val", "test")])
    assert "Tom Baxter" not in text
    assert report["identifiers_replaced"].get("NAME", 0) >= 1


def test_rerun_is_served_from_the_embedding_cache(run, sources, tmp_path):
    out, first, cfg = run
    again = process_sources(sources, cfg, tmp_path / "again", review_url=f"sqlite:///{out / 'review.db'}",
                            embedding_cache=first["embedding_cache"]["path"], progress=False)
    assert again["embedding_cache"]["misses"] == 0 and again["embedding_cache"]["hits"] > 0
    assert (tmp_path / "again" / "train.jsonl").read_bytes() == (out / "train.jsonl").read_bytes()


def test_cli_data_process_names_a_missing_file(tmp_path, capsys):
    assert main(["data", "process", "--source", f"annomi:{tmp_path / 'none.csv'}", "--out", str(tmp_path / "o")]) == 2
    assert "none.csv: file not found" in capsys.readouterr().err


def test_the_real_data_sets_load_almost_entirely(shared_data):
    specs = [source_from_arg(f"{k}:{shared_data / f}") for k, f in (
        ("counsel_chat", "counsel_chat.csv"), ("annomi", "annomi_full.csv"), ("esconv", "esconv_sample.json"))]
    result = ingest_specs(specs)
    loaded = sum(r.items for r in result.records)
    assert loaded + len(result.rejected) == result.items_in
    assert loaded / result.items_in >= 0.999, [r.detail for r in result.rejected[:5]]
    assert {r.source.dataset for r in result.records} == {"counsel-chat", "AnnoMI", "ESConv"}
