"""LLM providers and the resumable batch runner, against loopback fake servers.

OpenAI's and Anthropic's paid APIs cannot be reached from here, and a real
Ollama would need a model download, so these tests run the official SDKs
(openai, anthropic, ollama) against `tests.llm_fakes.FakeLLMServer`: a
loopback HTTP server that speaks each provider's HTTP API closely enough for
the SDK to parse its replies and raise its own exceptions. What is checked is
our side: what we send (model, messages, sampling, key headers), how replies
and token counts are read, and how SDK errors map to retryable or not.
Nothing here proves that the paid APIs accept these requests today.

The batch runner is tested with a small in-process provider where the HTTP
layer adds nothing, and through the SDKs where it does (retries, fast
failure on 401, concurrency seen by the server).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

# The SDKs take seconds to import; paying that at collection keeps each test's own time honest.
import anthropic  # noqa: F401
import ollama  # noqa: F401
import openai  # noqa: F401
import pytest

from empathy.config import BatchConfig, ProviderConfig, SecretRef
from empathy.errors import UserError
from empathy.llm.batch import COMPLETIONS_FILE, FAILED_FILE, backoff_delay, load_completions, run_batch
from empathy.llm.providers import NO_KEY_PLACEHOLDER, make_provider
from empathy.llm.secrets import resolve_api_key
from empathy.llm.types import ChatRequest, Completion, ProviderError
from tests.conftest import REPO, free_port
from tests.llm_fakes import FakeLLMServer, Reply

KEY = "sk-test-0123456789"
FAST = BatchConfig(concurrency=4, max_retries=3, backoff_s=0.001, max_backoff_s=0.004)

# Variables the SDKs read on their own; a developer's shell must not change what these tests send.
SDK_ENV = ["OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_ADMIN_KEY",
           "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "ANTHROPIC_CUSTOM_HEADERS",
           "ANTHROPIC_PROFILE", "ANTHROPIC_CONFIG_DIR", "OLLAMA_API_KEY", "OLLAMA_HOST", "EMPATHY_API_KEY",
           "VAULT_ADDR", "VAULT_TOKEN"]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch, tmp_path):
    for name in SDK_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", str(tmp_path / "anthropic-config"))


@pytest.fixture
def server():
    with FakeLLMServer(api_key=KEY) as fake:
        yield fake


def chat(text: str = "I cannot sleep before exams", system: str | None = "Be warm.", rid: str = "r1") -> ChatRequest:
    messages = [{"role": "system", "content": system}] if system else []
    return ChatRequest(id=rid, messages=[*messages, {"role": "user", "content": text}])


def provider_for(name: str, server: FakeLLMServer, monkeypatch, **overrides):
    env = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "ollama": "OLLAMA_API_KEY"}[name]
    monkeypatch.setenv(env, KEY)
    base_url = server.openai_base_url if name == "openai" else server.url
    cfg = {"name": name, "model": f"{name}-model", "base_url": base_url, "timeout_s": 5.0, **overrides}
    return make_provider(ProviderConfig(**cfg))


# --- each SDK against its loopback fake ------------------------------------------------------------


def test_openai_sdk_against_loopback_fake_openai_api(server, monkeypatch):
    provider = provider_for("openai", server, monkeypatch, temperature=0.3, max_tokens=120, seed=7)
    completion = provider.complete(chat())

    assert completion == Completion(text="echo openai-model: I cannot sleep before exams", input_tokens=7,
                                    output_tokens=7, provider="openai", model="openai-model", finish_reason="stop")
    (sent,) = server.requests
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body["model"] == "openai-model"
    assert sent.body["messages"] == chat().messages
    assert (sent.body["temperature"], sent.body["max_completion_tokens"], sent.body["seed"]) == (0.3, 120, 7)
    assert "max_tokens" not in sent.body
    assert sent.headers["x-stainless-retry-count"] == "0"


def test_anthropic_sdk_against_loopback_fake_anthropic_api(server, monkeypatch):
    provider = provider_for("anthropic", server, monkeypatch, max_tokens=200)
    request = ChatRequest(id="a", messages=[
        {"role": "system", "content": "Be warm."}, {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi, how are you"},
        {"role": "user", "content": "tired of everything"}])
    completion = provider.complete(request)

    assert completion.text == "echo anthropic-model: tired of everything"
    assert (completion.input_tokens, completion.output_tokens) == (12, 5)
    assert (completion.provider, completion.finish_reason) == ("anthropic", "end_turn")
    (sent,) = server.requests
    assert sent.path == "/v1/messages"
    assert sent.headers["anthropic-version"]
    assert KEY in (sent.headers.get("x-api-key"), sent.headers.get("authorization", "").removeprefix("Bearer "))
    assert sent.body["system"] == "Be warm.\n\nBe brief."
    assert [m["role"] for m in sent.body["messages"]] == ["user", "assistant", "user"]
    assert sent.body["max_tokens"] == 200
    # The 2.x SDK (API version 2026-10-21) has no sampling parameters, and Anthropic has no seed.
    assert "temperature" not in sent.body and "seed" not in sent.body


def test_anthropic_cached_prompt_tokens_count_as_input(server, monkeypatch):
    provider = provider_for("anthropic", server, monkeypatch)
    original = server.answer

    def with_cache(received):
        reply, status, body = original(received)
        body["usage"].update(cache_read_input_tokens=100, cache_creation_input_tokens=20)
        return reply, status, body

    server.answer = with_cache
    assert provider.complete(chat(system=None)).input_tokens == 5 + 120


def test_ollama_sdk_against_loopback_fake_ollama_api(server, monkeypatch):
    provider = provider_for("ollama", server, monkeypatch, temperature=0.0, max_tokens=64, seed=3)
    completion = provider.complete(chat())

    assert completion == Completion(text="echo ollama-model: I cannot sleep before exams", input_tokens=7,
                                    output_tokens=7, provider="ollama", model="ollama-model", finish_reason="stop")
    (sent,) = server.requests
    assert sent.path == "/api/chat"
    assert sent.body["stream"] is False
    assert sent.body["messages"] == chat().messages
    assert sent.body["options"] == {"temperature": 0.0, "num_predict": 64, "seed": 3}
    assert sent.headers["authorization"] == f"Bearer {KEY}"


def test_ollama_needs_no_key_and_defaults_to_local_host():
    provider = make_provider(ProviderConfig(name="ollama", model="llama3.2"))
    assert provider.host == "http://127.0.0.1:11434"


def test_empathy_provider_against_loopback_openai_fake_at_openai_v1_prefix(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-openai-key-must-not-leak")
    with FakeLLMServer(openai_prefix="/openai/v1") as fake:
        provider = make_provider(ProviderConfig(name="empathy", model="empathy-chat", base_url=fake.openai_base_url,
                                                max_tokens=50))
        completion = provider.complete(chat("hello"))

    assert (completion.text, completion.provider) == ("echo empathy-chat: hello", "empathy")
    (sent,) = fake.requests
    assert sent.path == "/openai/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {NO_KEY_PLACEHOLDER}"
    assert sent.body["max_tokens"] == 50 and sent.body["seed"] == 13


def test_empathy_provider_sends_its_key_when_configured(monkeypatch):
    monkeypatch.setenv("EMPATHY_API_KEY", KEY)
    with FakeLLMServer(api_key=KEY, openai_prefix="/openai/v1") as fake:
        provider = make_provider(ProviderConfig(name="empathy", model="m", base_url=fake.openai_base_url))
        assert provider.complete(chat()).text.startswith("echo m:")


def test_empathy_provider_requires_base_url():
    with pytest.raises(UserError, match="empathy: base_url is required.*openai/v1"):
        make_provider(ProviderConfig(name="empathy", model="empathy-chat"))


def test_network_provider_requires_a_real_model_name(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with pytest.raises(UserError, match="openai: set provider.model"):
        make_provider(ProviderConfig(name="openai"))


def test_provider_repr_and_errors_never_show_the_key(server, monkeypatch):
    provider = provider_for("openai", server, monkeypatch)
    server.script(401)
    with pytest.raises(ProviderError) as info:
        provider.complete(chat())
    assert KEY not in repr(provider) and KEY not in str(info.value)


# --- error mapping -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["openai", "anthropic", "ollama"])
@pytest.mark.parametrize("status,retryable", [(429, True), (500, True), (503, True), (400, False), (401, False),
                                              (403, False), (404, False)])
def test_http_status_maps_to_retryable_or_not(name, status, retryable, server, monkeypatch):
    provider = provider_for(name, server, monkeypatch)
    server.script(status)
    with pytest.raises(ProviderError) as info:
        provider.complete(chat())
    assert (info.value.status, info.value.retryable) == (status, retryable)
    assert f"{name} {name}-model: HTTP {status}" in str(info.value)


@pytest.mark.parametrize("name", ["openai", "anthropic", "ollama"])
def test_dropped_connection_and_timeout_are_retryable(name, server, monkeypatch):
    provider = provider_for(name, server, monkeypatch, timeout_s=0.2)
    server.script(Reply(drop=True), Reply(delay_s=0.6))
    with pytest.raises(ProviderError) as dropped:
        provider.complete(chat())
    with pytest.raises(ProviderError, match="timed out after 0.2 s") as timed_out:
        provider.complete(chat())
    assert dropped.value.retryable and timed_out.value.retryable
    assert dropped.value.status is None


@pytest.mark.parametrize("name", ["openai", "ollama"])
def test_refused_connection_is_retryable(name, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    port = free_port()
    base = f"http://127.0.0.1:{port}" + ("/v1" if name == "openai" else "")
    provider = make_provider(ProviderConfig(name=name, model="m", base_url=base, timeout_s=1))
    with pytest.raises(ProviderError) as info:
        provider.complete(chat())
    assert info.value.retryable


def test_ollama_unknown_model_hints_at_pull(server, monkeypatch):
    provider = provider_for("ollama", server, monkeypatch)
    server.script(404)
    with pytest.raises(ProviderError, match="ollama pull ollama-model") as info:
        provider.complete(chat())
    assert not info.value.retryable


# --- API keys from the environment -------------------------------------------------------------------


def test_key_from_default_env_var(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", " sk-ant \n")
    assert resolve_api_key("anthropic", SecretRef()) == "sk-ant"


def test_configured_env_var_replaces_the_default(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-default")
    monkeypatch.setenv("TEAM_OPENAI_KEY", "sk-team")
    assert resolve_api_key("openai", SecretRef(env="TEAM_OPENAI_KEY")) == "sk-team"


def test_ollama_and_empathy_need_no_key():
    assert resolve_api_key("ollama", SecretRef()) is None
    assert resolve_api_key("empathy", SecretRef()) is None


def test_missing_key_error_names_provider_env_var_and_vault(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "   ")  # set but empty counts as missing
    with pytest.raises(UserError) as info:
        resolve_api_key("openai", SecretRef())
    message = str(info.value)
    assert "provider openai" in message and "OPENAI_API_KEY is not set" in message and "vault_path" in message


def test_missing_key_stops_make_provider_before_any_request():
    with pytest.raises(UserError, match="provider anthropic: no API key.*ANTHROPIC_API_KEY"):
        make_provider(ProviderConfig(name="anthropic", model="claude-x"))


def test_vault_path_without_vault_addr_is_named():
    ref = SecretRef(vault_path="empathy/llm/openai")
    with pytest.raises(UserError, match="secret/empathy/llm/openai, but VAULT_ADDR is not set.*OPENAI_API_KEY"):
        resolve_api_key("openai", ref)


# --- the batch runner ---------------------------------------------------------------------------------


class ScriptedProvider:
    """In-process provider: replies "done ID"; `errors[id]` is a list of ProviderErrors raised first, in order."""

    name = "scripted"
    model = "scripted-1"

    def __init__(self, errors: dict[str, list[Exception]] | None = None, delay_s: float = 0.0):
        self.errors = {k: list(v) for k, v in (errors or {}).items()}
        self.delay_s = delay_s
        self.calls: list[str] = []
        self._lock = threading.Lock()

    def complete(self, request: ChatRequest) -> Completion:
        with self._lock:
            self.calls.append(request.id)
            pending = self.errors.get(request.id)
            error = pending.pop(0) if pending else None
        if self.delay_s:
            time.sleep(self.delay_s)
        if error is not None:
            raise error
        words = len(request.messages[-1]["content"].split())
        return Completion(text=f"done {request.id}", input_tokens=words, output_tokens=2, provider=self.name,
                          model=self.model)


def requests_(n: int, prefix: str = "item") -> list[ChatRequest]:
    return [ChatRequest(id=f"{prefix}-{i}", messages=[{"role": "user", "content": f"write dialogue number {i}"}])
            for i in range(n)]


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_batch_through_openai_sdk_retries_429_then_succeeds(server, monkeypatch, tmp_path):
    provider = provider_for("openai", server, monkeypatch)
    server.script(429, 500)
    result = run_batch(provider, [chat(rid="only")], tmp_path, FAST, progress=False)

    record = result.completions["only"]
    assert record.attempts == 3 and record.text.startswith("echo openai-model")
    assert (result.totals.retries, result.totals.failed, len(server.requests)) == (2, 0, 3)
    (line,) = read_jsonl(tmp_path / COMPLETIONS_FILE)
    assert {k: line[k] for k in ("id", "attempts", "provider", "model", "input_tokens", "output_tokens")} == {
        "id": "only", "attempts": 3, "provider": "openai", "model": "openai-model", "input_tokens": 7,
        "output_tokens": 7}
    assert line["seconds"] >= 0


def test_batch_through_anthropic_sdk_fails_fast_on_401(server, monkeypatch, tmp_path):
    provider = provider_for("anthropic", server, monkeypatch)
    server.script(401)
    result = run_batch(provider, [chat(rid="a"), chat(rid="b")], tmp_path, BatchConfig(concurrency=1, backoff_s=5),
                       progress=False)

    assert list(result.failed) == ["a"] and "HTTP 401" in result.failed["a"]
    assert list(result.completions) == ["b"]
    assert result.totals.retries == 0 and result.totals.seconds < 2  # no 5 s backoff was slept
    assert read_jsonl(tmp_path / FAILED_FILE) == [
        {"id": "a", "error": result.failed["a"], "retryable": False, "attempts": 1}]


def test_batch_gives_up_after_max_retries(tmp_path):
    busy = [ProviderError("busy", retryable=True, status=503)] * 5
    provider = ScriptedProvider({"item-0": busy})
    batch = BatchConfig(concurrency=2, max_retries=2, backoff_s=0.001, max_backoff_s=0.002)
    result = run_batch(provider, requests_(3), tmp_path, batch, progress=False)

    assert result.failed == {"item-0": "busy"}
    assert provider.calls.count("item-0") == 3 and result.totals.retries == 2
    assert read_jsonl(tmp_path / FAILED_FILE)[0] == {"id": "item-0", "error": "busy", "retryable": True,
                                                      "attempts": 3}


def test_batch_sleeps_the_backoff_between_retries(tmp_path):
    busy = [ProviderError("rate limited", retryable=True, status=429)] * 3
    batch = BatchConfig(concurrency=1, max_retries=3, backoff_s=0.04, max_backoff_s=0.06)
    result = run_batch(ScriptedProvider({"item-0": busy}), requests_(1), tmp_path, batch, progress=False)
    record = result.completions["item-0"]
    # At least half of each delay: 0.04, 0.06 (capped from 0.08), 0.06 s; generous above for loaded CI machines.
    assert record.attempts == 4 and 0.08 <= record.seconds < 0.6


def test_batch_concurrency_limit_seen_by_the_server(monkeypatch, tmp_path):
    monkeypatch.setenv("OLLAMA_API_KEY", KEY)
    with FakeLLMServer(api_key=KEY, delay_s=0.04) as fake:
        provider = make_provider(ProviderConfig(name="ollama", model="m", base_url=fake.url))
        result = run_batch(provider, requests_(12), tmp_path, BatchConfig(concurrency=3), progress=False)
    assert result.totals.completed == 12
    assert fake.max_in_flight == 3


def test_backoff_doubles_is_capped_and_jittered():
    batch = BatchConfig(backoff_s=1.0, max_backoff_s=5.0)
    for retry, base in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (9, 5.0)]:
        delays = [backoff_delay(retry, batch) for _ in range(200)]
        assert base / 2 <= min(delays) and max(delays) <= base
        assert max(delays) - min(delays) > base / 4  # jittered, not constant


def test_batch_token_totals_and_order(tmp_path):
    requests = requests_(5)
    result = run_batch(ScriptedProvider(delay_s=0.001), requests, tmp_path, FAST, progress=False)
    assert list(result.completions) == [r.id for r in requests]
    assert result.totals.input_tokens == 5 * 4 and result.totals.output_tokens == 5 * 2
    assert (result.totals.requests, result.totals.completed, result.totals.resumed) == (5, 5, 0)
    totals = dict(result.totals)
    assert list(totals) == ["requests", "completed", "resumed", "failed", "retries", "input_tokens",
                            "output_tokens", "seconds"]
    assert totals["input_tokens"] == 20 and json.dumps(totals)


def test_batch_resume_requests_only_failed_and_missing_ids(server, monkeypatch, tmp_path):
    provider = provider_for("openai", server, monkeypatch)
    requests = requests_(10)
    server.fail_when(lambda r: r.last_user.endswith((" 3", " 7")), 400)
    first = run_batch(provider, requests, tmp_path, FAST, progress=False)
    assert sorted(first.failed) == ["item-3", "item-7"] and first.totals.completed == 8
    assert {r["id"] for r in read_jsonl(tmp_path / FAILED_FILE)} == {"item-3", "item-7"}

    server.clear_failures()
    server.requests.clear()
    second = run_batch(provider, requests, tmp_path, FAST, progress=False)

    assert sorted(r.last_user for r in server.requests) == ["write dialogue number 3", "write dialogue number 7"]
    totals = second.totals
    assert (totals.requests, totals.completed, totals.resumed, totals.failed) == (10, 10, 8, 0)
    assert list(second.completions) == [r.id for r in requests]
    assert sum(r.resumed for r in second.completions.values()) == 8
    assert totals.input_tokens == sum(r.input_tokens for r in second.completions.values()) == 10 * 4
    assert read_jsonl(tmp_path / FAILED_FILE) == []
    assert len(read_jsonl(tmp_path / COMPLETIONS_FILE)) == 10


def test_batch_resume_tolerates_a_torn_last_line(tmp_path):
    requests = requests_(3)
    run_batch(ScriptedProvider(), requests[:2], tmp_path, FAST, progress=False)
    path = tmp_path / COMPLETIONS_FILE
    with open(path, "a") as fh:
        fh.write('{"id": "item-2", "text": "half writ')  # a kill mid-write

    provider = ScriptedProvider()
    result = run_batch(provider, requests, tmp_path, FAST, progress=False)

    assert provider.calls == ["item-2"]
    assert result.totals.resumed == 2 and result.completions["item-2"].text == "done item-2"
    assert [r["id"] for r in read_jsonl(path)] == ["item-0", "item-1", "item-2"]  # every line parses again


def test_batch_refuses_a_corrupt_middle_line(tmp_path):
    (tmp_path / COMPLETIONS_FILE).write_text('{"id": "a", "text": "ok"}\nnot json\n{"id": "b", "text": "ok"}\n')
    with pytest.raises(UserError, match="completions.jsonl: line 2"):
        run_batch(ScriptedProvider(), requests_(1), tmp_path, FAST, progress=False)


def test_batch_redoes_items_whose_messages_changed(tmp_path):
    run_batch(ScriptedProvider(), requests_(2), tmp_path, FAST, progress=False)
    edited = [requests_(2)[0], ChatRequest(id="item-1", messages=[{"role": "user", "content": "a new prompt"}])]
    provider = ScriptedProvider()
    result = run_batch(provider, edited, tmp_path, FAST, progress=False)
    assert provider.calls == ["item-1"] and result.totals.resumed == 1
    assert load_completions(tmp_path / COMPLETIONS_FILE)["item-1"]["input_tokens"] == 3


def test_batch_duplicate_ids_are_a_user_error(tmp_path):
    provider = ScriptedProvider()
    with pytest.raises(UserError, match="repeated: item-0"):
        run_batch(provider, requests_(2) + requests_(1), tmp_path, FAST, progress=False)
    assert provider.calls == []


def test_batch_unexpected_provider_exception_fails_only_that_item(tmp_path):
    provider = ScriptedProvider({"item-1": [KeyError("choices")]})
    result = run_batch(provider, requests_(3), tmp_path, FAST, progress=False)
    assert result.failed == {"item-1": "KeyError: 'choices'"} and result.totals.completed == 2


def test_batch_user_error_aborts_and_keeps_earlier_failures(tmp_path):
    (tmp_path / FAILED_FILE).write_text(json.dumps({"id": "old", "error": "x", "retryable": False, "attempts": 1})
                                        + "\n")
    provider = ScriptedProvider({"item-0": [UserError("bad config")]})
    with pytest.raises(UserError, match="bad config"):
        run_batch(provider, requests_(1), tmp_path, BatchConfig(concurrency=1), progress=False)
    assert [r["id"] for r in read_jsonl(tmp_path / FAILED_FILE)] == ["old"]


def test_batch_progress_bar(tmp_path, capsys):
    run_batch(ScriptedProvider(), requests_(3), tmp_path, FAST, progress=True)
    assert "scripted scripted-1" in capsys.readouterr().err


KILLED_RUN = """
import sys, time
from pathlib import Path
from empathy.config import BatchConfig
from empathy.llm.batch import run_batch
from empathy.llm.types import ChatRequest, Completion

