"""Serving stores against real servers on loopback: the conversation store and the inference log on SecantusDB
(MongoDB wire protocol) and PostgreSQL, the rate limiter and the response cache on redis-server. Each server is
started once per module by tests/services.py on a free 127.0.0.1 port and stopped by PID.

    .venv/bin/python -m pytest tests/integration/test_stores_services.py
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from empathy.errors import UserError
from empathy.io import read_jsonl, write_jsonl
from empathy.serve import stores
from empathy.serve.stores import (
    MongoConversationStore, MongoInferenceLog, RedisRateLimiter, RedisResponseCache, SqlConversationStore,
    SqlInferenceLog, open_conversation_store, open_inference_log, open_rate_limiter, open_response_cache,
)
from tests.integration.test_monitor import COUNSELLING, OFF_TOPIC
from tests.services import mongodb, postgres, redis_server

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def mongo_server():
    with mongodb() as server:
        yield server


@pytest.fixture(scope="module")
def pg_server():
    with postgres() as server:
        yield server


@pytest.fixture(scope="module")
def redis_url():
    with redis_server() as server:
        yield server.url


def _fresh_url(backend: str, request) -> str:
    """A database of its own for each test, on the module's server."""
    name = f"t{uuid.uuid4().hex[:12]}"
    if backend == "mongodb":
        return f"{request.getfixturevalue('mongo_server').url}{name}"
    return request.getfixturevalue("pg_server").create_database(name)


@pytest.fixture(params=["mongodb", "postgresql"])
def conversations(request):
    with open_conversation_store(_fresh_url(request.param, request)) as store:
        assert isinstance(store, MongoConversationStore if request.param == "mongodb" else SqlConversationStore)
        yield store


@pytest.fixture(params=["mongodb", "postgresql"])
def inference_log(request):
    with open_inference_log(_fresh_url(request.param, request)) as log:
        assert isinstance(log, MongoInferenceLog if request.param == "mongodb" else SqlInferenceLog)
        yield log


# -- conversations -------------------------------------------------------------------------------------------------

def test_conversation_append_read_list(conversations):
    conversations.append("c1", "alice", "user", "I can't sleep", risk_level="low", action="reply", at=T0)
    conversations.append("c1", "alice", "assistant", "That sounds hard.", risk_level="low", action="reply",
                         model="empathy-chat@3", latency_ms=84.5, at=T0 + timedelta(seconds=2))
    conversations.append("c0", "alice", "user", "earlier", at=T0 - timedelta(days=1))
    conversations.append("b1", "bob", "user", "his", at=T0)
    turns = conversations.conversation("c1")
    assert [(t.seq, t.role, t.content) for t in turns] == [(0, "user", "I can't sleep"),
                                                          (1, "assistant", "That sounds hard.")]
    assert turns[1].to_dict() == {"conversation_id": "c1", "seq": 1, "subject": "alice", "role": "assistant",
                                  "content": "That sounds hard.", "risk_level": "low", "action": "reply",
                                  "model": "empathy-chat@3", "latency_ms": 84.5,
                                  "at": "2026-12-01T09:00:02.000000+00:00"}
    assert [(c.conversation_id, c.turns) for c in conversations.conversations("alice")] == [("c0", 1), ("c1", 2)]
    assert conversations.conversation("missing") == []


def test_conversation_erasure(conversations):
    conversations.append("c1", "alice", "user", "mine")
    conversations.append("c1", "alice", "assistant", "reply")
    conversations.append("c2", "alice", "user", "also mine")
    conversations.append("b1", "bob", "user", "his")
    assert conversations.erase_subject("alice") == 3
    assert conversations.conversations("alice") == [] and conversations.conversation("c1") == []
    assert [t.content for t in conversations.conversation("b1")] == ["his"]
    assert conversations.append("c1", "carol", "user", "reused id").seq == 0


def test_conversation_owned_by_one_subject(conversations):
    conversations.append("c1", "alice", "user", "hello")
    with pytest.raises(UserError, match="conversation 'c1' belongs to another subject, not 'mallory'"):
        conversations.append("c1", "mallory", "user", "let me in")
    assert [t.subject for t in conversations.conversation("c1")] == ["alice"]
    assert conversations.append("c1", "alice", "user", "again").seq == 1


def test_concurrent_exchanges_keep_each_question_next_to_its_answer(conversations):
    errors = []

    def worker(n):
        try:
            for i in range(5):
                conversations.append_exchange("c1", "alice", f"q{n}-{i}", f"a{n}-{i}", action="reply")
        except Exception as exc:  # surfaced below: a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    turns = conversations.conversation("c1")
    assert [t.seq for t in turns] == list(range(40))
    assert all(q.content[1:] == a.content[1:] and (q.role, a.role) == ("user", "assistant")
               for q, a in zip(turns[::2], turns[1::2]))


