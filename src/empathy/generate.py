"""Chat generation with a fine-tuned model: the one place replies are produced.

Used by the MLflow pyfunc model, the KServe predictor and evaluation. Prompts
go through the same `encode_chat` as training, so the model sees at serving
time exactly the format it was trained on.

    gen = ChatGenerator.from_dir("runs/x/model")    # a directory written by `empathy train --out`
    gen.reply([{"role": "user", "content": "I can't sleep before exams."}])
"""

from __future__ import annotations

import threading
from pathlib import Path

import torch

from empathy.config import DEFAULT_SYSTEM_PROMPT
from empathy.train.model import load_finetuned
from empathy.train.tokenizer import IM_END, encode_chat

VALID_ROLES = ("system", "user", "assistant")
# Greedy decoding of small models loops ("talk to talk to talk ..."); a mild
# penalty on repeated tokens is the usual remedy and leaves sampling settings alone.
DEFAULT_REPETITION_PENALTY = 1.2


class ChatGenerator:
    def __init__(self, model, tokenizer, max_context: int = 512):
        self.model = model
        self.tokenizer = tokenizer
        self.device = str(next(model.parameters()).device)
        self.max_context = min(max_context, getattr(model.config, "max_position_embeddings", max_context))
        self.end_id = tokenizer.convert_tokens_to_ids(IM_END)
        self._lock = threading.Lock()  # one generate at a time per model instance

    @classmethod
    def from_dir(cls, model_dir: str | Path, device: str | None = None) -> "ChatGenerator":
        model, tokenizer = load_finetuned(model_dir, device)
        return cls(model, tokenizer)

    @staticmethod
    def check_messages(messages: object) -> list[dict[str, str]]:
        """A valid messages list or a ValueError saying what is wrong."""
        if not isinstance(messages, list) or not messages:
            raise ValueError("messages must be a non-empty list")
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or m.get("role") not in VALID_ROLES or not isinstance(m.get("content"), str):
                raise ValueError(f"messages[{i}] must be {{'role': one of {VALID_ROLES}, 'content': str}}")
        if messages[-1]["role"] != "user":
            raise ValueError("the last message must come from the user")
        return messages

    def reply(self, messages: list[dict[str, str]], max_new_tokens: int = 64, temperature: float = 0.0,
              repetition_penalty: float = DEFAULT_REPETITION_PENALTY) -> dict:
        messages = self.check_messages(messages)
        if not 1.0 <= repetition_penalty <= 2.0:
            raise ValueError("repetition_penalty must be between 1.0 and 2.0")
        if messages[0]["role"] != "system":
            messages = [{"role": "system", "content": DEFAULT_SYSTEM_PROMPT}, *messages]
        budget = max(self.max_context - max_new_tokens, 16)
        ids, _ = encode_chat(self.tokenizer, messages, max_len=budget, add_generation_prompt=True)
        input_ids = torch.tensor([ids], device=self.device)
        sampling = temperature > 0
        with self._lock, torch.no_grad():
            out = self.model.generate(
                input_ids=input_ids,
                attention_mask=torch.ones_like(input_ids),
                max_new_tokens=max_new_tokens,
                do_sample=sampling,
                temperature=temperature if sampling else None,
                top_p=0.95 if sampling else None,
                top_k=None,
                repetition_penalty=repetition_penalty,
                eos_token_id=self.end_id,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        new = out[0, input_ids.shape[1] :].tolist()
        finished = bool(new) and new[-1] == self.end_id
        text = self.tokenizer.decode([t for t in new if t != self.end_id], skip_special_tokens=True).strip()
        return {
            "content": text,
            "finish_reason": "stop" if finished else "length",
            "prompt_tokens": len(ids),
            "completion_tokens": len(new),
        }
