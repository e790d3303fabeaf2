"""The serving wiring: guard, auth, audit, stores, metrics and the OpenAI-compatible routes on kserve's FastAPI app.

kserve 0.21 ships OpenAI protocol classes (`kserve.protocol.rest.openai`: OpenAIGenerativeModel,
OpenAIChatAdapterModel, `register_openai_endpoints`), but every one of those modules imports vLLM's protocol
types at import time (`kserve/protocol/rest/openai/types/__init__.py`: `from vllm.entrypoints...`), and vLLM
cannot be installed beside the CPU torch pin; RESTServer catches the ImportError and registers no OpenAI
routes. So this module mounts its own router at kserve's prefix (`/openai`, KSERVE_OPENAI_ROUTE_PREFIX) with
the two routes the official `openai` client needs: `GET /openai/v1/models` and `POST /openai/v1/chat/completions`
(plain and `stream=True` as SSE `data: {...}` chunks ending with `data: [DONE]`).

One code path for every chat route (`ChatService.chat`): validate, rate limit (per principal), cache lookup
(temperature 0 only), `Guard.respond` (input sanitising, crisis response, output filter), conversation turns,
inference log record, metrics and `request.state.audit`. Streaming generates and filters the whole reply first,
then streams the filtered text in chunks: no text leaves the server before the output filter has seen all of it.

Middleware order (outermost first): AuthMiddleware -> AuditMiddleware -> RequestGate (content type, body size,
rate limit, the request context) -> kserve's app.
"""

import asyncio
import contextvars
import json
import logging
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

OPENAI_PREFIX = "/openai"
DEFAULT_MAX_BODY_BYTES = 1_000_000
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
CHAT_TEMPLATES = ("/openai/v1/chat/completions", "/v1/models/{name}:predict", "/v2/models/{name}/infer",
                  "/v2/models/{name}/versions/{version}/infer")
AUDIT_ACTION = {"none": "reply", "crisis_response": "crisis_response", "filtered": "filtered"}

# the ASGI scope's state dict of the request being served (AuditMiddleware reads state["audit"] from it)
current_state: contextvars.ContextVar[dict | None] = contextvars.ContextVar("empathy_request_state", default=None)


class ApiError(Exception):
    """An error answered as {"error": {"type", "message"}} with `status`."""

    def __init__(self, status: int, type_: str, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.type, self.message, self.headers = status, type_, message, headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"type": self.type, "message": self.message, "code": self.status}}


def error_response(status: int, type_: str, message: str, headers: dict[str, str] | None = None):
    from starlette.responses import JSONResponse

    return JSONResponse({"error": {"type": type_, "message": message, "code": status}}, status_code=status,
                        headers=headers)


# -- settings -------------------------------------------------------------------------------------------------

@dataclass
class ServeSettings:
    host: str = "127.0.0.1"
    auth: bool = True
    auth_url: str | None = None
    audit_url: str | None = None
    conversation_url: str | None = None
    inference_log_url: str | None = None
    rate_limit_url: str | None = None
    rate_limit: int = 60
    rate_window_s: float = 60.0
    cache_url: str | None = None
    cache_ttl_s: float = 300.0
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_new_tokens: int = 64

    def check(self) -> None:
        from empathy.errors import UserError

        if not self.auth and self.host not in LOOPBACK_HOSTS:
            raise UserError(f"--no-auth is only allowed on a loopback host (127.0.0.1), not {self.host!r}: "
                            "an open server without authentication would serve health conversations to anyone")


# -- metrics (registered once per process) --------------------------------------------------------------------

_METRICS: dict[str, Any] = {}


def metrics() -> dict[str, Any]:
    if not _METRICS:
        from prometheus_client import Counter, Histogram

        _METRICS.update(
            latency=Histogram("empathy_chat_latency_seconds", "Chat request latency (guard + generation)",
                              ["route", "action"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)),
            tokens=Counter("empathy_tokens", "Tokens processed by the model", ["kind"]),
            guard=Counter("empathy_guard_decisions", "Guard decisions", ["action", "risk_level"]),
            rate_limited=Counter("empathy_rate_limited", "Requests refused by the rate limiter"),
            cache=Counter("empathy_response_cache", "Response cache lookups", ["result"]),
        )
    return _METRICS


