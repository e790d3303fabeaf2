"""The KServe predictor: a `kserve.Model` that answers chat messages through the safety guard.

    empathy serve --model models:/empathy-chat@candidate --port 8080 [--no-auth] [--host 0.0.0.0]

starts kserve's ModelServer (v1 and v2 protocol routes, Prometheus /metrics) bound to 127.0.0.1 unless `--host`
opens it, with gRPC off, plus the OpenAI-compatible routes, auth, audit and stores installed by
empathy.serve.app on kserve's FastAPI app (see docs/api.md). The v1 request:

    POST /v1/models/empathy-chat:predict
    {"instances": [{"messages": [{"role": "user", "content": "..."}], "max_new_tokens": 64,
                    "temperature": 0.0, "repetition_penalty": 1.2}]}      (the last three optional)
    -> {"predictions": [{"content": "...", "finish_reason": "stop", "safety": {...}, ...}], "safety": {...}}

kserve parses sys.argv when first imported (with abbreviations, so our
`--model` would read as its `--model_name`); `import_kserve` hides our
arguments from it.
"""

from __future__ import annotations

import os
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


def model_version_label(model_uri: str, tracking_uri: str | None = None) -> str:
    """The version behind `models:/NAME@ALIAS` (its number when the registry answers), `V` of `models:/NAME/V`,
    else 'local' for a model directory."""
    if not model_uri.startswith("models:/"):
        return "local"
    rest = model_uri[len("models:/"):]
    if "@" in rest:
        name, alias = rest.split("@", 1)
        try:
            from empathy.registry import registry_client

            uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
            if uri:
                return str(registry_client(uri).get_model_version_by_alias(name, alias).version)
        except Exception:  # the label is informative; an unreachable registry must not stop serving
            pass
        return alias
    return rest.split("/", 1)[1] if "/" in rest else "latest"


