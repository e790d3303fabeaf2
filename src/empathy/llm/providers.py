"""Chat providers over the official SDKs, chosen by name in config.

    provider = make_provider(ProviderConfig(name="openai", model="gpt-4o-mini"))
    completion = provider.complete(ChatRequest(id="a1", messages=[{"role": "user", "content": "Hi"}]))

`make_provider` resolves the API key (empathy.llm.secrets) and builds one of:

- `openai`: the `openai` SDK, Chat Completions (`max_completion_tokens`, `seed`).
- `anthropic`: the `anthropic` SDK, Messages API; system messages go to `system=`.
- `ollama`: the `ollama` SDK, `/api/chat` (default host http://127.0.0.1:11434).
- `empathy`: this project's server through its OpenAI-compatible route, with
  the `openai` SDK; `base_url` is required (e.g. http://127.0.0.1:8080/openai/v1),
  the key is optional.
- `offline`: deterministic templates (empathy.llm.offline), no network.

The SDKs' own retries are switched off: the batch runner (empathy.llm.batch)
retries, with backoff shared by every provider, and it needs each failure as
a `ProviderError` whose `retryable` says whether trying again can help (rate
limits, 5xx, timeouts, dropped connections) or not (bad request, bad key,
unknown model). SDKs are imported when a provider is built, so importing
this module stays cheap.
"""

from __future__ import annotations

from typing import Any

from empathy.config import ProviderConfig
from empathy.errors import UserError
from empathy.llm.secrets import resolve_api_key
from empathy.llm.types import ChatRequest, Completion, Provider, ProviderError

DEFAULT_OLLAMA_HOST = "http://127.0.0.1:11434"

# 408 and 409 as the SDKs' own retry policies treat them: transient (request timeout, lock contention).
RETRYABLE_STATUS = frozenset({408, 409, 429})

# When the key is optional and absent, the openai SDK still insists on one; our server ignores it.
# An explicit placeholder also keeps the SDK from picking up OPENAI_API_KEY and sending it to our server.
NO_KEY_PLACEHOLDER = "no-key"


def is_retryable_status(status: int | None) -> bool:
    return status is not None and (status in RETRYABLE_STATUS or status >= 500)