# -- the chat service -----------------------------------------------------------------------------------------

@dataclass
class ChatResult:
    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    safety: dict[str, Any]
    conversation_id: str
    cached: bool = False
    timings_ms: dict[str, float] | None = None

    def server_timing(self) -> str:
        """The W3C Server-Timing header: generation, guard (everything else in `chat`) and the whole call."""
        return ", ".join(f"{name};dur={ms:.2f}" for name, ms in (self.timings_ms or {}).items())


class ChatService:
    """Guarded chat turns with stores, cache and metrics; synchronous (run it in a worker thread)."""

    def __init__(self, generator, model_name: str, model_version: str | None, settings: ServeSettings, guard=None):
        from empathy.serve.guard import Guard
        from empathy.serve.stores import open_conversation_store, open_inference_log, open_rate_limiter, \
            open_response_cache

        self.generator = generator
        self.model_name = model_name
        self.model_version = model_version
        self.settings = settings
        self.guard = guard or Guard()
        self.conversations = open_conversation_store(settings.conversation_url)
        self.inference_log = open_inference_log(settings.inference_log_url)
        self.limiter = open_rate_limiter(settings.rate_limit_url, limit=settings.rate_limit,
                                         window_s=settings.rate_window_s)
        self.cache = open_response_cache(settings.cache_url, ttl_s=settings.cache_ttl_s)
        self.metrics = metrics()

    @property
    def model_label(self) -> str:
        """NAME@VERSION in audit entries, stores, metrics and cache keys; without a version given, the generator's own
        (a remote predictor reports it once it has loaded the model)."""
        version = self.model_version or getattr(self.generator, "model_version", None) or "unknown"
        return f"{self.model_name}@{version}"

    def warm_up(self) -> None:
        """Load the guard's detectors now, not on the first request (they take tens of seconds on CPU)."""
        self.guard.check_output("Thank you for sharing that.",
                                self.guard.check_input([{"role": "user", "content": "hello"}]))

    def rate_limit(self, key: str) -> None:
        allowed, retry_after = self.limiter.allow(key)
        if not allowed:
            self.metrics["rate_limited"].inc()
            seconds = max(1, int(retry_after + 0.999))
            raise ApiError(429, "rate_limit_exceeded",
                           f"rate limit: at most {self.limiter.limit} requests in {self.limiter.window_s:g} s; "
                           f"retry after {seconds} s", {"Retry-After": str(seconds)})

    def chat(self, messages: Any, *, max_new_tokens: int | None = None, temperature: float = 0.0,
             repetition_penalty: float | None = None, subject: str = "anonymous", conversation_id: str | None = None,
             request_id: str | None = None, route: str = "") -> ChatResult:
        from empathy.errors import UserError
        from empathy.generate import DEFAULT_REPETITION_PENALTY
        from empathy.serve.guard import GuardError
        from empathy.serve.stores import cache_key

        started = time.perf_counter()
        max_new = self.settings.max_new_tokens if max_new_tokens is None else max_new_tokens
        if isinstance(max_new, bool) or not isinstance(max_new, int) or not 1 <= max_new <= 1024:
            raise ApiError(400, "invalid_request_error", "max_tokens / max_new_tokens must be an integer from 1 to 1024")
        try:
            temperature = float(temperature)
            penalty = float(DEFAULT_REPETITION_PENALTY if repetition_penalty is None else repetition_penalty)
        except (TypeError, ValueError) as exc:
            raise ApiError(400, "invalid_request_error", f"temperature / repetition_penalty: {exc}") from None
        if not 0.0 <= temperature <= 2.0:
            raise ApiError(400, "invalid_request_error", "temperature must be between 0 and 2")
        if not 1.0 <= penalty <= 2.0:
            raise ApiError(400, "invalid_request_error", "repetition_penalty must be between 1.0 and 2.0")
        conversation_id = conversation_id or f"conv-{uuid.uuid4().hex}"
        if not isinstance(conversation_id, str) or len(conversation_id) > 200:
            raise ApiError(400, "invalid_request_error", "conversation id: a string of at most 200 characters")
        request_id = request_id or uuid.uuid4().hex

        params = {"max_new_tokens": max_new, "temperature": temperature, "repetition_penalty": penalty}
        label = self.model_label  # once: a remote predictor's version may become known during the request
        key = cache_key(label, messages, params) if temperature == 0 else None
        hit = self.cache.get(key) if key else None
        generate_ms = [0.0]
        guard_started = time.perf_counter()
        if key:
            self.metrics["cache"].labels("hit" if hit else "miss").inc()
        if hit:
            counts = {"finish_reason": hit["finish_reason"], "prompt_tokens": hit["prompt_tokens"],
                      "completion_tokens": 0}
            text, safety, risk_level = hit["text"], hit["safety"], hit["safety"]["risk_level"]
        else:
            counts = {"finish_reason": "stop", "prompt_tokens": 0, "completion_tokens": 0}

            def generate(clean: list[dict[str, str]]) -> str:
                generate_started = time.perf_counter()
                out = self.generator.reply(clean, max_new, temperature, penalty)
                generate_ms[0] += (time.perf_counter() - generate_started) * 1000
                counts.update(finish_reason=out["finish_reason"], prompt_tokens=out["prompt_tokens"],
                              completion_tokens=out["completion_tokens"])
                return out["content"]

            try:
                guarded = self.guard.respond(messages, generate)
            except GuardError as exc:
                raise ApiError(exc.status if 400 <= exc.status < 500 else 400, "invalid_request_error",
                               f"{exc.code}: {exc.message}") from None
            except ValueError as exc:  # generate.py's own checks
                raise ApiError(400, "invalid_request_error", str(exc)) from None
            text, safety, risk_level = guarded.text, dict(guarded.safety), guarded.input.risk_level
            if key:
                self.cache.set(key, {"text": text, "safety": safety, "finish_reason": counts["finish_reason"],
                                     "prompt_tokens": counts["prompt_tokens"]},
                               crisis=safety["action"] == "crisis_response" or guarded.input.crisis)
        guard_ms = (time.perf_counter() - guard_started) * 1000 - generate_ms[0]
        action = AUDIT_ACTION.get(safety["action"], "reply")
        latency_ms = (time.perf_counter() - started) * 1000
        last_user = next((m.get("content") for m in reversed(messages) if isinstance(m, dict)
                          and m.get("role") == "user"), "")
        last_user = last_user if isinstance(last_user, str) else json.dumps(last_user)
        try:
            self.conversations.append_exchange(conversation_id, subject, last_user, text, risk_level=risk_level,
                                               action=action, model=label, latency_ms=latency_ms)
        except UserError as exc:
            if "belongs to another subject" in str(exc):
                raise ApiError(403, "permission_denied", f"conversation {conversation_id!r} belongs to another "
                               "subject") from None
            raise
        self.inference_log.record(id=request_id, text=last_user, output_chars=len(text), latency_ms=latency_ms,
                                  model=label, risk_level=risk_level, action=action,
                                  completion_tokens=counts["completion_tokens"])
        m = self.metrics
        m["latency"].labels(route, safety["action"]).observe(latency_ms / 1000)
        m["tokens"].labels("prompt").inc(counts["prompt_tokens"])
        m["tokens"].labels("completion").inc(counts["completion_tokens"])
        m["guard"].labels(safety["action"], risk_level).inc()
        state = current_state.get()
        if state is not None:
            state["audit"] = {"action": action, "model": label, "risk_level": risk_level,
                              "content": messages}
        timings = {"generate": generate_ms[0], "guard": guard_ms,
                   "chat": (time.perf_counter() - started) * 1000}
        return ChatResult(text, counts["finish_reason"], counts["prompt_tokens"], counts["completion_tokens"],
                          safety, conversation_id, bool(hit), timings)


