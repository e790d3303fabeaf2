"""Loopback fake LLM servers that speak OpenAI's, Anthropic's and Ollama's HTTP APIs.

The paid APIs cannot be reached from the test machines, and a real Ollama
would need a model download, so the providers' tests run the official SDKs
against this server instead. One threaded `http.server` on 127.0.0.1 answers

- OpenAI Chat Completions: POST {openai_prefix}/chat/completions (default /v1;
  /openai/v1 plays our own server's OpenAI-compatible route), `Authorization:
  Bearer KEY`, usage with prompt_tokens/completion_tokens;
- Anthropic Messages: POST /v1/messages, the key (`x-api-key`, or `Authorization:
  Bearer` as the 2.x SDK sends it) and `anthropic-version` checked, content
  blocks, usage input_tokens/output_tokens;
- Ollama chat: POST /api/chat, non-streaming, prompt_eval_count/eval_count.

The reply echoes the model and the last user message ("echo MODEL: TEXT"),
and token counts are word counts (prompt: every message's words, the system
prompt included; completion: the reply's), so tests can predict both.
Failures are programmable: `script(429, 500, 200, ...)` answers the next
calls in order, whatever their route (200 means the normal reply), and
`fail_when(predicate, status)` answers matching requests with an error every
time. Every request is recorded in `requests` (path, lower-cased headers,
JSON body), and `max_in_flight` says how many were ever served at once.

    with FakeLLMServer(api_key="sk-test") as server:
        server.script(429, 200)
        OpenAI(api_key="sk-test", base_url=server.openai_base_url, max_retries=0)...
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

ERROR_TYPES_ANTHROPIC = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                         404: "not_found_error", 429: "rate_limit_error", 500: "api_error", 529: "overloaded_error"}
ERROR_TYPES_OPENAI = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
                      429: "rate_limit_exceeded", 500: "server_error"}


@dataclass
class Reply:
    """How to answer one call: an HTTP status (200: the normal reply), after an optional delay.

    `drop` closes the connection without answering (the SDKs see a dropped connection).
    """

    status: int = 200
    delay_s: float = 0.0
    drop: bool = False
    text: str | None = None


@dataclass
class Received:
    api: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def last_user(self) -> str:
        users = [m for m in self.body.get("messages", []) if m.get("role") == "user"]
        content = users[-1]["content"] if users else ""
        if isinstance(content, list):  # content blocks
            content = "".join(block.get("text", "") for block in content)
        return content


@dataclass
class _Rule:
    predicate: Callable[[Received], bool]
    reply: Reply


def _words(text: Any) -> int:
    if isinstance(text, list):
        text = " ".join(block.get("text", "") for block in text)
    return len(str(text or "").split())


class FakeLLMServer:
    """A context manager: starts on a free loopback port, stops (and closes its socket) on exit."""

    def __init__(self, *, api_key: str | None = None, openai_prefix: str = "/v1", delay_s: float = 0.0):
        self.api_key = api_key
        self.openai_prefix = openai_prefix.rstrip("/")
        self.delay_s = delay_s
        self.requests: list[Received] = []
        self.max_in_flight = 0
        self._in_flight = 0
        self._script: deque[Reply] = deque()
        self._rules: list[_Rule] = []
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- programming it -------------------------------------------------------------------------

    def script(self, *replies: int | Reply) -> None:
        """Answer the next calls, in order, with these statuses or Replies; then normally again."""
        with self._lock:
            self._script.extend(r if isinstance(r, Reply) else Reply(status=r) for r in replies)

    def fail_when(self, predicate: Callable[[Received], bool], status: int | Reply) -> None:
        """Answer every request that matches `predicate` with this status (checked before the script)."""
        with self._lock:
            self._rules.append(_Rule(predicate, status if isinstance(status, Reply) else Reply(status=status)))

    def clear_failures(self) -> None:
        with self._lock:
            self._script.clear()
            self._rules.clear()

    @property
    def url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_base_url(self) -> str:
        return self.url + self.openai_prefix

    def bodies(self, api: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [r.body for r in self.requests if api is None or r.api == api]

    # --- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> "FakeLLMServer":
        server = self

        class Handler(_Handler):
            fake = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-llm", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._httpd is not None and self._thread is not None
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # --- answering ------------------------------------------------------------------------------

    def _route(self, path: str) -> str | None:
        if path == f"{self.openai_prefix}/chat/completions":
            return "openai"
        if path == "/v1/messages":
            return "anthropic"
        if path == "/api/chat":
            return "ollama"
        return None

    def _choose(self, received: Received) -> Reply:
        with self._lock:
            for rule in self._rules:
                if rule.predicate(received):
                    return rule.reply
            if self._script:
                return self._script.popleft()
        return Reply()

    def _auth_error(self, received: Received) -> tuple[int, str] | None:
        headers = received.headers
        if received.api == "anthropic":
            if "anthropic-version" not in headers:
                return 400, "anthropic-version header is required"
            # The 2.x SDK sends the key as `Authorization: Bearer`; older ones and curl examples use x-api-key.
            bearer = headers.get("authorization", "")
            key = headers.get("x-api-key") or (bearer[len("Bearer "):] if bearer.startswith("Bearer ") else None)
            if self.api_key is not None and key != self.api_key:
                return 401, "invalid x-api-key"
        elif self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, "Incorrect API key provided"
        return None

    def answer(self, received: Received) -> tuple[Reply, int, dict[str, Any]]:
        auth = self._auth_error(received)
        if auth is not None:
            status, message = auth
            return Reply(status=status), status, _error_body(received.api, status, message)
        reply = self._choose(received)
        if reply.status != 200:
            return reply, reply.status, _error_body(received.api, reply.status, f"scripted failure {reply.status}")
        return reply, 200, _success_body(received, reply.text)


def _error_body(api: str, status: int, message: str) -> dict[str, Any]:
    if api == "anthropic":
        return {"type": "error", "error": {"type": ERROR_TYPES_ANTHROPIC.get(status, "api_error"), "message": message}}
    if api == "openai":
        return {"error": {"message": message, "type": ERROR_TYPES_OPENAI.get(status, "server_error"),
                          "param": None, "code": None}}
    return {"error": message}


def _success_body(received: Received, text: str | None) -> dict[str, Any]:
    body = received.body
    model = body.get("model", "")
    reply = text if text is not None else f"echo {model}: {received.last_user}"
    prompt_words = sum(_words(m.get("content")) for m in body.get("messages", [])) + _words(body.get("system"))
    completion_words = _words(reply)
    if received.api == "openai":
        return {
            "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply, "refusal": None},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_words, "completion_tokens": completion_words,
                      "total_tokens": prompt_words + completion_words},
        }
    if received.api == "anthropic":
        return {
            "id": "msg_fake", "type": "message", "role": "assistant", "model": model,
            "content": [{"type": "text", "text": reply}],
            "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": prompt_words, "output_tokens": completion_words},
        }
    return {
        "model": model, "created_at": "2026-01-01T00:00:00Z", "message": {"role": "assistant", "content": reply},
        "done": True, "done_reason": "stop", "prompt_eval_count": prompt_words, "eval_count": completion_words,
    }


class _Handler(BaseHTTPRequestHandler):
    fake: FakeLLMServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def do_POST(self) -> None:
        fake = self.fake
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        api = fake._route(self.path.split("?", 1)[0])
        if api is None:
            self._send(404, {"error": f"no route {self.path}"})
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._send(400, {"error": "body is not JSON"})
            return
        received = Received(api, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        with fake._lock:
            fake.requests.append(received)
            fake._in_flight += 1
            fake.max_in_flight = max(fake.max_in_flight, fake._in_flight)
        try:
            reply, status, payload = fake.answer(received)
            delay = reply.delay_s or fake.delay_s
            if delay:
                time.sleep(delay)
            if reply.drop:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._send(status, payload)
        finally:
            with fake._lock:
                fake._in_flight -= 1

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if status == 429:
                self.send_header("Retry-After", "0")
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout test)
