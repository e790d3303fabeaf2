"""The serving audit log: who asked what, when, what was decided and by which model, for every request.

Clinical use needs an answer to "what did the system tell this person, and
why" that survives a dispute, while the conversation itself is health data
that must not be copied into logs. So each request appends one row with the
caller (subject and role), the route, the decision (`reply`,
`crisis_response`, `filtered`, `denied`, ...), the risk level, the model as
name@version, the request id, HTTP status and latency, and only the SHA-256 of
the message content: a transcript kept elsewhere (encrypted) can be matched to
its row, but the row reveals nothing of it.

Rows are append-only and hash-chained (empathy.hashchain, shared with the
review queue): each row's hash covers its fields, its seq and the previous
row's hash, and a one-row head table holds the last seq and hash. `verify`
walks the chain and names the first bad entry when a row was changed,
deleted (in the middle or at the end) or reordered. With a key
(EMPATHY_AUDIT_KEY) the links are HMACs, so rewriting the whole chain after
an edit needs the key too; without one, the chain catches edits that did not
re-hash (manual UPDATEs, partial restores). Publishing `head()` elsewhere
from time to time (a metric, a log line) anchors the chain against a
rewrite by someone holding the key, and against the last entries being cut
off together with a matching edit of the head row.

SQLite by default (`sqlite:///runs/serve/audit.db`), PostgreSQL in the
cluster (`postgresql+psycopg://...`); the URL comes from the caller, else
EMPATHY_AUDIT_URL. Appends are serialised (a table lock on PostgreSQL; on
SQLite a process lock and the database write lock taken up front with BEGIN
IMMEDIATE) so concurrent requests, threads or processes keep one linear
chain. One append is one short transaction: about 230-380 appends/s on a
SQLite file here (WAL, synchronous=FULL, one fsync each), about 540/s on
PostgreSQL; small beside a model reply.

`AuditMiddleware` (ASGI, for kserve's FastAPI app) writes the entry for every
request that passed authentication; `empathy.serve.auth.AuthMiddleware`
writes the `denied` ones.

    log = AuditLog("sqlite:///runs/serve/audit.db")
    log.append(actor="key:3f2a...", role="client", route="/openai/v1/chat/completions", action="reply",
               status=200, model="empathy-chat@3", risk_level="low", request_id=rid, latency_ms=84.2,
               content=messages)
    ok, message = log.verify()

    empathy audit verify [--url URL]        # exits 1 and names the first bad entry
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import sqlalchemy as sa

from empathy.errors import UserError
from empathy.hashchain import GENESIS, link_hash, serialize_appends
from empathy.safety.review import display_url
from empathy.safety.risk import RISK_LEVELS

_log = logging.getLogger(__name__)

DEFAULT_URL = "sqlite:///runs/serve/audit.db"
URL_ENV = "EMPATHY_AUDIT_URL"
KEY_ENV = "EMPATHY_AUDIT_KEY"

ACTIONS: tuple[str, ...] = (
    "reply",            # the model's reply was returned
    "crisis_response",  # the guard answered with the crisis response instead of the model
    "filtered",         # the model's reply was blocked or rewritten by the output filter
    "refused",          # the input was refused (e.g. prompt injection) before reaching the model
    "denied",           # authentication or authorisation failed (401/403)
    "error",            # the request failed
    "list",             # a read of metadata (models, audit entries)
    "verify",           # an audit verification
    "key_created",
    "key_revoked",
)
# "" for a caller that never authenticated (a 401)
_ROLES_OR_NONE = ("", "client", "therapist", "supervisor", "admin", "auditor")
# The hashed fields; seq is included so that renumbering or swapping rows breaks the chain.
HASHED = ("seq", "at", "actor", "role", "route", "action", "risk_level", "model", "request_id", "status",
          "latency_ms", "content_sha256")

_meta = sa.MetaData()
audit_table = sa.Table(
    "serve_audit", _meta,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("route", sa.String(200), nullable=False),
    sa.Column("action", sa.String(32), nullable=False, index=True),
    sa.Column("risk_level", sa.String(16), nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("request_id", sa.String(100), nullable=False, index=True),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)
head_table = sa.Table(
    "serve_audit_head", _meta,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Column("keyed", sa.Boolean, nullable=False),
)

# One lock per database within a process: threads of one server append in turn instead of
# colliding on the next seq and retrying.
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock_for(url: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(url, threading.Lock())


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    at: str
    actor: str
    role: str
    route: str
    action: str
    risk_level: str
    model: str
    request_id: str
    status: int
    latency_ms: float
    content_sha256: str
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def content_sha256(content: Any) -> str:
    """SHA-256 of the message content: the text's UTF-8 bytes, or canonical JSON for messages/structures."""
    if content is None:
        return ""
    if isinstance(content, bytes):
        data = content
    elif isinstance(content, str):
        data = content.encode()
    else:
        data = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()
    return hashlib.sha256(data).hexdigest()