def principal_subject(state: dict | None) -> str:
    principal = (state or {}).get("principal")
    return getattr(principal, "subject", None) or "anonymous"


# -- the request gate (innermost middleware) ------------------------------------------------------------------

class RequestGate:
    """Content type and body size for POSTs, the rate limit on chat routes, and the request context var."""

    def __init__(self, app, service: ChatService, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES):
        self.app = app
        self.service = service
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        from empathy.serve.auth import match_route

        state = scope.setdefault("state", {})
        token = current_state.set(state)
        try:
            template = match_route(scope.get("path", "/"))
            if scope.get("method") == "POST":
                headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
                ctype = headers.get("content-type", "").split(";", 1)[0].strip().lower()
                if ctype != "application/json":
                    return await error_response(415, "invalid_request_error",
                                                f"Content-Type must be application/json, got {ctype or 'none'!r}")(
                        scope, receive, send)
                length = headers.get("content-length")
                if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
                    return await error_response(413, "invalid_request_error",
                                                f"request body larger than {self.max_body_bytes} bytes")(
                        scope, receive, send)
                if template in CHAT_TEMPLATES:
                    try:
                        key = principal_subject(state)
                        await asyncio.to_thread(self.service.rate_limit, key)
                    except ApiError as exc:
                        return await error_response(exc.status, exc.type, exc.message, exc.headers)(
                            scope, receive, send)
                receive = self._limited(receive)
            return await self.app(scope, receive, send)
        finally:
            current_state.reset(token)

    def _limited(self, receive):
        seen = 0
        limit = self.max_body_bytes

        async def wrapped():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise ApiError(413, "invalid_request_error", f"request body larger than {limit} bytes")
            return message

        return wrapped


