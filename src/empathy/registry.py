"""MLflow: runs, the pyfunc chat model (base + adapter as artifacts), registry aliases.

The tracking URI is SQLite by default (`sqlite:///runs/mlflow.db`) and an
MLflow server on PostgreSQL in the cluster; nothing else changes. A model
version is an `mlflow.pyfunc` model whose artifact is the fine-tuned model
directory, so it loads and generates in any process that has this package.

    empathy register --model runs/x/model --data runs/x/data --run-id RUN
    empathy registry promote --model empathy-chat --version 3 --to staging

Each version carries its run's metrics (the key evaluation metrics also as
`metric.NAME` version tags), the training data's hash and report, the config
(artifact and `config_sha256`), the git commit and the pipeline run id.
Promotion (`promote`) checks the target stage's gates against the version's
run metrics and moves the alias named after the stage (staging, production)
only when they pass; the verdict is recorded on the version either way
(`gate_<stage>` tag, `gates/v<V>/<stage>.json` run artifact). Production
also needs the version to have passed staging (`gate_staging` = passed),
unless `registry.production_requires_staging` is off.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

from empathy.config import PROMOTION_STAGES, GatesConfig, RegistryConfig
from empathy.errors import UserError

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


@dataclass
class Registration:
    tracking_uri: str
    model_name: str
    version: str
    alias: str
    run_id: str
    model_uri: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def _mlflow(config: RegistryConfig):
    import mlflow

    mlflow.set_tracking_uri(config.tracking_uri)
    return mlflow


def ensure_experiment(config: RegistryConfig) -> str:
    mlflow = _mlflow(config)
    experiment = mlflow.get_experiment_by_name(config.experiment)
    if experiment is not None:
        return experiment.experiment_id
    return mlflow.create_experiment(config.experiment, artifact_location=config.artifact_location)


@contextmanager
def tracked_run(config: RegistryConfig, run_id: str | None = None, run_name: str | None = None,
                tags: dict[str, str] | None = None) -> Iterator[Any]:
    """Start (or reopen, given run_id) an MLflow run in the configured experiment."""
    mlflow = _mlflow(config)
    from mlflow.exceptions import MlflowException

    experiment_id = ensure_experiment(config)
    if run_id is not None:
        try:
            mlflow.MlflowClient().get_run(run_id)
        except MlflowException:
            raise UserError(f"MLflow run {run_id!r} not found in {config.tracking_uri}") from None
    with mlflow.start_run(run_id=run_id, experiment_id=None if run_id else experiment_id, run_name=run_name, tags=tags) as run:
        yield run


def check_model_uri(model_uri: str, tracking_uri: str | None = None) -> None:
    """Raise a UserError unless model_uri names a model directory or an existing registered version."""
    if Path(model_uri).is_dir() or not model_uri.startswith("models:/"):
        return
    import mlflow
    from mlflow.exceptions import MlflowException

    name, _, ref = model_uri[len("models:/"):].replace("@", "/@", 1).partition("/")
    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    try:
        if ref.startswith("@"):
            client.get_model_version_by_alias(name, ref[1:])
        else:
            client.get_model_version(name, ref)
    except MlflowException:
        raise UserError(f"model {model_uri}: not found in the registry at {tracking_uri or mlflow.get_tracking_uri()}") from None


def log_flat(metrics: dict[str, Any], step: int | None = None) -> None:
    import mlflow

    numeric = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    if numeric:
        mlflow.log_metrics(numeric, step=step)


# Evaluation metrics copied onto a version as `metric.NAME` tags, so the registry UI shows them beside the version;
# all of the run's metrics stay reachable through the version's run_id. fairness_gap_<attribute> are copied too.
KEY_METRICS = (
    "test_loss", "test_perplexity", "test_token_accuracy", "appropriateness_mean", "appropriateness_pass_rate",
    "crisis_handling_rate", "crisis_method_detail_rate", "unsafe_output_rate", "fairness_max_gap",
    "fairness_mean_gap", "bias_flag_rate",
)


def key_metric_tags(metrics: dict[str, float]) -> dict[str, str]:
    return {f"metric.{name}": f"{value:.6g}" for name, value in sorted(metrics.items())
            if name in KEY_METRICS or name.startswith("fairness_gap_")}


def model_dir_tags(model_dir: str | Path) -> dict[str, str]:
    """Base model and adapter of a fine-tuned model directory, as version tags (what the model card shows)."""
    root = Path(model_dir)

    def read(name: str) -> dict[str, Any]:
        path = root / name
        return json.loads(path.read_text()) if path.is_file() else {}

    meta, train, result = read("base_model.json"), read("train_config.json"), read("train_result.json")
    model, lora = train.get("model", {}), train.get("lora", {})
    if meta.get("source") == "pretrained":
        base = str(meta.get("name_or_path", "unknown"))
    else:
        base = (f"{model.get('architecture', 'unknown')} built from a config (hidden {model.get('hidden_size')}, "
                f"{model.get('num_layers')} layers, {model.get('num_experts')} experts, "
                f"top-{model.get('experts_per_token')})")
    tags = {"base_model": base}
    if lora:
        targets = ", ".join([*lora.get("target_modules", []), *lora.get("target_parameters", [])])
        tags["adapter"] = f"LoRA r={lora.get('r')} alpha={lora.get('alpha')} on {targets}"
    for key in ("trainable_parameters", "total_parameters", "steps", "stopped_reason"):
        if key in result:
            tags[f"train.{key}"] = str(result[key])
    return tags


def register_model(model_dir: str | Path, config: RegistryConfig, run_id: str,
                   extra_tags: dict[str, str] | None = None) -> Registration:
    """Log the fine-tuned model to the run, register a version and point the alias at it."""
    mlflow = _mlflow(config)
    from mlflow import MlflowClient

    import empathy
    from empathy.pyfunc_model import ChatPyfuncModel

    with tracked_run(config, run_id=run_id):
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=ChatPyfuncModel(),
            artifacts={"model": str(model_dir)},
            registered_model_name=config.model_name,
            pip_requirements=[f"empathy=={empathy.__version__}", "torch==2.13.0", "transformers==5.24.0", "peft==0.21.2"],
        )
    version = str(info.registered_model_version)
    client = MlflowClient()
    client.set_registered_model_alias(config.model_name, config.alias, version)
    for key, value in {**key_metric_tags(client.get_run(run_id).data.metrics), **(extra_tags or {})}.items():
        client.set_model_version_tag(config.model_name, version, key, value)
    return Registration(
        tracking_uri=config.tracking_uri, model_name=config.model_name, version=version, alias=config.alias,
        run_id=run_id, model_uri=f"models:/{config.model_name}/{version}",
    )


def load_chat_generator(model_uri: str, tracking_uri: str | None = None):
    """The ChatGenerator behind `models:/NAME@ALIAS`, `models:/NAME/V`, `runs:/...` or a local directory."""
    from empathy.generate import ChatGenerator

    if Path(model_uri).is_dir():
        return ChatGenerator.from_dir(model_uri)
    import mlflow

    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
    check_model_uri(model_uri, tracking_uri)
    return mlflow.pyfunc.load_model(model_uri).unwrap_python_model().generator


def registry_client(tracking_uri: str):
    """An MlflowClient on `tracking_uri` for both tracking and the model registry."""
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def find_version(model_name: str, version: str | int, tracking_uri: str):
    """The registered ModelVersion, or a UserError naming the missing model or the versions there are."""
    from mlflow.exceptions import MlflowException

    # MLflow creates a missing SQLite file on first use: a mistyped URI must not leave an empty registry behind
    if tracking_uri.startswith("sqlite:///") and not Path(tracking_uri[len("sqlite:///"):]).is_file():
        raise UserError(f"no MLflow database at {tracking_uri[len('sqlite:///'):]} (tracking URI {tracking_uri})")
    client = registry_client(tracking_uri)
    try:
        client.get_registered_model(model_name)
    except MlflowException:
        raise UserError(f"model {model_name!r} not found in the registry at {tracking_uri}") from None
    escaped = model_name.replace("'", "\\'")
    versions = sorted((str(v.version) for v in client.search_model_versions(f"name='{escaped}'")), key=int)
    if str(version) not in versions:
        listed = ", ".join(versions) if versions else "none"
        raise UserError(f"model {model_name} has no version {version} (versions: {listed})")
    return client.get_model_version(model_name, str(version))


@dataclass
class PromotionResult:
    tracking_uri: str
    model_name: str
    version: str
    stage: str
    promoted: bool
    alias: str
    previous_version: str | None  # what the alias pointed at before; unchanged when not promoted
    gates: dict[str, Any]  # GateReport.to_dict()
    blocked_by: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.promoted:
            return (f"{self.model_name} version {self.version} promoted to {self.stage} "
                    f"(alias '{self.alias}', was {self.previous_version or 'unset'}): {self.gates['summary']}")
        return (f"{self.model_name} version {self.version} not promoted to {self.stage}: "
                + "; ".join(self.blocked_by))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "summary": self.summary()}


def _alias_version(client, model_name: str, alias: str) -> str | None:
    aliases = client.get_registered_model(model_name).aliases or {}
    return str(aliases[alias]) if alias in aliases else None


def promote(model_name: str, version: str | int, stage: str, gates: GatesConfig, tracking_uri: str,
            require_staging: bool = True) -> PromotionResult:
    """Check the stage's gates against the version's run metrics; move the stage's alias only when they pass.

    Bad input (an unknown stage, model or version) raises a UserError before anything is written. Otherwise the
    verdict is recorded on the version whether or not it was promoted: tag `gate_<stage>` (passed or blocked),
    `gate_<stage>_summary`, and the full report as the run artifact `gates/v<V>/<stage>.json`.
    """
    from empathy.evaluate.gates import check_gates

    if stage not in PROMOTION_STAGES:
        raise UserError(f"unknown stage {stage!r} (stages: {', '.join(PROMOTION_STAGES)})")
    found = find_version(model_name, version, tracking_uri)
    version = str(found.version)
    client = registry_client(tracking_uri)
    metrics = client.get_run(found.run_id).data.metrics if found.run_id else {}
    report = check_gates(metrics, stage, gates)
    blocked_by = [report.summary()] if not report.passed else []
    if stage == "production" and require_staging and (found.tags or {}).get("gate_staging") != "passed":
        blocked_by.append(f"version {version} has not passed the staging gates: promote it to staging first")
    promoted = not blocked_by
    previous = _alias_version(client, model_name, stage)
    report_dict = report.to_dict()
    if found.run_id:
        client.log_dict(found.run_id, {**report_dict, "version": version, "promoted": promoted,
                                       "blocked_by": blocked_by}, f"gates/v{version}/{stage}.json")
    client.set_model_version_tag(model_name, version, f"gate_{stage}", "passed" if promoted else "blocked")
    # model version tag values are capped (5000 characters on some stores); the artifact holds the whole report
    client.set_model_version_tag(model_name, version, f"gate_{stage}_summary",
                                 ("; ".join(blocked_by) if blocked_by else report.summary())[:4000])
    if promoted:
        client.set_registered_model_alias(model_name, stage, version)
    from empathy.evaluate.model_card import log_model_card

    log_model_card(model_name, version, tracking_uri, gates)  # so the card's gate verdicts stay current
    return PromotionResult(tracking_uri, model_name, version, stage, promoted, stage, previous, report_dict, blocked_by)


def _run_json(client, run_id: str, artifact_path: str) -> dict[str, Any] | None:
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = client.download_artifacts(run_id, artifact_path, tmp)
        except (MlflowException, OSError):
            return None
        return json.loads(Path(local).read_text())


def version_details(model_name: str, version: str | int, tracking_uri: str) -> dict[str, Any]:
    """What the registry knows of a version: its tags, aliases, run metrics, params and tags, data report, gates."""
    found = find_version(model_name, version, tracking_uri)
    client = registry_client(tracking_uri)
    run = client.get_run(found.run_id) if found.run_id else None
    aliases = client.get_registered_model(model_name).aliases or {}
    gate_reports = {}
    for stage in PROMOTION_STAGES:
        if (found.tags or {}).get(f"gate_{stage}") and run is not None:
            gate_reports[stage] = _run_json(client, run.info.run_id, f"gates/v{found.version}/{stage}.json")
    return {
        "tracking_uri": tracking_uri,
        "model_name": model_name,
        "version": str(found.version),
        "created": found.creation_timestamp,
        "version_tags": dict(found.tags or {}),
        "aliases": sorted(alias for alias, v in aliases.items() if str(v) == str(found.version)),
        "run_id": found.run_id,
        "metrics": dict(run.data.metrics) if run else {},
        "params": dict(run.data.params) if run else {},
        "run_tags": {k: v for k, v in (run.data.tags if run else {}).items() if not k.startswith("mlflow.")},
        "data_report": _run_json(client, run.info.run_id, "data/report.json") if run else None,
        "gate_reports": gate_reports,
    }
