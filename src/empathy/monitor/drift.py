"""An Evidently report comparing training inputs with inference inputs.

Each text gets descriptors (length, words, sentences, share of non-letters)
and a semantic one: its cosine similarity to the nearest training question
under all-MiniLM-L6-v2 (cross-fitted, see `nearest_similarity`), which
moves when users ask about things the training set does not cover. The
report's data-drift preset tests each column; the share of drifted columns
is compared with the alert threshold.

    empathy monitor --data runs/x/data --inference-log runs/x/deploy/inference_log.jsonl --out-dir runs/x/monitor
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from empathy.config import MonitorConfig
from empathy.embeddings import encode
from empathy.errors import UserError
from empathy.io import write_json

COLUMNS = ["length", "words", "sentences", "non_letter_pct", "nearest_train_similarity"]


def user_texts(chat_examples: list[dict[str, Any]]) -> list[str]:
    """The last user message of each chat example."""
    return [next(m["content"] for m in reversed(ex["messages"]) if m["role"] == "user") for ex in chat_examples]


def nearest_similarity(reference: np.ndarray, current: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Cosine to the nearest training text, cross-fitted so both columns are comparable.

    The reference is cut into two random halves; a reference row is scored
    against the other half, and a current row against one half, so every
    score is "distance to a held-out half of the training set" (a plain
    leave-one-out score would see twice as many neighbours and drift by itself).
    """
    halves = np.random.default_rng(seed).permutation(len(reference)) % 2 == 0
    a, b = reference[halves], reference[~halves]
    ref_scores = np.empty(len(reference), dtype=np.float32)
    ref_scores[halves] = (a @ b.T).max(axis=1)
    ref_scores[~halves] = (b @ a.T).max(axis=1)
    use_a = np.arange(len(current)) % 2 == 0
    cur_scores = np.where(use_a, (current @ a.T).max(axis=1), (current @ b.T).max(axis=1))
    return ref_scores, cur_scores


def drift_report(reference_texts: list[str], current_texts: list[str], config: MonitorConfig,
                 out_dir: str | Path) -> dict[str, Any]:
    if len(reference_texts) < 2 or not current_texts:
        raise UserError("drift report needs at least 2 reference texts and 1 current text")
    from evidently import DataDefinition, Dataset, Report
    from evidently.descriptors import NonLetterCharacterPercentage, SentenceCount, TextLength, WordCount
    from evidently.presets import DataDriftPreset, TextEvals

    ref_scores, cur_scores = nearest_similarity(encode(reference_texts), encode(current_texts))
    reference = pd.DataFrame({"text": reference_texts, "nearest_train_similarity": ref_scores})
    current = pd.DataFrame({"text": current_texts, "nearest_train_similarity": cur_scores})
    definition = DataDefinition(text_columns=["text"], numerical_columns=["nearest_train_similarity"])
    descriptors = [
        TextLength("text", alias="length"), WordCount("text", alias="words"),
        SentenceCount("text", alias="sentences"), NonLetterCharacterPercentage("text", alias="non_letter_pct"),
    ]
    ref_ds = Dataset.from_pandas(reference, data_definition=definition, descriptors=descriptors)
    cur_ds = Dataset.from_pandas(current, data_definition=definition, descriptors=descriptors)
    report = Report([DataDriftPreset(columns=COLUMNS, drift_share=config.drift_share_alert), TextEvals()])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy on constant columns
        snapshot = report.run(current_data=cur_ds, reference_data=ref_ds)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    html_path = out / "drift_report.html"
    snapshot.save_html(str(html_path))
    summary = summarize_snapshot(snapshot.dict(), config)
    summary.update({
        "reference_rows": len(reference_texts), "current_rows": len(current_texts), "report_html": str(html_path),
        "mean_nearest_train_similarity": {
            "reference": float(reference["nearest_train_similarity"].mean()),
            "current": float(current["nearest_train_similarity"].mean()),
        },
    })
    write_json(out / "drift_summary.json", summary)
    return summary


def summarize_snapshot(snapshot: dict[str, Any], config: MonitorConfig) -> dict[str, Any]:
    """Drift share and per-column p-values (or distances) from the report's metrics."""
    columns: dict[str, dict[str, Any]] = {}
    share = None
    for metric in snapshot["metrics"]:
        cfg = metric["config"]
        kind = cfg.get("type", "")
        if kind.endswith("DriftedColumnsCount"):
            share = float(metric["value"]["share"])
        elif kind.endswith(":ValueDrift"):
            columns[cfg["column"]] = {"method": cfg["method"], "value": float(metric["value"]),
                                      "threshold": cfg["threshold"]}
    if share is None:
        raise RuntimeError("Evidently report has no DriftedColumnsCount metric")
    for stats in columns.values():
        is_p_value = "p_value" in stats["method"]
        stats["drifted"] = stats["value"] < stats["threshold"] if is_p_value else stats["value"] >= stats["threshold"]
    return {
        "drift_share": share,
        "drifted_columns": sorted(c for c, s in columns.items() if s["drifted"]),
        "columns": columns,
        "alert": share >= config.drift_share_alert,
        "alert_threshold": config.drift_share_alert,
    }
