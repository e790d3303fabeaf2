"""A small client for the predictor's v1 protocol (used by deploy and tests).

Imports no kserve, so deploying does not pay for it.
"""

from __future__ import annotations

import time
from typing import Any

import httpx


class ChatClient:
    def __init__(self, base_url: str, model_name: str, timeout: float = 60.0, api_key: str | None = None):
        """`api_key` (an emp_... key or a JWT) is sent as `Authorization: Bearer ...`; none for a --no-auth server."""
        self.base_url = base_url.rstrip("/")
        self.model_name = model_name
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(timeout=timeout, headers=headers)

    def ready(self) -> bool:
        try:
            response = self.http.get(f"{self.base_url}/v2/models/{self.model_name}/ready")
        except httpx.HTTPError:
            return False
        return response.status_code == 200

    def chat(self, messages: list[dict[str, str]], max_new_tokens: int = 64) -> dict[str, Any]:
        """One reply (with the guard's `safety` object), with the round-trip latency in milliseconds under `latency_ms`."""
        start = time.perf_counter()
        response = self.http.post(
            f"{self.base_url}/v1/models/{self.model_name}:predict",
            json={"instances": [{"messages": messages, "max_new_tokens": max_new_tokens}]},
        )
        response.raise_for_status()
        reply = response.json()["predictions"][0]
        reply["latency_ms"] = round((time.perf_counter() - start) * 1000, 1)
        return reply

    def close(self) -> None:
        self.http.close()


def model_name_from_uri(model_uri: str) -> str:
    """`models:/NAME@ALIAS` or `models:/NAME/V` -> NAME; anything else -> 'empathy-chat'."""
    if model_uri.startswith("models:/"):
        rest = model_uri[len("models:/"):]
        return rest.split("@", 1)[0].split("/", 1)[0]
    return "empathy-chat"