def _short(text: object, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _status_error(provider: str, model: str, status: int, detail: object) -> ProviderError:
    hint = ""
    if status in (401, 403):
        hint = " (check the API key)"
    elif status == 404:
        hint = f" (unknown model '{model}' or wrong base_url?)"
    return ProviderError(f"{provider} {model}: HTTP {status}{hint}: {_short(detail)}",
                         retryable=is_retryable_status(status), status=status)


def make_provider(cfg: ProviderConfig) -> Provider:
    """Build the provider `cfg.name` names; UserError when its config or key is missing."""
    if cfg.name == "offline":
        from empathy.llm.offline import OfflineProvider

        return OfflineProvider(cfg)
    offline_model = ProviderConfig.model_fields["model"].default
    if cfg.model == offline_model:
        raise UserError(f"provider {cfg.name}: set provider.model to a model id at {cfg.name} "
                        f"('{offline_model}' is the offline writer's model)")
    api_key = resolve_api_key(cfg.name, cfg.api_key)
    if cfg.name == "openai":
        return OpenAIProvider(cfg, api_key)
    if cfg.name == "anthropic":
        return AnthropicProvider(cfg, api_key)
    if cfg.name == "ollama":
        return OllamaProvider(cfg, api_key)
    if cfg.name == "empathy":
        return EmpathyProvider(cfg, api_key)
    raise UserError(f"provider {cfg.name}: unknown provider (choose offline, openai, anthropic, ollama or empathy)")


def _text_messages(request: ChatRequest) -> Any:
    # Any: each SDK types messages as its own TypedDicts; plain role/content dicts are what they send.
    return [{"role": m["role"], "content": m["content"]} for m in request.messages]


class OpenAIProvider:
    """OpenAI Chat Completions through the official SDK."""

    name = "openai"

    def __init__(self, cfg: ProviderConfig, api_key: str | None):
        import openai

        if not api_key:
            raise UserError(f"provider {self.name}: an API key is required")
        self.model = cfg.model
        self.cfg = cfg
        self._openai = openai
        self._client = openai.OpenAI(api_key=api_key, base_url=cfg.base_url, timeout=cfg.timeout_s, max_retries=0)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, base_url={str(self._client.base_url)!r})"

    def _sampling(self) -> dict[str, Any]:
        # max_tokens is deprecated at OpenAI and rejected by reasoning models; max_completion_tokens replaces it.
        return {"temperature": self.cfg.temperature, "max_completion_tokens": self.cfg.max_tokens,
                "seed": self.cfg.seed}

    def complete(self, request: ChatRequest) -> Completion:
        openai = self._openai
        try:
            response = self._client.chat.completions.create(
                model=self.model, messages=_text_messages(request), **self._sampling()
            )
        except openai.APIStatusError as exc:
            detail = exc.body.get("message") if isinstance(exc.body, dict) else None
            raise _status_error(self.name, self.model, exc.status_code, detail or exc.message) from exc
        except openai.APITimeoutError as exc:
            raise ProviderError(f"{self.name} {self.model}: timed out after {self.cfg.timeout_s:g} s",
                                retryable=True) from exc
        except openai.APIConnectionError as exc:
            raise ProviderError(f"{self.name} {self.model}: connection failed ({_short(exc.__cause__ or exc)})",
                                retryable=True) from exc
        except openai.OpenAIError as exc:
            raise ProviderError(f"{self.name} {self.model}: {type(exc).__name__}: {_short(exc)}",
                                retryable=False) from exc
        if not response.choices:
            raise ProviderError(f"{self.name} {self.model}: response has no choices", retryable=False)
        choice = response.choices[0]
        text = choice.message.content
        if text is None:
            refusal = getattr(choice.message, "refusal", None)
            raise ProviderError(f"{self.name} {self.model}: no text in the reply (finish_reason={choice.finish_reason}"
                                f"{', refusal: ' + _short(refusal) if refusal else ''})", retryable=False)
        usage = response.usage
        return Completion(
            text=text,
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            provider=self.name,
            model=response.model or self.model,
            finish_reason=choice.finish_reason,
        )


class EmpathyProvider(OpenAIProvider):
    """This project's served model through its OpenAI-compatible route (e.g. http://127.0.0.1:8080/openai/v1)."""

    name = "empathy"

    def __init__(self, cfg: ProviderConfig, api_key: str | None):
        if not cfg.base_url:
            raise UserError("provider empathy: base_url is required, e.g. http://127.0.0.1:8080/openai/v1 "
                            "(the served model's OpenAI-compatible route)")
        super().__init__(cfg, api_key or NO_KEY_PLACEHOLDER)

    def _sampling(self) -> dict[str, Any]:
        # OpenAI-compatible servers (ours, vLLM, llama.cpp) read max_tokens.
        return {"temperature": self.cfg.temperature, "max_tokens": self.cfg.max_tokens, "seed": self.cfg.seed}


