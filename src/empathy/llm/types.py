"""The provider interface: a chat request in, a completion with token counts out.

Every provider (offline templates, OpenAI, Anthropic, Ollama, our own server)
implements `Provider.complete`; the batch runner and the callers know nothing
else about them. `ChatRequest.task` and `metadata` let the offline provider
pick a deterministic writer; network providers send only the messages and
the sampling parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ChatRequest:
    id: str
    messages: list[dict[str, str]]
    task: str = "chat"
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Completion:
    text: str
    input_tokens: int
    output_tokens: int
    provider: str
    model: str
    finish_reason: str | None = None


class ProviderError(Exception):
    """A failed request. `retryable` is true for rate limits, 5xx, timeouts and dropped connections."""

    def __init__(self, message: str, *, retryable: bool, status: int | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.status = status


class Provider(Protocol):
    name: str
    model: str

    def complete(self, request: ChatRequest) -> Completion: ...
