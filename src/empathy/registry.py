"""MLflow: runs, the pyfunc chat model (base + adapter as artifacts), registry aliases.

The tracking URI is SQLite by default (`sqlite:///runs/mlflow.db`) and an
MLflow server on PostgreSQL in the cluster; nothing else changes. A model
version is an `mlflow.pyfunc` model whose artifact is the fine-tuned model
directory, so it loads and generates in any process that has this package.

    empathy register --model runs/x/model --data runs/x/data --run-id RUN
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterator

from empathy.config import RegistryConfig
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
    for key, value in (extra_tags or {}).items():
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
