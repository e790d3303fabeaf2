"""Structural checks for the demo corpus under data/demo/ (no dependency on `empathy`)."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

DEMO_DIR = Path(__file__).resolve().parents[2] / "data" / "demo"
MANIFEST = DEMO_DIR / "sources.yaml"

LABELLED_TYPES = {"dialogue", "interview", "podcast"}
UNLABELLED_TYPES = {"monologue", "speech"}
MIN_COUNTS = {
    "dialogue": 3,
    "interview": 3,
    "podcast": 3,
    "monologue": 4,
    "speech": 3,
    "qa": 1,
}
KINDS = {"transcript", "qa_jsonl"}
ROLES = {"asker", "responder"}
QA_KEYS = {"id", "topic", "question", "answer"}

# A paragraph that starts like "Word: text" or "Two Words: text".
LABEL_RE = re.compile(r"^([A-Za-z][A-Za-z0-9_\-]*(?: [A-Za-z][A-Za-z0-9_\-]*)?):\s")
KEBAB_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def _manifest() -> dict:
    with MANIFEST.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _sources() -> list[dict]:
    return _manifest()["sources"]


def _paragraphs(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def _by_type(types: set[str]) -> list[dict]:
    return [s for s in _sources() if s["content_type"] in types]


def _jsonl(path: Path) -> list[dict]:
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]
    return [json.loads(ln) for ln in lines]


def test_manifest_loads_with_top_level_fields() -> None:
    data = _manifest()
    assert data["dataset"] == "empathy-demo"
    assert isinstance(data.get("licence"), str) and data["licence"].strip()
    assert isinstance(data.get("origin"), str) and data["origin"].strip()
    assert isinstance(data["sources"], list) and data["sources"]


def test_sources_have_required_fields() -> None:
    for src in _sources():
        for key in ("id", "path", "kind", "content_type", "title", "url", "timestamp"):
            assert key in src, f"{src.get('id')}: missing {key}"
        assert KEBAB_RE.match(src["id"]), src["id"]
        assert src["kind"] in KINDS, src["id"]
        assert src["content_type"] in MIN_COUNTS, src["id"]
        assert isinstance(src["title"], str) and src["title"].strip()
        ts = src["timestamp"]
        assert ts is None or re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(ts)), src["id"]
        expected_kind = "qa_jsonl" if src["content_type"] == "qa" else "transcript"
        assert src["kind"] == expected_kind, src["id"]


def test_ids_are_unique() -> None:
    ids = [s["id"] for s in _sources()]
    assert len(ids) == len(set(ids))


def test_paths_exist_and_are_non_empty() -> None:
    for src in _sources():
        path = DEMO_DIR / src["path"]
        assert path.is_file(), f"missing file {path}"
        assert path.read_text(encoding="utf-8").strip(), f"empty file {path}"
        assert DEMO_DIR in path.resolve().parents


@pytest.mark.parametrize(("content_type", "minimum"), sorted(MIN_COUNTS.items()))
def test_content_type_counts(content_type: str, minimum: int) -> None:
    counts = Counter(s["content_type"] for s in _sources())
    assert counts[content_type] >= minimum


def test_speakers_only_on_labelled_transcripts() -> None:
    for src in _sources():
        if src["content_type"] in LABELLED_TYPES:
            speakers = src.get("speakers")
            assert isinstance(speakers, dict) and speakers, src["id"]
            assert set(speakers.values()) <= ROLES, src["id"]
            assert "asker" in speakers.values() and "responder" in speakers.values()
        else:
            assert "speakers" not in src, src["id"]


def test_labelled_transcripts_use_listed_labels() -> None:
    for src in _by_type(LABELLED_TYPES):
        speakers = src["speakers"]
        paragraphs = _paragraphs(DEMO_DIR / src["path"])
        assert len(paragraphs) >= 14, src["id"]
        used = set()
        for para in paragraphs:
            match = LABEL_RE.match(para)
            assert match, f"{src['id']}: paragraph without label: {para[:60]!r}"
            label = match.group(1)
            assert label in speakers, f"{src['id']}: unlisted label {label!r}"
            assert para[match.end():].strip(), f"{src['id']}: empty turn"
            assert "\n" not in para, f"{src['id']}: turn spans several lines"
            used.add(label)
        assert used == set(speakers), f"{src['id']}: listed but unused labels"


def test_labelled_transcripts_have_answered_questions() -> None:
    for src in _by_type(LABELLED_TYPES):
        speakers = src["speakers"]
        turns = [
            (speakers[LABEL_RE.match(p).group(1)], p)
            for p in _paragraphs(DEMO_DIR / src["path"])
        ]
        answered = sum(
            1
            for (role, text), (next_role, _) in zip(turns, turns[1:])
            if role == "asker" and text.rstrip().endswith("?") and next_role == "responder"
        )
        minimum = 6 if src["content_type"] == "dialogue" else 5
        assert answered >= minimum, f"{src['id']}: only {answered} answered questions"


def test_unlabelled_transcripts_have_no_labels() -> None:
    for src in _by_type(UNLABELLED_TYPES):
        paragraphs = _paragraphs(DEMO_DIR / src["path"])
        assert 5 <= len(paragraphs) <= 8, src["id"]
        for para in paragraphs:
            for line in para.splitlines():
                assert not LABEL_RE.match(line), f"{src['id']}: label-like line {line[:60]!r}"


def test_qa_jsonl_lines() -> None:
    qa_sources = [s for s in _sources() if s["kind"] == "qa_jsonl"]
    assert qa_sources
    for src in qa_sources:
        rows = _jsonl(DEMO_DIR / src["path"])
        assert len(rows) >= 30
        for row in rows:
            assert set(row) == QA_KEYS, row.get("id")
            for key in QA_KEYS:
                assert isinstance(row[key], str) and row[key].strip(), (row["id"], key)
            assert row["question"].rstrip().endswith("?"), row["id"]
        ids = [r["id"] for r in rows]
        assert len(ids) == len(set(ids))
        assert len({r["topic"] for r in rows}) >= 8


def test_inference_inputs_parse() -> None:
    rows = _jsonl(DEMO_DIR / "inference_inputs.jsonl")
    assert len(rows) >= 20
    for row in rows:
        assert set(row) == {"id", "text"}
        assert isinstance(row["text"], str) and row["text"].strip()
    assert len({r["id"] for r in rows}) == len(rows)


def test_no_obvious_personal_identifiers() -> None:
    email = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
    phone = re.compile(r"\+?\d[\d ()-]{8,}\d")
    files = [DEMO_DIR / s["path"] for s in _sources()] + [DEMO_DIR / "inference_inputs.jsonl"]
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert not email.search(text), path
        assert not phone.search(text), path
