"""Plots people would rather look at than read (the training curve, where edge cases ended), and the HTML pieces
the reports share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def _save(fig, out_png: str | Path) -> Path:
    fig.tight_layout()
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def png_base64(fig) -> str:
    """The figure laid out, as a base64 PNG for an inline <img> in an HTML report; the figure is closed."""
    import base64
    import io

    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def html_table(rows: list[tuple[Any, ...]], header: tuple[str, ...]) -> str:
    """An HTML table of `rows` under `header`, every cell escaped."""
    import html

    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


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
    return _save(fig, out_png)


EDGE_CASE_OUTCOMES = (("exported", "in training", "#6a9a3a"), ("pending", "awaiting review", "#e0a030"),
                      ("review_rejected", "rejected by review", "#8e5ea2"), ("rule_rejected", "failed the rules", "#c0504d"),
                      ("request_failed", "request failed", "#7f7f7f"))


def plot_edge_cases(report: dict[str, Any], out_png: str | Path) -> Path:
    """Where every generated edge case ended, one bar per category, grouped by difficulty."""
    rows = sorted(report["per_category"].items(), key=lambda kv: (["very_high", "high", "moderate"].index(
        kv[1]["difficulty"]), kv[0]), reverse=True)
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(rows) + 1.6), dpi=110)
    names = [f"{name} ({counts['difficulty'].replace('_', ' ')})" for name, counts in rows]
    left = [0] * len(rows)
    for key, label, colour in EDGE_CASE_OUTCOMES:
        values = [counts[key] for _, counts in rows]
        ax.barh(names, values, left=left, label=label, color=colour)
        left = [a + b for a, b in zip(left, values)]
    ax.set_xlabel("dialogues requested")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.tick_params(axis="y", labelsize=7)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.6 / (0.28 * len(rows) + 1.6)), ncol=5, fontsize=7,
              frameon=False)
    ax.set_title(f"Edge cases by category ({report['provider']})")
    return _save(fig, out_png)