class AnthropicProvider:
    """Anthropic Messages through the official SDK.

    System messages are joined into `system=`. Temperature and seed are not
    sent: the 2.x SDK (API version 2026-10-21) has no sampling parameters on
    `messages.create`, and the API has no seed; the model's defaults apply.
    """

    name = "anthropic"

    def __init__(self, cfg: ProviderConfig, api_key: str | None):
        import anthropic

        if not api_key:
            raise UserError(f"provider {self.name}: an API key is required")
        self.model = cfg.model
        self.cfg = cfg
        self._anthropic = anthropic
        self._client = anthropic.Anthropic(api_key=api_key, base_url=cfg.base_url, timeout=cfg.timeout_s,
                                           max_retries=0)

    def __repr__(self) -> str:
        return f"AnthropicProvider(model={self.model!r}, base_url={str(self._client.base_url)!r})"

    def complete(self, request: ChatRequest) -> Completion:
        anthropic = self._anthropic
        system = "\n\n".join(m["content"] for m in request.messages if m["role"] == "system")
        messages: Any = [{"role": m["role"], "content": m["content"]} for m in request.messages
                         if m["role"] != "system"]
        kwargs: dict[str, Any] = {"system": system} if system else {}
        try:
            response = self._client.messages.create(
                model=self.model, max_tokens=self.cfg.max_tokens, messages=messages, **kwargs
            )
        except anthropic.APIStatusError as exc:
            detail = getattr(exc, "api_message", None) or exc.message
            raise _status_error(self.name, self.model, exc.status_code, detail) from exc
        except anthropic.APITimeoutError as exc:
            raise ProviderError(f"{self.name} {self.model}: timed out after {self.cfg.timeout_s:g} s",
                                retryable=True) from exc
        except anthropic.APIConnectionError as exc:
            raise ProviderError(f"{self.name} {self.model}: connection failed ({_short(exc.__cause__ or exc)})",
                                retryable=True) from exc
        except anthropic.AnthropicError as exc:
            raise ProviderError(f"{self.name} {self.model}: {type(exc).__name__}: {_short(exc)}",
                                retryable=False) from exc
        texts = [block.text for block in response.content if isinstance(block, anthropic.types.TextBlock)]
        if not texts:
            raise ProviderError(f"{self.name} {self.model}: no text in the reply (stop_reason={response.stop_reason})",
                                retryable=False)
        usage = response.usage
        # Cached prompt tokens are billed apart from input_tokens; the prompt is their sum.
        input_tokens = (usage.input_tokens + (usage.cache_creation_input_tokens or 0)
                        + (usage.cache_read_input_tokens or 0))
        return Completion(
            text="".join(texts),
            input_tokens=input_tokens,
            output_tokens=usage.output_tokens,
            provider=self.name,
            model=response.model or self.model,
            finish_reason=response.stop_reason,
        )


class OllamaProvider:
    """A local (or remote) Ollama server through the official SDK, non-streaming `/api/chat`."""

    name = "ollama"

    def __init__(self, cfg: ProviderConfig, api_key: str | None):
        import httpx
        import ollama

        self.model = cfg.model
        self.cfg = cfg
        self.host = cfg.base_url or DEFAULT_OLLAMA_HOST
        self._ollama = ollama
        self._httpx = httpx
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else None
        self._client = ollama.Client(host=self.host, timeout=cfg.timeout_s, headers=headers)

    def __repr__(self) -> str:
        return f"OllamaProvider(model={self.model!r}, host={self.host!r})"

    def complete(self, request: ChatRequest) -> Completion:
        ollama, httpx = self._ollama, self._httpx
        options = {"temperature": self.cfg.temperature, "num_predict": self.cfg.max_tokens, "seed": self.cfg.seed}
        try:
            response = self._client.chat(model=self.model, messages=_text_messages(request), options=options,
                                         stream=False)
        except ollama.ResponseError as exc:
            if exc.status_code == 404:
                raise ProviderError(f"{self.name} {self.model}: HTTP 404: {_short(exc.error)} "
                                    f"(run `ollama pull {self.model}` on {self.host})",
                                    retryable=False, status=404) from exc
            if exc.status_code < 0:
                raise ProviderError(f"{self.name} {self.model}: {_short(exc.error)}", retryable=False) from exc
            raise _status_error(self.name, self.model, exc.status_code, exc.error) from exc
        except httpx.TimeoutException as exc:
            raise ProviderError(f"{self.name} {self.model}: timed out after {self.cfg.timeout_s:g} s at {self.host}",
                                retryable=True) from exc
        except ConnectionError as exc:  # the SDK's own for a refused connection
            raise ProviderError(f"{self.name} {self.model}: cannot reach Ollama at {self.host}",
                                retryable=True) from exc
        except httpx.TransportError as exc:
            raise ProviderError(f"{self.name} {self.model}: connection to {self.host} failed "
                                f"({type(exc).__name__}: {_short(exc)})", retryable=True) from exc
        return Completion(
            text=response.message.content or "",
            input_tokens=response.prompt_eval_count or 0,
            output_tokens=response.eval_count or 0,
            provider=self.name,
            model=response.model or self.model,
            finish_reason=response.done_reason,
        )
