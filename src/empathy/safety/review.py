"""The clinical review queue: high-risk training items wait here for a clinician's decision.

Every generated item in a very-high category, or rated high or imminent by
the risk detector, is submitted here as `pending`; the training-data export
takes such an item only when it is `approved` for exactly the content that
was reviewed (a regenerated text goes back to pending). Each action
(submitted, resubmitted, approved, rejected) is appended to an audit table
whose rows are hash-chained, so a changed or deleted audit row is detected.

SQLite by default; PostgreSQL in the cluster (`postgresql+psycopg://...`).
The URL comes from `--url`, else EMPATHY_REVIEW_URL, else the pipeline
config's `edge_cases.review.url`.

    empathy review list [--status pending] [--category suicidality]
    empathy review show ITEM_ID
    empathy review approve ITEM_ID --reviewer "Dr A. Okafor" [--note "..."]
    empathy review reject  ITEM_ID --reviewer "Dr A. Okafor" --note "method detail in turn 5"
    empathy review audit [--verify]
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa

from empathy.errors import UserError
from empathy.hashchain import GENESIS, link_hash, serialize_appends

Status = Literal["pending", "approved", "rejected"]
STATUSES: tuple[str, ...] = ("pending", "approved", "rejected")

_meta = sa.MetaData()
items_table = sa.Table(
    "review_items", _meta,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("category", sa.String(64), nullable=False, index=True),
    sa.Column("difficulty", sa.String(16), nullable=False),
    sa.Column("risk_level", sa.String(16), nullable=False),
    sa.Column("risk_categories", sa.JSON, nullable=False),
    sa.Column("flag_reasons", sa.JSON, nullable=False),
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("record", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("reviewer", sa.String(200)),
    sa.Column("decided_at", sa.String(40)),
    sa.Column("note", sa.Text),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("updated_at", sa.String(40), nullable=False),
)
audit_table = sa.Table(
    "review_audit", _meta,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("item_id", sa.String(200), nullable=False, index=True),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def content_sha256(record: dict[str, Any]) -> str:
    """The hash a decision is bound to: the dialogue turns and category, not bookkeeping fields."""
    body = {"category": record.get("category"), "turns": record.get("turns")}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _entry_hash(prev_hash: str, row: dict[str, Any]) -> str:
    fields = ("item_id", "action", "actor", "at", "status", "content_sha256", "note")
    return link_hash(prev_hash, {k: row[k] for k in fields})


@dataclass(frozen=True)
class ReviewItem:
    id: str
    category: str
    difficulty: str
    risk_level: str
    risk_categories: list[str]
    flag_reasons: list[str]
    content_sha256: str
    record: dict[str, Any]
    status: str
    reviewer: str | None
    decided_at: str | None
    note: str | None
    created_at: str
    updated_at: str

    def summary(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("record")
        return d

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    item_id: str
    action: str
    actor: str
    at: str
    status: str
    content_sha256: str
    note: str
    prev_hash: str
    hash: str


def queue_url(explicit: str | None, configured: str) -> str:
    """The queue's URL: given explicitly, else $EMPATHY_REVIEW_URL (a Secret in the cluster), else the config's."""
    return explicit or os.environ.get("EMPATHY_REVIEW_URL") or configured


def display_url(url: str) -> str:
    """The URL with its password hidden, for messages and logs: database, MongoDB (several hosts) and Redis URLs
    alike. Anything without a scheme is not shown at all."""
    if not isinstance(url, str) or not re.match(r"^[a-z][a-z0-9+.-]*://", url, flags=re.IGNORECASE):
        return "<unparseable URL>"
    # user:password@ up to the last "@" before the path, so an unencoded "@" in the password is hidden too
    return re.sub(r"^([a-z][a-z0-9+.-]*://[^:/@]*):[^/]*@", r"\1:***@", url, flags=re.IGNORECASE)


class ReviewQueue:
    def __init__(self, url: str):
        try:
            parsed = sa.engine.make_url(url)
        except sa.exc.ArgumentError:
            raise UserError(f"review queue URL {url!r}: not a database URL (e.g. sqlite:///runs/review.db)") from None
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        self.url = url
        self.engine = sa.create_engine(url, future=True, pool_pre_ping=True)
        try:
            _meta.create_all(self.engine)
        except sa.exc.OperationalError as exc:
            raise UserError(f"review queue {display_url(url)}: cannot connect ({exc.orig})") from None

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "ReviewQueue":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- writes -----------------------------------------------------------
    def _append_audit(self, conn: sa.Connection, item_id: str, action: str, actor: str, status: str, sha: str,
                      note: str) -> None:
        serialize_appends(conn, "review_audit")  # one writer at a time keeps the chain linear
        last = conn.execute(sa.select(audit_table.c.hash).order_by(audit_table.c.seq.desc()).limit(1)).scalar()
        row = {"item_id": item_id, "action": action, "actor": actor, "at": _now(), "status": status,
               "content_sha256": sha, "note": note, "prev_hash": last or GENESIS}
        row["hash"] = _entry_hash(row["prev_hash"], row)
        conn.execute(audit_table.insert().values(**row))

    def submit(self, record: dict[str, Any], *, risk_level: str, risk_categories: list[str], flag_reasons: list[str],
               actor: str = "pipeline") -> ReviewItem:
        """Queue an item for review; an unchanged item keeps its decision, a changed one goes back to pending."""
        item_id = str(record["id"])
        sha = content_sha256(record)
        now = _now()
        with self.engine.begin() as conn:
            existing = conn.execute(sa.select(items_table).where(items_table.c.id == item_id)).mappings().first()
            fields = {"category": record["category"], "difficulty": record["difficulty"], "risk_level": risk_level,
                      "risk_categories": list(risk_categories), "flag_reasons": list(flag_reasons), "record": record,
                      "content_sha256": sha, "updated_at": now}
            if existing is None:
                conn.execute(items_table.insert().values(id=item_id, status="pending", created_at=now, **fields))
                self._append_audit(conn, item_id, "submitted", actor, "pending", sha, ", ".join(flag_reasons))
            elif existing["content_sha256"] != sha:
                conn.execute(items_table.update().where(items_table.c.id == item_id).values(
                    status="pending", reviewer=None, decided_at=None, note=None, **fields))
                self._append_audit(conn, item_id, "resubmitted", actor, "pending", sha,
                                   f"content changed; previous status {existing['status']}")
        return self.get(item_id)

    def decide(self, item_id: str, decision: Status, reviewer: str, note: str = "") -> ReviewItem:
        if decision not in ("approved", "rejected"):
            raise UserError(f"review decision {decision!r}: must be approved or rejected")
        if not reviewer or not reviewer.strip():
            raise UserError("a review decision needs the reviewer's name (--reviewer)")
        if decision == "rejected" and not note.strip():
            raise UserError(f"rejecting {item_id}: say why (--note), so the next generation can be fixed")
        with self.engine.begin() as conn:
            existing = conn.execute(sa.select(items_table).where(items_table.c.id == item_id)).mappings().first()
            if existing is None:
                raise UserError(f"review item {item_id!r} not found in {display_url(self.url)}")
            now = _now()
            conn.execute(items_table.update().where(items_table.c.id == item_id).values(
                status=decision, reviewer=reviewer.strip(), decided_at=now, note=note, updated_at=now))
            self._append_audit(conn, item_id, decision, reviewer.strip(), decision, existing["content_sha256"], note)
        return self.get(item_id)

    # -- reads ------------------------------------------------------------
    def get(self, item_id: str) -> ReviewItem:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(items_table).where(items_table.c.id == item_id)).mappings().first()
        if row is None:
            raise UserError(f"review item {item_id!r} not found in {display_url(self.url)}")
        return ReviewItem(**row)

    def list(self, status: str | None = None, category: str | None = None) -> list[ReviewItem]:
        if status is not None and status not in STATUSES:
            raise UserError(f"review status {status!r}: must be one of {', '.join(STATUSES)}")
        query = sa.select(items_table).order_by(items_table.c.category, items_table.c.id)
        if status:
            query = query.where(items_table.c.status == status)
        if category:
            query = query.where(items_table.c.category == category)
        with self.engine.connect() as conn:
            return [ReviewItem(**row) for row in conn.execute(query).mappings()]

    def is_approved(self, item_id: str, sha: str) -> bool:
        """Approved for exactly this content."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(items_table.c.status, items_table.c.content_sha256)
                               .where(items_table.c.id == item_id)).first()
        return row is not None and row.status == "approved" and row.content_sha256 == sha

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(items_table.c.status, sa.func.count()).group_by(items_table.c.status)).all()
        return {status: 0 for status in STATUSES} | {status: n for status, n in rows}

    def audit(self, item_id: str | None = None) -> list[AuditEntry]:
        query = sa.select(audit_table).order_by(audit_table.c.seq)
        if item_id:
            query = query.where(audit_table.c.item_id == item_id)
        with self.engine.connect() as conn:
            return [AuditEntry(**row) for row in conn.execute(query).mappings()]

    def verify_audit(self) -> tuple[bool, str]:
        """Walk the hash chain; (False, what) at the first entry that was changed, removed or reordered."""
        prev = GENESIS
        entries = self.audit()
        for entry in entries:
            if entry.prev_hash != prev:
                return False, f"audit entry seq {entry.seq}: chain broken (an earlier entry was changed or deleted)"
            if _entry_hash(prev, asdict(entry)) != entry.hash:
                return False, f"audit entry seq {entry.seq}: contents changed after it was written"
            prev = entry.hash
        # An item's state must be what its last audit entry says: catches a removed final entry and a
        # status set directly in the database without a review action.
        last: dict[str, AuditEntry] = {e.item_id: e for e in entries}
        for item in self.list():
            entry = last.get(item.id)
            if entry is None or (entry.status, entry.content_sha256) != (item.status, item.content_sha256):
                return False, f"review item {item.id}: status {item.status!r} is not backed by its audit trail"
        return True, f"{len(entries)} audit entries, chain intact"
