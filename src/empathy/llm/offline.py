"""The offline provider: deterministic writers instead of a model, so the demo and tests need no keys.

It implements the same `Provider.complete` as the network providers and
answers in the same text format, so everything downstream (parsing,
validation rules, risk screening, review) runs unchanged. Each task has a
writer; `edge_case_dialogue` composes a client/therapist dialogue from the
phrase bank in empathy/safety/offline_dialogues.yaml, choosing variants from
the request id and the configured seed, so the same config always writes the
same dialogues. Token counts are word-and-punctuation counts, labelled as
such by the provider name.

    provider = OfflineProvider(ProviderConfig())
    provider.complete(ChatRequest(id="suicidality-000", messages=[...], task="edge_case_dialogue",
                                  metadata={"category": "suicidality"}))
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from typing import Any, Callable

import yaml

from empathy.config import ProviderConfig
from empathy.io import stable_hash
from empathy.llm.types import ChatRequest, Completion, ProviderError

_TOKEN_RE = re.compile(r"\w+|[^\w\s]")


def count_tokens(text: str) -> int:
    return len(_TOKEN_RE.findall(text))


@functools.cache
def phrase_bank() -> dict[str, Any]:
    text = resources.files("empathy.safety").joinpath("offline_dialogues.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _pick(options: list[str], key: str) -> str:
    return options[int(stable_hash(key)[:8], 16) % len(options)]


def write_edge_case_dialogue(request: ChatRequest, seed: int) -> str:
    from empathy.safety.categories import get_category

    category = get_category(str(request.metadata.get("category", "")))
    bank = phrase_bank()
    lines = bank["categories"][category.name]
    level = bank["levels"][category.difficulty]
    key = f"{request.id}:{seed}"
    turns = [
        ("Client", _pick(lines["openings"], key + ":open")),
        ("Therapist", _pick(level["reflect"], key + ":reflect")),
        ("Client", lines["detail"]),
        ("Therapist", lines["assess"]),
        ("Client", lines["answer"]),
        ("Therapist", lines["step"] + " " + _pick(level["resources"], key + ":resources")),
        ("Client", _pick(level["close_client"], key + ":close_client")),
        ("Therapist", _pick(level["close"], key + ":close")),
    ]
    return "\n".join(f"{speaker}: {text}" for speaker, text in turns)


def write_contextual_question(request: ChatRequest, seed: int) -> str:
    """The data stage's deterministic template question for the passage (the last user message)."""
    from empathy.data.pairs import template_questions

    passage = next(m["content"] for m in reversed(request.messages) if m.get("role") == "user")
    return template_questions([(f"{request.id}:{seed}", passage)])[0]


WRITERS: dict[str, Callable[[ChatRequest, int], str]] = {
    "edge_case_dialogue": write_edge_case_dialogue,
    "contextual_question": write_contextual_question,
}


class OfflineProvider:
    name = "offline"

    def __init__(self, config: ProviderConfig):
        self.model = config.model
        self.seed = config.seed

    def complete(self, request: ChatRequest) -> Completion:
        writer = WRITERS.get(request.task)
        if writer is None:
            raise ProviderError(f"offline provider: no writer for task {request.task!r} "
                                f"(known: {', '.join(sorted(WRITERS))}); configure a model provider", retryable=False)
        try:
            text = writer(request, self.seed)
        except Exception as exc:  # a bad request (unknown category) fails this item, not the batch
            raise ProviderError(f"offline provider, request {request.id}: {exc}", retryable=False) from exc
        prompt = "\n".join(m.get("content", "") for m in request.messages)
        return Completion(text=text, input_tokens=count_tokens(prompt), output_tokens=count_tokens(text),
                          provider=self.name, model=self.model, finish_reason="stop")
