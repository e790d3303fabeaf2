"""`empathy auth` and `empathy audit verify`: what an operator types, through the real CLI entry point."""

from __future__ import annotations

import sqlite3

from empathy.cli import main
from empathy.serve.audit import AuditLog
from empathy.serve.auth import KeyStore


def test_create_key_prints_only_a_key_that_authenticates_as_its_role(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    assert main(["auth", "create-key", "--role", "therapist", "--subject", "dr-lee", "--url", url]) == 0
    key = capsys.readouterr().out.strip()
    assert key.startswith("emp_") and "\n" not in key
    principal = KeyStore(url).authenticate(key)
    assert (principal.role, principal.subject) == ("therapist", "dr-lee")
    assert main(["auth", "list-keys", "--url", url]) == 0
    listed = capsys.readouterr().out
    assert "therapist" in listed and key.split("_", 2)[2] not in listed, "list-keys must never show the secret"


def test_revoked_keys_stop_working(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'auth.db'}"
    main(["auth", "create-key", "--role", "client", "--url", url])
    key = capsys.readouterr().out.strip()
    assert main(["auth", "revoke-key", key.split("_")[1], "--url", url]) == 0
    import pytest

    from empathy.serve.auth import AuthError

    with pytest.raises(AuthError):
        KeyStore(url).authenticate(key)


def test_audit_verify_exits_1_naming_the_changed_entry(tmp_path, capsys):
    db = tmp_path / "audit.db"
    log = AuditLog(f"sqlite:///{db}")
    for i in range(3):
        log.append(actor="key:a", role="client", route="/openai/v1/chat/completions", action="reply", status=200,
                   model="empathy-chat@3", risk_level="none", request_id=f"r{i}", content=f"message {i}")
    assert main(["audit", "verify", "--url", f"sqlite:///{db}"]) == 0
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE serve_audit SET action = 'crisis_response' WHERE seq = 2")
    assert main(["audit", "verify", "--url", f"sqlite:///{db}"]) == 1
    assert "seq 2" in capsys.readouterr().err


def test_guard_takes_the_arguments_kserve_gives_a_transformer(monkeypatch, capsys):
    """`empathy guard` parses KServe's transformer args (kserve.model_server's names) into serve_guard's call; the
    server itself runs in tests/integration/test_serve_transformer.py."""
    from empathy.serve import transformer

    calls = []
    monkeypatch.setattr(transformer, "serve_guard", lambda *a, **kw: calls.append((a, kw)))
    assert main(["guard", "--host", "0.0.0.0", "--model_name", "empathy-chat", "--predictor_host",
                 "empathy-chat-predictor.empathy-prod", "--http_port", "8080", "--protocol", "grpc-v2",
                 "--predictor_request_timeout_seconds", "30", "--rate-limit", "5"]) == 0
    (args, kw), = calls
    assert args == ("empathy-chat", "empathy-chat-predictor.empathy-prod")
    assert (kw["host"], kw["port"], kw["health_protocol"], kw["timeout_s"]) == ("0.0.0.0", 8080, "v2", 30)
    assert kw["settings"].auth is True and kw["settings"].rate_limit == 5

    assert main(["guard", "--model_name", "empathy-chat"]) == 2
    assert "--predictor_host is required" in capsys.readouterr().err
    assert main(["guard", "--predictor_host", "p:80", "--no-auth", "--host", "0.0.0.0"]) == 2
    assert "--no-auth is only allowed on a loopback host" in capsys.readouterr().err
