"""Every stage function in one chain, in-process, on the demo corpus: what the CLI and the
components call, checked without kfp (the pipeline tests run the same through kfp)."""

from __future__ import annotations

import json

import pytest

from empathy import stages
from empathy.config import MonitorConfig, load_pipeline_config
from empathy.io import read_jsonl, write_jsonl
from tests.conftest import DEMO_CORPUS, REPO

pytestmark = pytest.mark.integration


def test_stage_chain(tmp_path, registry_config):
    cfg = load_pipeline_config(REPO / "configs/pipeline/demo.yaml")
    t = tmp_path
    counts = stages.ingest(str(DEMO_CORPUS), cfg.ingest, str(t / "records.jsonl"), str(t / "r1.jsonl"))
    assert counts["records"] == len(read_jsonl(t / "records.jsonl"))
    counts = stages.pairs(str(t / "records.jsonl"), cfg.pairs, str(t / "pairs.jsonl"), str(t / "r2.jsonl"))
    assert counts["extracted"] > 0 and counts["contextual"] > 0
    counts = stages.validate(str(t / "pairs.jsonl"), cfg.validate_, str(t / "accepted.jsonl"), str(t / "r3.jsonl"))
    assert counts["accepted"] + counts["rejected"] == counts["pairs_in"]
    counts = stages.screen(str(t / "accepted.jsonl"), cfg.screen, str(t / "passed.jsonl"), str(t / "held.jsonl"),
                           str(t / "r4.jsonl"), review_url=f"sqlite:///{t / 'review.db'}")
    assert counts["passed"] + counts["held_for_review"] + counts["review_rejected"] == counts["pairs_in"]
    report = stages.split(str(t / "records.jsonl"), str(t / "pairs.jsonl"), str(t / "accepted.jsonl"),
                          str(t / "passed.jsonl"), str(t / "held.jsonl"), [str(t / f"r{i}.jsonl") for i in (1, 2, 3, 4)],
                          cfg.split, str(t / "data"))
    assert report["accounted"] and report["train_sha256"]
    assert json.loads((t / "data" / "report.json").read_text()) == report
    for name in ("train", "val", "test"):
        assert report["split_by_type"][name].get("extracted") and report["split_by_type"][name].get("contextual"), name

    train_cfg = cfg.train.model_copy(update={"max_steps": 4, "eval_every": 2, "log_every": 2, "checkpoint_dir": None})
    trained = stages.train(str(t / "data/train.jsonl"), str(t / "data/val.jsonl"), train_cfg, registry_config,
                           str(t / "model"), pipeline_run="test-run", progress=False)
    assert trained["steps"] == 4 and (t / "model" / "training_curve.png").is_file()
    eval_cfg = cfg.evaluate.model_copy(update={"max_new_tokens": 12, "counsel_chat_prompts": 0,
                                               "fairness_max_sets": 8})
    evaluation = stages.evaluate(str(t / "model"), str(t / "data/test.jsonl"), eval_cfg, registry_config,
                                 trained["run_id"], str(t / "evaluation.json"), cfg.gates)
    metrics = evaluation["metrics"]
    assert metrics["test_examples"] == report["splits"]["test"]
    assert json.loads((t / "evaluation.json").read_text())["metrics"] == metrics
    assert (t / "evaluation.html").read_text().startswith("<!doctype html>")
    assert metrics["fairness_sets"] == 8 and len({r["attribute"] for r in evaluation["fairness"]["rows"]}) == 8
    assert metrics["generation_prompts"] == len(evaluation["generation"]["rows"]) >= 50
    assert set(evaluation["gates"]) == {"staging", "production"}
    registration = stages.register(str(t / "model"), registry_config, trained["run_id"],
                                   str(t / "data/report.json"), pipeline_run="test-run",
                                   config=cfg.model_dump(mode="json"), gates=cfg.gates)
    promotion = stages.promote(registration, "staging", cfg.gates, registry_config)
    assert promotion["promoted"] == evaluation["gates"]["staging"]["passed"]

    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=registry_config.tracking_uri)
    run = client.get_run(trained["run_id"])
    assert run.data.tags["pipeline_run"] == "test-run"
    assert run.data.params["model.architecture"] == "mixtral"
    assert {"final_train_loss", "test_loss", "train_loss", "appropriateness_mean", "crisis_handling_rate",
            "fairness_max_gap", "bias_flag_rate"} <= set(run.data.metrics)
    version = client.get_model_version(registration["model_name"], registration["version"])
    assert version.tags["train_sha256"] == report["train_sha256"]
    assert version.tags["gate_staging"] == ("passed" if promotion["promoted"] else "blocked")
    assert {a.path for a in client.list_artifacts(trained["run_id"], "evaluation")} == {
        "evaluation/evaluation.json", "evaluation/report.html"}

    write_jsonl(t / "inference_log.jsonl", [{"id": "a", "text": "I worry about exams all the time."},
                                            {"id": "b", "text": "My partner and I argue about chores."}])
    drift = stages.monitor(str(t / "data/train.jsonl"), str(t / "inference_log.jsonl"), MonitorConfig(),
                           str(t / "monitor"))
    assert 0.0 <= drift["drift_share"] <= 1.0 and (t / "monitor" / "drift_report.html").is_file()
