"""Reading and writing the project's files with errors that name the file.

Every stage reads JSONL and YAML through these helpers so that a missing,
empty or malformed file gives one clear message (file, line, problem) instead
of a traceback.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import yaml

from empathy.errors import UserError


def require_file(path: str | Path, what: str = "input file") -> Path:
    """Return `path` as a Path if it is an existing, non-empty regular file."""
    p = Path(path)
    if not p.exists():
        raise UserError(f"{what} {p}: file not found")
    if not p.is_file():
        raise UserError(f"{what} {p}: not a regular file")
    if p.stat().st_size == 0:
        raise UserError(f"{what} {p}: file is empty")
    return p


def iter_jsonl_numbered(path: str | Path, what: str = "JSONL file") -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) of a JSONL file; blank lines are skipped; the first bad line stops it."""
    p = require_file(path, what)
    with p.open("r", encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise UserError(f"{what} {p}, line {lineno}: malformed JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise UserError(f"{what} {p}, line {lineno}: expected a JSON object, got {type(obj).__name__}")
            yield lineno, obj


def iter_jsonl(path: str | Path, what: str = "JSONL file") -> Iterator[dict[str, Any]]:
    """Yield the objects of a JSONL file; blank lines are skipped."""
    for _, obj in iter_jsonl_numbered(path, what):
        yield obj


def parse_fields_line(raw: bytes, lineno: int, fields: tuple[str, ...], allow_empty: tuple[str, ...] = ()
                      ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """One line of a JSONL input read as bytes whose objects carry an id and the string `fields`.

    For commands that answer every line: (item, None) with id, line, each field, warning and has_id; or
    (None, an error object {id, line, error} naming the problem). Bytes that are not UTF-8 are replaced with
    U+FFFD and the line still counts, with a warning: one bad byte must not drop the line. A field named in
    `allow_empty` may be blank.
    """
    warning = None
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.decode("utf-8", errors="replace")
        warning = f"line is not valid UTF-8 (byte {exc.start}); undecodable bytes were replaced with U+FFFD"
    line = line.lstrip("\ufeff").strip()
    if not line:
        return None, {"id": None, "line": lineno, "error": "empty line"}
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, {"id": None, "line": lineno, "error": f"malformed JSON ({exc.msg} at column {exc.colno})"}
    if not isinstance(obj, dict):
        return None, {"id": None, "line": lineno, "error": f"expected a JSON object, got {type(obj).__name__}"}
    rid = obj.get("id")
    item: dict[str, Any] = {"id": rid, "line": lineno}
    for name in fields:
        if name not in obj:
            return None, {"id": rid, "line": lineno, "error": f"missing \"{name}\""}
        value = obj[name]
        if not isinstance(value, str):
            return None, {"id": rid, "line": lineno,
                          "error": f"\"{name}\" must be a string, got {type(value).__name__}"}
        if name not in allow_empty and not value.strip():
            return None, {"id": rid, "line": lineno, "error": f"empty \"{name}\""}
        item[name] = value
    return {**item, "warning": warning, "has_id": "id" in obj and rid is not None}, None


def answer_lines(path: Path, fields: tuple[str, ...], judge: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
                 batch_size: int, error_fields: dict[str, Any] | None = None) -> Iterator[dict[str, Any]]:
    """Every line of a JSONL input answered, in order, in batches: the CLI shape of classify and validate-pairs.

    Lines are parsed with parse_fields_line; `judge` gets the readable items of a batch and returns one dict of
    answer fields per item. Each line yields {"id", **answer} (plus `line` when it had no id and `warning` when
    its bytes were not UTF-8), or its error object merged with `error_fields`. A batch also ends after 2 MB of
    text, so one huge line does not wait for 63 more.
    """
    pending: list[tuple[dict[str, Any] | None, dict[str, Any] | None]] = []

    def flush() -> Iterator[dict[str, Any]]:
        todo = [item for item, _ in pending if item is not None]
        answers = judge(todo) if todo else []
        k = 0
        for item, err in pending:
            if err is not None:
                yield {**err, **(error_fields or {})}
                continue
            out: dict[str, Any] = {"id": item["id"], **answers[k]}
            k += 1
            if not item["has_id"]:
                out["line"] = item["line"]
            if item["warning"]:
                out["warning"] = item["warning"]
            yield out
        pending.clear()

    chars = 0
    with path.open("rb") as fh:   # bytes, so that each line is decoded (and can fail) on its own
        for lineno, raw in enumerate(fh, start=1):
            pending.append(parse_fields_line(raw.rstrip(b"\r\n"), lineno, fields))
            chars += len(raw)
            if len(pending) >= batch_size or chars > 2_000_000:
                yield from flush()
                chars = 0
    yield from flush()


def parse_text_line(raw: bytes, lineno: int, allow_empty_text: bool = False
                    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """One line of a `{"id", "text"}` JSONL input read as bytes (parse_fields_line with the one field "text").

    A crisis message must not be dropped for one bad byte: undecodable bytes are replaced, with a warning.
    """
    return parse_fields_line(raw, lineno, ("text",), ("text",) if allow_empty_text else ())


def read_jsonl(path: str | Path, what: str = "JSONL file", allow_empty: bool = False) -> list[dict[str, Any]]:
    """Read a whole JSONL file. An empty file is an error unless allowed."""
    p = Path(path)
    if allow_empty and p.is_file() and p.stat().st_size == 0:
        return []
    rows = list(iter_jsonl(p, what))
    if not rows and not allow_empty:
        raise UserError(f"{what} {p}: no records in file")
    return rows


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows as JSONL (UTF-8, one object a line); returns the count."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with p.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
            n += 1
    return n


def write_models(path: str | Path, rows: Iterable[Any]) -> int:
    """Write pydantic models (records, pairs, rejections) as JSONL; returns the count."""
    return write_jsonl(path, (r.model_dump(mode="json") for r in rows))


def read_yaml(path: str | Path, what: str = "YAML file") -> dict[str, Any]:
    """Read a YAML mapping; errors name the file and the line."""
    p = require_file(path, what)
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        raise UserError(f"{what} {p}{where}: malformed YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, dict):
        raise UserError(f"{what} {p}: expected a mapping at the top level")
    return data


def id_entries(entries: list[Any], list_name: str, keys: set[str],
               fail: Callable[[str, str], Exception]) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(id, entry, where) for each mapping of a YAML list whose entries carry unique ids and only known keys.

    `fail(where, problem)` builds the error, so it names the file; `where` reads `prompts[3] (id 'sleep-1')`.
    """
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        where = f"{list_name}[{i}]"
        if not isinstance(entry, dict):
            raise fail(where, f"expected a mapping, got {type(entry).__name__}")
        entry_id = entry.get("id")
        if not isinstance(entry_id, str) or not entry_id.strip():
            raise fail(where, "missing or empty \"id\"")
        where = f"{list_name}[{i}] (id {entry_id!r})"
        if entry_id in seen:
            raise fail(where, "duplicate id")
        seen.add(entry_id)
        unknown = set(entry) - keys
        if unknown:
            raise fail(where, f"unknown keys {sorted(unknown)}")
        yield entry_id, entry, where


def read_json(path: str | Path, what: str = "JSON file") -> Any:
    p = require_file(path, what)
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise UserError(f"{what} {p}, line {exc.lineno}: malformed JSON ({exc.msg})") from None


def write_json(path: str | Path, obj: Any) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return p


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def stable_hash(*parts: str) -> str:
    """A deterministic hex digest of strings (ids, seeds): same input, same split."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
