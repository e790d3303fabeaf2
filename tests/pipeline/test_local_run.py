"""The whole training pipeline through kfp's local SubprocessRunner, as `make demo` runs it.

One run (about two and a half minutes on 2 cores) on the demo corpus, then
checks of what it promises: summary.json, the registered version and alias in
the MLflow store it names, the accounting of every input item, the report and
the plot, and a sample reply from the served model.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.pipeline, pytest.mark.slow]


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory, repo):
    out = tmp_path_factory.mktemp("demo")
    proc = subprocess.run(
        [sys.executable, "-m", "empathy.cli", "pipeline", "run", "--local", "--config", "configs/pipeline/demo.yaml",
         "--output-dir", str(out)],
        cwd=repo, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out, proc.stdout


def test_prints_where_to_look(demo_run):
    out, stdout = demo_run
    for needle in ("registered model", "mlflow ui --backend-store-uri", "Evidently report", "training curve",
                   "evaluation report", "promotion",
                   "sample reply", str(out / "summary.json"), str(out / "pipeline.log")):
        assert needle in stdout
    assert "Got executor_input" not in stdout, "kfp's task dumps belong in pipeline.log, not on the console"
    plain = re.sub(r"\x1b\[[0-9;]*m", "", stdout)
    assert len(re.findall(r"Task '[\w-]+' finished with status SUCCESS", plain)) == 13
    assert "awaiting clinical review" in plain and f"--url sqlite:///{out / 'review.db'}" in plain
    assert "Pipeline 'empathy-training' finished with status SUCCESS" in plain


def test_summary_names_the_registered_version(demo_run):
    from mlflow import MlflowClient

    out, _ = demo_run
    summary = json.loads((out / "summary.json").read_text())
    model = summary["registered_model"]
    assert summary["tracking_uri"] == f"sqlite:///{out / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=summary["tracking_uri"])
    version = client.get_model_version_by_alias(model["name"], model["alias"])
    assert str(version.version) == model["version"]
    assert version.run_id == model["run_id"]
    run = client.get_run(model["run_id"])
    for key in ("test_loss", "test_perplexity", "test_token_accuracy", "final_train_loss"):
        assert key in run.data.metrics
    history = client.get_metric_history(model["run_id"], "train_loss")
    assert len(history) > 3, "training loss should be logged while training runs"


def test_metrics_are_real_numbers(demo_run):
    out, _ = demo_run
    metrics = json.loads((out / "summary.json").read_text())["metrics"]
    test = metrics["test"]
    assert 0 < test["test_loss"] < math.log(2000) + 1
    assert math.isclose(test["test_perplexity"], math.exp(test["test_loss"]), rel_tol=1e-6)
    assert 0 <= test["test_token_accuracy"] <= 1
    assert metrics["train"]["final_train_loss"] < math.log(2000), "training did not reduce the loss below chance"


def test_evaluation_report_and_gate_verdict(demo_run):
    """The demo model (seconds of training on a few dozen pairs) is evaluated on every measure and blocked at
    staging; the verdict names the missed metrics and sits on the model version, and the staging alias stays unset."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    out, _ = demo_run
    summary = json.loads((out / "summary.json").read_text())
    test = summary["metrics"]["test"]
    for key in ("appropriateness_mean", "crisis_handling_rate", "crisis_method_detail_rate", "unsafe_output_rate",
                "fairness_max_gap", "bias_flag_rate", "generation_prompts"):
        assert key in test and math.isfinite(test[key]), key
    assert test["generation_prompts"] >= 50
    page = Path(summary["paths"]["evaluation_report"])
    assert page.parent == out and "Promotion gates" in page.read_text() and "data:image/png;base64," in page.read_text()
    promotion = summary["promotion"]
    assert promotion["stage"] == "staging"
    client = MlflowClient(tracking_uri=summary["tracking_uri"])
    model = summary["registered_model"]
    version = client.get_model_version(model["name"], model["version"])
    assert version.tags["gate_staging"] == ("passed" if promotion["promoted"] else "blocked")
    if not promotion["promoted"]:
        assert "missed" in promotion["summary"]
        with pytest.raises(MlflowException):
            client.get_model_version_by_alias(model["name"], "staging")
    run = client.get_run(model["run_id"])
    artifacts = {a.path for a in client.list_artifacts(model["run_id"], "evaluation")}
    assert {"evaluation/evaluation.json", "evaluation/report.html"} <= artifacts, artifacts
    assert "appropriateness_mean" in run.data.metrics


def test_every_item_is_accounted_for(demo_run):
    out, _ = demo_run
    summary = json.loads((out / "summary.json").read_text())
    report = json.loads(Path(summary["paths"]["data_report"]).read_text())
    assert report["accounted"] is True
    assert sum(report["splits"].values()) == report["exported"] > 0
    assert abs(report["extracted_share"] - 0.5) <= 0.01, "the export is half extracted, half contextual"
    held = report["held_for_review"]
    screen_rejected = sum(v for k, v in report["rejected_by_reason"].items() if k.startswith("screen:"))
    curated_out = sum(v for k, v in report["rejected_by_reason"].items() if k.startswith("curate:"))
    assert report["exported"] + curated_out + held + screen_rejected == report["accepted"]
    validate_rejected = sum(v for k, v in report["rejected_by_reason"].items() if k.startswith("validate:"))
    assert report["accepted"] + validate_rejected == report["pairs"]
    assert report["pairs_by_type"].get("extracted", 0) > 0 and report["pairs_by_type"].get("contextual", 0) > 0
    splits_dir = Path(summary["paths"]["data_report"]).parent
    for name, count in report["splits"].items():
        assert len((splits_dir / f"{name}.jsonl").read_text().splitlines()) == count


def test_report_plot_and_reply(demo_run):
    out, _ = demo_run
    summary = json.loads((out / "summary.json").read_text())
    html = Path(summary["paths"]["drift_report"])
    text = html.read_text()
    assert html.parent == out and text.lstrip().lower().startswith("<!doctype html") and len(text) > 10_000
    assert "nearest_train_similarity" in text, "the semantic drift column is missing from the report"
    png = Path(summary["paths"]["training_curve"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert summary["sample"]["reply"].strip()
    assert summary["sample"]["endpoint"].startswith("http://127.0.0.1:")


def test_edge_cases_join_training_only_when_cleared(demo_run):
    from empathy.safety.review import ReviewQueue

    out, _ = demo_run
    summary = json.loads((out / "summary.json").read_text())
    edge = summary["edge_cases"]
    assert edge["enabled"] and edge["requested"] == 50
    assert edge["exported"] + edge["awaiting_review"] + edge["review_rejected"] + edge["rule_rejected"] == 50
    assert edge["awaiting_review"] >= 8, "the 4 very-high categories always wait for review"
    with ReviewQueue(summary["review_queue_url"]) as queue:
        # one queue: edge cases and high-risk data pairs ("data:<category>") wait side by side
        pending = {item.id for item in queue.list(status="pending") if not item.category.startswith("data:")}
        assert len(pending) == edge["awaiting_review"]
    ingested = [r for r in _ingested_records(out) if r["source"]["kind"] == "edge_cases"]
    assert len(ingested) == edge["exported"]
    assert not pending & {r["source"]["source_id"] for r in ingested}


def _ingested_records(out: Path) -> list[dict]:
    (path,) = (out / "pipeline").glob("empathy-training-*/ingest/records")
    return [json.loads(line) for line in path.read_text().splitlines()]