class ChatPredictor(kserve.Model):
    """v1 `predict` through the same guarded ChatService as the OpenAI routes (safety object in every prediction).

    Without a service (`ChatPredictor(...)` used directly, e.g. in tests) it replies unguarded, as before.
    """

    def __init__(self, name: str, model_uri: str, tracking_uri: str | None = None, max_new_tokens: int = 64):
        super().__init__(name)
        self.model_uri = model_uri
        self.tracking_uri = tracking_uri
        self.default_max_new_tokens = max_new_tokens
        self.generator = None
        self.service = None

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
        if self.service is not None:
            return self._guarded(instance, max_new)
        try:
            return self.generator.reply(
                instance["messages"], max_new, float(instance.get("temperature", 0.0)),
                float(instance.get("repetition_penalty", DEFAULT_REPETITION_PENALTY)),
            )
        except (TypeError, ValueError) as exc:
            raise InvalidInput(str(exc)) from None

    def _guarded(self, instance: dict, max_new: int) -> dict[str, Any]:
        from kserve.errors import InvalidInput

        from empathy.serve.app import ApiError, current_state, principal_subject

        state = current_state.get() or {}
        try:
            temperature = float(instance.get("temperature", 0.0))
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"temperature: {exc}") from None
        result = self.service.chat(
            instance["messages"], max_new_tokens=max_new, temperature=temperature,
            repetition_penalty=instance.get("repetition_penalty"), subject=principal_subject(state),
            conversation_id=instance.get("conversation_id") or state.get("conversation_id"),
            request_id=state.get("request_id"), route="/v1/models/{name}:predict")
        return {"content": result.text, "finish_reason": result.finish_reason,
                "prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
                "safety": result.safety, "conversation_id": result.conversation_id}

    async def predict(self, payload: dict, headers: dict[str, str] | None = None, response_headers=None) -> dict:
        import asyncio

        from kserve.errors import InvalidInput

        if self.service is not None and isinstance(payload, kserve.InferRequest):
            return await asyncio.to_thread(self._v2, payload)
        instances = payload.get("instances") if isinstance(payload, dict) else None
        if not isinstance(instances, list) or not instances:
            raise InvalidInput('request body must be {"instances": [...]} with at least one instance')
        if self.service is not None:
            # one instance per request: one audit entry, one safety decision, one rate-limit count
            if len(instances) != 1:
                raise InvalidInput("send one instance per request (each gets its own safety decision and audit entry)")
            from empathy.serve.app import current_state

            state = current_state.get()
            if state is not None and headers:
                lower = {k.lower(): v for k, v in headers.items()}
                state.setdefault("conversation_id", lower.get("x-conversation-id"))
            prediction = await asyncio.to_thread(self._reply, instances[0])
            return {"predictions": [prediction], "safety": prediction["safety"]}
        return {"predictions": [self._reply(instance) for instance in instances]}


    def _v2(self, request) -> Any:
        """v2 infer: input `messages` (BYTES, one element: the messages list as JSON); parameters max_new_tokens,
        temperature, repetition_penalty, conversation_id. Output `content` (BYTES); the safety object as JSON text in
        the response's `parameters.safety` (v2 parameters are scalars and v2 has no other top-level field), and
        flat as `parameters.safety_risk_level` / `parameters.safety_action`."""
        import json
        import uuid

        from kserve.errors import InvalidInput

        from empathy.serve.app import current_state, principal_subject

        messages_input = request.get_input_by_name("messages")
        if messages_input is None or messages_input.datatype != "BYTES":
            raise InvalidInput('v2: send an input named "messages" of datatype BYTES holding the messages as JSON')
        data = messages_input.data
        raw = data[0] if isinstance(data, list) and len(data) == 1 else None
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "replace")
        try:
            messages = json.loads(raw) if isinstance(raw, str) else None
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"v2: input messages is not JSON ({exc})") from None
        if messages is None:
            raise InvalidInput('v2: input "messages" must hold exactly one JSON string')
        params = dict(request.parameters or {})
        state = current_state.get() or {}
        max_new = params.get("max_new_tokens", self.default_max_new_tokens)
        if not isinstance(max_new, int) or not 1 <= max_new <= 1024:
            raise InvalidInput("max_new_tokens must be an integer from 1 to 1024")
        try:
            temperature = float(params.get("temperature", 0.0))
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"temperature: {exc}") from None
        result = self.service.chat(
            messages, max_new_tokens=max_new, temperature=temperature,
            repetition_penalty=params.get("repetition_penalty"), subject=principal_subject(state),
            conversation_id=params.get("conversation_id") or state.get("conversation_id"),
            request_id=state.get("request_id"), route="/v2/models/{name}/infer")
        output = kserve.InferOutput(name="content", shape=[1], datatype="BYTES", data=[result.text])
        return kserve.InferResponse(
            response_id=request.id or uuid.uuid4().hex, model_name=self.name, infer_outputs=[output],
            # v2 parameters are scalars: the safety object as JSON text, and its two fields flat
            parameters={"safety": json.dumps(result.safety), "safety_risk_level": result.safety["risk_level"],
                        "safety_action": result.safety["action"], "finish_reason": result.finish_reason,
                        "prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
                        "conversation_id": result.conversation_id})


class LoopbackModelServer(kserve.ModelServer):
    """kserve's ModelServer with a configurable bind address (it hard-codes 0.0.0.0) and a hook on its app."""

    def __init__(self, host: str = "127.0.0.1", on_app=None, **kwargs: Any):
        kwargs.setdefault("enable_grpc", False)
        super().__init__(**kwargs)
        self.host = host
        self.on_app = on_app

    def setup_event_loop(self):
        # start() builds the REST server, then calls this before running it: the last moment to set the host.
        rest = getattr(self, "_rest_server", None)
        if rest is not None:
            rest.config.host = self.host
            if self.on_app is not None:
                original = rest.create_application

                def create_application():
                    # kserve adds its routes, middleware and handlers to its module-level app; ours go on top
                    original()
                    from kserve.model_server import app

                    self.on_app(app)

                rest.create_application = create_application
        super().setup_event_loop()


def serve(model_uri: str, host: str = "127.0.0.1", port: int = 8080, name: str | None = None,
          tracking_uri: str | None = None, settings=None) -> None:
    from empathy.serve.app import ChatService, ServeSettings, install

    settings = settings or ServeSettings(host=host)
    settings.host = host
    settings.check()
    predictor = ChatPredictor(name or model_name_from_uri(model_uri), model_uri, tracking_uri,
                              max_new_tokens=settings.max_new_tokens)
    predictor.load()
    service = ChatService(predictor.generator, predictor.name, model_version_label(model_uri, tracking_uri), settings)
    service.warm_up()
    predictor.service = service
    LoopbackModelServer(host=host, http_port=port,
                        on_app=lambda app: install(app, service, predictor.name, settings)).start([predictor])
