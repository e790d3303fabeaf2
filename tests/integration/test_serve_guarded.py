"""ChatService wiring without a server: guard decisions -> stores, cache, metrics, audit state; --no-auth refusal.

A stand-in guard (the real one is tested with the served model in test_serve_openai.py) makes each decision
deterministic: the output filter path, crisis responses never cached, conversation ownership.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from empathy.serve.guard import GuardedReply, GuardError, InputDecision, OutputDecision

pytestmark = pytest.mark.integration


class FakeGenerator:
    def __init__(self, text="Take one small step at a time."):
        self.text, self.calls = text, 0

    def reply(self, messages, max_new_tokens=64, temperature=0.0, repetition_penalty=1.2):
        self.calls += 1
        return {"content": self.text, "finish_reason": "stop", "prompt_tokens": 10, "completion_tokens": 7}


class FakeGuard:
    """'crisis' in the last user message -> crisis response; 'unsafe' in the reply -> filtered."""

    def respond(self, messages, generate):
        if not isinstance(messages, list) or not messages:
            raise GuardError(422, "invalid_messages", "messages: must not be empty")
        last = messages[-1]["content"]
        if "crisis" in last:
            decision = InputDecision(messages, "imminent", ["suicidality"], True)
            return GuardedReply("Call 988 now.", {"risk_level": "imminent", "action": "crisis_response"}, decision,
                                None)
        decision = InputDecision(messages, "low", [], False)
        text = generate(messages)
        if "unsafe" in text:
            out = OutputDecision("A safe reply.", "filtered", ["method_detail"])
            return GuardedReply(out.text, {"risk_level": "low", "action": "filtered"}, decision, out)
        return GuardedReply(text, {"risk_level": "low", "action": "none"}, decision, OutputDecision(text, "none"))


@pytest.fixture
def make_service(tmp_path):
    from empathy.serve.app import ChatService, ServeSettings

    def make(generator=None, **kw):
        settings = ServeSettings(conversation_url=f"sqlite:///{tmp_path / 'c.db'}",
                                 inference_log_url=f"sqlite:///{tmp_path / 'i.db'}", **kw)
        return ChatService(generator or FakeGenerator(), "empathy-chat", "3", settings, guard=FakeGuard())

    return make


def msgs(text):
    return [{"role": "user", "content": text}]


def test_reply_goes_to_stores_and_audit_state(make_service):
    from empathy.serve.app import current_state

    service = make_service()
    state = {}
    token = current_state.set(state)
    try:
        result = service.chat(msgs("I feel low"), subject="client-1", conversation_id="c-1", request_id="r-1")
    finally:
        current_state.reset(token)
    assert result.safety == {"risk_level": "low", "action": "none"} and result.completion_tokens == 7
    assert state["audit"]["action"] == "reply" and state["audit"]["model"] == "empathy-chat@3"
    assert state["audit"]["risk_level"] == "low" and state["audit"]["content"] == msgs("I feel low")
    turns = service.conversations.conversation("c-1")
    assert [(t.role, t.subject) for t in turns] == [("user", "client-1"), ("assistant", "client-1")]
    (record,) = service.inference_log.records()
    assert record.id == "r-1" and record.action == "reply" and record.model == "empathy-chat@3"


def test_filtered_reply_is_replaced(make_service):
    result = make_service(FakeGenerator("an unsafe answer")).chat(msgs("tell me"), conversation_id="c-2")
    assert result.text == "A safe reply." and result.safety["action"] == "filtered"


def test_cache_for_temperature_zero_but_never_for_crisis(make_service):
    gen = FakeGenerator()
    service = make_service(gen)
    first = service.chat(msgs("hello"), conversation_id="c-3")
    second = service.chat(msgs("hello"), conversation_id="c-3")
    assert gen.calls == 1 and second.cached and second.text == first.text
    service.chat(msgs("hello"), temperature=0.7, conversation_id="c-3")
    assert gen.calls == 2
    a = service.chat(msgs("crisis now"), conversation_id="c-4")
    b = service.chat(msgs("crisis now"), conversation_id="c-4")
    assert not a.cached and not b.cached and b.safety["action"] == "crisis_response"


def test_conversation_of_another_subject_is_403(make_service):
    from empathy.serve.app import ApiError

    service = make_service()
    service.chat(msgs("hi"), subject="client-1", conversation_id="c-5")
    with pytest.raises(ApiError) as err:
        service.chat(msgs("hi"), subject="client-2", conversation_id="c-5", temperature=0.5)
    assert err.value.status == 403


@pytest.mark.parametrize("kwargs, status", [
    ({"max_new_tokens": 0}, 400), ({"temperature": "hot"}, 400), ({"temperature": 3}, 400),
    ({"repetition_penalty": 9}, 400),
])
def test_bad_parameters_are_400(make_service, kwargs, status):
    from empathy.serve.app import ApiError

    with pytest.raises(ApiError) as err:
        make_service().chat(msgs("hi"), **kwargs)
    assert err.value.status == status


def test_guard_error_keeps_its_status(make_service):
    from empathy.serve.app import ApiError

    with pytest.raises(ApiError) as err:
        make_service().chat([])
    assert err.value.status == 422 and "invalid_messages" in err.value.message


def test_rate_limit_raises_429_with_retry_after(make_service):
    from empathy.serve.app import ApiError

    service = make_service(rate_limit=2)
    service.rate_limit("k")
    service.rate_limit("k")
    with pytest.raises(ApiError) as err:
        service.rate_limit("k")
    assert err.value.status == 429 and int(err.value.headers["Retry-After"]) >= 1
    service.rate_limit("other")  # per principal


def test_no_auth_is_refused_on_an_open_host():
    out = subprocess.run([sys.executable, "-m", "empathy.cli", "serve", "--model", "/nonexistent", "--no-auth",
                          "--host", "0.0.0.0"], capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "--no-auth is only allowed on a loopback host" in out.stderr + out.stdout
