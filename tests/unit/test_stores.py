"""Serving stores on their laptop defaults: SQLite conversation store and inference log, in-process rate limiter and
response cache. The same behaviour against MongoDB (SecantusDB), Redis and PostgreSQL is in
tests/integration/test_stores_services.py."""

from __future__ import annotations

import sys
import threading
from datetime import datetime, timedelta, timezone

import pytest

from empathy.errors import UserError
from empathy.io import read_jsonl
from empathy.serve import stores
from empathy.serve.stores import (
    InferenceRecord, MemoryRateLimiter, MemoryResponseCache, cache_key, open_conversation_store, open_inference_log,
    open_rate_limiter, open_response_cache,
)

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def conversations(tmp_path):
    with open_conversation_store(f"sqlite:///{tmp_path / 'conv.db'}") as store:
        yield store


@pytest.fixture
def inference_log(tmp_path):
    with open_inference_log(f"sqlite:///{tmp_path / 'log.db'}") as log:
        yield log


# -- conversations -------------------------------------------------------------------------------------------------

def test_conversation_turns_are_numbered_and_read_back_in_order(conversations):
    a = conversations.append("c1", "alice", "user", "I can't sleep", risk_level="low", action="reply", at=T0)
    b = conversations.append("c1", "alice", "assistant", "That sounds hard.", risk_level="low", action="reply",
                             model="empathy-chat@3", latency_ms=84.5, at=T0 + timedelta(seconds=2))
    assert (a.seq, b.seq) == (0, 1)
    turns = conversations.conversation("c1")
    assert [t.content for t in turns] == ["I can't sleep", "That sounds hard."]
    assert turns[1].to_dict() == {"conversation_id": "c1", "seq": 1, "subject": "alice", "role": "assistant",
                                  "content": "That sounds hard.", "risk_level": "low", "action": "reply",
                                  "model": "empathy-chat@3", "latency_ms": 84.5,
                                  "at": "2026-12-01T09:00:02.000000+00:00"}
    assert conversations.conversation("nope") == []


def test_an_exchange_is_written_as_two_consecutive_turns(conversations):
    conversations.append("c1", "alice", "user", "first")
    user, assistant = conversations.append_exchange("c1", "alice", "I can't sleep", "That sounds hard.",
                                                    risk_level="low", action="reply", model="empathy-chat@3",
                                                    latency_ms=12.5, at=T0)
    assert (user.seq, user.role, user.action, user.model) == (1, "user", "", "")
    assert (assistant.seq, assistant.role, assistant.action, assistant.latency_ms) == (2, "assistant", "reply", 12.5)
    assert [t.to_dict() for t in conversations.conversation("c1")][1:] == [user.to_dict(), assistant.to_dict()]
    with pytest.raises(UserError, match="belongs to another subject"):
        conversations.append_exchange("c1", "mallory", "q", "a")
    with pytest.raises(UserError, match="risk_level"):
        conversations.append_exchange("c2", "alice", "q", "a", risk_level="severe")
    assert len(conversations.conversation("c1")) == 3 and conversations.conversation("c2") == []


def test_conversations_of_a_subject_are_listed_oldest_first(conversations):
    conversations.append("later", "alice", "user", "x", at=T0 + timedelta(hours=1))
    conversations.append("first", "alice", "user", "y", at=T0)
    conversations.append("first", "alice", "assistant", "z", at=T0 + timedelta(minutes=1))
    conversations.append("other", "bob", "user", "w", at=T0)
    listed = conversations.conversations("alice")
    assert [(c.conversation_id, c.turns) for c in listed] == [("first", 2), ("later", 1)]
    assert listed[0].started_at == "2026-12-01T09:00:00.000000+00:00"
    assert listed[0].last_at == "2026-12-01T09:01:00.000000+00:00"
    assert conversations.conversations("nobody") == []


def test_erasure_deletes_only_that_subject_and_frees_the_ids(conversations):
    conversations.append("c1", "alice", "user", "mine")
    conversations.append("c1", "alice", "assistant", "reply")
    conversations.append("c2", "bob", "user", "his")
    assert conversations.erase_subject("alice") == 2
    assert conversations.conversation("c1") == [] and conversations.conversations("alice") == []
    assert [t.content for t in conversations.conversation("c2")] == ["his"]
    assert conversations.erase_subject("alice") == 0
    assert conversations.append("c1", "carol", "user", "new").seq == 0


