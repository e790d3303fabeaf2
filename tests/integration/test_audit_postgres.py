"""The serving audit log and API key store on a real PostgreSQL (as in the cluster), started on loopback.

The same tamper and concurrency checks as tests/unit/test_audit.py; on
PostgreSQL the chain stays linear through the table lock in
empathy.hashchain.serialize_appends, across separate engines (as separate
server pods would be).
"""

from __future__ import annotations

import itertools
import threading

import pytest

import empathy.serve.audit as audit
from empathy.serve.audit import AuditLog
from empathy.serve.auth import AuthError, Authenticator, KeyStore, create_key, revoke_key
from tests.services import postgres
from tests.unit.test_audit import add, exercise_concurrency, exercise_tampering

pytestmark = pytest.mark.integration

_names = itertools.count()


@pytest.fixture(scope="module")
def pg():
    with postgres() as handle:
        yield handle


def test_tampering_is_detected_on_postgres(pg):
    exercise_tampering(lambda name: pg.create_database(f"audit_tamper_{next(_names)}"))


def test_concurrent_appends_keep_one_chain_on_postgres(pg, monkeypatch):
    # no shared process lock: only PostgreSQL's table lock orders the writers, as across pods
    monkeypatch.setattr(audit, "_lock_for", lambda url: threading.Lock())
    exercise_concurrency(pg.create_database("audit_concurrent"), threads=8, per_thread=25)


def test_entries_round_trip_exactly_on_postgres(pg):
    url = pg.create_database("audit_roundtrip")
    with AuditLog(url) as log:
        add(log, 0, latency_ms=12.3456789)
        entry = log.entries()[0]
        assert entry.latency_ms == 12.346 and entry.status == 200
        assert log.verify() == (True, f"1 audit entries, chain intact (head seq 1, hash {entry.hash[:12]})")


def test_api_keys_on_postgres(pg):
    url = pg.create_database("auth_keys")
    key = create_key("auditor", url, subject="aud-1")
    with KeyStore(url) as store:
        auth = Authenticator(store)
        assert auth.authenticate({"X-API-Key": key}).role == "auditor"
        revoke_key(key.split("_")[1], url)
        with pytest.raises(AuthError, match="revoked"):
            auth.authenticate({"X-API-Key": key})