def audit_url(explicit: str | None = None) -> str:
    """The audit log's URL: given explicitly, else $EMPATHY_AUDIT_URL (a Secret in the cluster), else the default."""
    return explicit or os.environ.get(URL_ENV) or DEFAULT_URL


def audit_key_from_env() -> bytes | None:
    value = os.environ.get(KEY_ENV, "").strip()
    return value.encode() if value else None


def make_engine(url: str, what: str) -> sa.Engine:
    """An engine for `url`, creating a SQLite file's folder; UserError for a URL that is not a database URL."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise UserError(f"{what} URL {url!r}: not a database URL (e.g. sqlite:///runs/serve/{what.split()[0]}.db "
                        f"or postgresql+psycopg://user@host/db)") from None
    kwargs: dict[str, Any] = {"future": True, "pool_pre_ping": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            # one shared connection, or each would see its own empty database
            kwargs.update(poolclass=sa.pool.StaticPool, connect_args={"check_same_thread": False})
        else:
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
    try:
        return sa.create_engine(url, **kwargs)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise UserError(f"{what} URL {display_url(url)}: {exc}") from None


def create_tables(meta: sa.MetaData, engine: sa.Engine, what: str) -> None:
    """Create missing tables; a second process creating them at the same moment is not an error."""
    for attempt in range(3):
        try:
            meta.create_all(engine)
            return
        except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.IntegrityError) as exc:
            if "already exists" in str(exc.orig) or "duplicate key" in str(exc.orig):
                continue  # lost a CREATE TABLE race: the next create_all sees the table and skips it
            raise UserError(f"{what} {display_url(str(engine.url))}: cannot connect ({exc.orig})") from None
    raise UserError(f"{what} {display_url(str(engine.url))}: could not create its tables")


def _check(name: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        shown = ", ".join(repr(a) for a in allowed)
        raise UserError(f"audit entry: {name} {value!r} is not one of {shown}")
    return value


class AuditLog:
    """An append-only, hash-chained log of serving requests in a SQLAlchemy database."""

    def __init__(self, url: str | None = None, *, key: bytes | None = None):
        self.url = audit_url(url)
        self.key = key
        self.engine = make_engine(self.url, "audit log")
        self._write_engine = self.engine
        if self.engine.dialect.name == "sqlite":
            if self.engine.url.database not in (None, "", ":memory:"):
                # WAL lets `verify` and readers run while requests append
                listen_sqlite_wal(self.engine)
                self._write_engine = make_engine(self.url, "audit log")
                listen_sqlite_wal(self._write_engine)
            # Appends take SQLite's write lock before reading the head (BEGIN IMMEDIATE), so writers in other
            # processes wait their turn instead of reading the same head and colliding on the next seq.
            sa.event.listen(self._write_engine, "connect", _sqlite_driver_transactions_off)
            sa.event.listen(self._write_engine, "begin", _sqlite_begin_immediate)
        self._lock = _lock_for(self.url)
        with self._lock:
            create_tables(_meta, self.engine, "audit log")

    def close(self) -> None:
        self.engine.dispose()
        self._write_engine.dispose()

    def __enter__(self) -> "AuditLog":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writes -----------------------------------------------------------
    def append(self, *, actor: str, role: str, route: str, action: str, status: int, model: str = "",
               risk_level: str = "", request_id: str = "", latency_ms: float = 0.0, content: Any = None,
               content_hash: str | None = None, at: datetime | None = None) -> AuditEntry:
        """Append one entry; `content` (text or messages) is hashed here and never stored."""
        _check("action", action, ACTIONS)
        _check("role", role, _ROLES_OR_NONE)
        _check("risk_level", risk_level, ("", *RISK_LEVELS))
        if not isinstance(status, int) or not 100 <= status <= 599:
            raise UserError(f"audit entry: status {status!r} is not an HTTP status code")
        if not actor or not route:
            raise UserError("audit entry: actor and route are required (use 'anonymous' for a caller without "
                            "credentials)")
        if content is not None and content_hash is not None:
            raise UserError("audit entry: give the content or its hash, not both")
        sha = content_hash if content_hash is not None else content_sha256(content)
        if sha and (len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha)):
            raise UserError(f"audit entry: content_hash {sha!r} is not a lowercase hex SHA-256")
        when = (at or datetime.now(timezone.utc)).astimezone(timezone.utc)
        fields = {"at": when.isoformat(timespec="microseconds"), "actor": str(actor)[:200], "role": role,
                  "route": str(route)[:200], "action": action, "risk_level": risk_level, "model": str(model)[:200],
                  "request_id": str(request_id)[:100], "status": status,
                  "latency_ms": round(float(latency_ms), 3), "content_sha256": sha}
        with self._lock:
            for attempt in range(5):
                try:
                    return self._append(fields)
                except (sa.exc.IntegrityError, sa.exc.OperationalError):
                    # another process took the same seq (or held SQLite's write lock): read the new head, retry
                    if attempt == 4:
                        raise
                    time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    def _append(self, fields: dict[str, Any]) -> AuditEntry:
        with self._write_engine.begin() as conn:
            serialize_appends(conn, "serve_audit")
            head = conn.execute(sa.select(head_table).where(head_table.c.id == 1)).mappings().first()
            if head is not None and bool(head["keyed"]) != bool(self.key):
                raise UserError(self._key_mismatch(bool(head["keyed"])))
            seq = (head["seq"] if head else 0) + 1
            prev = head["hash"] if head else GENESIS
            row = {"seq": seq, **fields, "prev_hash": prev}
            row["hash"] = link_hash(prev, {k: row[k] for k in HASHED}, self.key)
            conn.execute(audit_table.insert().values(**row))
            if head is None:
                conn.execute(head_table.insert().values(id=1, seq=seq, hash=row["hash"], keyed=bool(self.key)))
            else:
                conn.execute(head_table.update().where(head_table.c.id == 1).values(seq=seq, hash=row["hash"]))
        return AuditEntry(**row)

    def _key_mismatch(self, keyed: bool) -> str:
        if keyed:
            return (f"audit log {display_url(self.url)} is HMAC-chained: set {KEY_ENV} to the key it was "
                    f"written with")
        return (f"audit log {display_url(self.url)} was written without a key: unset {KEY_ENV}, or start a new log "
                f"for a keyed chain")

    # -- reads ------------------------------------------------------------
    def entries(self, *, actor: str | None = None, request_id: str | None = None, since_seq: int = 0,
                limit: int | None = None) -> list[AuditEntry]:
        query = sa.select(audit_table).where(audit_table.c.seq > since_seq).order_by(audit_table.c.seq)
        if actor:
            query = query.where(audit_table.c.actor == actor)
        if request_id:
            query = query.where(audit_table.c.request_id == request_id)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            return [AuditEntry(**row) for row in conn.execute(query).mappings()]

    def _iter_all(self) -> Iterator[AuditEntry]:
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=2000).execute(sa.select(audit_table).order_by(audit_table.c.seq))
            for row in result.mappings():
                yield AuditEntry(**row)

    def head(self) -> tuple[int, str]:
        """(last seq, its hash): publish it elsewhere to anchor the chain."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(head_table.c.seq, head_table.c.hash).where(head_table.c.id == 1)).first()
        return (row.seq, row.hash) if row else (0, GENESIS)

    def verify(self) -> tuple[bool, str]:
        """Walk the chain; (False, message naming the first bad seq) when a row was changed, deleted or reordered."""
        with self.engine.connect() as conn:
            head = conn.execute(sa.select(head_table).where(head_table.c.id == 1)).mappings().first()
        if head is not None and bool(head["keyed"]) != bool(self.key):
            return False, self._key_mismatch(bool(head["keyed"]))
        prev, expected, count = GENESIS, 1, 0
        for entry in self._iter_all():
            if entry.seq != expected:
                gone = "" if entry.seq == expected + 1 else f"; entries seq {expected} to {entry.seq - 1} are absent"
                return False, f"audit entry seq {expected}: missing (deleted{gone}; the next entry is seq {entry.seq})"
            if entry.prev_hash != prev:
                return False, (f"audit entry seq {entry.seq}: chain broken (it does not follow seq {entry.seq - 1}: "
                               f"an entry was changed, deleted or reordered)")
            if link_hash(prev, {k: getattr(entry, k) for k in HASHED}, self.key) != entry.hash:
                return False, f"audit entry seq {entry.seq}: contents changed after it was written"
            prev, expected, count = entry.hash, expected + 1, count + 1
        if head is None:
            if count:
                return False, ("audit log head is missing (the head row was deleted); the last entries cannot be "
                               "vouched for")
            return True, "0 audit entries, chain intact"
        if head["seq"] > count:
            return False, (f"audit entry seq {count + 1}: missing (deleted; the log's head records {head['seq']} "
                           f"entries, the table ends at seq {count})")
        if head["seq"] < count or head["hash"] != prev:
            return False, (f"audit entry seq {count}: does not match the log's head (seq {head['seq']}): the last "
                           f"entries were rewritten or the head was changed")
        return True, f"{count} audit entries, chain intact (head seq {count}, hash {prev[:12]})"