def test_a_conversation_belongs_to_one_subject(conversations):
    conversations.append("c1", "alice", "user", "hello")
    with pytest.raises(UserError, match="conversation 'c1' belongs to another subject, not 'mallory'"):
        conversations.append("c1", "mallory", "user", "let me in")
    assert len(conversations.conversation("c1")) == 1


@pytest.mark.parametrize("kwargs, message", [
    ({"role": "robot"}, "role 'robot' is not one of"),
    ({"risk_level": "severe"}, "risk_level 'severe' is not one of"),
    ({"action": "shrug"}, "action 'shrug' is not one of"),
    ({"conversation_id": ""}, "conversation_id must be a non-empty string"),
    ({"latency_ms": -1}, "latency_ms must be a number >= 0"),
    ({"at": "yesterday"}, "timestamp 'yesterday' is not ISO 8601"),
    ({"at": datetime(2026, 1, 1)}, "has no time zone"),
])
def test_bad_turns_are_refused_with_the_field_named(conversations, kwargs, message):
    args = {"conversation_id": "c1", "subject": "alice", "role": "user", "content": "hi", **kwargs}
    with pytest.raises(UserError, match=message):
        conversations.append(**args)
    assert conversations.conversation("c1") == []


def test_concurrent_appends_get_distinct_consecutive_numbers(conversations):
    def worker(n):
        for i in range(10):
            conversations.append("c1", "alice", "user", f"{n}-{i}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [t.seq for t in conversations.conversation("c1")] == list(range(40))


def test_conversations_persist_across_reopen(tmp_path):
    url = f"sqlite:///{tmp_path / 'sub' / 'conv.db'}"
    with open_conversation_store(url) as store:
        store.append("c1", "alice", "user", "kept")
    with open_conversation_store(url) as store:
        assert [t.content for t in store.conversation("c1")] == ["kept"]


def test_default_and_env_urls(tmp_path, monkeypatch):
    monkeypatch.delenv(stores.CONVERSATION_URL_ENV, raising=False)
    assert stores.conversation_url() == "sqlite:///runs/serve/conversations.db"
    monkeypatch.setenv(stores.INFERENCE_LOG_URL_ENV, f"sqlite:///{tmp_path / 'env.db'}")
    with open_inference_log() as log:
        log.record(id="r1", text="t", output_chars=1, latency_ms=1.0)
    assert (tmp_path / "env.db").is_file()


@pytest.mark.parametrize("opener", [open_conversation_store, open_inference_log])
def test_unsupported_store_url_is_named(opener):
    with pytest.raises(UserError, match=r"URL 'ftp://user:\*\*\*@host/x': unsupported; use sqlite:///path"):
        opener("ftp://user:secret@host/x")


def test_unreachable_mongodb_url_is_named_and_fast():
    pytest.importorskip("pymongo")
    with pytest.raises(stores.StoreUnavailable,
                       match=r"conversation store mongodb://u:\*\*\*@127\.0\.0\.1:1/db: cannot reach the server"):
        open_conversation_store("mongodb://u:pw@127.0.0.1:1/db", timeout_s=0.3)


def test_mongodb_url_without_database_is_refused():
    pytest.importorskip("pymongo")
    with pytest.raises(UserError, match="names no database"):
        open_inference_log("mongodb://127.0.0.1:1/", timeout_s=0.3)


def test_missing_driver_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "redis", None)  # what Python does for a package that is not installed
    with pytest.raises(UserError, match=r"rate limiter redis://127.0.0.1:6379/0: needs the Python package 'redis' "
                                        r"\(pip install 'redis==8.1.0'\)"):
        open_rate_limiter("redis://127.0.0.1:6379/0", limit=1, window_s=1)


# -- inference log -------------------------------------------------------------------------------------------------

