"""The safety guard as a KServe transformer: the same routes, auth, audit, stores and guard as `empathy serve`, with
generation forwarded to a predictor's OpenAI-compatible chat route instead of a model in this process.

    empathy guard --model_name empathy-chat --predictor_host empathy-chat-predictor.empathy-prod --http_port 8080

Why it exists: on GPU clusters the model runs in KServe's Hugging Face runtime (vLLM, base + LoRA adapter), which
has no guard. KServe sends the InferenceService's traffic to the transformer and starts its container with the args
of the overlay followed by `--model_name <isvc> --predictor_host <isvc>-predictor.<ns> --http_port 8080` (kserve's
ModelServer argument names; `--protocol` / `--predictor_protocol` and the other ModelServer flags are accepted too,
see `kserve.model_server.parser`). Every request is screened (`empathy.serve.guard`: sanitising, crisis response
without calling the predictor, output and bias filter), then the cleaned messages go to
`http(s)://<predictor_host>/openai/v1/chat/completions` with `"model": <model_name>` (the LoRA module's name on
vLLM, the model's name on `empathy serve`).

Readiness follows the predictor: `/v2/health/ready` answers 200 only while the predictor's `/v2/health/ready` does
(kserve's predictor health check), so Kubernetes sends no traffic to a guard whose predictor is down; a chat request
that still meets an unreachable predictor gets a 503 JSON error.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from empathy.serve.app import ApiError

log = logging.getLogger(__name__)

CHAT_PATH = "/openai/v1/chat/completions"
MODELS_PATH = "/openai/v1/models"
VERSION_RETRY_S = 10.0


class PredictorClient:
    """Generation through a predictor's OpenAI chat route, with ChatGenerator.reply's interface and result.

    Thread-safe (one pooled httpx client); ChatService calls it from worker threads."""

    def __init__(self, predictor_host: str, model_name: str, *, use_ssl: bool = False, timeout_s: float = 600.0,
                 retries: int = 0, model_version: str | None = None):
        import httpx

        if not predictor_host or "/" in predictor_host.split("://", 1)[-1]:
            raise ValueError(f"--predictor_host: a host or host:port, got {predictor_host!r}")
        if "://" in predictor_host:
            scheme, predictor_host = predictor_host.split("://", 1)
            use_ssl = scheme == "https"
        self.host, self.use_ssl = predictor_host, use_ssl
        self.base_url = f"{'https' if use_ssl else 'http'}://{predictor_host}"
        self.model_name = model_name
        self._version = model_version
        self._next_version_try = 0.0
        self._lock = threading.Lock()
        self.client = httpx.Client(base_url=self.base_url, timeout=httpx.Timeout(timeout_s, connect=5.0),
                                   transport=httpx.HTTPTransport(retries=retries))

    @property
    def model_version(self) -> str:
        """The version the predictor reports for the model (`version` in its /openai/v1/models entry, as `empathy
        serve` reports it), else the model id's `root` (vLLM: the adapter path), else "remote". Kept once known;
        while unknown (predictor down, model not loaded yet) asked again at most every VERSION_RETRY_S."""
        if self._version is None:
            with self._lock:
                if self._version is None and time.monotonic() >= self._next_version_try:
                    self._next_version_try = time.monotonic() + VERSION_RETRY_S
                    try:
                        models = self.client.get(MODELS_PATH, timeout=5.0).json().get("data", [])
                        entry = next((m for m in models if m.get("id") == self.model_name), None)
                        if entry is not None:
                            version = str(entry.get("version") or entry.get("root") or "remote")
                            # empathy serve reports NAME@VERSION
                            self._version = version.removeprefix(f"{self.model_name}@")
                    except Exception:  # informative only (audit and metrics labels): never fails a request
                        pass
        return self._version or "remote"

    def reply(self, messages: list[dict[str, str]], max_new_tokens: int, temperature: float = 0.0,
              repetition_penalty: float | None = None) -> dict[str, Any]:
        import httpx

        body: dict[str, Any] = {"model": self.model_name, "messages": messages, "max_tokens": max_new_tokens,
                                "temperature": temperature, "stream": False}
        if repetition_penalty is not None:
            body["repetition_penalty"] = repetition_penalty  # vLLM's extra sampling parameter; empathy serve's too
        try:
            response = self.client.post(CHAT_PATH, json=body)
        except httpx.TimeoutException:
            raise ApiError(504, "predictor_timeout", f"the predictor at {self.base_url} did not answer in time") \
                from None
        except httpx.HTTPError as exc:
            raise ApiError(503, "predictor_unavailable",
                           f"the predictor at {self.base_url} cannot be reached ({type(exc).__name__})") from None
        if response.status_code != 200:
            detail = _error_message(response)
            if response.status_code in (400, 413, 422):
                # the guard let it through but the model refuses it (e.g. longer than its context): the caller's
                raise ApiError(400, "invalid_request_error", f"the predictor rejected the request: {detail}")
            if response.status_code == 404:
                raise ApiError(503, "predictor_unavailable",
                               f"the predictor at {self.base_url} does not serve model {self.model_name!r}: {detail}")
            raise ApiError(502, "predictor_error",
                           f"the predictor at {self.base_url} answered {response.status_code}: {detail}")
        try:
            payload = response.json()
            choice = payload["choices"][0]
            content = choice["message"]["content"] or ""
            usage = payload.get("usage") or {}
        except (ValueError, KeyError, IndexError, TypeError):
            raise ApiError(502, "predictor_error",
                           f"the predictor at {self.base_url} sent a reply that is not a chat completion") from None
        return {"content": content, "finish_reason": choice.get("finish_reason") or "stop",
                "prompt_tokens": int(usage.get("prompt_tokens") or 0),
                "completion_tokens": int(usage.get("completion_tokens") or 0)}

    def close(self) -> None:
        self.client.close()


def _error_message(response) -> str:
    try:
        error = response.json().get("error")
    except ValueError:
        return response.text[:300]
    if isinstance(error, dict):
        return str(error.get("message", error))[:300]
    return str(error)[:300]


def serve_guard(model_name: str, predictor_host: str, *, host: str = "127.0.0.1", port: int = 8080,
                use_ssl: bool = False, timeout_s: float = 600.0, retries: int = 0,
                health_protocol: str = "v2", model_version: str | None = None, settings=None) -> None:
    """Run the guard in front of `predictor_host` until stopped (kserve ModelServer, one process)."""
    from kserve.predictor_config import PredictorConfig

    from empathy.serve.app import ChatService, ServeSettings, install
    from empathy.serve.predictor import ChatPredictor, LoopbackModelServer

    settings = settings or ServeSettings(host=host)
    settings.host = host
    settings.check()
    generator = PredictorClient(predictor_host, model_name, use_ssl=use_ssl, timeout_s=timeout_s, retries=retries,
                                model_version=model_version)
    predictor = ChatPredictor(model_name, generator.base_url, max_new_tokens=settings.max_new_tokens)
    predictor.generator = generator
    predictor.ready = True  # this process is ready; the server's readiness also asks the predictor (below)
    service = ChatService(generator, model_name, model_version, settings)
    service.warm_up()
    predictor.service = service
    config = PredictorConfig(predictor_host=generator.host, predictor_protocol=health_protocol,
                             predictor_use_ssl=generator.use_ssl,
                             predictor_request_timeout_seconds=int(timeout_s), predictor_health_check=True)
    log.info("guard for model %r in front of %s", model_name, generator.base_url)
    LoopbackModelServer(host=host, http_port=port, predictor_config=config,
                        on_app=lambda app: install(app, service, model_name, settings)).start([predictor])
