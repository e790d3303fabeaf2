"""Chat examples to padded, length-bucketed batches with assistant-only labels.

Length bucketing (sort by length inside shuffled windows, then shuffle the
batches) keeps padding low without packing; on CPU it beats packing with
block-diagonal attention masks (docs/training.md).
"""

from __future__ import annotations

import random
from typing import Any, Iterator

import torch
from transformers import PreTrainedTokenizerFast

from empathy.train.tokenizer import IGNORE_INDEX, encode_chat


def tokenize_examples(
    examples: list[dict[str, Any]], tokenizer: PreTrainedTokenizerFast, max_len: int
) -> list[tuple[list[int], list[int]]]:
    out = []
    for ex in examples:
        ids, labels = encode_chat(tokenizer, ex["messages"], max_len=max_len)
        if any(label != IGNORE_INDEX for label in labels[1:]):
            out.append((ids, labels))
    return out


def collate(items: list[tuple[list[int], list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    width = max(len(ids) for ids, _ in items)
    input_ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    labels = torch.full((len(items), width), IGNORE_INDEX, dtype=torch.long)
    attention = torch.zeros((len(items), width), dtype=torch.long)
    for row, (ids, labs) in enumerate(items):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(labs)] = torch.tensor(labs)
        attention[row, : len(ids)] = 1
    return {"input_ids": input_ids, "labels": labels, "attention_mask": attention}


def make_batches(
    examples: list[tuple[list[int], list[int]]], batch_size: int, pad_id: int, seed: int | None = None
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



def iter_epochs(
    examples: list[tuple[list[int], list[int]]], batch_size: int, pad_id: int, seed: int
) -> Iterator[tuple[int, list[dict[str, torch.Tensor]]]]:
    epoch = 0
    while True:
        yield epoch, make_batches(examples, batch_size, pad_id, seed + epoch)
        epoch += 1
