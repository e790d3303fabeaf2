"""The serving audit log: hash chain, tamper detection naming the first bad seq, no plaintext content, threads.

`exercise_tampering` and `exercise_concurrency` take a URL factory so the
PostgreSQL integration test runs the same checks on a real server.
"""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime, timezone
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import pytest
import sqlalchemy as sa
from fastapi import FastAPI, HTTPException, Request
from starlette.testclient import TestClient

from empathy.errors import UserError
from empathy.serve.audit import AuditLog, AuditMiddleware, content_sha256, verify_audit
from empathy.serve.auth import Authenticator, AuthMiddleware, KeyStore

SECRET_TEXT = "I keep thinking about the bridge on Elm Street"


def add(log: AuditLog, i: int, **overrides) -> None:
    fields = dict(actor=f"client-{i % 3}", role="client", route="/openai/v1/chat/completions", action="reply",
                  status=200, model="empathy-chat@3", risk_level="low", request_id=f"req-{i}", latency_ms=10.5 + i,
                  content=[{"role": "user", "content": f"{SECRET_TEXT} #{i}"}])
    log.append(**(fields | overrides))


def filled(url: str, n: int = 6, key: bytes | None = None) -> AuditLog:
    log = AuditLog(url, key=key)
    for i in range(n):
        add(log, i)
    return log


def execute(url: str, statement: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(statement))
    engine.dispose()


TAMPERS = {
    # name: (statements, seq the message must name, phrase in the message)
    "changed decision": (["UPDATE serve_audit SET action = 'filtered' WHERE seq = 3"], 3, "contents changed"),
    "changed actor": (["UPDATE serve_audit SET actor = 'someone-else' WHERE seq = 5"], 5, "contents changed"),
    "deleted middle row": (["DELETE FROM serve_audit WHERE seq = 4"], 4, "missing"),
    "deleted last row": (["DELETE FROM serve_audit WHERE seq = 6"], 6, "missing"),
    "deleted first row": (["DELETE FROM serve_audit WHERE seq = 1"], 1, "missing"),
    "renumbered row": (["UPDATE serve_audit SET seq = 100 WHERE seq = 2",
                        "UPDATE serve_audit SET seq = 2 WHERE seq = 3",
                        "UPDATE serve_audit SET seq = 3 WHERE seq = 100"], 2, "chain broken"),
    "swapped contents": (["UPDATE serve_audit SET seq = -2 WHERE seq = 2",
                          "UPDATE serve_audit SET seq = -3 WHERE seq = 3",
                          "UPDATE serve_audit SET seq = 2 WHERE seq = -3",
                          "UPDATE serve_audit SET seq = 3 WHERE seq = -2"], 2, "chain broken"),
    "rewritten last row, re-hashed without the head": (
        ["UPDATE serve_audit SET status = 500 WHERE seq = 6"], 6, "contents changed"),
}


def exercise_tampering(make_url: Callable[[str], str]) -> None:
    for name, (statements, seq, phrase) in TAMPERS.items():
        url = make_url(name)
        with filled(url) as log:
            ok, message = log.verify()
            assert ok, message
            for statement in statements:
                execute(url, statement)
            ok, message = log.verify()
            assert not ok, name
            assert f"seq {seq}:" in message and phrase in message, (name, message)


def exercise_concurrency(url: str, threads: int = 8, per_thread: int = 25) -> None:
    def writer(t: int) -> None:
        with AuditLog(url) as own:  # its own pool, as separate server workers would have
            for i in range(per_thread):
                add(own, t * 1000 + i)

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(writer, range(threads)))
    with AuditLog(url) as log:
        entries = log.entries()
        assert [e.seq for e in entries] == list(range(1, threads * per_thread + 1))
        assert len({e.request_id for e in entries}) == threads * per_thread
        ok, message = log.verify()
        assert ok, message


def sqlite_url(tmp_path, name: str = "audit") -> str:
    return f"sqlite:///{tmp_path / (name.replace(' ', '_').replace(',', '') + '.db')}"


def test_intact_chain_verifies_and_links(tmp_path):
    with filled(sqlite_url(tmp_path)) as log:
        entries = log.entries()
        assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6]
        assert entries[0].prev_hash == "0" * 64
        assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:]))
        assert log.head() == (6, entries[-1].hash)
        ok, message = log.verify()
    assert ok and message.startswith("6 audit entries, chain intact")


def test_empty_log_verifies(tmp_path):
    with AuditLog(sqlite_url(tmp_path)) as log:
        assert log.verify() == (True, "0 audit entries, chain intact")


def test_every_kind_of_tampering_names_the_first_bad_seq(tmp_path):
    exercise_tampering(lambda name: sqlite_url(tmp_path, name))