def test_inference_records_round_trip_in_time_order(inference_log):
    inference_log.record(id="r2", text="second", output_chars=20, latency_ms=90.0, model="m@1", at=T0 + timedelta(1))
    first = inference_log.record(id="r1", text="first", output_chars=10, latency_ms=80.0, model="m@1",
                                 risk_level="high", action="crisis_response", completion_tokens=7, at=T0)
    inference_log.record(id="r3", text="third", output_chars=5, latency_ms=70.0, model="m@2", at=T0 + timedelta(2))
    records = inference_log.records()
    assert [r.id for r in records] == ["r1", "r2", "r3"]
    assert records[0] == first
    assert [r.id for r in inference_log.records(since=T0 + timedelta(1))] == ["r2", "r3"]
    assert [r.id for r in inference_log.records(until=T0 + timedelta(1))] == ["r1"]
    assert [r.id for r in inference_log.records(model="m@2")] == ["r3"]


def test_duplicate_request_id_is_refused(inference_log):
    inference_log.record(id="r1", text="a", output_chars=1, latency_ms=1.0)
    with pytest.raises(UserError, match="a record with id 'r1' already exists"):
        inference_log.record(id="r1", text="b", output_chars=1, latency_ms=1.0)
    assert [r.text for r in inference_log.records()] == ["a"]


@pytest.mark.parametrize("kwargs, message", [
    ({"text": None}, "text must be a string"),
    ({"output_chars": -1}, "output_chars must be an integer >= 0"),
    ({"action": "maybe"}, "action 'maybe' is not one of"),
    ({"risk_level": "meh"}, "risk_level 'meh' is not one of"),
])
def test_bad_inference_records_are_refused(inference_log, kwargs, message):
    with pytest.raises(UserError, match=message):
        inference_log.record(**{"id": "r1", "text": "t", "output_chars": 1, "latency_ms": 1.0, **kwargs})
    assert inference_log.records() == []


def test_purge_before_applies_retention(inference_log):
    for n in range(3):
        inference_log.record(id=f"r{n}", text="t", output_chars=1, latency_ms=1.0, at=T0 + timedelta(days=n))
    assert inference_log.purge_before(T0 + timedelta(days=1)) == 1
    assert [r.id for r in inference_log.records()] == ["r1", "r2"]


def test_export_is_what_deploy_writes_and_what_monitor_reads(inference_log, tmp_path):
    """Rows as `empathy deploy` builds them go in; the export has the same fields, minus the reply's text, and the
    monitor stage's reader and deploy's summary take it."""
    from empathy.deploy import DeployResult

    deploy_rows = [{"id": "probe", "text": "Hello, how are you?", "reply": "I am here to listen.", "latency_ms": 50.0,
                    "completion_tokens": 6, "model_uri": "models:/empathy-chat/3",
                    "timestamp": "2026-12-01T09:00:00+00:00"},
                   {"id": 7, "text": "I feel anxious at work", "reply": "Tell me more.", "latency_ms": 61.5,
                    "completion_tokens": 4, "model_uri": "models:/empathy-chat/3",
                    "timestamp": "2026-12-01T09:00:01+00:00"}]
    assert inference_log.record_rows(deploy_rows) == 2
    path = tmp_path / "deploy" / "inference_log.jsonl"
    assert inference_log.export_jsonl(path) == 2
    rows = read_jsonl(path, "inference log")
    assert rows[0] == {"id": "probe", "text": "Hello, how are you?", "latency_ms": 50.0, "completion_tokens": 6,
                       "model_uri": "models:/empathy-chat/3", "timestamp": "2026-12-01T09:00:00.000000+00:00",
                       "output_chars": len("I am here to listen."), "risk_level": "none", "action": "reply"}
    assert all("reply" not in r for r in rows)
    assert {k for k in deploy_rows[0] if k != "reply"} <= set(rows[1])
    assert [InferenceRecord.from_log_row(r) for r in rows] == inference_log.records()
    summary = DeployResult("local", "models:/empathy-chat/3", "", "", "", rows).summary()
    assert summary["requests"] == 2 and summary["latency_ms_p50"] == 61.5


