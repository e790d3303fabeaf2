"""Chat examples to training batches with assistant-only labels: length-bucketed or packed.

Bucketing (sort by length inside shuffled windows, then shuffle the batches)
keeps padding low for a small corpus on CPU. Packing puts several short
conversations in one `max_seq_len` row (best-fit decreasing, done once) and
restarts `position_ids` at each conversation: transformers then builds a
block-diagonal causal mask (sdpa, eager) or runs variable-length kernels
(flash_attention_2), so attention never crosses a conversation boundary.
Rows are shuffled every epoch; the number of batches per epoch is fixed, so
the schedule and a resumed run see the same steps.
"""

from __future__ import annotations

import bisect
import random
from typing import Any

import torch
from transformers import PreTrainedTokenizerFast

from empathy.train.tokenizer import IGNORE_INDEX, encode_chat

Example = tuple[list[int], list[int]]
PackedRow = tuple[list[int], list[int], list[int]]


def tokenize_examples(examples: list[dict[str, Any]], tokenizer: PreTrainedTokenizerFast, max_len: int) -> list[Example]:
    out = []
    for ex in examples:
        ids, labels = encode_chat(tokenizer, ex["messages"], max_len=max_len)
        if any(label != IGNORE_INDEX for label in labels[1:]):
            out.append((ids, labels))
    return out


def collate(items: list[Example] | list[PackedRow], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded tensors; packed rows (ids, labels, positions) give position_ids and no attention_mask."""
    width = max(len(item[0]) for item in items)
    input_ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    labels = torch.full((len(items), width), IGNORE_INDEX, dtype=torch.long)
    attention = torch.zeros((len(items), width), dtype=torch.long)
    packed = len(items[0]) == 3
    positions = torch.zeros((len(items), width), dtype=torch.long)
    for row, item in enumerate(items):
        n = len(item[0])
        input_ids[row, :n] = torch.tensor(item[0])
        labels[row, :n] = torch.tensor(item[1])
        attention[row, :n] = 1
        if packed:
            positions[row, :n] = torch.tensor(item[2])
            # the padding tail is a sequence of its own (positions restart), so no real token attends to it
            positions[row, n:] = torch.arange(width - n)
    batch = {"input_ids": input_ids, "labels": labels, "attention_mask": attention}
    if packed:
        batch["position_ids"] = positions
    return batch


def pack_examples(examples: list[Example], max_len: int) -> list[PackedRow]:
    """Best-fit decreasing: each example, longest first, goes into the row it fills best."""
    rows: list[PackedRow] = []
    free: list[tuple[int, int]] = []  # (space left, row index), sorted
    for ids, labels in sorted(examples, key=lambda e: -len(e[0])):
        n = len(ids)
        at = bisect.bisect_left(free, (n, -1))
        if at < len(free):
            space, index = free.pop(at)
        else:
            rows.append(([], [], []))
            space, index = max_len, len(rows) - 1
        row = rows[index]
        row[0].extend(ids)
        row[1].extend(labels)
        row[2].extend(range(n))
        if space - n > 0:
            bisect.insort(free, (space - n, index))
    return rows


def packing_efficiency(batches: list[dict[str, torch.Tensor]]) -> float:
    """Real tokens over all positions of the batches: the share of compute spent on data, not padding."""
    real = sum(int(b["attention_mask"].sum()) for b in batches)
    return real / max(sum(b["input_ids"].numel() for b in batches), 1)


def make_batches(
    examples: list[Example], batch_size: int, pad_id: int, seed: int | None = None
) -> list[dict[str, torch.Tensor]]:
    """Batches of similar length. With a seed, windows and batch order are shuffled."""
    order = list(range(len(examples)))
    if seed is not None:
        random.Random(seed).shuffle(order)
    window = batch_size * 16
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: len(examples[i][0]))
        for b in range(0, len(chunk), batch_size):
            batches.append(collate([examples[i] for i in chunk[b : b + batch_size]], pad_id))
    if seed is not None:
        random.Random(seed + 1).shuffle(batches)
    return batches


def make_packed_batches(rows: list[PackedRow], batch_size: int, pad_id: int, seed: int) -> list[dict[str, torch.Tensor]]:
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    return [collate([rows[i] for i in order[b : b + batch_size]], pad_id) for b in range(0, len(order), batch_size)]
