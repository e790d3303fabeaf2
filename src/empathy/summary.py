"""The run summary: where to look after a pipeline run, as JSON and Markdown.

Written by the pipeline's last step; `empathy pipeline run --local` copies
it to <output-dir>/summary.json with the report and the plot beside it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from empathy.io import read_json, write_json


def _edge_cases(report_dir: str) -> dict[str, Any]:
    report = read_json(os.path.join(report_dir, "report.json"), "edge-case report")
    if not report.get("enabled"):
        return {"enabled": False}
    totals = report["totals"]
    return {"enabled": True, "provider": report["provider"], "requested": totals["requested"],
            "exported": totals["exported"], "rule_rejected": totals["rule_rejected"],
            "awaiting_review": totals["pending"], "review_rejected": totals["review_rejected"],
            "review_queue": report["review_queue"]}


def build_summary(data_report: str, model_dir: str, evaluation: str, registration: str, promotion: str,
                  deployment: str, drift: str, drift_report: str, edge_cases_report: str) -> dict[str, Any]:
    reg = read_json(registration, "registration")
    promoted = read_json(promotion, "promotion")
    evaluated = read_json(evaluation, "evaluation")
    train = read_json(os.path.join(model_dir, "train_result.json"), "training result")
    data = read_json(data_report, "data report")
    dep = read_json(deployment, "deployment")
    drift_summary = read_json(drift, "drift summary")
    return {
        "tracking_uri": reg["tracking_uri"],
        "registered_model": {"name": reg["model_name"], "version": reg["version"], "alias": reg["alias"],
                             "uri": reg["model_uri"], "run_id": reg["run_id"]},
        "metrics": {
            "train": {k: train[k] for k in ("final_train_loss", "val_loss", "val_perplexity", "val_token_accuracy",
                                            "steps", "tokens_per_second", "seconds") if k in train},
            "test": evaluated["metrics"],
            "drift_share": drift_summary["drift_share"],
            "drift_alert": drift_summary["alert"],
        },
        "data": {k: data[k] for k in ("items_in", "records", "pairs", "accepted", "held_for_review", "exported",
                                      "extracted_share", "rejected", "splits", "pairs_by_type", "rejected_by_reason",
                                      "train_sha256")},
        "promotion": {"stage": promoted["stage"], "promoted": promoted["promoted"], "summary": promoted["summary"]},
        "gates": {stage: v["summary"] for stage, v in evaluated.get("gates", {}).items()},
        "edge_cases": _edge_cases(edge_cases_report),
        "sample": {"prompt": dep["prompt"], "reply": dep["reply"], "endpoint": dep["endpoint"],
                   "latency_ms_p50": dep["latency_ms_p50"]},
        "paths": {
            "drift_report": drift_report,
            "training_curve": os.path.join(model_dir, "training_curve.png"),
            "model_dir": model_dir,
            "data_report": data_report,
            "evaluation_report": evaluated["report_path"],
        },
    }


def to_markdown(s: dict[str, Any]) -> str:
    m = s["registered_model"]
    test = s["metrics"]["test"]
    return "\n".join([
        "# empathy training run",
        f"- registered model: **{m['name']}** version **{m['version']}** (alias `{m['alias']}`), run `{m['run_id']}`",
        f"- MLflow: `{s['tracking_uri']}`",
        f"- data: {s['data']['items_in']} items in, {s['data']['pairs']} pairs, {s['data']['accepted']} accepted, "
        f"{s['data']['held_for_review']} held for clinical review, {s['data']['exported']} exported "
        f"({(s['data']['extracted_share'] or 0):.0%} extracted), splits {s['data']['splits']}, rejected {s['data']['rejected']}",
        f"- test loss {test['test_loss']:.3f}, perplexity {test['test_perplexity']:.1f}, "
        f"token accuracy {test['test_token_accuracy']:.3f}",
        f"- drift share {s['metrics']['drift_share']:.2f} (alert: {s['metrics']['drift_alert']})",
        *_evaluation_lines(s),
        _edge_cases_line(s["edge_cases"]),
        f"- sample: _{s['sample']['prompt']}_ -> {s['sample']['reply']}",
    ]) + "\n"


def _evaluation_lines(s: dict[str, Any]) -> list[str]:
    test, p = s["metrics"]["test"], s["promotion"]
    lines = []
    if "appropriateness_mean" in test:
        lines.append(f"- replies: appropriateness {test['appropriateness_mean']:.2f}, crisis handled "
                     f"{test['crisis_handling_rate']:.0%}, unsafe {test['unsafe_output_rate']:.0%}, "
                     f"largest fairness gap {test['fairness_max_gap']:.2f}, bias flagged {test['bias_flag_rate']:.0%}")
    lines.append(f"- promotion: {p['summary']}")
    return lines


def _edge_cases_line(e: dict[str, Any]) -> str:
    if not e["enabled"]:
        return "- edge cases: switched off"
    return (f"- edge cases ({e['provider']}): {e['requested']} generated, {e['exported']} in training, "
            f"{e['rule_rejected']} failed the rules, {e['awaiting_review']} awaiting clinical review "
            f"(`empathy review list`), {e['review_rejected']} rejected by review")


def write_summary(summary: dict[str, Any], json_path: str | Path, md_path: str | Path | None = None) -> None:
    write_json(json_path, summary)
    if md_path is not None:
        Path(md_path).write_text(to_markdown(summary), encoding="utf-8")
