"""`empathy guard` as a KServe transformer in front of a real predictor, driven by the official `openai` client.

The predictor is `empathy serve --no-auth` (the tiny model) on a loopback port standing in for vLLM's OpenAI route
(there is no GPU here); the guard is started first, with auth on, and must be live but not ready until the
predictor is, answer crisis messages without it, forward everything else to it, and go unready when it stops.
Both are subprocesses stopped by PID.
"""

from __future__ import annotations

import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from empathy.deploy import free_port
from tests.services import empathy_server

MODEL = "empathy-chat"
CRISIS = "I have pills saved and I am going to take them all tonight to end my life"


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.3)


def _status(url: str) -> int:
    try:
        return httpx.get(url, timeout=3).status_code
    except httpx.HTTPError:
        return 0


@pytest.mark.integration
def test_guard_fronts_a_predictor_and_follows_its_readiness(tiny_model_dir, tmp_path):
    from openai import OpenAI

    from empathy.serve.audit import AuditLog
    from empathy.serve.auth import KeyStore
    from empathy.serve.stores import open_conversation_store

    guard_urls = {"EMPATHY_AUTH_URL": f"sqlite:///{tmp_path / 'auth.db'}",
                  "EMPATHY_AUDIT_URL": f"sqlite:///{tmp_path / 'audit.db'}",
                  "EMPATHY_CONVERSATION_URL": f"sqlite:///{tmp_path / 'guard-conversations.db'}",
                  "EMPATHY_INFERENCE_LOG_URL": f"sqlite:///{tmp_path / 'guard-inference.db'}"}
    predictor_urls = {"EMPATHY_AUDIT_URL": f"sqlite:///{tmp_path / 'predictor-audit.db'}",
                      "EMPATHY_CONVERSATION_URL": f"sqlite:///{tmp_path / 'predictor-conversations.db'}",
                      "EMPATHY_INFERENCE_LOG_URL": f"sqlite:///{tmp_path / 'predictor-inference.db'}"}
    with KeyStore(guard_urls["EMPATHY_AUTH_URL"]) as keys:
        key = keys.create("client", subject="client-7")
    env = {k: v for k, v in os.environ.items() if k != "EMPATHY_JWT_SECRET"}
    predictor_port = free_port()

    with empathy_server(["--model_name", MODEL, "--predictor_host", f"127.0.0.1:{predictor_port}",
                         "--max-new-tokens", "8"], {**env, **guard_urls}, tmp_path / "guard.log",
                        command="guard", wait_ready=False) as (guard, _):
        openai = OpenAI(base_url=f"{guard}/openai/v1", api_key=key, max_retries=0, timeout=60)
        assert _status(f"{guard}/v2/health/live") == 200
        assert _status(f"{guard}/v2/health/ready") != 200  # no predictor yet

        # a crisis gets its response without the model: the guard answers it even while the predictor is down
        crisis = openai.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": CRISIS}],
                                                extra_headers={"X-Conversation-Id": "conv-crisis"})
        assert crisis.model_extra["safety"]["action"] == "crisis_response"
        assert "988" in crisis.choices[0].message.content or "emergency" in crisis.choices[0].message.content.lower()
        down = httpx.post(f"{guard}/openai/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                          json={"model": MODEL, "messages": [{"role": "user", "content": "I feel low today"}]})
        assert down.status_code == 503 and down.json()["error"]["type"] == "predictor_unavailable"

        with empathy_server(["--model", str(tiny_model_dir), "--no-auth"], {**env, **predictor_urls},
                            tmp_path / "predictor.log", port=predictor_port):
            _wait(lambda: _status(f"{guard}/v2/health/ready") == 200, 30, "the guard did not become ready")
            assert _status(f"{guard}/v2/models/{MODEL}/ready") == 200

            reply = openai.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "How do I cope with worry lately?"}], max_tokens=6,
                extra_headers={"X-Conversation-Id": "conv-plain"})
            assert reply.model_extra["safety"]["action"] in ("none", "filtered")
            assert 1 <= reply.usage.completion_tokens <= 6 and reply.usage.prompt_tokens > 0
            assert reply.choices[0].finish_reason in ("stop", "length")
            chunks = list(openai.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "What helps with sleep?"}], max_tokens=6,
                stream=True))
            assert chunks[0].model_extra["safety"]["action"] in ("none", "filtered")
            assert chunks[-1].choices[0].finish_reason in ("stop", "length")
            v1 = httpx.post(f"{guard}/v1/models/{MODEL}:predict", headers={"Authorization": f"Bearer {key}"},
                            json={"instances": [{"messages": [{"role": "user", "content": "hello there"}],
                                                 "max_new_tokens": 4}]}, timeout=60)
            assert v1.status_code == 200 and v1.json()["safety"]["action"] in ("none", "filtered")
            assert httpx.post(f"{guard}/openai/v1/chat/completions",
                              json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}).status_code == 401
            assert openai.models.list().data[0].id == MODEL

            with open_conversation_store(predictor_urls["EMPATHY_CONVERSATION_URL"]) as store:
                forwarded = [t for info in store.conversations("anonymous")
                             for t in store.conversation(info.conversation_id)]
            # the predictor saw the three generated requests (the sanitised messages), never the crisis message
            assert sum(t.role == "user" for t in forwarded) == 3
            assert not any(CRISIS in t.content for t in forwarded)

        _wait(lambda: _status(f"{guard}/v2/health/ready") != 200, 30, "the guard stayed ready without its predictor")
        gone = httpx.post(f"{guard}/openai/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                          json={"model": MODEL, "messages": [{"role": "user", "content": "are you there"}]})
        assert gone.status_code == 503 and "cannot be reached" in gone.json()["error"]["message"]

    with AuditLog(guard_urls["EMPATHY_AUDIT_URL"]) as audit:
        ok, message = audit.verify()
        entries = audit.entries()
    assert ok, message
    replies = [e for e in entries if e.action == "reply"]
    # the version the predictor reports for a model directory ("local"), learnt once it answered
    assert replies and all(e.model == f"{MODEL}@local" and e.actor == "client-7" for e in replies)
    assert any(e.action == "crisis_response" for e in entries) and any(e.action == "denied" for e in entries)
    with open_conversation_store(guard_urls["EMPATHY_CONVERSATION_URL"]) as store:
        assert [t.action for t in store.conversation("conv-crisis")] == ["", "crisis_response"]
        assert len(store.conversation("conv-plain")) == 2


class _CannedPredictor(BaseHTTPRequestHandler):
    """A loopback stand-in for a predictor that misbehaves: each path answers one canned status and body."""

    canned = {"/bad/openai/v1/chat/completions": (400, {"error": {"message": "prompt longer than the context"}}),
              "/nochat/openai/v1/chat/completions": (200, {"result": "not a completion"}),
              "/down/openai/v1/chat/completions": (500, {"error": "CUDA out of memory"}),
              "/nomodel/openai/v1/chat/completions": (404, {"error": {"message": "model not found"}})}

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        status, body = self.canned.get(self.path, (404, {}))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    gets = 0

    def do_GET(self):
        type(self).gets += 1
        self.send_response(404)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_predictor_errors_become_clear_api_errors():
    from empathy.serve.app import ApiError
    from empathy.serve.transformer import PredictorClient

    server = ThreadingHTTPServer(("127.0.0.1", 0), _CannedPredictor)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    host = f"127.0.0.1:{server.server_address[1]}"
    messages = [{"role": "user", "content": "hello"}]
    try:
        expected = {"bad": (400, "invalid_request_error", "prompt longer than the context"),
                    "nochat": (502, "predictor_error", "not a chat completion"),
                    "down": (502, "predictor_error", "answered 500: CUDA out of memory"),
                    "nomodel": (503, "predictor_unavailable", "does not serve model 'empathy-chat'")}
        for prefix, (status, type_, text) in expected.items():
            client = PredictorClient(host, MODEL)
            client.client.base_url = f"http://{host}/{prefix}"
            with pytest.raises(ApiError) as err:
                client.reply(messages, 4)
            assert (err.value.status, err.value.type) == (status, type_) and text in err.value.message, prefix
        unversioned = PredictorClient(host, MODEL)
        # no models route: a label, not an error, and not asked again on every request
        assert [unversioned.model_version for _ in range(5)] == ["remote"] * 5 and _CannedPredictor.gets == 1
    finally:
        server.shutdown()
    with pytest.raises(ApiError, match="cannot be reached") as err:
        PredictorClient(f"127.0.0.1:{free_port()}", MODEL).reply(messages, 4)
    assert err.value.status == 503
    with pytest.raises(ValueError, match="--predictor_host"):
        PredictorClient("http://host/path", MODEL)
