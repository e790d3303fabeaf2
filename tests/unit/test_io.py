"""empathy.io: file helpers whose errors name the file, the line and the problem.

Covers require_file / read_jsonl / iter_jsonl / read_yaml / read_json on a
missing file, an empty file, a directory, malformed JSON (line number named),
a JSON line that is not an object, malformed YAML (line named) and YAML whose
top level is not a mapping; the write_jsonl / read_jsonl round trip with
non-ASCII text; write_json; stable_hash / sha256_file determinism; and the
per-line parsers for commands that answer every line (parse_fields_line,
parse_text_line).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from empathy.errors import UserError
from empathy.io import (
    iter_jsonl, parse_fields_line, parse_text_line, read_json, read_jsonl, read_yaml, require_file, sha256_file,
    stable_hash, write_json, write_jsonl,
)

READERS = {
    "require_file": require_file,
    "read_jsonl": read_jsonl,
    "read_yaml": read_yaml,
    "read_json": read_json,
}


def _raises_user_error(func, *args, **kwargs) -> str:
    with pytest.raises(UserError) as info:
        func(*args, **kwargs)
    return str(info.value)


# --- missing / empty / directory: every reader -----------------------------------------------


@pytest.mark.parametrize("reader", READERS.values(), ids=READERS.keys())
def test_missing_file_names_file_and_problem(reader, tmp_path: Path) -> None:
    path = tmp_path / "nope.data"
    msg = _raises_user_error(reader, path)
    assert str(path) in msg
    assert "not found" in msg


@pytest.mark.parametrize("reader", READERS.values(), ids=READERS.keys())
def test_empty_file_names_file_and_problem(reader, tmp_path: Path) -> None:
    path = tmp_path / "empty.data"
    path.write_text("", encoding="utf-8")
    msg = _raises_user_error(reader, path)
    assert str(path) in msg
    assert "empty" in msg


@pytest.mark.parametrize("reader", READERS.values(), ids=READERS.keys())
def test_directory_is_not_a_file(reader, tmp_path: Path) -> None:
    path = tmp_path / "adir"
    path.mkdir()
    msg = _raises_user_error(reader, path)
    assert str(path) in msg
    assert "not a regular file" in msg


def test_what_label_appears_in_message(tmp_path: Path) -> None:
    msg = _raises_user_error(read_jsonl, tmp_path / "x.jsonl", "records file")
    assert msg.startswith("records file ")


def test_require_file_returns_path_for_good_file(tmp_path: Path) -> None:
    path = tmp_path / "ok.txt"
    path.write_text("x", encoding="utf-8")
    got = require_file(str(path))
    assert isinstance(got, Path)
    assert got == path


# --- JSONL ----------------------------------------------------------------------------------


def test_malformed_json_line_names_line_number(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"a": 1}\n\n{"b": 2\n{"c": 3}\n', encoding="utf-8")  # line 3 is broken (line 2 blank)
    msg = _raises_user_error(read_jsonl, path)
    assert str(path) in msg
    assert "line 3" in msg
    assert "malformed JSON" in msg


@pytest.mark.parametrize("line, kind", [("[1, 2]", "list"), ('"text"', "str"), ("42", "int"), ("null", "NoneType")])
def test_json_line_that_is_not_an_object(tmp_path: Path, line: str, kind: str) -> None:
    path = tmp_path / "notobj.jsonl"
    path.write_text('{"ok": true}\n' + line + "\n", encoding="utf-8")
    msg = _raises_user_error(read_jsonl, path)
    assert str(path) in msg
    assert "line 2" in msg
    assert "expected a JSON object" in msg
    assert kind in msg


def test_iter_jsonl_yields_rows_before_the_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "partial.jsonl"
    path.write_text('{"n": 1}\n{"n": 2}\nnot json\n', encoding="utf-8")
    seen = []
    with pytest.raises(UserError, match="line 3"):
        for row in iter_jsonl(path):
            seen.append(row["n"])
    assert seen == [1, 2]


def test_jsonl_of_only_blank_lines_has_no_records(tmp_path: Path) -> None:
    path = tmp_path / "blank.jsonl"
    path.write_text("\n   \n\n", encoding="utf-8")
    msg = _raises_user_error(read_jsonl, path, "pairs file")
    assert str(path) in msg
    assert "no records" in msg
    assert read_jsonl(path, allow_empty=True) == []


def test_read_jsonl_allow_empty_accepts_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("", encoding="utf-8")
    assert read_jsonl(path, allow_empty=True) == []


def test_read_jsonl_allow_empty_still_requires_the_file(tmp_path: Path) -> None:
    msg = _raises_user_error(read_jsonl, tmp_path / "missing.jsonl", allow_empty=True)
    assert "not found" in msg


def test_write_read_jsonl_round_trip_non_ascii(tmp_path: Path) -> None:
    rows = [
        {"id": "1", "text": "Grüße aus Köln — ça va? ¿Qué tal?"},
        {"id": "2", "text": "日本語のテキスト、絵文字 🙂", "nested": {"ü": ["é", 1, None]}},
        {"id": "3", "text": "line\nbreak and \"quotes\""},
    ]
    path = tmp_path / "sub" / "rows.jsonl"  # parent created by write_jsonl
    assert write_jsonl(path, rows) == 3
    assert read_jsonl(path) == rows
    raw = path.read_text(encoding="utf-8")
    assert "Grüße" in raw and "🙂" in raw  # written as UTF-8, not \u escapes
    assert len(raw.splitlines()) == 3


def test_write_jsonl_accepts_a_generator_and_counts(tmp_path: Path) -> None:
    path = tmp_path / "gen.jsonl"
    assert write_jsonl(path, ({"i": i} for i in range(5))) == 5
    assert [r["i"] for r in read_jsonl(path)] == list(range(5))


# --- YAML -----------------------------------------------------------------------------------


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("a: 1\nb: 2\nc: [unclosed\nd: 4\n", encoding="utf-8")
    msg = _raises_user_error(read_yaml, path)
    assert str(path) in msg
    assert "malformed YAML" in msg
    assert "line " in msg
    line = int(msg.split("line ", 1)[1].split(":")[0].split(",")[0])
    assert 3 <= line <= 5


def test_malformed_yaml_bad_indentation_line(tmp_path: Path) -> None:
    path = tmp_path / "indent.yaml"
    path.write_text("a:\n  b: 1\n c: 2\n", encoding="utf-8")
    msg = _raises_user_error(read_yaml, path, "pipeline config")
    assert msg.startswith(f"pipeline config {path}, line 3")


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n", "# only a comment\n"])
def test_yaml_top_level_not_a_mapping(tmp_path: Path, text: str) -> None:
    path = tmp_path / "notmap.yaml"
    path.write_text(text, encoding="utf-8")
    msg = _raises_user_error(read_yaml, path)
    assert str(path) in msg
    assert "mapping" in msg


def test_read_yaml_returns_mapping(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("name: café\nitems: [1, 2]\n", encoding="utf-8")
    assert read_yaml(path) == {"name": "café", "items": [1, 2]}


# --- JSON -----------------------------------------------------------------------------------


def test_malformed_json_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{\n  "a": 1,\n  "b": \n}\n', encoding="utf-8")
    msg = _raises_user_error(read_json, path, "data report")
    assert msg.startswith(f"data report {path}, line 4")
    assert "malformed JSON" in msg


def test_write_json_read_json_round_trip(tmp_path: Path) -> None:
    obj = {"b": [1, 2.5, None], "a": "naïve", "nested": {"x": True}}
    path = write_json(tmp_path / "deep" / "out.json", obj)
    assert read_json(path) == obj
    assert "naïve" in path.read_text(encoding="utf-8")


# --- hashes ---------------------------------------------------------------------------------


def test_stable_hash_is_deterministic_and_sensitive() -> None:
    assert stable_hash("13", "record-a") == stable_hash("13", "record-a")
    assert stable_hash("13", "record-a") != stable_hash("14", "record-a")
    assert stable_hash("13", "record-a") != stable_hash("record-a", "13")
    # parts are separated, so the split point matters
    assert stable_hash("ab", "c") != stable_hash("a", "bc")
    digest = stable_hash("x")
    assert len(digest) == 64 and int(digest, 16) >= 0
    # pinned: the split order must not change between releases or Python processes
    assert stable_hash("13", "record-a") == hashlib.sha256("13\x1frecord-a".encode()).hexdigest()


def test_sha256_file_matches_hashlib(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    data = json.dumps({"k": "v" * 1000}).encode()
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()


# --- per-line parsers -----------------------------------------------------------------------


@pytest.mark.parametrize("raw,error", [
    (b"", "empty line"),
    (b"{oops", "malformed JSON"),
    (b'"a string"', "expected a JSON object, got str"),
    (b'{"id": 1, "question": "q?"}', 'missing "answer"'),
    (b'{"id": 1, "question": "q?", "answer": null}', '"answer" must be a string, got NoneType'),
    (b'{"id": 1, "question": " ", "answer": "a"}', 'empty "question"'),
])
def test_parse_fields_line_errors_name_the_line_and_problem(raw: bytes, error: str) -> None:
    item, err = parse_fields_line(raw, 7, ("question", "answer"))
    assert item is None and err["line"] == 7 and err["error"].startswith(error)


def test_parse_fields_line_reads_fields_and_survives_bad_bytes() -> None:
    item, err = parse_fields_line(b'\xef\xbb\xbf{"id": "x", "question": "Why \xff?", "answer": ""}', 3,
                                  ("question", "answer"), allow_empty=("answer",))
    assert err is None
    assert item["id"] == "x" and item["question"] == "Why \ufffd?" and item["answer"] == ""
    assert item["has_id"] and "not valid UTF-8" in item["warning"]
    item, _ = parse_fields_line(b'{"question": "q", "answer": "a"}', 4, ("question", "answer"))
    assert item["id"] is None and not item["has_id"] and item["warning"] is None


def test_parse_text_line_is_the_text_field() -> None:
    item, _ = parse_text_line(b'{"id": "t", "text": "hello"}', 1)
    assert item["text"] == "hello" and item["line"] == 1
    assert parse_text_line(b'{"id": "t", "text": ""}', 1)[1]["error"] == 'empty "text"'
    assert parse_text_line(b'{"id": "t", "text": ""}', 1, allow_empty_text=True)[0]["text"] == ""