def listen_sqlite_wal(engine: sa.Engine, synchronous: str = "FULL") -> None:
    """Every connection of a SQLite-file engine in WAL mode with this `synchronous` level (FULL: one fsync a
    commit, SQLite's default; NORMAL: none, a commit survives the process crashing but not a power loss)."""
    def on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.close()

    sa.event.listen(engine, "connect", on_connect)


def _sqlite_driver_transactions_off(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # pysqlite would otherwise issue its own deferred BEGIN


def _sqlite_begin_immediate(conn: sa.Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


_CHAT_ROUTES = ("/openai/v1/chat/completions", "/v1/models/{name}:predict", "/v2/models/{name}/infer",
                "/v2/models/{name}/versions/{version}/infer")


class AuditMiddleware:
    """ASGI middleware: one audit entry for every request that reached the app (denials are logged by AuthMiddleware).

    A route handler says what it decided by setting `request.state.audit` to a dict with any of `action`,
    `model`, `risk_level`, `content` (hashed here, never stored) or `content_hash`; the middleware adds the
    caller (`request.state.principal`, set by AuthMiddleware), the route, status, latency and request id
    (X-Request-ID, else a new one, also given to the handler as `request.state.request_id`). Without a
    recorded action: `error` for a status of 400 and above, `reply` on a chat route, `list` elsewhere.
    Public routes (probes, /metrics) are not logged: they are machines polling, not requests about anyone.

    Add it before AuthMiddleware (`app.add_middleware(AuditMiddleware, log=...)`, then AuthMiddleware), so
    that authentication runs first.
    """

    def __init__(self, app, log: AuditLog):
        self.app = app
        self.log = log

    async def __call__(self, scope, receive, send):
        from empathy.serve.auth import guarded_route

        route = guarded_route(scope)
        if route is None:
            return await self.app(scope, receive, send)
        path, template = route
        import uuid

        import anyio.to_thread

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        state = scope.setdefault("state", {})
        state["request_id"] = request_id = (headers.get("x-request-id") or uuid.uuid4().hex)[:100]
        status = 500
        started = time.perf_counter()

        async def send_and_watch(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            record = dict(state.get("audit") or {})
            principal = state.get("principal")
            action = record.pop("action", None) or (
                "error" if status >= 400 else "reply" if template in _CHAT_ROUTES else "list")
            entry = dict(actor=getattr(principal, "subject", "anonymous"), role=getattr(principal, "role", ""),
                         route=template or path[:200], action=action, status=status, request_id=request_id,
                         latency_ms=(time.perf_counter() - started) * 1000, **record)
            try:
                await anyio.to_thread.run_sync(lambda: self.log.append(**entry))
            except Exception as exc:  # the reply is already sent; say so loudly without the content
                _log.error("audit append failed for request %s on %s: %s", request_id, template or path,
                           type(exc).__name__)
                raise


def verify_audit(url: str | None = None) -> tuple[bool, str]:
    """For `empathy audit verify`: (ok, message) for the log at `url` (else $EMPATHY_AUDIT_URL, else the default).

    The key, when the log is HMAC-chained, comes from $EMPATHY_AUDIT_KEY.
    """
    resolved = audit_url(url)
    parsed = sa.engine.make_url(resolved) if "://" in resolved else None
    if parsed is not None and parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") \
            and not Path(parsed.database).exists():
        raise UserError(f"audit log {display_url(resolved)}: no such database file (set --url or {URL_ENV})")
    with AuditLog(resolved, key=audit_key_from_env()) as log:
        return log.verify()