def test_deleting_the_head_row_is_detected(tmp_path):
    url = sqlite_url(tmp_path)
    with filled(url) as log:
        execute(url, "DELETE FROM serve_audit_head")
        ok, message = log.verify()
    assert not ok and "head is missing" in message


def test_tail_deletion_with_head_rolled_back_is_caught_by_the_head_hash(tmp_path):
    url = sqlite_url(tmp_path)
    with filled(url) as log:
        fifth = log.entries()[4]
        execute(url, "DELETE FROM serve_audit WHERE seq = 6")
        execute(url, f"UPDATE serve_audit_head SET seq = 5, hash = '{'f' * 64}'")
        ok, message = log.verify()
        assert not ok and "seq 5:" in message and "head" in message
        execute(url, f"UPDATE serve_audit_head SET hash = '{fifth.hash}'")
        # both rolled back consistently: an unkeyed chain cannot tell (why the key and head anchoring exist)
        assert log.verify()[0]


def test_content_is_hashed_never_stored(tmp_path):
    url = sqlite_url(tmp_path)
    messages = [{"role": "user", "content": SECRET_TEXT}]
    with AuditLog(url) as log:
        entry = log.append(actor="client-1", role="client", route="/openai/v1/chat/completions",
                           action="crisis_response", status=200, model="empathy-chat@3", risk_level="imminent",
                           request_id="r1", content=messages)
    assert entry.content_sha256 == content_sha256(messages) != content_sha256([{"role": "user", "content": "x"}])
    data = (tmp_path / "audit.db").read_bytes() + b"".join(p.read_bytes() for p in tmp_path.glob("audit.db-*"))
    assert b"Elm Street" not in data and b"bridge" not in data
    assert entry.content_sha256.encode() in data  # the hash is what lands on disk


def test_audit_roles_are_the_auth_roles():
    from empathy.serve import audit, auth

    assert set(audit._ROLES_OR_NONE) == {"", *auth.ROLES}


def test_a_gap_of_several_entries_is_named_from_its_first(tmp_path):
    url = sqlite_url(tmp_path)
    with filled(url) as log:
        execute(url, "DELETE FROM serve_audit WHERE seq IN (2, 3, 4)")
        assert log.verify() == (False, "audit entry seq 2: missing (deleted; entries seq 2 to 4 are absent; "
                                       "the next entry is seq 5)")


def test_content_sha256_of_text_is_plain_sha256():
    assert content_sha256("hello") == hashlib.sha256(b"hello").hexdigest()
    assert content_sha256(None) == ""


@pytest.mark.parametrize("overrides, phrase", [
    ({"action": "chatted"}, "action 'chatted' is not one of"),
    ({"role": "superuser"}, "role 'superuser' is not one of"),
    ({"risk_level": "severe"}, "risk_level 'severe' is not one of"),
    ({"status": 42}, "status 42 is not an HTTP status code"),
    ({"actor": ""}, "actor and route are required"),
    ({"content": None, "content_hash": "abc"}, "not a lowercase hex SHA-256"),
    ({"content_hash": "a" * 64}, "give the content or its hash, not both"),
])
def test_bad_entries_are_refused_with_a_clear_error(tmp_path, overrides, phrase):
    with AuditLog(sqlite_url(tmp_path)) as log:
        with pytest.raises(UserError, match=phrase):
            add(log, 0, **overrides)
        assert log.entries() == []


def test_keyed_chain_needs_the_key(tmp_path):
    url = sqlite_url(tmp_path)
    with filled(url, key=b"k" * 32) as log:
        assert log.verify()[0]
    with AuditLog(url) as unkeyed:
        ok, message = unkeyed.verify()
        assert not ok and "HMAC-chained" in message and "EMPATHY_AUDIT_KEY" in message
        with pytest.raises(UserError, match="HMAC-chained"):
            add(unkeyed, 99)
    with AuditLog(url, key=b"w" * 32) as wrong:
        ok, message = wrong.verify()
        assert not ok and "seq 1: contents changed" in message


def test_keyed_chain_differs_from_unkeyed(tmp_path):
    at = datetime(2026, 12, 1, tzinfo=timezone.utc)
    with AuditLog(sqlite_url(tmp_path, "a"), key=b"k" * 32) as keyed, AuditLog(sqlite_url(tmp_path, "b")) as plain:
        add(keyed, 0, at=at)
        add(plain, 0, at=at)
        k, p = keyed.entries()[0], plain.entries()[0]
    assert (k.at, k.content_sha256) == (p.at, p.content_sha256)
    assert k.hash != p.hash


