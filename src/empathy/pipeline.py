"""Run, compile and submit the Kubeflow training pipeline.

    empathy pipeline run --local --config configs/pipeline/demo.yaml --output-dir runs/demo
    empathy pipeline compile --config configs/pipeline/cluster.yaml --output pipelines/training_pipeline.yaml
    empathy pipeline submit --host https://kfp.example.org --package pipelines/training_pipeline.yaml

`run --local` executes the same graph the cluster runs, task by task, with
kfp's SubprocessRunner in this Python environment, and puts everything under
--output-dir: the pipeline root, the MLflow SQLite store and artifacts,
checkpoints, and summary.json with the report and the training curve.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import shutil
import sys
import warnings
from pathlib import Path
from typing import Any, TextIO

from empathy.config import PipelineConfig, load_pipeline_config
from empathy.errors import StageFailed, UserError
from empathy.io import read_json, write_json

COMPILED_PIPELINE = "pipelines/training_pipeline.yaml"


def repo_root() -> Path:
    """The checkout holding components/ and pipelines/ (the package is installed editable from it)."""
    for candidate in (Path(__file__).resolve().parents[2], Path.cwd()):
        if (candidate / "pipelines" / "training_pipeline.py").is_file():
            return candidate
    raise UserError("pipelines/training_pipeline.py not found: run from the repository root")


def _pipeline_func(cfg: PipelineConfig):
    root = str(repo_root())
    if root not in sys.path:
        sys.path.insert(0, root)
    from pipelines.training_pipeline import build_pipeline

    return build_pipeline(cfg)


def localize(cfg: PipelineConfig, output_dir: Path) -> PipelineConfig:
    """Absolute paths, and MLflow, checkpoints and a SQLite review queue under output_dir, for a run on this machine."""
    root = repo_root()
    corpus = Path(cfg.corpus_dir)
    corpus = corpus if corpus.is_absolute() else root / corpus
    if not corpus.is_dir():
        raise UserError(f"corpus directory {corpus}: not found")
    manifest = Path(cfg.deploy.manifest)
    return cfg.model_copy(update={
        "corpus_dir": str(corpus),
        "registry": cfg.registry.model_copy(update={
            "tracking_uri": f"sqlite:///{output_dir / 'mlflow.db'}",
            "artifact_location": (output_dir / "mlartifacts").as_uri(),
        }),
        "train": cfg.train.model_copy(update={"checkpoint_dir": str(output_dir / "checkpoints")}),
        "deploy": cfg.deploy.model_copy(update={
            "manifest": str(manifest if manifest.is_absolute() else root / manifest)}),
        "edge_cases": cfg.edge_cases.model_copy(update={"review": _local_queue(cfg.edge_cases.review, output_dir)}),
        "screen": cfg.screen.model_copy(update={"review": _local_queue(cfg.screen.review, output_dir)}),
    })


def _local_queue(review, output_dir: Path):
    """A SQLite review queue moves under output_dir (one queue for edge cases and data); a server URL stays."""
    return review if not review.url.startswith("sqlite:") else review.model_copy(
        update={"url": f"sqlite:///{output_dir / 'review.db'}"})


def pipeline_arguments(cfg: PipelineConfig) -> dict[str, Any]:
    return {
        "corpus_dir": cfg.corpus_dir,
        "ingest_config": cfg.ingest.params(),
        "pairs_config": cfg.pairs.params(),
        "validate_config": cfg.validate_.params(),
        "screen_config": cfg.screen.params(),
        "split_config": cfg.split.params(),
        "train_config": cfg.train.params(),
        "evaluate_config": cfg.evaluate.params(),
        "registry_config": cfg.registry.params(),
        "gates_config": cfg.gates.params(),
        "deploy_config": cfg.deploy.params(),
        "monitor_config": cfg.monitor.params(),
        "edge_cases_config": cfg.edge_cases.params(),
    }


class TaskProgress(io.TextIOBase):
    """Everything kfp's local runner prints goes to the log file; task status lines also to the console.

    The runner prints each task's executor input and output in full (over a
    thousand lines for this pipeline); the console gets one line as each task
    starts and ends, and the log keeps the rest.
    """

    MARKERS = ("Executing task", "finished with status")

    def __init__(self, log: TextIO, console: TextIO):
        self.log, self.console, self.pending = log, console, ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self.log.write(text)
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            if any(marker in line for marker in self.MARKERS):
                self.console.write(line.strip() + "\n")
                self.console.flush()
        return len(text)

    def flush(self) -> None:
        self.log.flush()


def run_local(config_path: str | None, output_dir: str) -> dict[str, Any]:
    """Run the whole pipeline with kfp's local SubprocessRunner; returns the summary."""
    from kfp import local

    out = Path(output_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    cfg = localize(load_pipeline_config(config_path), out)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(out / "pipeline"),
               raise_on_error=True)
    log_path = out / "pipeline.log"
    print(f"Running the pipeline locally; full output in {log_path}", flush=True)
    with log_path.open("w", encoding="utf-8") as log:
        progress = TaskProgress(log, sys.stdout)
        try:
            with contextlib.redirect_stdout(progress), contextlib.redirect_stderr(progress):
                task = _pipeline_func(cfg)(**pipeline_arguments(cfg))
        except RuntimeError as exc:
            log.flush()
            lines = log_path.read_text(encoding="utf-8").splitlines()
            errors = [line.strip() for line in lines if re.match(r"^\s*[\w.]+(Error|Exception|Failed): ", line)]
            cause = f"\n{errors[-1]}" if errors else ""
            tail = "\n".join(lines[-40:])
            raise StageFailed(f"{exc}{cause}\n--- last lines of {log_path} ---\n{tail}") from None
    summary = read_json(task.outputs["Output"].path, "pipeline summary")
    for key, name in (("drift_report", "drift_report.html"), ("training_curve", "training_curve.png"),
                      ("evaluation_report", "evaluation_report.html")):
        shutil.copyfile(summary["paths"][key], out / name)
        summary["paths"][key] = str(out / name)
    summary["paths"]["pipeline_root"] = str(out / "pipeline")
    summary["paths"]["pipeline_log"] = str(log_path)
    summary["mlflow_ui"] = f"mlflow ui --backend-store-uri {cfg.registry.tracking_uri}"
    summary["review_queue_url"] = cfg.edge_cases.review.url
    write_json(out / "summary.json", summary)
    summary["paths"]["summary"] = str(out / "summary.json")
    return summary


