"""Serving stores: conversations, the inference log, rate limits and a response cache, each chosen by a URL.

Why: a served model leaves four kinds of state behind, and each has a laptop
default and a cluster service behind one interface (docs: DESIGN.md, "Real
services"), so the predictor and monitoring never care which one runs.

- `ConversationStore`: every turn of every conversation (who, what was said,
  the risk level, the safety action, the model, latency). It is the one
  place message content is kept: audit rows (serve/audit.py) hold only a
  hash of it. It is health data, so the store must be encrypted at rest
  (MongoDB's encrypted storage engine or an encrypted volume; for SQLite an
  encrypted disk) and reachable only by the serving identity and the
  people whose role allows reading transcripts. `erase_subject` serves a
  subject's right to erasure.
  `sqlite:///runs/serve/conversations.db` (default) or `mongodb://host:port/db`.
- `InferenceLog`: one record per request for monitoring (input text, output
  length, latency, risk level, action, model). `export_jsonl` writes the
  same rows `empathy deploy` writes to inference_log.jsonl today, so
  `empathy monitor --inference-log` reads a store export unchanged. It
  keeps the input text (drift is measured on it) but never the reply, and
  no subject: `purge_before` applies the retention period instead.
  `sqlite:///runs/serve/inference_log.db` (default) or `mongodb://...`.
  Any SQLAlchemy URL also works for the two above (e.g. PostgreSQL).
- `RateLimiter`: at most `limit` requests per key in any `window_s` seconds
  (a sliding-window log). `memory://` (default, one process) or
  `redis://host:port/n`, where one Lua script checks and records a request
  atomically, so every replica of the server shares one budget per key.
- `ResponseCache`: replies keyed by a SHA-256 of model + messages +
  generation parameters, with a TTL; `set(..., crisis=True)` never stores,
  since a crisis response must be produced (and audited) fresh every time.
  `memory://` (an LRU, default) or `redis://`. Cached replies are content
  too: the TTL bounds how long they live, and Redis should run without
  persistence (`--save '' --appendonly no`) inside the cluster network.

URLs come from the caller, else the environment (EMPATHY_CONVERSATION_URL,
EMPATHY_INFERENCE_LOG_URL, EMPATHY_RATE_LIMIT_URL, EMPATHY_CACHE_URL), else
the defaults. pymongo and redis are imported only when their URL is used; a
missing package, a malformed URL and an unreachable server are reported as
errors naming the store and the URL (password hidden).

    conversations = open_conversation_store("mongodb://127.0.0.1:27017/empathy")
    conversations.append("c-1", "subject-7", "user", "I can't sleep", risk_level="low", action="reply")
    log = open_inference_log()
    log.record(id=request_id, text=prompt, output_chars=len(reply), latency_ms=84.2, model="empathy-chat@3")
    log.export_jsonl("runs/x/deploy/inference_log.jsonl")    # then: empathy monitor --inference-log ...
    limiter = open_rate_limiter("redis://127.0.0.1:6379/0", limit=30, window_s=60)
    allowed, retry_after_s = limiter.allow("key:3f2a")
    cache = open_response_cache("redis://127.0.0.1:6379/0", ttl_s=300)

Tests: tests/unit/test_stores.py (SQLite, in-process) and
tests/integration/test_stores_services.py (SecantusDB, Redis, PostgreSQL on
loopback, started and stopped by the tests).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import threading
import time
import uuid
from abc import ABC, abstractmethod
from collections import OrderedDict, deque
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

import sqlalchemy as sa

from empathy.errors import UserError
from empathy.io import write_jsonl
from empathy.safety.risk import RISK_LEVELS
from empathy.serve.audit import ACTIONS, create_tables, display_url, listen_sqlite_wal, make_engine

CONVERSATION_URL_ENV = "EMPATHY_CONVERSATION_URL"
INFERENCE_LOG_URL_ENV = "EMPATHY_INFERENCE_LOG_URL"
RATE_LIMIT_URL_ENV = "EMPATHY_RATE_LIMIT_URL"
CACHE_URL_ENV = "EMPATHY_CACHE_URL"
DEFAULT_CONVERSATION_URL = "sqlite:///runs/serve/conversations.db"
DEFAULT_INFERENCE_LOG_URL = "sqlite:///runs/serve/inference_log.db"
DEFAULT_MEMORY_URL = "memory://"

ROLES = ("system", "user", "assistant")
# "" for a turn no decision applies to (a system prompt)
TURN_ACTIONS = ("", *ACTIONS)
CONNECT_TIMEOUT_S = 5.0
_PINS = {"pymongo": "pymongo==4.20.1", "redis": "redis==8.1.0"}


class StoreUnavailable(UserError):
    """A store's server cannot be reached; the message names the store and its URL."""


