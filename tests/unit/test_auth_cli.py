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
    assert "therapist" in listed and key.split("_")[2] not in listed, "list-keys must never show the secret"


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
