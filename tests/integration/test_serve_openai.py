"""`empathy serve` with auth, audit, guard and stores on, driven by the official `openai` client.

One server (a tiny model directory) on a free loopback port in a subprocess, keys in a throwaway auth database,
audit log and stores in a temp folder; stopped by PID.
"""

from __future__ import annotations

import json
import os
import time

import httpx
import pytest

from tests.services import empathy_server

pytestmark = pytest.mark.integration

MODEL = "empathy-chat"
RATE_LIMIT = 20


@pytest.fixture(scope="module")
def server(tiny_model_dir, tmp_path_factory):
    from empathy.serve.auth import KeyStore

    work = tmp_path_factory.mktemp("serve-openai")
    urls = {"EMPATHY_AUTH_URL": f"sqlite:///{work / 'auth.db'}", "EMPATHY_AUDIT_URL": f"sqlite:///{work / 'audit.db'}",
            "EMPATHY_CONVERSATION_URL": f"sqlite:///{work / 'conversations.db'}",
            "EMPATHY_INFERENCE_LOG_URL": f"sqlite:///{work / 'inference.db'}"}
    with KeyStore(urls["EMPATHY_AUTH_URL"]) as keys:
        created = {"client": keys.create("client", subject="client-1"),
                   "auditor": keys.create("auditor", subject="auditor-1"),
                   "admin": keys.create("admin", subject="admin-1"),
                   "supervisor": keys.create("supervisor", subject="supervisor-1"),
                   "burst": keys.create("client", subject="burst-1")}
    log = work / "serve.log"
    env = {**os.environ, **urls}
    env.pop("EMPATHY_JWT_SECRET", None)
    with empathy_server(["--model", str(tiny_model_dir), "--rate-limit", str(RATE_LIMIT), "--max-new-tokens", "8",
                         "--max-body-bytes", "20000"], env, log) as (base, proc):
        yield {"base": base, "proc": proc, "keys": created, "urls": urls, "log": log}


def client(server, role="client"):
    from openai import OpenAI

    return OpenAI(base_url=f"{server['base']}/openai/v1", api_key=server["keys"][role], max_retries=0, timeout=60)


def test_models_list(server):
    models = client(server).models.list()
    assert [m.id for m in models.data] == [MODEL]
    assert [m.id for m in client(server, "auditor").models.list().data] == [MODEL]


def test_chat_completion_carries_safety(server):
    completion = client(server).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "How do I cope with worry lately?"}], max_tokens=8,
        extra_headers={"X-Conversation-Id": "conv-plain"})
    assert completion.object == "chat.completion"
    assert isinstance(completion.choices[0].message.content, str)
    assert completion.choices[0].finish_reason in ("stop", "length")
    assert completion.usage.completion_tokens >= 1
    assert completion.model_extra["safety"]["action"] in ("none", "filtered")
    assert completion.model_extra["safety"]["risk_level"] in ("none", "low", "moderate")


def test_stream_yields_chunks_with_safety(server):
    stream = client(server).chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "How do I cope with sleep lately?"}], max_tokens=8,
        stream=True, temperature=0.7)
    chunks = list(stream)
    assert len(chunks) >= 3
    assert chunks[0].model_extra["safety"]["action"] in ("none", "filtered")
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")
    assert chunks[-1].model_extra["safety"] == chunks[0].model_extra["safety"]
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert isinstance(text, str)
    raw = httpx.post(f"{server['base']}/openai/v1/chat/completions", json={
        "model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, "stream": True},
        headers={"Authorization": f"Bearer {server['keys']['client']}"}, timeout=60)
    lines = [line for line in raw.text.splitlines() if line]
    assert raw.headers["content-type"].startswith("text/event-stream")
    assert all(line.startswith("data: ") for line in lines) and lines[-1] == "data: [DONE]"


def test_crisis_prompt_gets_the_crisis_response(server):
    completion = client(server).chat.completions.create(
        model=MODEL, max_tokens=8, extra_headers={"X-Conversation-Id": "conv-crisis"},
        messages=[{"role": "user", "content": "I have pills saved and I am going to take them all tonight to end my life"}])
    safety = completion.model_extra["safety"]
    assert safety["action"] == "crisis_response" and safety["risk_level"] in ("high", "imminent")
    text = completion.choices[0].message.content
    assert "988" in text or "emergency" in text.lower()


def test_auth_401_and_403(server):
    import openai

    url = f"{server['base']}/openai/v1/chat/completions"
    body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}
    none = httpx.post(url, json=body)
    assert none.status_code == 401 and none.json()["error"]["type"] == "authentication_error"
    with pytest.raises(openai.AuthenticationError):
        client(server).with_options(api_key="emp_0000000000000000_" + "a" * 43).chat.completions.create(**body)
    with pytest.raises(openai.PermissionDeniedError):
        client(server, "auditor").chat.completions.create(**body)