def _require(module: str, what: str, url: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(f"{what} {display_url(url)}: needs the Python package {module!r} "
                        f"(pip install '{_PINS[module]}')") from None


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].split("+", 1)[0].lower() if "://" in url else ""


def _utc(at: datetime | str | None) -> str:
    """ISO 8601 in UTC with microseconds, so that stored timestamps sort as strings."""
    if at is None:
        when = datetime.now(timezone.utc)
    elif isinstance(at, datetime):
        when = at
    else:
        try:
            when = datetime.fromisoformat(at)
        except ValueError:
            raise UserError(f"timestamp {at!r} is not ISO 8601") from None
    if when.tzinfo is None:
        raise UserError(f"timestamp {when.isoformat()} has no time zone (give UTC)")
    return when.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _check(what: str, name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise UserError(f"{what}: {name} {value!r} is not one of {', '.join(repr(a) for a in allowed)}")
    return value


def _text(what: str, name: str, value: Any, max_len: int = 200) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UserError(f"{what}: {name} must be a non-empty string, got {value!r}")
    if len(value) > max_len:
        raise UserError(f"{what}: {name} is longer than {max_len} characters")
    return value


class _Mongo:
    """A pymongo client on a `mongodb://host:port/db` URL, pinged once so that a wrong URL fails at open."""

    def __init__(self, url: str, what: str, timeout_s: float):
        pymongo = _require("pymongo", what, url)
        self.errors = pymongo.errors
        self.what, self.url = what, url
        try:
            parsed = pymongo.uri_parser.parse_uri(url)
        except (pymongo.errors.InvalidURI, pymongo.errors.ConfigurationError, ValueError) as exc:
            raise UserError(f"{what} URL {display_url(url)}: {exc}") from None
        if not parsed.get("database"):
            raise UserError(f"{what} URL {display_url(url)}: names no database (mongodb://host:port/DATABASE)")
        ms = int(timeout_s * 1000)
        self.client = pymongo.MongoClient(url, serverSelectionTimeoutMS=ms, connectTimeoutMS=ms, tz_aware=True)
        self.db = self.client[parsed["database"]]
        with self.guard():
            self.client.admin.command("ping")

    def guard(self) -> "_MongoGuard":
        return _MongoGuard(self)

    def close(self) -> None:
        self.client.close()


class _MongoGuard:
    """Turns a lost connection into StoreUnavailable naming the store, instead of a bare pymongo traceback."""

    def __init__(self, mongo: _Mongo):
        self.mongo = mongo

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is not None and isinstance(exc, self.mongo.errors.ConnectionFailure):
            raise StoreUnavailable(f"{self.mongo.what} {display_url(self.mongo.url)}: cannot reach the server "
                                   f"({str(exc).split(',')[0]})") from None
        return False


def _redis_client(url: str, what: str, timeout_s: float) -> Any:
    redis = _require("redis", what, url)
    try:
        client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    except ValueError as exc:
        raise UserError(f"{what} URL {display_url(url)}: {exc}") from None
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        raise StoreUnavailable(f"{what} {display_url(url)}: cannot reach the server ({exc})") from None
    return client


def _redis_guard(what: str, url: str) -> "_RedisGuard":
    return _RedisGuard(what, url)


class _RedisGuard:
    def __init__(self, what: str, url: str):
        self.what, self.url = what, url

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        import redis

        if exc is not None and isinstance(exc, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
            raise StoreUnavailable(f"{self.what} {display_url(self.url)}: cannot reach the server ({exc})") from None
        return False


# ---------------------------------------------------------------------------------------------------------------
# Conversations


@dataclass(frozen=True)
class Turn:
    conversation_id: str
    seq: int
    subject: str
    role: str
    content: str
    risk_level: str
    action: str
    model: str
    latency_ms: float
    at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ConversationInfo:
    conversation_id: str
    turns: int
    started_at: str
    last_at: str


class ConversationStore(ABC):
    """Turns of conversations, numbered 0, 1, ... within each; a conversation belongs to one subject."""

    what = "conversation store"

    def append(self, conversation_id: str, subject: str, role: str, content: str, *, risk_level: str = "none",
               action: str = "", model: str = "", latency_ms: float = 0.0,
               at: datetime | str | None = None) -> Turn:
        """Append one turn and return it with its number in the conversation."""
        return self._append([self._fields(conversation_id, subject, role, content, risk_level=risk_level,
                                          action=action, model=model, latency_ms=latency_ms, at=at)])[0]

    def append_exchange(self, conversation_id: str, subject: str, user: str, assistant: str, *,
                        risk_level: str = "none", action: str = "", model: str = "", latency_ms: float = 0.0,
                        at: datetime | str | None = None) -> tuple[Turn, Turn]:
        """A user turn and the assistant's reply, numbered consecutively and written together (one transaction on
        SQL, one counter update and one insert on MongoDB): the store never holds a question without its answer."""
        user_turn, assistant_turn = self._append([
            self._fields(conversation_id, subject, "user", user, risk_level=risk_level, at=at),
            self._fields(conversation_id, subject, "assistant", assistant, risk_level=risk_level, action=action,
                         model=model, latency_ms=latency_ms, at=at)])
        return user_turn, assistant_turn

    @staticmethod
    def _fields(conversation_id: str, subject: str, role: str, content: str, *, risk_level: str = "none",
                action: str = "", model: str = "", latency_ms: float = 0.0,
                at: datetime | str | None = None) -> dict[str, Any]:
        what = "conversation turn"
        _text(what, "conversation_id", conversation_id)
        _text(what, "subject", subject)
        _check(what, "role", role, ROLES)
        _check(what, "risk_level", risk_level, RISK_LEVELS)
        _check(what, "action", action, TURN_ACTIONS)
        if not isinstance(content, str):
            raise UserError(f"{what}: content must be a string, got {type(content).__name__}")
        if not isinstance(latency_ms, (int, float)) or latency_ms < 0:
            raise UserError(f"{what}: latency_ms must be a number >= 0, got {latency_ms!r}")
        return {"conversation_id": conversation_id, "subject": subject, "role": role, "content": content,
                "risk_level": risk_level, "action": action, "model": str(model)[:200],
                "latency_ms": float(latency_ms), "at": _utc(at)}

    @abstractmethod
    def _append(self, turns: list[dict[str, Any]]) -> list[Turn]:
        """Write the turns (all of one conversation and subject) with consecutive numbers, all or none."""

    @abstractmethod
    def conversation(self, conversation_id: str) -> list[Turn]:
        """The conversation's turns in order; [] for an unknown id."""

    @abstractmethod
    def conversations(self, subject: str) -> list[ConversationInfo]:
        """The subject's conversations, oldest first."""

    @abstractmethod
    def erase_subject(self, subject: str) -> int:
        """Delete every turn of the subject (right to erasure); returns how many were deleted."""

    @abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> "ConversationStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _conflict(self, conversation_id: str, subject: str) -> UserError:
        # the owner is not named: the caller may not be allowed to learn who it is
        return UserError(f"{self.what}: conversation {conversation_id!r} belongs to another subject, not "
                         f"{subject!r}")


_sql_meta = sa.MetaData()
turns_table = sa.Table(
    "conversation_turns", _sql_meta,
    sa.Column("conversation_id", sa.String(200), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("subject", sa.String(200), nullable=False, index=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("risk_level", sa.String(16), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
)
inference_table = sa.Table(
    "inference_log", _sql_meta,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("at", sa.String(40), nullable=False, index=True),
    sa.Column("model", sa.String(200), nullable=False, index=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("output_chars", sa.Integer, nullable=False),
    sa.Column("completion_tokens", sa.Integer, nullable=True),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("risk_level", sa.String(16), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
)
_TURN_COLUMNS = [c.name for c in turns_table.columns]


def _sql_engine(url: str, what: str) -> sa.Engine:
    engine = make_engine(url, what)
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        # WAL with synchronous=NORMAL: a committed turn survives the server process crashing (only a power loss
        # can take the last commits), and a commit costs no fsync; the default rollback journal's two fsyncs a
        # commit were most of the server's own time per request. The audit log keeps synchronous=FULL.
        listen_sqlite_wal(engine, "NORMAL")
    create_tables(_sql_meta, engine, what)
    return engine


class SqlConversationStore(ConversationStore):
    """SQLite by default; any SQLAlchemy URL (PostgreSQL in tests)."""

    def __init__(self, url: str):
        self.url = url
        self.engine = _sql_engine(url, self.what)
        # SQLite has one writer at a time anyway; the lock spares this process's threads the busy-retry loop
        self._lock = threading.Lock()

    def _append(self, turns: list[dict[str, Any]]) -> list[Turn]:
        cid, subject = turns[0]["conversation_id"], turns[0]["subject"]
        for _ in range(20):
            try:
                with self._lock, self.engine.begin() as conn:
                    row = conn.execute(sa.select(sa.func.max(turns_table.c.seq), sa.func.min(turns_table.c.subject))
                                       .where(turns_table.c.conversation_id == cid)).one()
                    if row[1] is not None and row[1] != subject:
                        raise self._conflict(cid, subject)
                    first = 0 if row[0] is None else row[0] + 1
                    rows = [{"seq": first + i, **fields} for i, fields in enumerate(turns)]
                    conn.execute(turns_table.insert(), rows)
                    return [Turn(**r) for r in rows]
            except sa.exc.IntegrityError:
                continue  # another process took this seq between our read and insert: read again
            except sa.exc.OperationalError as exc:
                raise StoreUnavailable(f"{self.what} {display_url(self.url)}: {exc.orig}") from None
        raise UserError(f"{self.what} {display_url(self.url)}: conversation {cid!r}: could not append after 20 "
                        "tries (too many concurrent writers)")

    def conversation(self, conversation_id: str) -> list[Turn]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(turns_table).where(turns_table.c.conversation_id == conversation_id)
                                .order_by(turns_table.c.seq)).mappings().all()
        return [Turn(**dict(r)) for r in rows]

    def conversations(self, subject: str) -> list[ConversationInfo]:
        t = turns_table.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.conversation_id, sa.func.count(), sa.func.min(t.at), sa.func.max(t.at))
                                .where(t.subject == subject).group_by(t.conversation_id)).all()
        return sorted((ConversationInfo(*r) for r in rows), key=lambda c: (c.started_at, c.conversation_id))

    def erase_subject(self, subject: str) -> int:
        with self._lock, self.engine.begin() as conn:
            return conn.execute(turns_table.delete().where(turns_table.c.subject == subject)).rowcount

    def close(self) -> None:
        self.engine.dispose()


class MongoConversationStore(ConversationStore):
    """MongoDB (SecantusDB in tests): turns in `conversation_turns`, one counter per conversation in
    `conversations`, created with the conversation's first turn, that numbers the turns and pins the conversation
    to its subject."""

    def __init__(self, url: str, timeout_s: float = CONNECT_TIMEOUT_S):
        self.url = url
        self._m = _Mongo(url, self.what, timeout_s)
        self.turns = self._m.db["conversation_turns"]
        self.heads = self._m.db["conversations"]
        with self._m.guard():
            self.turns.create_index([("conversation_id", 1), ("seq", 1)], unique=True)
            self.turns.create_index([("subject", 1)])
            self.heads.create_index([("subject", 1)])

    def _append(self, turns: list[dict[str, Any]]) -> list[Turn]:
        from pymongo import ReturnDocument

        cid, subject = turns[0]["conversation_id"], turns[0]["subject"]
        with self._m.guard():
            # The counter is created apart from the increment: two first turns of a new conversation racing each
            # other in one upsert both try to insert it (on MongoDB one fails on the duplicate _id, which would
            # read as "another subject"; SecantusDB may return nothing after incrementing, leaving a gap). The
            # filter holds the subject, so an id owned by someone else finds no counter even once one exists.
            bump = {"$inc": {"next_seq": len(turns)}, "$set": {"last_at": turns[-1]["at"]}}
            head = self.heads.find_one_and_update({"_id": cid, "subject": subject}, bump,
                                                  return_document=ReturnDocument.AFTER)
            if head is None:
                try:
                    self.heads.insert_one({"_id": cid, "subject": subject, "next_seq": 0,
                                           "started_at": turns[0]["at"]})
                except self._m.errors.DuplicateKeyError:
                    pass            # created meanwhile, by a racing first turn or by another subject
                head = self.heads.find_one_and_update({"_id": cid, "subject": subject}, bump,
                                                      return_document=ReturnDocument.AFTER)
            if head is None:
                raise self._conflict(cid, subject)
            first = head["next_seq"] - len(turns)
            rows = [{"seq": first + i, **fields} for i, fields in enumerate(turns)]
            # insert_many adds _id to the dicts it is given: insert copies
            self.turns.insert_many([dict(r) for r in rows], ordered=True)
        return [Turn(**r) for r in rows]

    def conversation(self, conversation_id: str) -> list[Turn]:
        with self._m.guard():
            docs = list(self.turns.find({"conversation_id": conversation_id}, {"_id": 0}).sort("seq", 1))
        return [Turn(**{k: d[k] for k in _TURN_COLUMNS}) for d in docs]

    def conversations(self, subject: str) -> list[ConversationInfo]:
        with self._m.guard():
            docs = self.turns.find({"subject": subject}, {"_id": 0, "conversation_id": 1, "at": 1})
            grouped: dict[str, list[str]] = {}
            for d in docs:
                grouped.setdefault(d["conversation_id"], []).append(d["at"])
        infos = [ConversationInfo(cid, len(ats), min(ats), max(ats)) for cid, ats in grouped.items()]
        return sorted(infos, key=lambda c: (c.started_at, c.conversation_id))

    def erase_subject(self, subject: str) -> int:
        with self._m.guard():
            n = self.turns.delete_many({"subject": subject}).deleted_count
            self.heads.delete_many({"subject": subject})
        return n

    def close(self) -> None:
        self._m.close()


def conversation_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get(CONVERSATION_URL_ENV) or DEFAULT_CONVERSATION_URL


def open_conversation_store(url: str | None = None, *, timeout_s: float = CONNECT_TIMEOUT_S) -> ConversationStore:
    """`sqlite:///path` (default, also any SQLAlchemy URL) or `mongodb://host:port/db`."""
    url = conversation_url(url)
    if _scheme(url) in ("mongodb", "mongodb+srv"):
        return MongoConversationStore(url, timeout_s)
    if _scheme(url) in ("sqlite", "postgresql"):
        return SqlConversationStore(url)
    raise UserError(f"conversation store URL {display_url(url)!r}: unsupported; use sqlite:///path, "
                    "postgresql+psycopg://user@host/db or mongodb://host:port/db")


# ---------------------------------------------------------------------------------------------------------------
# Inference log


@dataclass(frozen=True)
class InferenceRecord:
    id: str
    at: str
    model: str
    text: str
    output_chars: int
    latency_ms: float
    risk_level: str = "none"
    action: str = "reply"
    completion_tokens: int | None = None

    def to_log_row(self) -> dict[str, Any]:
        """The row inference_log.jsonl has held since `empathy deploy` (id, text, latency_ms, completion_tokens,
        model_uri, timestamp), plus output_chars, risk_level and action; no reply text."""
        return {"id": self.id, "text": self.text, "latency_ms": self.latency_ms,
                "completion_tokens": self.completion_tokens, "model_uri": self.model, "timestamp": self.at,
                "output_chars": self.output_chars, "risk_level": self.risk_level, "action": self.action}

    @classmethod
    def from_log_row(cls, row: dict[str, Any]) -> "InferenceRecord":
        """A record from a row `empathy deploy` writes; the reply's text gives output_chars and is dropped."""
        missing = [k for k in ("id", "text", "latency_ms") if k not in row]
        if missing:
            raise UserError(f"inference log row {row.get('id', '?')!r}: missing {', '.join(missing)}")
        chars = row["output_chars"] if "output_chars" in row else len(row.get("reply") or "")
        return cls(id=str(row["id"]), at=_utc(row.get("timestamp")), model=str(row.get("model_uri", "")),
                   text=row["text"], output_chars=int(chars), latency_ms=float(row["latency_ms"]),
                   risk_level=row.get("risk_level", "none"), action=row.get("action", "reply"),
                   completion_tokens=row.get("completion_tokens"))


_RECORD_FIELDS = [c.name for c in inference_table.columns]


class InferenceLog(ABC):
    """Append-only request records for monitoring; ids are unique (a request id)."""

    what = "inference log"

    def record(self, *, id: str, text: str, output_chars: int, latency_ms: float, model: str = "",
               risk_level: str = "none", action: str = "reply", completion_tokens: int | None = None,
               at: datetime | str | None = None) -> InferenceRecord:
        what = "inference record"
        _text(what, "id", id)
        if not isinstance(text, str):
            raise UserError(f"{what} {id!r}: text must be a string (the monitor measures drift on it)")
        if not isinstance(output_chars, int) or output_chars < 0:
            raise UserError(f"{what} {id!r}: output_chars must be an integer >= 0, got {output_chars!r}")
        if not isinstance(latency_ms, (int, float)) or latency_ms < 0:
            raise UserError(f"{what} {id!r}: latency_ms must be a number >= 0, got {latency_ms!r}")
        _check(f"{what} {id!r}", "risk_level", risk_level, RISK_LEVELS)
        _check(f"{what} {id!r}", "action", action, ACTIONS)
        rec = InferenceRecord(id=id, at=_utc(at), model=str(model)[:200], text=text, output_chars=output_chars,
                              latency_ms=float(latency_ms), risk_level=risk_level, action=action,
                              completion_tokens=completion_tokens)
        self._insert(rec)
        return rec

    def record_rows(self, rows: Iterable[dict[str, Any]]) -> int:
        """Record rows as `empathy deploy` writes them to inference_log.jsonl; returns the count."""
        n = 0
        for row in rows:
            rec = InferenceRecord.from_log_row(row)
            self.record(**asdict(rec))
            n += 1
        return n

    def _duplicate(self, id: str) -> UserError:
        return UserError(f"{self.what} {display_url(self.url)}: a record with id {id!r} already exists")

    @abstractmethod
    def _insert(self, rec: InferenceRecord) -> None: ...

    @abstractmethod
    def records(self, *, since: datetime | str | None = None, until: datetime | str | None = None,
                model: str | None = None) -> list[InferenceRecord]:
        """Records with since <= at < until (either open), of one model if given, oldest first."""

    @abstractmethod
    def purge_before(self, at: datetime | str) -> int:
        """Delete records older than `at` (retention); returns how many."""

    @abstractmethod
    def close(self) -> None: ...

    def export_jsonl(self, path: str | Path, *, since: datetime | str | None = None,
                     until: datetime | str | None = None, model: str | None = None) -> int:
        """Write the records as inference_log.jsonl, the file `empathy monitor --inference-log` reads."""
        return write_jsonl(path, (r.to_log_row() for r in self.records(since=since, until=until, model=model)))

    def __enter__(self) -> "InferenceLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class SqlInferenceLog(InferenceLog):
    def __init__(self, url: str):
        self.url = url
        self.engine = _sql_engine(url, self.what)

    def _insert(self, rec: InferenceRecord) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(inference_table.insert().values(**asdict(rec)))
        except sa.exc.IntegrityError:
            raise self._duplicate(rec.id) from None
        except sa.exc.OperationalError as exc:
            raise StoreUnavailable(f"{self.what} {display_url(self.url)}: {exc.orig}") from None

    def records(self, *, since=None, until=None, model=None) -> list[InferenceRecord]:
        t = inference_table.c
        query = sa.select(inference_table).order_by(t.at, t.id)
        if since is not None:
            query = query.where(t.at >= _utc(since))
        if until is not None:
            query = query.where(t.at < _utc(until))
        if model is not None:
            query = query.where(t.model == model)
        with self.engine.connect() as conn:
            return [InferenceRecord(**dict(r)) for r in conn.execute(query).mappings()]

    def purge_before(self, at) -> int:
        with self.engine.begin() as conn:
            return conn.execute(inference_table.delete().where(inference_table.c.at < _utc(at))).rowcount

    def close(self) -> None:
        self.engine.dispose()


class MongoInferenceLog(InferenceLog):
    """Records in `inference_log`, the request id as _id so that a duplicate is refused by the server."""

    def __init__(self, url: str, timeout_s: float = CONNECT_TIMEOUT_S):
        self.url = url
        self._m = _Mongo(url, self.what, timeout_s)
        self.col = self._m.db["inference_log"]
        with self._m.guard():
            self.col.create_index([("at", 1)])
            self.col.create_index([("model", 1)])

    def _insert(self, rec: InferenceRecord) -> None:
        doc = asdict(rec)
        doc["_id"] = doc.pop("id")
        with self._m.guard():
            try:
                self.col.insert_one(doc)
            except self._m.errors.DuplicateKeyError:
                raise self._duplicate(rec.id) from None

    def records(self, *, since=None, until=None, model=None) -> list[InferenceRecord]:
        query: dict[str, Any] = {}
        bounds = {}
        if since is not None:
            bounds["$gte"] = _utc(since)
        if until is not None:
            bounds["$lt"] = _utc(until)
        if bounds:
            query["at"] = bounds
        if model is not None:
            query["model"] = model
        with self._m.guard():
            docs = list(self.col.find(query))
        out = [InferenceRecord(id=d["_id"], **{k: d.get(k) for k in _RECORD_FIELDS if k != "id"}) for d in docs]
        return sorted(out, key=lambda r: (r.at, r.id))

    def purge_before(self, at) -> int:
        with self._m.guard():
            return self.col.delete_many({"at": {"$lt": _utc(at)}}).deleted_count

    def close(self) -> None:
        self._m.close()


def inference_log_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get(INFERENCE_LOG_URL_ENV) or DEFAULT_INFERENCE_LOG_URL


def open_inference_log(url: str | None = None, *, timeout_s: float = CONNECT_TIMEOUT_S) -> InferenceLog:
    """`sqlite:///path` (default, also any SQLAlchemy URL) or `mongodb://host:port/db`."""
    url = inference_log_url(url)
    if _scheme(url) in ("mongodb", "mongodb+srv"):
        return MongoInferenceLog(url, timeout_s)
    if _scheme(url) in ("sqlite", "postgresql"):
        return SqlInferenceLog(url)
    raise UserError(f"inference log URL {display_url(url)!r}: unsupported; use sqlite:///path, "
                    "postgresql+psycopg://user@host/db or mongodb://host:port/db")


# ---------------------------------------------------------------------------------------------------------------
# Rate limits


class RateLimiter(ABC):
    """At most `limit` allowed requests per key in any `window_s` seconds; a refused request does not count."""

    what = "rate limiter"

    def __init__(self, limit: int, window_s: float):
        if not isinstance(limit, int) or limit < 1:
            raise UserError(f"{self.what}: limit must be an integer >= 1, got {limit!r}")
        if not isinstance(window_s, (int, float)) or window_s <= 0:
            raise UserError(f"{self.what}: window_s must be > 0, got {window_s!r}")
        self.limit, self.window_s = limit, float(window_s)

    @abstractmethod
    def allow(self, key: str) -> tuple[bool, float]:
        """(True, 0.0) and the request counted, or (False, seconds until one more would be allowed)."""

    def close(self) -> None:
        return None


class MemoryRateLimiter(RateLimiter):
    """A sliding-window log per key in this process; `clock` (seconds, monotonic) can be injected for tests."""

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic):
        super().__init__(limit, window_s)
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._calls = 0

    def allow(self, key: str) -> tuple[bool, float]:
        with self._lock:
            now = self._clock()
            self._calls += 1
            if self._calls % 1024 == 0:
                self._sweep(now)
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window_s:
                hits.popleft()
            if len(hits) < self.limit:
                hits.append(now)
                return True, 0.0
            return False, hits[0] + self.window_s - now

    def _sweep(self, now: float) -> None:
        # keys seen once and never again would otherwise stay forever
        for key in [k for k, h in self._hits.items() if not h or h[-1] <= now - self.window_s]:
            del self._hits[key]


# KEYS[1]: the key's sorted set (members: one per allowed request, scored by microseconds).
# ARGV: limit, window in microseconds, a unique member suffix. The server's clock, so replicas agree (writes after
# TIME need Redis >= 5, which replicates a script's effects rather than the script).
_SLIDING_WINDOW_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, tostring(now) .. ':' .. ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
  return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tonumber(oldest[2]) + window - now}
"""


class RedisRateLimiter(RateLimiter):
    """The same sliding window in Redis, checked and recorded by one Lua script (atomic on the server)."""

    def __init__(self, url: str, limit: int, window_s: float, prefix: str = "empathy:ratelimit:",
                 timeout_s: float = CONNECT_TIMEOUT_S):
        super().__init__(limit, window_s)
        self.url, self.prefix = url, prefix
        self.client = _redis_client(url, self.what, timeout_s)
        self._script = self.client.register_script(_SLIDING_WINDOW_LUA)

    def allow(self, key: str) -> tuple[bool, float]:
        with _redis_guard(self.what, self.url):
            allowed, retry_us = self._script(keys=[self.prefix + key],
                                             args=[self.limit, int(self.window_s * 1_000_000), uuid.uuid4().hex])
        return bool(allowed), max(0.0, int(retry_us) / 1_000_000)

    def close(self) -> None:
        self.client.close()


def open_rate_limiter(url: str | None = None, *, limit: int, window_s: float,
                      timeout_s: float = CONNECT_TIMEOUT_S) -> RateLimiter:
    """`memory://` (default, one process) or `redis://host:port/n` (shared by every replica)."""
    url = url or os.environ.get(RATE_LIMIT_URL_ENV) or DEFAULT_MEMORY_URL
    if _scheme(url) == "memory":
        return MemoryRateLimiter(limit, window_s)
    if _scheme(url) in ("redis", "rediss", "unix"):
        return RedisRateLimiter(url, limit, window_s, timeout_s=timeout_s)
    raise UserError(f"rate limiter URL {display_url(url)!r}: unsupported; use memory:// or redis://host:port/db")


# ---------------------------------------------------------------------------------------------------------------
# Response cache


def cache_key(model: str, messages: list[dict[str, Any]], params: dict[str, Any] | None = None) -> str:
    """SHA-256 of canonical JSON of model, messages and generation parameters: equal requests, equal keys."""
    payload = {"model": model, "messages": messages, "params": params or {}}
    try:
        data = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    except TypeError as exc:
        raise UserError(f"response cache: request is not JSON-serialisable ({exc})") from None
    return hashlib.sha256(data.encode()).hexdigest()


class ResponseCache(ABC):
    """Responses (JSON-serialisable dicts) by `cache_key`, each kept for at most `ttl_s` seconds."""

    what = "response cache"

    def __init__(self, ttl_s: float):
        if not isinstance(ttl_s, (int, float)) or ttl_s <= 0:
            raise UserError(f"{self.what}: ttl_s must be > 0, got {ttl_s!r}")
        self.ttl_s = float(ttl_s)

    key = staticmethod(cache_key)

    def set(self, key: str, value: dict[str, Any], *, crisis: bool, ttl_s: float | None = None) -> bool:
        """Store `value`; returns False without storing when `crisis` is true (a crisis response, or any reply to
        an input the guard rated high risk, is never served from a cache)."""
        if crisis:
            self.delete(key)
            return False
        ttl = self.ttl_s if ttl_s is None else ttl_s
        if ttl <= 0:
            raise UserError(f"{self.what}: ttl_s must be > 0, got {ttl!r}")
        try:
            encoded = json.dumps(value, sort_keys=True, ensure_ascii=False)
        except TypeError as exc:
            raise UserError(f"{self.what}: value is not JSON-serialisable ({exc})") from None
        self._set(key, encoded, ttl)
        return True

    def get(self, key: str) -> dict[str, Any] | None:
        encoded = self._get(key)
        return None if encoded is None else json.loads(encoded)

    @abstractmethod
    def _set(self, key: str, encoded: str, ttl_s: float) -> None: ...

    @abstractmethod
    def _get(self, key: str) -> str | None: ...

    @abstractmethod
    def delete(self, key: str) -> None: ...

    def close(self) -> None:
        return None


class MemoryResponseCache(ResponseCache):
    """An LRU of at most `max_entries` in this process; `clock` can be injected for tests."""

    def __init__(self, ttl_s: float, max_entries: int = 1024, clock: Callable[[], float] = time.monotonic):
        super().__init__(ttl_s)
        if not isinstance(max_entries, int) or max_entries < 1:
            raise UserError(f"{self.what}: max_entries must be an integer >= 1, got {max_entries!r}")
        self.max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()

    def _set(self, key: str, encoded: str, ttl_s: float) -> None:
        with self._lock:
            self._entries[key] = (self._clock() + ttl_s, encoded)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def _get(self, key: str) -> str | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def delete(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)


class RedisResponseCache(ResponseCache):
    """SET with PX: Redis expires entries itself; eviction beyond memory is the server's maxmemory policy."""

    def __init__(self, url: str, ttl_s: float, prefix: str = "empathy:cache:", timeout_s: float = CONNECT_TIMEOUT_S):
        super().__init__(ttl_s)
        self.url, self.prefix = url, prefix
        self.client = _redis_client(url, self.what, timeout_s)

    def _set(self, key: str, encoded: str, ttl_s: float) -> None:
        with _redis_guard(self.what, self.url):
            self.client.set(self.prefix + key, encoded.encode(), px=max(1, int(ttl_s * 1000)))

    def _get(self, key: str) -> str | None:
        with _redis_guard(self.what, self.url):
            raw = self.client.get(self.prefix + key)
        return None if raw is None else raw.decode()

    def delete(self, key: str) -> None:
        with _redis_guard(self.what, self.url):
            self.client.delete(self.prefix + key)

    def close(self) -> None:
        self.client.close()


def open_response_cache(url: str | None = None, *, ttl_s: float = 300.0, max_entries: int = 1024,
                        timeout_s: float = CONNECT_TIMEOUT_S) -> ResponseCache:
    """`memory://` (default, an LRU of `max_entries`) or `redis://host:port/n`."""
    url = url or os.environ.get(CACHE_URL_ENV) or DEFAULT_MEMORY_URL
    if _scheme(url) == "memory":
        return MemoryResponseCache(ttl_s, max_entries)
    if _scheme(url) in ("redis", "rediss", "unix"):
        return RedisResponseCache(url, ttl_s, timeout_s=timeout_s)
    raise UserError(f"response cache URL {display_url(url)!r}: unsupported; use memory:// or redis://host:port/db")