def test_threads_appending_keep_one_linear_chain(tmp_path):
    exercise_concurrency(sqlite_url(tmp_path))


def test_one_shared_log_across_threads(tmp_path):
    with AuditLog(sqlite_url(tmp_path)) as log:
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda i: add(log, i), range(200)))
        assert [e.seq for e in log.entries()] == list(range(1, 201))
        assert log.verify()[0]


def test_verify_audit_for_the_cli(tmp_path, monkeypatch):
    url = sqlite_url(tmp_path)
    filled(url).close()
    monkeypatch.setenv("EMPATHY_AUDIT_URL", url)
    monkeypatch.delenv("EMPATHY_AUDIT_KEY", raising=False)
    assert verify_audit()[0]
    execute(url, "UPDATE serve_audit SET model = 'other@1' WHERE seq = 2")
    assert verify_audit(url) == (False, "audit entry seq 2: contents changed after it was written")
    with pytest.raises(UserError, match="no such database file"):
        verify_audit(sqlite_url(tmp_path, "absent"))
    with pytest.raises(UserError, match="not a database URL"):
        AuditLog("not a url")


def test_entries_filters(tmp_path):
    with filled(sqlite_url(tmp_path)) as log:
        assert [e.request_id for e in log.entries(actor="client-1")] == ["req-1", "req-4"]
        assert [e.seq for e in log.entries(request_id="req-2")] == [3]
        assert [e.seq for e in log.entries(since_seq=4, limit=1)] == [5]


def test_writers_without_a_shared_lock_still_keep_one_chain(tmp_path, monkeypatch):
    """Separate processes share no Python lock: SQLite's write lock and the seq key, with retries, keep it linear."""
    import empathy.serve.audit as audit

    monkeypatch.setattr(audit, "_lock_for", lambda url: threading.Lock())
    exercise_concurrency(sqlite_url(tmp_path), threads=6, per_thread=20)


def test_middleware_records_every_request_with_its_decision_and_no_content(tmp_path, caplog):
    caplog.set_level("DEBUG")
    keys = KeyStore(f"sqlite:///{tmp_path / 'auth.db'}")
    log = AuditLog(sqlite_url(tmp_path))
    app = FastAPI()

    @app.post("/openai/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        if not body.get("messages"):
            raise HTTPException(400, "messages required")
        request.state.audit = {"action": "crisis_response", "model": "empathy-chat@3", "risk_level": "imminent",
                               "content": body["messages"]}
        return {"id": request.state.request_id}

    @app.get("/openai/v1/models")
    def models():
        return {"data": []}

    @app.get("/v2/health/ready")
    def ready():
        return {"ready": True}

    app.add_middleware(AuditMiddleware, log=log)
    app.add_middleware(AuthMiddleware, authenticator=Authenticator(keys), audit=log)
    client_key, auditor_key = keys.create("client", subject="client-9"), keys.create("auditor", subject="aud-1")
    messages = [{"role": "user", "content": SECRET_TEXT}]
    with TestClient(app) as http:
        reply = http.post("/openai/v1/chat/completions", json={"messages": messages},
                          headers={"X-API-Key": client_key, "X-Request-ID": "req-abc"})
        assert reply.json() == {"id": "req-abc"}
        assert http.post("/openai/v1/chat/completions", json={}, headers={"X-API-Key": client_key}).status_code == 400
        assert http.get("/openai/v1/models", headers={"X-API-Key": auditor_key}).status_code == 200
        assert http.post("/openai/v1/chat/completions", json={"messages": messages},
                         headers={"X-API-Key": auditor_key}).status_code == 403
        assert http.get("/v2/health/ready").status_code == 200
    got = [(e.actor, e.role, e.route, e.action, e.status, e.model, e.risk_level) for e in log.entries()]
    assert got == [
        ("client-9", "client", "/openai/v1/chat/completions", "crisis_response", 200, "empathy-chat@3", "imminent"),
        ("client-9", "client", "/openai/v1/chat/completions", "error", 400, "", ""),
        ("aud-1", "auditor", "/openai/v1/models", "list", 200, "", ""),
        ("aud-1", "auditor", "/openai/v1/chat/completions", "denied", 403, "", ""),
    ]
    first = log.entries()[0]
    assert first.request_id == "req-abc" and first.content_sha256 == content_sha256(messages)
    assert first.latency_ms > 0
    assert log.verify()[0]
    data = b"".join(p.read_bytes() for p in tmp_path.glob("audit.db*"))
    assert b"Elm Street" not in data
    assert "denied 403" in caplog.text  # the denial is logged ...
    assert "Elm Street" not in caplog.text and client_key not in caplog.text  # ... without content or keys
    log.close()
    keys.close()
