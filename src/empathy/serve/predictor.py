"""The KServe predictor: a `kserve.Model` that answers chat messages.

    empathy serve --model models:/empathy-chat@candidate --port 8080

starts kserve's ModelServer (v1 and v2 protocol routes, Prometheus /metrics)
bound to 127.0.0.1 unless `--host` opens it, with gRPC off. The v1 request:

    POST /v1/models/empathy-chat:predict
    {"instances": [{"messages": [{"role": "user", "content": "..."}], "max_new_tokens": 64,
                    "temperature": 0.0, "repetition_penalty": 1.2}]}      (the last three optional)
    -> {"predictions": [{"content": "...", "finish_reason": "stop", ...}]}

kserve parses sys.argv when first imported (with abbreviations, so our
`--model` would read as its `--model_name`); `import_kserve` hides our
arguments from it.
"""

from __future__ import annotations

import sys
from typing import Any

from empathy.generate import DEFAULT_REPETITION_PENALTY
from empathy.serve.client import model_name_from_uri


def import_kserve():
    saved = sys.argv
    sys.argv = saved[:1]
    try:
        import kserve
        import kserve.model_server  # noqa: F401  (parses sys.argv at import)
    finally:
        sys.argv = saved
    return kserve


kserve = import_kserve()


class ChatPredictor(kserve.Model):
    def __init__(self, name: str, model_uri: str, tracking_uri: str | None = None, max_new_tokens: int = 64):
        super().__init__(name)
        self.model_uri = model_uri
        self.tracking_uri = tracking_uri
        self.default_max_new_tokens = max_new_tokens
        self.generator = None

    def load(self) -> bool:
        from empathy.registry import load_chat_generator

        self.generator = load_chat_generator(self.model_uri, self.tracking_uri)
        self.ready = True
        return self.ready

    def _reply(self, instance: Any) -> dict[str, Any]:
        from kserve.errors import InvalidInput

        if not isinstance(instance, dict) or "messages" not in instance:
            raise InvalidInput('each instance must be an object with "messages"')
        max_new = instance.get("max_new_tokens", self.default_max_new_tokens)
        if not isinstance(max_new, int) or not 1 <= max_new <= 1024:
            raise InvalidInput("max_new_tokens must be an integer from 1 to 1024")
        try:
            return self.generator.reply(
                instance["messages"], max_new, float(instance.get("temperature", 0.0)),
                float(instance.get("repetition_penalty", DEFAULT_REPETITION_PENALTY)),
            )
        except (TypeError, ValueError) as exc:
            raise InvalidInput(str(exc)) from None

    async def predict(self, payload: dict, headers: dict[str, str] | None = None, response_headers=None) -> dict:
        from kserve.errors import InvalidInput

        instances = payload.get("instances") if isinstance(payload, dict) else None
        if not isinstance(instances, list) or not instances:
            raise InvalidInput('request body must be {"instances": [...]} with at least one instance')
        return {"predictions": [self._reply(instance) for instance in instances]}


class LoopbackModelServer(kserve.ModelServer):
    """kserve's ModelServer with a configurable bind address (it hard-codes 0.0.0.0)."""

    def __init__(self, host: str = "127.0.0.1", **kwargs: Any):
        kwargs.setdefault("enable_grpc", False)
        super().__init__(**kwargs)
        self.host = host

    def setup_event_loop(self):
        # start() builds the REST server, then calls this before running it: the last moment to set the host.
        if getattr(self, "_rest_server", None) is not None:
            self._rest_server.config.host = self.host
        super().setup_event_loop()


def serve(model_uri: str, host: str = "127.0.0.1", port: int = 8080, name: str | None = None,
          tracking_uri: str | None = None) -> None:
    predictor = ChatPredictor(name or model_name_from_uri(model_uri), model_uri, tracking_uri)
    predictor.load()
    LoopbackModelServer(host=host, http_port=port).start([predictor])