def test_monitor_stage_reads_a_store_export(inference_log, tmp_path, monkeypatch):
    """stages.monitor, the function `empathy monitor` calls, reads the export and hands its texts to drift."""
    from empathy import stages
    from empathy.config import MonitorConfig
    from empathy.io import write_jsonl

    seen = {}

    def fake_drift(reference, current, config, out_dir):
        seen["current"] = current
        return {"drift": False}

    monkeypatch.setattr("empathy.monitor.drift.drift_report", fake_drift)
    train = tmp_path / "train.jsonl"
    write_jsonl(train, [{"messages": [{"role": "user", "content": "I worry a lot"},
                                      {"role": "assistant", "content": "Worry is common."}]}])
    for n, text in enumerate(["first input", "second input"]):
        inference_log.record(id=f"r{n}", text=text, output_chars=3, latency_ms=1.0, at=T0 + timedelta(seconds=n))
    inference_log.export_jsonl(tmp_path / "inference_log.jsonl")
    assert stages.monitor(str(train), str(tmp_path / "inference_log.jsonl"), MonitorConfig(),
                          str(tmp_path / "out")) == {"drift": False}
    assert seen["current"] == ["first input", "second input"]


# -- rate limits ---------------------------------------------------------------------------------------------------

def test_rate_limit_window_slides():
    clock = Clock()
    limiter = MemoryRateLimiter(limit=3, window_s=10, clock=clock)
    assert [limiter.allow("k")[0] for _ in range(3)] == [True, True, True]
    assert limiter.allow("k") == (False, 10.0)
    clock.now += 4
    assert limiter.allow("k") == (False, pytest.approx(6.0))
    assert limiter.allow("other") == (True, 0.0)
    clock.now += 6  # the first three fall out of the window exactly now
    assert limiter.allow("k") == (True, 0.0)


def test_refused_requests_do_not_extend_the_wait():
    clock = Clock()
    limiter = MemoryRateLimiter(limit=1, window_s=5, clock=clock)
    assert limiter.allow("k")[0]
    for _ in range(20):
        clock.now += 0.2
        assert not limiter.allow("k")[0]
    clock.now += 1.0
    assert limiter.allow("k") == (True, 0.0)


def test_sliding_not_fixed_window():
    """A fixed window would admit 2 x limit across a boundary; this admits `limit` in any window."""
    clock = Clock(0.0)
    limiter = MemoryRateLimiter(limit=2, window_s=10, clock=clock)
    clock.now = 9.0
    assert limiter.allow("k")[0] and limiter.allow("k")[0]
    clock.now = 11.0
    assert limiter.allow("k") == (False, pytest.approx(8.0))


def test_idle_keys_are_swept():
    clock = Clock()
    limiter = MemoryRateLimiter(limit=1, window_s=1, clock=clock)
    for n in range(1023):
        limiter.allow(f"k{n}")
    clock.now += 2
    limiter.allow("last")
    assert list(limiter._hits) == ["last"]


def test_threads_share_one_budget():
    limiter = MemoryRateLimiter(limit=25, window_s=60)
    results = []
    lock = threading.Lock()

    def worker():
        for _ in range(10):
            ok = limiter.allow("k")[0]
            with lock:
                results.append(ok)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 25 and len(results) == 80


@pytest.mark.parametrize("kwargs, message", [({"limit": 0, "window_s": 1}, "limit must be an integer >= 1"),
                                             ({"limit": 1, "window_s": 0}, "window_s must be > 0")])
def test_bad_rate_limits(kwargs, message):
    with pytest.raises(UserError, match=message):
        open_rate_limiter("memory://", **kwargs)


def test_rate_limiter_url(monkeypatch):
    monkeypatch.delenv(stores.RATE_LIMIT_URL_ENV, raising=False)
    assert isinstance(open_rate_limiter(limit=1, window_s=1), MemoryRateLimiter)
    with pytest.raises(UserError, match="rate limiter URL 'memcached://x': unsupported"):
        open_rate_limiter("memcached://x", limit=1, window_s=1)


def test_unreachable_redis_url_is_named():
    pytest.importorskip("redis")
    with pytest.raises(stores.StoreUnavailable, match=r"response cache redis://127\.0\.0\.1:1/0: cannot reach"):
        open_response_cache("redis://127.0.0.1:1/0", timeout_s=0.3)


