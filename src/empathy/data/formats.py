"""Loaders for the public counselling data formats and chat formats, each into `Record`s with attribution.

Kinds (the names `empathy data process --source KIND:PATH` takes):

- `counsel_chat`: the counsel-chat CSV. One record per question, with every therapist answer to it (qa).
- `annomi`: the AnnoMI CSV, one utterance a row. One record per transcript (dialogue); the video URL is the
  record's URL and each turn keeps its timestamp.
- `esconv`: ESConv JSON. One record per conversation (dialogue); supporter turns keep their strategy.
- `chat_jsonl`: one conversation a line, OpenAI messages (`{"messages": [{"role", "content"}]}`) or ShareGPT
  (`{"conversations": [{"from", "value"}]}`).
- `knowledge_base`: psychology concepts, a JSON list or JSONL of `{title, content, category, related_concepts,
  therapeutic_approaches, source}`; each becomes running text that contextual questions are asked about.
- `dual_persona`: dialogues between two personas with a scenario, JSONL of `{id, scenario, personas: [{name,
  role: client|therapist}], turns: [{speaker, text}]}`.

Every loader reads bytes and decodes each item on its own, so one bad item (malformed CSV row or JSON line,
invalid UTF-8, a missing or empty field, an oversized text) becomes a `Rejection` naming the file and line,
and the rest of the file still loads.

    from empathy.data.sources import LOADERS, source_from_arg
    records, rejected = LOADERS["annomi"](source_from_arg("annomi:../shared/data/annomi_full.csv"))
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Any, Iterator

from empathy.data.schema import Record, Rejection, Turn

if TYPE_CHECKING:
    from empathy.data.sources import SourceSpec

STAGE = "ingest"
MAX_ITEM_CHARS = 200_000        # a record this long is a broken export, not a conversation
ESCONV_SEEKER = {"seeker", "speaker", "usr"}
ESCONV_SUPPORTER = {"supporter", "listener", "sys"}
CHAT_ROLES = {"user": "asker", "human": "asker", "assistant": "responder", "gpt": "responder", "bot": "responder"}
PERSONA_ROLES = {"client": "asker", "therapist": "responder", "counsellor": "responder", "counselor": "responder"}


def reject(spec: SourceSpec, reason: str, detail: str, item_id: str | None = None) -> Rejection:
    return Rejection(id=item_id or spec.id, stage=STAGE, reason=reason, detail=f"{spec.path.name}: {detail}",
                     source=spec.attribution)


def _clean(text: Any) -> str:
    return " ".join(str(text).split()) if text is not None else ""


def _bad_utf8(text: str) -> bool:
    """True when the text holds bytes that were not UTF-8 (decoded with surrogateescape)."""
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def read_lines(spec: SourceSpec) -> Iterator[tuple[int, str | None, str]]:
    """(line number, decoded line or None when it is not UTF-8, provisional item id) of each non-blank line."""
    from empathy.io import require_file

    path = require_file(spec.path, f"source {spec.id}")
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                line = None
            yield lineno, line, f"{spec.id}:line{lineno}"


def json_lines(spec: SourceSpec, rejected: list[Rejection]) -> Iterator[tuple[int, dict[str, Any], str]]:
    """The JSON objects of a JSONL source; every line that is not one is rejected with its line number."""
    for lineno, line, item_id in read_lines(spec):
        if line is None:
            rejected.append(reject(spec, "invalid_utf8", f"line {lineno}: not valid UTF-8", item_id))
            continue
        if len(line) > MAX_ITEM_CHARS:
            rejected.append(reject(spec, "too_long", f"line {lineno}: {len(line)} characters (limit {MAX_ITEM_CHARS})",
                                   item_id))
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            rejected.append(reject(spec, "malformed_json", f"line {lineno}: {exc.msg}", item_id))
            continue
        if not isinstance(obj, dict):
            rejected.append(reject(spec, "malformed_record", f"line {lineno}: expected a JSON object", item_id))
            continue
        yield lineno, obj, item_id


def csv_rows(spec: SourceSpec, required: tuple[str, ...], rejected: list[Rejection]
             ) -> Iterator[tuple[int, dict[str, str]]]:
    """(first line number, row) of a CSV source whose quoted fields may span lines; bad rows are rejected."""
    from empathy.errors import UserError
    from empathy.io import require_file

    path = require_file(spec.path, f"source {spec.id}")
    text = path.read_bytes().decode("utf-8", errors="surrogateescape")
    csv.field_size_limit(max(csv.field_size_limit(), 64 * MAX_ITEM_CHARS))  # an oversized field is too_long, below
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as exc:
        raise UserError(f"source {spec.id} {path}: no CSV header ({exc})") from None
    missing = [c for c in required if c not in header]
    if missing:
        raise UserError(f"source {spec.id} {path}: missing CSV columns {', '.join(missing)}")
    line = reader.line_num + 1
    while True:
        start = line
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            rejected.append(reject(spec, "malformed_csv_row", f"line {start}: {exc}", f"{spec.id}:line{start}"))
            line = reader.line_num + 1
            continue
        line = reader.line_num + 1
        if not values or not any(v.strip() for v in values):
            continue
        item_id = f"{spec.id}:line{start}"
        if len(values) != len(header):
            rejected.append(reject(spec, "malformed_csv_row", f"line {start}: {len(values)} fields, the header has "
                                                              f"{len(header)}", item_id))
            continue
        row = dict(zip(header, values))
        if any(_bad_utf8(v) for v in values):
            rejected.append(reject(spec, "invalid_utf8", f"line {start}: not valid UTF-8", item_id))
            continue
        if sum(len(v) for v in values) > MAX_ITEM_CHARS:
            rejected.append(reject(spec, "too_long", f"line {start}: longer than {MAX_ITEM_CHARS} characters", item_id))
            continue
        yield start, row


def _attribution(spec: SourceSpec, **update: Any):
    return spec.attribution.model_copy(update={k: v for k, v in update.items() if v not in (None, "")})


def load_counsel_chat(spec: SourceSpec) -> tuple[list[Record], list[Rejection]]:
    """One qa record per question (title + body) with all its answers, in file order."""
    rejected: list[Rejection] = []
    questions: dict[str, dict[str, Any]] = {}
    texts_per_id: Counter = Counter()
    for lineno, row in csv_rows(spec, ("questionID", "questionTitle", "questionText", "answerText"), rejected):
        qid = row["questionID"].strip()
        question = _clean(" ".join(x for x in (row["questionTitle"], row["questionText"]) if x.strip()))
        answer = _clean(row["answerText"])
        item_id = f"{spec.id}:{qid or f'line{lineno}'}:line{lineno}"
        if not qid or not question or not answer:
            what = ", ".join(k for k, v in (("questionID", qid), ("question", question), ("answerText", answer)) if not v)
            rejected.append(reject(spec, "missing_field", f"line {lineno}: empty {what}", item_id))
            continue
        # questionID is not unique in the published file (18 ids cover two different questions): key by the text too
        key = f"{qid}\x1f{question}"
        if key not in questions:
            texts_per_id[qid] += 1
            n = texts_per_id[qid]
            questions[key] = {"id": qid if n == 1 else f"{qid}-{n}", "question": question, "answers": [], "row": row}
        questions[key]["answers"].append((answer, row.get("therapistInfo", "").strip()))
    records = []
    for q in questions.values():
        qid = q["id"]
        row = q["row"]
        turns = [Turn(speaker="client", role="asker", text=q["question"])]
        turns += [Turn(speaker="therapist", role="responder", text=a, meta={"therapist": info} if info else {})
                  for a, info in q["answers"]]
        records.append(Record(
            id=f"{spec.id}:{qid}", content_type="qa", topic=row.get("topic", "").strip() or None, turns=turns,
            source=_attribution(spec, source_id=qid, url=row.get("questionLink", "").strip(),
                                title=_clean(row["questionTitle"])[:200]),
            items=len(q["answers"]),
            # the data set's own train/val/test split of the question: the semantic validator trains on it
            meta={"split": row["split"].strip()} if row.get("split", "").strip() else {},
        ))
    return records, rejected


def load_annomi(spec: SourceSpec) -> tuple[list[Record], list[Rejection]]:
    """One dialogue record per transcript, utterances in utterance_id order; client asks, therapist answers."""
    rejected: list[Rejection] = []
    transcripts: dict[str, list[tuple[int, int, dict[str, str]]]] = defaultdict(list)
    for lineno, row in csv_rows(spec, ("transcript_id", "utterance_id", "interlocutor", "utterance_text"), rejected):
        item_id = f"{spec.id}:{row['transcript_id']}:{row['utterance_id']}"
        if row["interlocutor"] not in ("client", "therapist"):
            rejected.append(reject(spec, "unknown_speaker", f"line {lineno}: interlocutor {row['interlocutor']!r}",
                                   item_id))
            continue
        if not row["utterance_text"].strip():
            rejected.append(reject(spec, "empty_text", f"line {lineno}: empty utterance_text", item_id))
            continue
        try:
            order = int(row["utterance_id"])
        except ValueError:
            rejected.append(reject(spec, "invalid_field", f"line {lineno}: utterance_id {row['utterance_id']!r} is "
                                                          "not an integer", item_id))
            continue
        transcripts[row["transcript_id"].strip()].append((order, lineno, row))
    records = []
    for tid, rows in transcripts.items():
        rows.sort(key=lambda r: r[0])
        first = rows[0][2]
        turns = [Turn(speaker=r["interlocutor"], role="asker" if r["interlocutor"] == "client" else "responder",
                      text=_clean(r["utterance_text"]),
                      meta={k: r[k].strip() for k in ("timestamp", "main_therapist_behaviour", "client_talk_type")
                            if r.get(k, "").strip()})
                 for _, _, r in rows]
        records.append(Record(
            id=f"{spec.id}:{tid}", content_type="dialogue", topic=first.get("topic", "").strip() or None, turns=turns,
            source=_attribution(spec, source_id=tid, url=first.get("video_url", "").strip(),
                                title=first.get("video_title", "").strip()),
            items=len(rows),
        ))
    return records, rejected


def load_esconv(spec: SourceSpec) -> tuple[list[Record], list[Rejection]]:
    """One dialogue record per conversation; the help-seeker asks, the supporter answers."""
    from empathy.errors import UserError
    from empathy.io import require_file

    rejected: list[Rejection] = []
    path = require_file(spec.path, f"source {spec.id}")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise UserError(f"source {spec.id} {path}: not valid UTF-8 at byte {exc.start}") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"source {spec.id} {path}, line {exc.lineno}: malformed JSON ({exc.msg})") from None
    if not isinstance(data, list):
        raise UserError(f"source {spec.id} {path}: expected a JSON list of conversations")
    records = []
    for n, conv in enumerate(data):
        item_id = f"{spec.id}:{n}"
        if not isinstance(conv, dict) or not isinstance(conv.get("dialog"), list):
            rejected.append(reject(spec, "malformed_record", f"conversation {n}: needs a 'dialog' list", item_id))
            continue
        turns: list[Turn] = []
        problem = None
        for j, t in enumerate(conv["dialog"]):
            speaker = t.get("speaker") if isinstance(t, dict) else None
            text = _clean(t.get("content")) if isinstance(t, dict) else ""
            if speaker not in ESCONV_SEEKER | ESCONV_SUPPORTER:
                problem = ("unknown_speaker", f"conversation {n}, turn {j}: speaker {speaker!r}")
                break
            if not text:
                continue
            role = "asker" if speaker in ESCONV_SEEKER else "responder"
            strategy = (t.get("annotation") or {}).get("strategy") if isinstance(t.get("annotation"), dict) else None
            if turns and turns[-1].role == role:   # ESConv splits one message into several turns
                turns[-1].text += " " + text
                continue
            turns.append(Turn(speaker="seeker" if role == "asker" else "supporter", role=role, text=text,
                              meta={"strategy": strategy} if strategy else {}))
        if problem:
            rejected.append(reject(spec, problem[0], problem[1], item_id))
            continue
        if not turns:
            rejected.append(reject(spec, "empty_text", f"conversation {n}: no text", item_id))
            continue
        topic = " / ".join(x for x in (_clean(conv.get("problem_type")), _clean(conv.get("emotion_type"))) if x)
        records.append(Record(id=item_id, content_type="dialogue", topic=topic or None, turns=turns,
                              source=_attribution(spec, source_id=str(n), title=_clean(conv.get("situation"))[:200])))
    return records, rejected


def load_chat_jsonl(spec: SourceSpec) -> tuple[list[Record], list[Rejection]]:
    """OpenAI-messages or ShareGPT conversations, one a line; system messages are dropped."""
    rejected: list[Rejection] = []
    records = []
    for lineno, obj, item_id in json_lines(spec, rejected):
        if isinstance(obj.get("messages"), list):
            raw = [(m.get("role"), m.get("content")) if isinstance(m, dict) else (None, None) for m in obj["messages"]]
        elif isinstance(obj.get("conversations"), list):
            raw = [(m.get("from"), m.get("value")) if isinstance(m, dict) else (None, None) for m in obj["conversations"]]
        else:
            rejected.append(reject(spec, "missing_field", f"line {lineno}: needs 'messages' (OpenAI) or "
                                                          "'conversations' (ShareGPT)", item_id))
            continue
        turns = []
        bad = None
        for j, (role, content) in enumerate(raw):
            if role == "system":
                continue
            if role not in CHAT_ROLES or not isinstance(content, str):
                bad = f"line {lineno}, message {j}: role {role!r} with {type(content).__name__} content"
                break
            if content.strip():
                turns.append(Turn(speaker=str(role), role=CHAT_ROLES[role], text=_clean(content)))
        if bad:
            rejected.append(reject(spec, "malformed_record", bad, item_id))
            continue
        if len(turns) < 2:
            rejected.append(reject(spec, "empty_text", f"line {lineno}: fewer than two non-system messages", item_id))
            continue
        rid = str(obj.get("id") or f"line{lineno}")
        records.append(Record(id=f"{spec.id}:{rid}", content_type="dialogue", turns=turns,
                              topic=obj.get("topic") if isinstance(obj.get("topic"), str) else None,
                              source=_attribution(spec, source_id=rid)))
    return records, rejected


def _kb_items(spec: SourceSpec, rejected: list[Rejection]) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(where, object, item id) of each knowledge-base entry, from a JSON list or JSONL."""
    from empathy.io import require_file

    path = require_file(spec.path, f"source {spec.id}")
    raw = path.read_bytes()
    if raw.lstrip()[:1] == b"[":
        from empathy.errors import UserError

        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UserError(f"source {spec.id} {path}: not a valid JSON list ({exc})") from None
        for n, obj in enumerate(data):
            if not isinstance(obj, dict):
                rejected.append(reject(spec, "malformed_record", f"entry {n}: expected a JSON object", f"{spec.id}:{n}"))
                continue
            yield f"entry {n}", obj, f"{spec.id}:{n}"
    else:
        for lineno, obj, item_id in json_lines(spec, rejected):
            yield f"line {lineno}", obj, item_id