# -- OpenAI-compatible routes ---------------------------------------------------------------------------------

def _openai_router(service: ChatService, predictor_name: str):
    from fastapi import APIRouter, Request
    from starlette.responses import JSONResponse, StreamingResponse

    router = APIRouter(prefix=OPENAI_PREFIX, tags=["OpenAI"])
    created = int(time.time())

    async def list_models(request: Request):
        return {"object": "list", "data": [{"id": predictor_name, "object": "model", "created": created,
                                            "owned_by": "empathy", "version": service.model_label}]}

    async def chat_completions(request: Request):
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ApiError(400, "invalid_request_error", f"request body is not valid JSON ({exc})") from None
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_request_error", "request body must be a JSON object")
        model = body.get("model")
        if model not in (predictor_name, service.model_label):
            raise ApiError(404, "model_not_found", f"model {model!r} not found; available: {predictor_name}")
        if "messages" not in body:
            raise ApiError(400, "invalid_request_error", "'messages' is required")
        if body.get("n", 1) != 1:
            raise ApiError(400, "invalid_request_error", "only n=1 is supported")
        max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
        metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        conversation_id = (request.headers.get("x-conversation-id") or metadata.get("conversation_id")
                           or body.get("user"))
        state = request.scope.get("state", {})
        subject = principal_subject(state)
        request_id = state.get("request_id") or uuid.uuid4().hex
        temperature = body.get("temperature", 0.0)
        temperature = 0.0 if temperature is None else temperature
        # run in a worker thread: generation and store writes block; the context var goes with it
        result: ChatResult = await asyncio.to_thread(
            service.chat, body["messages"], max_new_tokens=max_tokens, temperature=temperature,
            repetition_penalty=body.get("repetition_penalty"), subject=subject, conversation_id=conversation_id,
            request_id=request_id, route="/openai/v1/chat/completions")
        cid = f"chatcmpl-{request_id}"
        now = int(time.time())
        usage = {"prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
                 "total_tokens": result.prompt_tokens + result.completion_tokens}
        headers = {"X-Conversation-Id": result.conversation_id, "X-Request-ID": request_id,
                   "Server-Timing": result.server_timing()}
        if not body.get("stream"):
            return JSONResponse({
                "id": cid, "object": "chat.completion", "created": now, "model": predictor_name,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": result.text},
                             "finish_reason": result.finish_reason, "logprobs": None}],
                "usage": usage, "safety": result.safety, "conversation_id": result.conversation_id,
            }, headers=headers)

        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def chunk(delta: dict, finish: str | None, **extra) -> str:
            payload = {"id": cid, "object": "chat.completion.chunk", "created": now, "model": predictor_name,
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}
            return f"data: {json.dumps(payload)}\n\n"

        async def events():
            # the whole reply was generated and filtered above: only filtered text is ever streamed
            yield chunk({"role": "assistant", "content": ""}, None, safety=result.safety)
            words = result.text.split(" ")
            for i, word in enumerate(words):
                yield chunk({"content": word if i == 0 else " " + word}, None)
                await asyncio.sleep(0)
            yield chunk({}, result.finish_reason, safety=result.safety,
                        **({"usage": usage} if include_usage else {}))
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    router.add_api_route("/v1/models", list_models, methods=["GET"])
    router.add_api_route("/v1/chat/completions", chat_completions, methods=["POST"])
    return router