# -- response cache ------------------------------------------------------------------------------------------------

MESSAGES = [{"role": "user", "content": "How do I sleep better?"}]


def test_cache_key_covers_model_messages_and_params():
    base = cache_key("m@1", MESSAGES, {"max_new_tokens": 64, "temperature": 0.0})
    assert base == cache_key("m@1", [dict(MESSAGES[0])], {"temperature": 0.0, "max_new_tokens": 64})
    assert len(base) == 64
    assert base != cache_key("m@2", MESSAGES, {"max_new_tokens": 64, "temperature": 0.0})
    assert base != cache_key("m@1", [{"role": "user", "content": "How do I sleep better"}],
                             {"max_new_tokens": 64, "temperature": 0.0})
    assert base != cache_key("m@1", MESSAGES, {"max_new_tokens": 65, "temperature": 0.0})
    with pytest.raises(UserError, match="not JSON-serialisable"):
        cache_key("m", [{"content": object()}])


def test_cache_ttl_expires_entries():
    clock = Clock()
    cache = MemoryResponseCache(ttl_s=30, clock=clock)
    key = cache.key("m@1", MESSAGES)
    assert cache.get(key) is None
    assert cache.set(key, {"content": "Try a routine."}, crisis=False)
    clock.now += 29.9
    assert cache.get(key) == {"content": "Try a routine."}
    clock.now += 0.1
    assert cache.get(key) is None
    assert cache.set(key, {"content": "short"}, crisis=False, ttl_s=1)
    clock.now += 1
    assert cache.get(key) is None and len(cache) == 0


def test_cache_evicts_least_recently_used():
    cache = MemoryResponseCache(ttl_s=60, max_entries=2, clock=Clock())
    cache.set("a", {"v": 1}, crisis=False)
    cache.set("b", {"v": 2}, crisis=False)
    assert cache.get("a") == {"v": 1}  # a is now more recent than b
    cache.set("c", {"v": 3}, crisis=False)
    assert cache.get("b") is None
    assert cache.get("a") == {"v": 1} and cache.get("c") == {"v": 3}


def test_crisis_responses_are_never_cached():
    cache = MemoryResponseCache(ttl_s=60, clock=Clock())
    key = cache.key("m@1", [{"role": "user", "content": "I want to end it"}])
    assert cache.set(key, {"content": "crisis line"}, crisis=True) is False
    assert cache.get(key) is None
    cache.set(key, {"content": "ordinary"}, crisis=False)
    cache.set(key, {"content": "crisis line"}, crisis=True)
    assert cache.get(key) is None  # a crisis on the same key also drops what was cached before


def test_crisis_flag_is_required():
    cache = MemoryResponseCache(ttl_s=60)
    with pytest.raises(TypeError):
        cache.set("k", {"content": "x"})


def test_cache_url_and_bad_settings(monkeypatch):
    monkeypatch.delenv(stores.CACHE_URL_ENV, raising=False)
    assert isinstance(open_response_cache(ttl_s=5), MemoryResponseCache)
    with pytest.raises(UserError, match="ttl_s must be > 0"):
        open_response_cache(ttl_s=0)
    with pytest.raises(UserError, match="max_entries must be an integer >= 1"):
        open_response_cache(max_entries=0)
    with pytest.raises(UserError, match="value is not JSON-serialisable"):
        open_response_cache().set("k", {"x": object()}, crisis=False)


def test_urls_in_messages_never_show_a_password():
    from empathy.safety.review import display_url

    assert display_url("postgresql+psycopg://app:s3cret@db:5432/audit") == "postgresql+psycopg://app:***@db:5432/audit"
    assert display_url("mongodb://app:p@ss@h1:27017,h2:27017/empathy") == "mongodb://app:***@h1:27017,h2:27017/empathy"
    assert display_url("redis://:pw@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"
    assert display_url("sqlite:///runs/serve/audit.db") == "sqlite:///runs/serve/audit.db"
    assert display_url("app:pw@host") == "<unparseable URL>"
    with pytest.raises(UserError) as err:
        open_conversation_store("mongodb://app:hunter2@127.0.0.1:1/")
    assert "hunter2" not in str(err.value) and "***" in str(err.value)