class Slow:
    name, model = "slow", "slow-1"
    def complete(self, request):
        time.sleep(0.02)
        return Completion(text="x" * 5000 + request.id, input_tokens=1, output_tokens=1, provider="slow", model="m")

requests = [ChatRequest(id=f"k-{i}", messages=[{"role": "user", "content": "hi"}]) for i in range(200)]
run_batch(Slow(), requests, Path(sys.argv[1]), BatchConfig(concurrency=4), progress=False)
"""


def test_batch_survives_sigkill_mid_run(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(tmp_path)], env=env, start_new_session=True)
    path = tmp_path / COMPLETIONS_FILE
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (not path.exists() or path.read_text().count("\n") < 10):
            time.sleep(0.01)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    saved = set(load_completions(path))
    assert 10 <= len(saved) < 200

    requests = [ChatRequest(id=f"k-{i}", messages=[{"role": "user", "content": "hi"}]) for i in range(200)]
    provider = ScriptedProvider()
    result = run_batch(provider, requests, tmp_path, BatchConfig(concurrency=8), progress=False)
    assert set(provider.calls) == {r.id for r in requests} - saved and len(provider.calls) == 200 - len(saved)
    assert result.totals.completed == 200 and result.totals.resumed == len(saved)
    assert len(read_jsonl(path)) == 200
