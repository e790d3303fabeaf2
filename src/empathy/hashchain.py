"""Hash chains for append-only audit tables (the review queue's and the serving audit log).

An entry's hash covers the previous entry's hash and the entry's own fields,
so changing, deleting or reordering a stored row breaks the chain from that
row on. With a key the link is an HMAC: someone who can write to the database
but does not hold the key cannot recompute a consistent chain after editing
it. Without a key the chain catches edits made without re-hashing (a manual
UPDATE, a restored partial backup), not a deliberate rewrite of the whole log.

The JSON encoding (sorted keys, ASCII escapes) is part of the stored hashes:
changing it invalidates every existing chain.

    from empathy.hashchain import GENESIS, link_hash, serialize_appends
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import sqlalchemy as sa

GENESIS = "0" * 64


def link_hash(prev_hash: str, fields: dict[str, Any], key: bytes | None = None) -> str:
    """The hash of one chain entry: sha256 (or HMAC-SHA256 with `key`) of prev_hash and the fields as JSON."""
    message = (prev_hash + json.dumps(fields, sort_keys=True)).encode()
    if key:
        return hmac.new(key, message, hashlib.sha256).hexdigest()
    return hashlib.sha256(message).hexdigest()


def serialize_appends(conn: sa.Connection, table_name: str) -> None:
    """On PostgreSQL, hold a lock until commit so that one writer at a time reads the last hash and appends.

    SHARE ROW EXCLUSIVE conflicts with itself but not with readers, so verifying
    and listing are not blocked. SQLite has no table locks: there the caller's
    transaction must take the database write lock before it reads the last hash
    (BEGIN IMMEDIATE, as empathy.serve.audit does), or two writers can read the
    same last hash.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text(f'LOCK TABLE "{table_name}" IN SHARE ROW EXCLUSIVE MODE'))
