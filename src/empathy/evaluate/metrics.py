"""Held-out language-model metrics: loss, perplexity, token accuracy.

Measured on assistant tokens only (the tokens the model is trained to
produce). The same function scores validation during training and the test
split in the evaluate stage, so the numbers are comparable.

    empathy evaluate --model runs/x/model --data runs/x/data --run-id RUN --out runs/x/evaluation.json
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Iterable

import torch
import torch.nn.functional as F

from empathy.config import EvaluateConfig
from empathy.train.tokenizer import IGNORE_INDEX


def token_loss_sums(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, int, int]:
    """Summed next-token cross-entropy, scored tokens, correct argmax predictions."""
    shift_logits = logits[:, :-1, :].float()
    shift_labels = labels[:, 1:]
    mask = shift_labels != IGNORE_INDEX
    loss_sum = F.cross_entropy(
        shift_logits.reshape(-1, shift_logits.size(-1)), shift_labels.reshape(-1),
        ignore_index=IGNORE_INDEX, reduction="sum",
    )
    correct = int(((shift_logits.argmax(-1) == shift_labels) & mask).sum())
    return loss_sum, int(mask.sum()), correct


@torch.no_grad()
def lm_metrics(model: torch.nn.Module, batches: Iterable[dict[str, torch.Tensor]], device: str) -> dict[str, float]:
    was_training = model.training
    model.eval()
    total_loss, total_tokens, total_correct = 0.0, 0, 0
    for batch in batches:
        logits = model(input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device)).logits
        loss_sum, tokens, correct = token_loss_sums(logits, batch["labels"].to(device))
        total_loss += float(loss_sum)
        total_tokens += tokens
        total_correct += correct
    if was_training:
        model.train()
    if total_tokens == 0:
        return {"loss": float("nan"), "perplexity": float("nan"), "token_accuracy": float("nan"), "tokens": 0}
    loss = total_loss / total_tokens
    return {
        "loss": loss,
        "perplexity": math.exp(min(loss, 50.0)),
        "token_accuracy": total_correct / total_tokens,
        "tokens": total_tokens,
    }


def evaluate_model(model_dir: str | Path, test_examples: list[dict[str, Any]], config: EvaluateConfig) -> dict[str, Any]:
    """Loss, perplexity and token accuracy of a fine-tuned model on chat examples (the test split)."""
    from empathy.train.dataset import make_batches, tokenize_examples
    from empathy.train.model import load_finetuned

    model, tokenizer = load_finetuned(model_dir)
    device = str(next(model.parameters()).device)
    examples = tokenize_examples(test_examples, tokenizer, config.max_seq_len)
    metrics = lm_metrics(model, make_batches(examples, config.batch_size, tokenizer.pad_token_id), device)
    return {f"test_{k}": v for k, v in metrics.items()} | {"test_examples": len(examples)}