def test_bad_inputs_get_4xx_then_a_good_request_works(server):
    base, key = server["base"], server["keys"]["client"]
    url = f"{base}/openai/v1/chat/completions"
    auth = {"Authorization": f"Bearer {key}"}
    good = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
    cases = [
        httpx.post(url, content=b"{not json", headers={**auth, "Content-Type": "application/json"}),
        httpx.post(url, content=json.dumps(good).encode(), headers={**auth, "Content-Type": "text/plain"}),
        httpx.post(url, content=b'{"x": "' + b"a" * 30000 + b'"}', headers={**auth, "Content-Type": "application/json"}),
        httpx.post(url, json={**good, "model": "no-such-model"}, headers=auth),
        httpx.post(url, json={**good, "messages": [{"role": "wizard", "content": "hi"}]}, headers=auth),
        httpx.post(url, json={**good, "messages": []}, headers=auth),
        httpx.post(url, json={**good, "max_tokens": 0}, headers=auth),
        httpx.post(f"{base}/v1/models/{MODEL}:predict", content=b"{not json",
                   headers={**auth, "Content-Type": "application/json"}),
    ]
    expected = [400, 415, 413, 404, 422, 422, 400, 400]
    assert [r.status_code for r in cases] == expected, [r.text[:200] for r in cases]
    for r in cases:
        err = r.json()["error"]
        assert isinstance(err["type"], str) and isinstance(err["message"], str) and err["message"]
    ok = httpx.post(url, json=good, headers=auth, timeout=60)
    assert ok.status_code == 200 and "safety" in ok.json() and server["proc"].poll() is None


