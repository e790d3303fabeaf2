"""Plots people would rather look at than read: the training curve."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_training_curve(history: list[dict[str, Any]], out_png: str | Path, title: str = "Training") -> Path:
    """Train and validation loss by step, with validation token accuracy on a second axis."""
    train = [(r["step"], r["train_loss"]) for r in history if "train_loss" in r]
    val = [(r["step"], r["val_loss"]) for r in history if "val_loss" in r]
    acc = [(r["step"], r["val_token_accuracy"]) for r in history if "val_token_accuracy" in r]
    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    if train:
        ax.plot(*zip(*train), label="train loss", color="#3b6ea8")
    if val:
        ax.plot(*zip(*val), "o-", label="validation loss", color="#c0504d")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (nats / assistant token)")
    ax.grid(alpha=0.3)
    lines, labels = ax.get_legend_handles_labels()
    if acc:
        ax2 = ax.twinx()
        ax2.plot(*zip(*acc), "s--", label="validation token accuracy", color="#6a9a3a")
        ax2.set_ylabel("token accuracy")
        ax2.set_ylim(0, 1)
        more_lines, more_labels = ax2.get_legend_handles_labels()
        lines, labels = lines + more_lines, labels + more_labels
    ax.legend(lines, labels, loc="upper right", fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out