def load_knowledge_base(spec: SourceSpec) -> tuple[list[Record], list[Rejection]]:
    """Psychology concepts as running text: the title is the subject contextual questions ask about."""
    rejected: list[Rejection] = []
    records = []
    for where, obj, item_id in _kb_items(spec, rejected):
        title, content = _clean(obj.get("title")), str(obj.get("content") or "").strip()
        if not title or not content:
            what = " and ".join(k for k, v in (("title", title), ("content", content)) if not v)
            rejected.append(reject(spec, "missing_field", f"{where}: empty {what}", item_id))
            continue
        rid = str(obj.get("id") or title.lower().replace(" ", "-"))
        extras = {k: ", ".join(map(str, v)) if isinstance(v, list) else str(v)
                  for k in ("category", "related_concepts", "therapeutic_approaches") if (v := obj.get(k))}
        records.append(Record(
            id=f"{spec.id}:{rid}", content_type="monologue", topic=title, text=content,
            source=_attribution(spec, source_id=rid, title=title, url=obj.get("url") if isinstance(obj.get("url"), str)
                                else None),
            meta={"knowledge_base_source": str(obj.get("source") or ""), **extras},
        ))
    return records, rejected


def load_dual_persona(spec: SourceSpec) -> tuple[list[Record], list[Rejection]]:
    """Two-persona dialogues: the persona whose role is client asks, the therapist persona answers."""
    rejected: list[Rejection] = []
    records = []
    for lineno, obj, item_id in json_lines(spec, rejected):
        personas = obj.get("personas")
        turns_in = obj.get("turns")
        if not isinstance(personas, list) or not isinstance(turns_in, list) or not obj.get("scenario"):
            rejected.append(reject(spec, "missing_field", f"line {lineno}: needs scenario, personas and turns", item_id))
            continue
        roles = {}
        for p in personas:
            if isinstance(p, dict) and str(p.get("role", "")).lower() in PERSONA_ROLES and p.get("name"):
                roles[str(p["name"])] = PERSONA_ROLES[str(p["role"]).lower()]
        if sorted(set(roles.values())) != ["asker", "responder"]:
            rejected.append(reject(spec, "invalid_field", f"line {lineno}: personas need one client and one therapist "
                                                          "(role client|therapist, with a name)", item_id))
            continue
        turns, bad = [], None
        for j, t in enumerate(turns_in):
            speaker = t.get("speaker") if isinstance(t, dict) else None
            if speaker not in roles:
                bad = f"line {lineno}, turn {j}: speaker {speaker!r} is not one of the personas"
                break
            if _clean(t.get("text")):
                turns.append(Turn(speaker=str(speaker), role=roles[speaker], text=_clean(t.get("text"))))
        if bad:
            rejected.append(reject(spec, "unknown_speaker", bad, item_id))
            continue
        if len(turns) < 2:
            rejected.append(reject(spec, "empty_text", f"line {lineno}: fewer than two turns", item_id))
            continue
        rid = str(obj.get("id") or f"line{lineno}")
        records.append(Record(id=f"{spec.id}:{rid}", content_type="dialogue", topic=_clean(obj["scenario"])[:200],
                              turns=turns, source=_attribution(spec, source_id=rid)))
    return records, rejected
