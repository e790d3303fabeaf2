"""The MLflow pyfunc flavour of a fine-tuned chat model.

Its one artifact, `model`, is the fine-tuned model directory (base + adapter +
tokenizer). Defined at module level so MLflow pickles it by reference: any
process with this package installed can load a registered version.

    model = mlflow.pyfunc.load_model("models:/empathy-chat@candidate")
    model.predict({"messages": [{"role": "user", "content": "Hello"}]})
"""

from __future__ import annotations

import mlflow.pyfunc

from empathy.generate import DEFAULT_REPETITION_PENALTY


class ChatPyfuncModel(mlflow.pyfunc.PythonModel):
    """Input: {"messages": [...]} or a list of them. Output: one reply dict each."""

    def load_context(self, context):
        from empathy.generate import ChatGenerator

        self.generator = ChatGenerator.from_dir(context.artifacts["model"])

    def predict(self, context, model_input, params=None):
        params = params or {}
        if hasattr(model_input, "to_dict"):
            model_input = model_input.to_dict(orient="records")
        if isinstance(model_input, dict):
            model_input = [model_input]
        max_new_tokens = int(params.get("max_new_tokens", 64))
        temperature = float(params.get("temperature", 0.0))
        penalty = float(params.get("repetition_penalty", DEFAULT_REPETITION_PENALTY))
        return [self.generator.reply(item["messages"], max_new_tokens, temperature, penalty) for item in model_input]