def test_first_turns_of_a_new_conversation_racing_each_other_are_not_a_conflict(conversations):
    # the first write of a conversation creates its counter; on MongoDB two such upserts at once both try to
    # insert it and one fails on the duplicate _id, which is not "another subject owns it" (seen under load in the
    # full suite); each round starts four threads together on a fresh conversation
    errors = []

    def worker(cid, barrier):
        try:
            barrier.wait()
            conversations.append_exchange(cid, "alice", "q", "a", action="reply")
        except Exception as exc:  # surfaced below
            errors.append(exc)

    for round_ in range(15):
        barrier = threading.Barrier(4)
        threads = [threading.Thread(target=worker, args=(f"race-{round_}", barrier)) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    seqs = {r: [t.seq for t in conversations.conversation(f"race-{r}")] for r in range(15)}
    assert all(s == list(range(8)) for s in seqs.values()), seqs
    with pytest.raises(UserError, match="belongs to another subject"):
        conversations.append_exchange("race-0", "bob", "q", "a", action="reply")


def test_concurrent_appends_number_turns_without_gaps(conversations):
    errors = []

    def worker(n):
        try:
            for i in range(8):
                conversations.append("c1", "alice", "user", f"{n}-{i}")
        except Exception as exc:  # surfaced below: a thread's exception would otherwise vanish
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    turns = conversations.conversation("c1")
    assert [t.seq for t in turns] == list(range(48))
    assert sorted(t.content for t in turns) == sorted(f"{n}-{i}" for n in range(6) for i in range(8))


# -- inference log -------------------------------------------------------------------------------------------------

def test_inference_log_round_trip_and_filters(inference_log):
    inference_log.record(id="r2", text="second", output_chars=20, latency_ms=90.0, model="m@1", at=T0 + timedelta(1))
    first = inference_log.record(id="r1", text="first", output_chars=10, latency_ms=80.0, model="m@1",
                                 risk_level="high", action="crisis_response", completion_tokens=7, at=T0)
    inference_log.record(id="r3", text="third", output_chars=5, latency_ms=70.0, model="m@2", at=T0 + timedelta(2))
    assert [r.id for r in inference_log.records()] == ["r1", "r2", "r3"]
    assert inference_log.records()[0] == first
    assert [r.id for r in inference_log.records(since=T0 + timedelta(1), until=T0 + timedelta(2))] == ["r2"]
    assert [r.id for r in inference_log.records(model="m@2")] == ["r3"]
    with pytest.raises(UserError, match="a record with id 'r1' already exists"):
        inference_log.record(id="r1", text="again", output_chars=1, latency_ms=1.0)
    assert inference_log.purge_before(T0 + timedelta(1)) == 1
    assert [r.id for r in inference_log.records()] == ["r2", "r3"]


def test_export_matches_the_jsonl_deploy_writes(inference_log, tmp_path):
    deploy_rows = [{"id": "probe", "text": "Hello", "reply": "Hi, I am listening.", "latency_ms": 50.0,
                    "completion_tokens": 6, "model_uri": "models:/empathy-chat/3",
                    "timestamp": "2026-12-01T09:00:00+00:00"}]
    inference_log.record_rows(deploy_rows)
    inference_log.export_jsonl(tmp_path / "inference_log.jsonl")
    assert read_jsonl(tmp_path / "inference_log.jsonl", "inference log") == [
        {"id": "probe", "text": "Hello", "latency_ms": 50.0, "completion_tokens": 6,
         "model_uri": "models:/empathy-chat/3", "timestamp": "2026-12-01T09:00:00.000000+00:00",
         "output_chars": 19, "risk_level": "none", "action": "reply"}]


@pytest.mark.slow
def test_monitoring_reads_the_mongodb_inference_log(mongo_server, tmp_path):
    """Requests recorded in MongoDB, exported, and the real `empathy monitor` stage finds the off-topic drift."""
    from empathy import stages
    from empathy.config import MonitorConfig

    train = tmp_path / "train.jsonl"
    write_jsonl(train, [{"messages": [{"role": "user", "content": f"{COUNSELLING[i % 8]} (day {i})"},
                                      {"role": "assistant", "content": "That sounds hard; tell me more."}]}
                        for i in range(80)])
    with open_inference_log(f"{mongo_server.url}monitoring") as log:
        for i in range(40):
            log.record(id=f"req-{i}", text=f"{OFF_TOPIC[i % 4]} (day {i})", output_chars=30, latency_ms=70.0,
                       model="empathy-chat@3", at=T0 + timedelta(seconds=i))
        assert log.export_jsonl(tmp_path / "inference_log.jsonl") == 40
    summary = stages.monitor(str(train), str(tmp_path / "inference_log.jsonl"), MonitorConfig(drift_share_alert=0.4),
                             str(tmp_path / "monitor"))
    assert "nearest_train_similarity" in summary["drifted_columns"]
    assert summary["alert"] is True


def test_mongodb_server_gone_is_reported_by_name(tmp_path):
    with mongodb() as server:
        url = f"{server.url}gone"
        log = open_inference_log(url, timeout_s=0.5)
        log.record(id="r1", text="t", output_chars=1, latency_ms=1.0)
    with pytest.raises(stores.StoreUnavailable, match=rf"inference log {url}: cannot reach the server"):
        log.record(id="r2", text="t", output_chars=1, latency_ms=1.0)
    log.close()


# -- Redis ---------------------------------------------------------------------------------------------------------

def test_redis_rate_limit_window(redis_url):
    limiter = open_rate_limiter(redis_url, limit=3, window_s=0.6)
    assert isinstance(limiter, RedisRateLimiter)
    key = f"k-{uuid.uuid4().hex}"
    assert [limiter.allow(key)[0] for _ in range(3)] == [True, True, True]
    allowed, retry = limiter.allow(key)
    assert not allowed and 0 < retry <= 0.6
    assert limiter.allow(f"{key}-other") == (True, 0.0)
    time.sleep(retry + 0.05)
    assert limiter.allow(key) == (True, 0.0)
    limiter.close()


def test_redis_rate_limit_keys_expire(redis_url):
    import redis

    limiter = open_rate_limiter(redis_url, limit=2, window_s=0.3)
    key = f"k-{uuid.uuid4().hex}"
    limiter.allow(key)
    client = redis.Redis.from_url(redis_url)
    assert 0 < client.pttl(f"empathy:ratelimit:{key}") <= 300
    time.sleep(0.4)
    assert client.exists(f"empathy:ratelimit:{key}") == 0
    client.close()


def test_redis_rate_limit_admits_exactly_the_limit_under_concurrency(redis_url):
    """Threads with their own limiters (as separate replicas would be) share one budget: exactly `limit` pass."""
    key, limit = f"k-{uuid.uuid4().hex}", 37
    limiters = [open_rate_limiter(redis_url, limit=limit, window_s=60) for _ in range(4)]
    start = threading.Barrier(16)
    results: list[bool] = []
    lock = threading.Lock()

    def worker(n):
        start.wait()
        mine = [limiters[n % 4].allow(key)[0] for _ in range(10)]
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 160
    assert results.count(True) == limit
    allowed, retry = limiters[0].allow(key)
    assert not allowed and 59 < retry <= 60
    for limiter in limiters:
        limiter.close()


def test_redis_cache_ttl_and_crisis(redis_url):
    cache = open_response_cache(redis_url, ttl_s=0.4)
    assert isinstance(cache, RedisResponseCache)
    key = cache.key("m@1", [{"role": "user", "content": f"sleep {uuid.uuid4().hex}"}], {"max_new_tokens": 64})
    assert cache.get(key) is None
    assert cache.set(key, {"content": "Try a routine.", "completion_tokens": 4}, crisis=False)
    assert cache.get(key) == {"content": "Try a routine.", "completion_tokens": 4}
    time.sleep(0.5)
    assert cache.get(key) is None
    assert cache.set(key, {"content": "kept"}, crisis=False, ttl_s=30)
    assert cache.set(key, {"content": "call the crisis line"}, crisis=True) is False
    assert cache.get(key) is None
    crisis_key = cache.key("m@1", [{"role": "user", "content": "I want to end it"}])
    assert cache.set(crisis_key, {"content": "crisis"}, crisis=True) is False
    assert cache.get(crisis_key) is None
    cache.close()


def test_redis_cache_is_shared_between_clients(redis_url):
    writer, reader = open_response_cache(redis_url, ttl_s=30), open_response_cache(redis_url, ttl_s=30)
    key = writer.key("m@1", [{"role": "user", "content": f"shared {uuid.uuid4().hex}"}])
    writer.set(key, {"content": "ünïcode reply"}, crisis=False)
    assert reader.get(key) == {"content": "ünïcode reply"}
    reader.delete(key)
    assert writer.get(key) is None
    writer.close()
    reader.close()


def test_redis_server_gone_is_reported_by_name():
    with redis_server() as server:
        limiter = open_rate_limiter(server.url, limit=5, window_s=1, timeout_s=0.5)
        assert limiter.allow("k")[0]
    with pytest.raises(stores.StoreUnavailable, match=rf"rate limiter {server.url}: cannot reach the server"):
        limiter.allow("k")
