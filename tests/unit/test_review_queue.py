"""The clinical review queue on SQLite (the default): states, content binding, audit chain, CLI.

The same behaviour on PostgreSQL is tested in tests/integration/test_review_postgres.py.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from empathy.cli import main
from empathy.errors import UserError
from empathy.safety.review import ReviewQueue, content_sha256


def record(item_id: str = "suicidality-000", text: str = "I wrote goodbye letters.", category: str = "suicidality"):
    return {"id": item_id, "category": category, "difficulty": "very_high",
            "turns": [{"speaker": "Client", "role": "asker", "text": text},
                      {"speaker": "Therapist", "role": "responder", "text": "Are you safe right now?"}]}


def submit(queue: ReviewQueue, rec: dict):
    return queue.submit(rec, risk_level="high", risk_categories=["suicidality"], flag_reasons=["very_high_category"])


@pytest.fixture
def queue(tmp_path):
    with ReviewQueue(f"sqlite:///{tmp_path / 'review.db'}") as q:
        yield q


def exercise_queue(queue: ReviewQueue) -> None:
    """The behaviour every backend must show; also run against PostgreSQL."""
    rec = record()
    item = submit(queue, rec)
    assert item.status == "pending" and item.content_sha256 == content_sha256(rec)
    assert not queue.is_approved(rec["id"], item.content_sha256)
    approved = queue.decide(rec["id"], "approved", "Dr A. Okafor", "protocol followed")
    assert (approved.status, approved.reviewer, approved.note) == ("approved", "Dr A. Okafor", "protocol followed")
    assert queue.is_approved(rec["id"], content_sha256(rec))
    assert submit(queue, rec).status == "approved"  # the same content keeps its decision
    changed = record(text="I gave my guitar away.")
    assert submit(queue, changed).status == "pending"  # new text, new review
    assert not queue.is_approved(rec["id"], content_sha256(changed))
    submit(queue, record("homicidal_client-000", category="homicidal_client"))
    queue.decide("homicidal_client-000", "rejected", "Dr B", "therapist never asks about a target")
    assert [i.id for i in queue.list(status="pending")] == ["suicidality-000"]
    assert [i.id for i in queue.list(category="homicidal_client")] == ["homicidal_client-000"]
    assert queue.counts() == {"pending": 1, "approved": 0, "rejected": 1}
    actions = [(e.action, e.actor) for e in queue.audit("suicidality-000")]
    assert actions == [("submitted", "pipeline"), ("approved", "Dr A. Okafor"), ("resubmitted", "pipeline")]
    assert queue.verify_audit()[0]


def test_queue_states_content_binding_and_audit(queue):
    exercise_queue(queue)


def test_decisions_need_a_reviewer_a_known_item_and_a_reason_to_reject(queue):
    submit(queue, record())
    with pytest.raises(UserError, match="reviewer"):
        queue.decide("suicidality-000", "approved", "  ")
    with pytest.raises(UserError, match="say why"):
        queue.decide("suicidality-000", "rejected", "Dr A")
    with pytest.raises(UserError, match="'nope' not found"):
        queue.decide("nope", "approved", "Dr A")
    with pytest.raises(UserError, match="must be approved or rejected"):
        queue.decide("suicidality-000", "maybe", "Dr A")
    with pytest.raises(UserError, match="must be one of"):
        queue.list(status="done")
    assert queue.get("suicidality-000").status == "pending"
    assert len(queue.audit()) == 1  # failed attempts change nothing


@pytest.mark.parametrize("tamper, expected", [
    ("UPDATE review_audit SET note = 'fine' WHERE seq = 1", "seq 1: contents changed"),
    ("DELETE FROM review_audit WHERE seq = 2", "seq 3: chain broken"),
    ("DELETE FROM review_audit WHERE seq = 3", "not backed by its audit trail"),
    ("UPDATE review_items SET status = 'approved' WHERE id = 'homicidal_client-000'", "homicidal_client-000"),
])
def test_audit_verification_names_the_first_tampered_entry(queue, tamper, expected):
    submit(queue, record())
    queue.decide("suicidality-000", "approved", "Dr A")
    submit(queue, record("homicidal_client-000", category="homicidal_client"))
    assert queue.verify_audit()[0]
    with queue.engine.begin() as conn:
        conn.execute(sa.text(tamper))
    ok, message = queue.verify_audit()
    assert not ok and expected in message


def test_a_bad_url_is_a_user_error():
    with pytest.raises(UserError, match="not a database URL"):
        ReviewQueue("not a url")


def test_review_cli_list_show_approve_reject_audit(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'review.db'}"
    with ReviewQueue(url) as queue:
        submit(queue, record())
        submit(queue, record("child_abuse_reporting-000", category="child_abuse_reporting"))
    assert main(["review", "list", "--url", url, "--status", "pending", "--json"]) == 0
    assert [i["id"] for i in json.loads(capsys.readouterr().out)] == ["child_abuse_reporting-000", "suicidality-000"]
    assert main(["review", "show", "suicidality-000", "--url", url]) == 0
    shown = capsys.readouterr().out
    assert "Client: I wrote goodbye letters." in shown and "submitted by pipeline" in shown
    assert main(["review", "approve", "suicidality-000", "--url", url, "--reviewer", "Dr A", "--note", "ok"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "approved"
    assert main(["review", "reject", "child_abuse_reporting-000", "--url", url, "--reviewer", "Dr A"]) == 2
    assert "say why" in capsys.readouterr().err
    assert main(["review", "reject", "child_abuse_reporting-000", "--url", url, "--reviewer", "Dr A",
                 "--note", "no duty-to-report"]) == 0
    capsys.readouterr()
    assert main(["review", "audit", "--url", url, "--verify"]) == 0
    assert "4 audit entries, chain intact" in capsys.readouterr().err
    with ReviewQueue(url) as queue, queue.engine.begin() as conn:
        conn.execute(sa.text("UPDATE review_audit SET actor = 'someone' WHERE seq = 3"))
    assert main(["review", "audit", "--url", url, "--verify"]) == 1
    assert "seq 3" in capsys.readouterr().err
    assert main(["review", "show", "nope", "--url", url]) == 2
