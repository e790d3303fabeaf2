"""The clinical review queue on a real PostgreSQL (as in the cluster), started on loopback for this module."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from empathy.safety.review import ReviewQueue
from tests.services import postgres
from tests.unit.test_review_queue import exercise_queue, record, submit

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pg():
    with postgres() as handle:
        yield handle


def test_queue_behaviour_on_postgres(pg):
    with ReviewQueue(pg.create_database("review_flow")) as queue:
        exercise_queue(queue)


def test_concurrent_reviewers_keep_one_unbroken_audit_chain(pg):
    url = pg.create_database("review_concurrent")
    with ReviewQueue(url) as queue:
        for i in range(24):
            submit(queue, record(f"suicidality-{i:03d}", text=f"letter {i}"))

    def decide(i: int) -> str:
        with ReviewQueue(url) as own:  # each reviewer its own connection pool, as separate CLI processes would be
            return own.decide(f"suicidality-{i:03d}", "approved" if i % 3 else "rejected", f"Dr {i % 4}", "checked").status

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(decide, range(24)))
    with ReviewQueue(url) as queue:
        assert queue.counts() == {"pending": 0, "approved": statuses.count("approved"), "rejected": 8}
        ok, message = queue.verify_audit()
        assert ok, message
        assert len(queue.audit()) == 48