# -- installing on kserve's app -------------------------------------------------------------------------------

def _json_error_handlers(app) -> None:
    """Every error as {"error": {"type", "message"}}, replacing kserve's {"error": "text"}."""
    from fastapi.exceptions import RequestValidationError
    from kserve.errors import InferenceError, InvalidInput, ModelNotFound, ModelNotReady
    from starlette.exceptions import HTTPException

    from empathy.serve.auth import AuthError, error_body, error_headers

    def handler(status: int, type_: str):
        async def handle(_request, exc):
            return error_response(status, type_, str(exc))
        return handle

    async def api_error(_request, exc: ApiError):
        return error_response(exc.status, exc.type, exc.message, exc.headers)

    async def http_error(_request, exc: HTTPException):
        return error_response(exc.status_code, "invalid_request_error" if exc.status_code < 500 else "server_error",
                              str(exc.detail))

    async def validation_error(_request, exc: RequestValidationError):
        return error_response(422, "invalid_request_error", f"invalid request: {exc.errors()[:3]}")

    async def auth_error(_request, err: AuthError):
        from starlette.responses import JSONResponse
        return JSONResponse(error_body(err), status_code=err.status, headers=error_headers(err))

    async def generic(_request, exc: Exception):
        log.error("request failed: %s", type(exc).__name__, exc_info=exc)
        return error_response(500, "server_error", f"internal error ({type(exc).__name__})")

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(InvalidInput, handler(400, "invalid_request_error"))
    app.add_exception_handler(ModelNotFound, handler(404, "model_not_found"))
    app.add_exception_handler(ModelNotReady, handler(503, "model_not_ready"))
    app.add_exception_handler(InferenceError, handler(500, "server_error"))
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(AuthError, auth_error)
    app.add_exception_handler(Exception, generic)
    # a malformed JSON body: kserve's v1 route raises json.JSONDecodeError (a ValueError)
    app.add_exception_handler(json.JSONDecodeError, handler(400, "invalid_request_error"))


def build_authenticator(keys):
    from empathy.serve.auth import JWT_SECRET_ENV, Authenticator, JWTVerifier

    jwt = JWTVerifier() if os.environ.get(JWT_SECRET_ENV) else None
    return Authenticator(keys, jwt)


def install(app, service: ChatService, predictor_name: str, settings: ServeSettings) -> None:
    """Routes, error handlers and middleware on kserve's FastAPI app (after kserve's create_application)."""
    from empathy.serve.admin import admin_router
    from empathy.serve.audit import AuditLog, AuditMiddleware, audit_key_from_env
    from empathy.serve.auth import AuthMiddleware, KeyStore

    audit = AuditLog(settings.audit_url, key=audit_key_from_env())
    keys = KeyStore(settings.auth_url)
    app.include_router(_openai_router(service, predictor_name))
    app.include_router(admin_router(audit, keys))
    _json_error_handlers(app)
    app.add_middleware(RequestGate, service=service, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(AuditMiddleware, log=audit)
    if settings.auth:
        app.add_middleware(AuthMiddleware, authenticator=build_authenticator(keys), audit=audit)
    else:
        log.warning("authentication is OFF (--no-auth, loopback only)")
