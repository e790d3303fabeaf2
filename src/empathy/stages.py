"""Every pipeline stage as one function over files: what the CLI and the KFP components call.

Each takes its typed config and input/output paths, does the work through the
domain modules, writes its outputs and returns a small JSON-able result.
Nothing here knows about kfp, argparse or a cluster.

    edge_cases -> ingest -> pairs -> validate -> screen -> split -> train -> evaluate -> register -> deploy -> monitor
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from empathy.config import (
    DeployConfig, EdgeCasesConfig, EvaluateConfig, GatesConfig, IngestConfig, MonitorConfig, PairsConfig,
    RegistryConfig, ScreenConfig, SplitConfig, TrainConfig, ValidateConfig, flatten_settings,
)
from empathy.data.schema import QAPair, Record, Rejection
from empathy.errors import UserError
from empathy.io import read_json, read_jsonl, sha256_file, write_json, write_jsonl, write_models


def _rows(model, path: str | Path, what: str, allow_empty: bool = False) -> list:
    from pydantic import ValidationError

    rows = []
    for n, row in enumerate(read_jsonl(path, what, allow_empty=allow_empty), start=1):
        try:
            rows.append(model.model_validate(row))
        except ValidationError as exc:
            err = exc.errors()[0]
            raise UserError(f"{what} {path}, record {n}: {'.'.join(map(str, err['loc']))}: {err['msg']}") from None
    return rows


def chat_examples(path: str | Path, what: str, allow_empty: bool = False) -> list[dict[str, Any]]:
    """Chat JSONL rows, each checked to hold a messages list of {role, content}."""
    rows = read_jsonl(path, what, allow_empty=allow_empty)
    for n, row in enumerate(rows, start=1):
        messages = row.get("messages")
        if not isinstance(messages, list) or not messages or not all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            for m in messages
        ):
            raise UserError(f"{what} {path}, record {n}: 'messages' must be a non-empty list of {{role, content}}")
    return rows


def ingest(corpus_dir: str, config: IngestConfig, records_path: str, rejected_path: str,
           edge_cases_path: str | None = None) -> dict[str, int]:
    """Load the corpus, plus the edge-case export when given."""
    from empathy.data.sources import edge_cases_source, ingest_corpus

    extra = [edge_cases_source(edge_cases_path)] if edge_cases_path else []
    result = ingest_corpus(corpus_dir, config, extra)
    write_models(records_path, result.records)
    write_models(rejected_path, result.rejected)
    return result.counts


def ingest_sources(sources: list[str], records_path: str, rejected_path: str) -> dict[str, int]:
    """Load sources named KIND:PATH (the data CLI's --source), each with its kind's default attribution."""
    from empathy.data.sources import ingest_specs, source_from_arg

    result = ingest_specs([source_from_arg(arg) for arg in sources])
    write_models(records_path, result.records)
    write_models(rejected_path, result.rejected)
    return result.counts


def edge_cases(config: EdgeCasesConfig, out_dir: str, registry: RegistryConfig | None = None,
               progress: bool = True, review_url: str | None = None) -> dict[str, Any]:
    """Generate, check, screen and review-gate edge-case dialogues; exports edge_cases.jsonl into out_dir.

    The review queue: review_url, else $EMPATHY_REVIEW_URL (a Secret in the cluster), else the config's.
    """
    from empathy.safety.edge_cases import generate_edge_cases

    report = generate_edge_cases(config, out_dir, registry, review_url=review_url, progress=progress)
    return {k: report[k] for k in ("enabled", "exported", "totals", "review_queue") if k in report}


def pairs(records_path: str, config: PairsConfig, pairs_path: str, rejected_path: str) -> dict[str, int]:
    from empathy.data.pairs import make_pairs

    # an LLM question batch keeps its progress beside the output, so a rerun resumes it
    state_dir = Path(pairs_path).parent / "question_batch" if config.question_provider else None
    result = make_pairs(_rows(Record, records_path, "records file"), config, state_dir=state_dir)
    write_models(pairs_path, result.pairs)
    write_models(rejected_path, result.rejected)
    return result.counts


def validate(pairs_path: str, config: ValidateConfig, accepted_path: str, rejected_path: str) -> dict[str, int]:
    from empathy.data.validate import validate_pairs

    result = validate_pairs(_rows(QAPair, pairs_path, "pairs file"), config)
    write_models(accepted_path, result.accepted)
    write_models(rejected_path, result.rejected)
    return result.counts


def screen(accepted_path: str, config: ScreenConfig, passed_path: str, held_path: str, rejected_path: str,
           review_url: str | None = None, progress: bool = False) -> dict[str, Any]:
    """De-identify and risk-screen accepted pairs; high risk waits in the review queue (held_path) unless approved.

    The review queue: review_url, else $EMPATHY_REVIEW_URL (a Secret in the cluster), else the config's.
    """
    from empathy.data.screen import screen_pairs

    result = screen_pairs(_rows(QAPair, accepted_path, "accepted pairs file", allow_empty=True), config,
                          review_url=review_url, progress=progress)
    write_models(passed_path, result.passed)
    write_models(held_path, result.held)
    write_models(rejected_path, result.rejected)
    return result.counts


def split(records_path: str, pairs_path: str, accepted_path: str, screened_path: str, held_path: str,
          rejected_paths: list[str], config: SplitConfig, out_dir: str, edge_cases_report: str | None = None,
          progress: bool = False) -> dict[str, Any]:
    """Curates, splits and writes train/val/test.jsonl, rejected.jsonl, held_for_review.jsonl, report.json/html.

    edge_cases_report: generation's report.json; its per-category and per-difficulty counts go into the data report.
    """
    from empathy.data.split import split_and_export
    from empathy.safety.edge_cases import data_report_section

    rejected: list[Rejection] = []
    for path in rejected_paths:
        rejected += _rows(Rejection, path, "rejected file", allow_empty=True)
    result = split_and_export(
        _rows(Record, records_path, "records file"), _rows(QAPair, pairs_path, "pairs file"),
        _rows(QAPair, accepted_path, "accepted pairs file", allow_empty=True),
        _rows(QAPair, screened_path, "screened pairs file", allow_empty=True),
        _rows(QAPair, held_path, "held pairs file", allow_empty=True), rejected, config, out_dir,
        edge_cases=data_report_section(read_json(edge_cases_report, "edge-case report")) if edge_cases_report else None,
        progress=progress,
    )
    return result.report


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 else "unknown"


def train(train_path: str, val_path: str, config: TrainConfig, registry: RegistryConfig, out_dir: str,
          pipeline_run: str = "", progress: bool = True, resume: bool = False) -> dict[str, Any]:
    """Fine-tune, logging params and live metrics to MLflow; returns the run id and the summary.

    With `resume`, training continues from the newest checkpoint in `checkpoint_dir` and its metrics go on in the
    MLflow run the interrupted attempt started. Under torchrun only rank 0 talks to MLflow and writes the model.
    """
    from empathy.plots import plot_training_curve
    from empathy.registry import log_flat, tracked_run
    from empathy.train.recipe import LoRAFinetuneRecipe

    import mlflow

    recipe = LoRAFinetuneRecipe(config)
    recipe.setup(chat_examples(train_path, "training split"),
                 chat_examples(val_path, "validation split", allow_empty=True), resume=resume)
    if not recipe.dist.is_main:
        recipe.train(progress=False)
        recipe.save(out_dir)  # takes part in gathering the weights; rank 0 writes
        recipe.dist.close()
        return {"rank": recipe.dist.rank}
    run_file = Path(config.checkpoint_dir) / "mlflow_run_id" if config.checkpoint_dir else None
    previous = run_file.read_text().strip() if resume and run_file and run_file.is_file() else None
    # a TrainJob's pods log into the run its pipeline step created (components/train_job)
    given = os.environ.get("MLFLOW_RUN_ID") or None
    run_id = previous or given
    tags = {"pipeline_run": pipeline_run, "git_commit": git_commit(), "stage": "train"}
    with tracked_run(registry, run_id=run_id, run_name=None if run_id else
                     (f"train-{pipeline_run}" if pipeline_run else "train"), tags=None if run_id else tags) as run:
        if previous:
            mlflow.set_tag("resumed_from_step", str(recipe.resumed_from_step))
        else:
            if given:
                mlflow.set_tags({k: v for k, v in tags.items() if v})
            mlflow.log_params(flatten_settings(config.model_dump(mode="json")))
            mlflow.log_param("train_sha256", sha256_file(train_path))
            if run_file:
                run_file.parent.mkdir(parents=True, exist_ok=True)
                run_file.write_text(run.info.run_id + "\n")
        result = recipe.train(on_metrics=lambda metrics, step: log_flat(metrics, step), progress=progress)
        out = recipe.save(out_dir)
        curve = plot_training_curve(result.history, out / "training_curve.png", "LoRA fine-tuning (MoE)")
        summary = result.summary()
        log_flat({k if k.startswith("final_") else f"final_{k}": v for k, v in summary.items()})
        mlflow.set_tag("stopped_reason", result.stopped_reason)
        mlflow.log_artifact(str(curve))
        mlflow.log_artifact(str(out / "history.jsonl"))
    recipe.dist.close()
    return {"run_id": run.info.run_id, "curve": str(curve), **summary}


def evaluate(model_dir: str, test_path: str, config: EvaluateConfig, registry: RegistryConfig, run_id: str,
             out_path: str, gates: GatesConfig | None = None, report_path: str | None = None) -> dict[str, Any]:
    """Evaluate the candidate (`empathy.evaluate.candidate`); write evaluation.json to out_path and the HTML report
    (default: beside it, evaluation.html); log the metrics and both files (`evaluation/`) to the training run."""
    import mlflow

    from empathy.evaluate.candidate import evaluate_candidate
    from empathy.evaluate.report import write_evaluation_report
    from empathy.registry import log_flat, tracked_run

    evaluation = evaluate_candidate(model_dir, chat_examples(test_path, "test split"), config, gates)
    report = write_evaluation_report(evaluation, report_path or Path(out_path).with_suffix(".html"))
    evaluation["report_path"] = str(report)
    write_json(out_path, evaluation)
    with tracked_run(registry, run_id=run_id):
        log_flat(evaluation["metrics"])
        # fixed names: in a KFP step the output paths carry no extension, and MLflow's UI renders by extension
        mlflow.log_dict(evaluation, "evaluation/evaluation.json")
        mlflow.log_text(report.read_text(encoding="utf-8"), "evaluation/report.html")
    return evaluation


def promote(registration: dict[str, str], stage: str, gates: GatesConfig, registry: RegistryConfig) -> dict[str, Any]:
    """The pipeline's gate step: promote the version just registered to `stage` when its gates pass.

    A blocked promotion is a result, not a failure: the verdict is recorded on the version (see
    `empathy.registry.promote`) and returned; the stage's alias stays where it was.
    """
    from empathy.registry import promote as promote_version

    result = promote_version(registration["model_name"], registration["version"], stage, gates,
                             registration.get("tracking_uri") or registry.tracking_uri,
                             require_staging=registry.production_requires_staging)
    return result.to_dict()


def register(model_dir: str, registry: RegistryConfig, run_id: str, data_report_path: str | None = None,
             pipeline_run: str = "", config: dict[str, Any] | None = None,
             gates: GatesConfig | None = None) -> dict[str, str]:
    """Register the model as a new version that carries everything promotion and the model card need.

    On the run: the data report (`data/report.json`), the config as YAML (`config/pipeline.yaml` when the pipeline
    config is given, else the model directory's training config as `config/train.yaml`) and `model_card.md`. On the
    version: git_commit, pipeline_run, train_sha256, config_sha256, base model and adapter, key metrics.
    """
    import hashlib

    import yaml

    from empathy.evaluate.model_card import log_model_card
    from empathy.registry import model_dir_tags, register_model, tracked_run

    import mlflow

    from empathy.train.model import read_base_meta

    read_base_meta(model_dir)  # fail before logging anything if this is not a model directory
    tags = {"git_commit": git_commit(), "pipeline_run": pipeline_run, **model_dir_tags(model_dir)}
    report = read_json(data_report_path, "data report") if data_report_path else None
    train_config = Path(model_dir) / "train_config.json"
    if config is not None:
        config_text, config_file = yaml.safe_dump(config, sort_keys=False), "config/pipeline.yaml"
    elif train_config.is_file():
        config_text, config_file = yaml.safe_dump(read_json(train_config, "training config"), sort_keys=False), \
            "config/train.yaml"
    else:
        config_text, config_file = None, None
    with tracked_run(registry, run_id=run_id):
        if report is not None:
            tags["train_sha256"] = report.get("train_sha256", "")
            mlflow.log_artifact(data_report_path, "data")
        if config_text is not None:
            mlflow.log_text(config_text, config_file)
            tags["config_sha256"] = hashlib.sha256(config_text.encode("utf-8")).hexdigest()
            tags["config_artifact"] = config_file
    registration = register_model(model_dir, registry, run_id, tags)
    log_model_card(registration.model_name, registration.version, registry.tracking_uri, gates)
    return registration.to_dict()


def deploy(model_uri: str, tracking_uri: str, config: DeployConfig, inputs_path: str, out_dir: str) -> dict[str, Any]:
    """Deploys, converses, writes inference_log.jsonl and deploy.json into out_dir."""
    from empathy.deploy import deploy as deploy_model
    from empathy.registry import check_model_uri

    inputs = read_jsonl(inputs_path, "inference inputs")
    for n, row in enumerate(inputs, start=1):
        if not isinstance(row.get("text"), str) or not row["text"].strip() or "id" not in row:
            raise UserError(f"inference inputs {inputs_path}, record {n}: needs 'id' and a non-empty 'text'")
    check_model_uri(model_uri, tracking_uri)
    result = deploy_model(model_uri, tracking_uri, config, inputs, out_dir)
    write_jsonl(Path(out_dir) / "inference_log.jsonl", result.inference_log)
    summary = result.summary()
    write_json(Path(out_dir) / "deploy.json", summary)
    return summary


def monitor(train_path: str, inference_log_path: str, config: MonitorConfig, out_dir: str) -> dict[str, Any]:
    from empathy.monitor.drift import drift_report, user_texts

    reference = user_texts(chat_examples(train_path, "training split"))
    log = read_jsonl(inference_log_path, "inference log")
    for n, row in enumerate(log, start=1):
        if not isinstance(row.get("text"), str):
            raise UserError(f"inference log {inference_log_path}, record {n}: missing 'text'")
    current = [row["text"] for row in log]
    return drift_report(reference, current, config, out_dir)