def _sorted_repr(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_sorted_repr(value[k])}" for k in sorted(value)) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_sorted_repr(v) for v in value) + "]"
    return repr(value)


def stable_header(text: str) -> str:
    """Sort the dict defaults kfp prints in the YAML's header comment.

    kfp renders them from a protobuf Struct, whose key order changes from one
    process to the next; the spec below the header is already sorted. Sorting
    keeps the committed YAML byte-identical across compiles (CI diffs it).
    """
    lines = []
    for line in text.splitlines(keepends=True):
        match = re.match(r"^(#\s+\w+: dict \[Default: )(.*)(\]\s*)$", line)
        if match:
            line = match.group(1) + _sorted_repr(ast.literal_eval(match.group(2))) + match.group(3)
        lines.append(line)
    return "".join(lines)


def compile_pipeline(config_path: str | None, output: str) -> Path:
    from kfp import compiler

    cfg = load_pipeline_config(config_path)
    out = Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(_pipeline_func(cfg), str(out))
    out.write_text(stable_header(out.read_text(encoding="utf-8")), encoding="utf-8")
    return out


def submit(host: str, package: str, experiment: str, run_name: str | None, arguments: dict[str, Any]) -> str:
    """Submit a compiled pipeline to Kubeflow Pipelines; returns the run id."""
    import kfp

    if not Path(package).is_file():
        raise UserError(f"pipeline package {package}: file not found (run `make pipelines`)")
    warnings.filterwarnings("ignore", category=FutureWarning, module="kfp")  # "only works with KFP v2.0.0-beta.2+"
    try:
        client = kfp.Client(host=host)
        run = client.create_run_from_pipeline_package(
            package, arguments=arguments, experiment_name=experiment, run_name=run_name,
        )
    except Exception as exc:  # kfp raises connection, auth and API errors of several types
        raise UserError(f"Kubeflow Pipelines at {host}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
    return run.run_id