def test_v1_predict_carries_safety(server):
    r = httpx.post(f"{server['base']}/v1/models/{MODEL}:predict", timeout=60,
                   headers={"Authorization": f"Bearer {server['keys']['client']}"},
                   json={"instances": [{"messages": [{"role": "user", "content": "How do I cope with grief?"}],
                                        "max_new_tokens": 4}]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["predictions"][0]["safety"]["action"] in ("none", "filtered") and body["safety"]


def test_rate_limit_429_with_retry_after(server):
    url = f"{server['base']}/openai/v1/chat/completions"
    auth = {"Authorization": f"Bearer {server['keys']['burst']}", "Content-Type": "application/json"}
    statuses = [httpx.post(url, content=b"{bad", headers=auth).status_code for _ in range(RATE_LIMIT)]
    assert set(statuses) == {400}
    limited = httpx.post(url, content=b"{bad", headers=auth)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["error"]["type"] == "rate_limit_exceeded"


def test_metrics_have_custom_series(server):
    text = httpx.get(f"{server['base']}/metrics").text
    for name in ("empathy_chat_latency_seconds_bucket", "empathy_tokens_total", "empathy_guard_decisions_total",
                 "empathy_rate_limited_total"):
        assert name in text, name
    assert 'action="crisis_response"' in text


def test_v2_infer_carries_safety(server):
    r = httpx.post(f"{server['base']}/v2/models/{MODEL}/infer", timeout=60,
                   headers={"Authorization": f"Bearer {server['keys']['client']}"},
                   json={"inputs": [{"name": "messages", "shape": [1], "datatype": "BYTES",
                                     "data": [json.dumps([{"role": "user", "content": "How do I cope with anger?"}])]}],
                         "parameters": {"max_new_tokens": 4}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["outputs"][0]["name"] == "content" and isinstance(body["outputs"][0]["data"][0], str)
    assert json.loads(body["parameters"]["safety"])["action"] in ("none", "filtered")
    assert body["parameters"]["safety_action"] in ("none", "filtered")
    bad = httpx.post(f"{server['base']}/v2/models/{MODEL}/infer", timeout=60,
                     headers={"Authorization": f"Bearer {server['keys']['client']}"},
                     json={"inputs": [{"name": "text", "shape": [1], "datatype": "BYTES", "data": ["hi"]}]})
    assert bad.status_code == 400 and "messages" in bad.json()["error"]["message"]


def test_audit_and_key_routes_by_role(server):
    base = server["base"]

    def call(method, path, role=None, **kwargs):
        headers = {"Authorization": f"Bearer {server['keys'][role]}"} if role else {}
        return httpx.request(method, f"{base}{path}", headers=headers, timeout=30, **kwargs)

    page = call("GET", "/audit/v1/entries?limit=2", "auditor")
    assert page.status_code == 200, page.text
    body = page.json()
    assert len(body["entries"]) == 2 and body["complete"] is False
    assert body["next_since_seq"] == body["entries"][-1]["seq"]
    assert all(len(e["content_sha256"]) in (0, 64) and "content" not in e for e in body["entries"])
    after = call("GET", f"/audit/v1/entries?since_seq={body['next_since_seq']}&limit=1000", "supervisor").json()
    assert after["entries"][0]["seq"] == body["next_since_seq"] + 1
    assert call("GET", "/audit/v1/entries?actor=client-1&limit=5", "admin").json()["entries"][0]["actor"] == "client-1"
    assert call("GET", "/audit/v1/entries?limit=0", "auditor").status_code == 400
    assert call("GET", "/audit/v1/entries", "client").status_code == 403
    assert call("GET", "/audit/v1/entries").status_code == 401

    verified = call("GET", "/audit/v1/verify", "auditor")
    assert verified.status_code == 200 and verified.json()["ok"] is True
    assert verified.json()["head"]["seq"] >= 1 and len(verified.json()["head"]["hash"]) == 64
    assert call("GET", "/audit/v1/verify", "supervisor").status_code == 403

    created = call("POST", "/admin/v1/keys", "admin", json={"role": "therapist", "subject": "therapist-9"})
    assert created.status_code == 201, created.text
    new = created.json()
    assert new["role"] == "therapist" and new["subject"] == "therapist-9" and new["key"].startswith("emp_")
    listed = call("GET", "/admin/v1/keys", "admin").json()["keys"]
    assert any(k["key_id"] == new["key_id"] for k in listed)
    assert not any("key" in k or "key_sha256" in k or "salt" in k for k in listed)  # secrets never leave the store
    chat = {"model": MODEL, "messages": [{"role": "user", "content": "hello, a therapist here"}], "max_tokens": 2}
    as_therapist = httpx.post(f"{base}/openai/v1/chat/completions", json=chat, timeout=60,
                              headers={"Authorization": f"Bearer {new['key']}"})
    assert as_therapist.status_code == 200
    revoked = call("DELETE", f"/admin/v1/keys/{new['key_id']}", "admin")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert httpx.post(f"{base}/openai/v1/chat/completions", json=chat, timeout=60,
                      headers={"Authorization": f"Bearer {new['key']}"}).status_code == 401
    bad_role = call("POST", "/admin/v1/keys", "admin", json={"role": "wizard"})
    assert bad_role.status_code == 400 and "wizard" in bad_role.json()["error"]["message"]
    malformed = httpx.post(f"{base}/admin/v1/keys", content=b"{not json", timeout=30,
                           headers={"Authorization": f"Bearer {server['keys']['admin']}",
                                    "Content-Type": "application/json"})
    assert malformed.status_code == 400 and "not valid JSON" in malformed.json()["error"]["message"]
    assert call("DELETE", "/admin/v1/keys/0123456789abcdef", "admin").status_code == 404
    assert call("POST", "/admin/v1/keys", "auditor", json={"role": "admin"}).status_code == 403
    assert call("GET", "/admin/v1/keys", "supervisor").status_code == 403

    entries = call("GET", "/audit/v1/entries?actor=admin-1&limit=1000", "auditor").json()["entries"]
    actions = [e["action"] for e in entries]
    assert "key_created" in actions and "key_revoked" in actions


def test_zz_audit_and_conversation_store(server):
    """Runs last (module order): every request above has one audit entry, the chain verifies, turns are stored."""
    from empathy.serve.audit import AuditLog
    from empathy.serve.stores import open_conversation_store, open_inference_log

    time.sleep(0.5)
    with AuditLog(server["urls"]["EMPATHY_AUDIT_URL"]) as audit:
        ok, message = audit.verify()
        assert ok, message
        entries = audit.entries()
    actions = [e.action for e in entries]
    assert "crisis_response" in actions and "denied" in actions and "reply" in actions and "list" in actions
    assert len({e.request_id for e in entries}) == len(entries)  # one entry per request
    crisis = [e for e in entries if e.action == "crisis_response"]
    assert crisis[0].actor == "client-1" and crisis[0].model == f"{MODEL}@local" and len(crisis[0].content_sha256) == 64
    assert sum(e.action == "denied" for e in entries) >= 3
    for route in ("/v1/models/{name}:predict", "/v2/models/{name}/infer", "/openai/v1/chat/completions"):
        assert any(e.route == route and e.action == "reply" and e.model == f"{MODEL}@local" and e.risk_level
                   for e in entries), route
    with open_conversation_store(server["urls"]["EMPATHY_CONVERSATION_URL"]) as store:
        turns = store.conversation("conv-crisis")
        assert [t.role for t in turns] == ["user", "assistant"] and turns[1].action == "crisis_response"
        assert all(t.subject == "client-1" for t in turns)
        assert len(store.conversation("conv-plain")) == 2
    with open_inference_log(server["urls"]["EMPATHY_INFERENCE_LOG_URL"]) as inference:
        records = inference.records()
    assert any(r.action == "crisis_response" for r in records) and len(records) >= 5
