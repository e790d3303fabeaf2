"""The training command survives what a cluster does to it, run as real processes: SIGKILL mid-run and a restart with
`--resume` reach the same final loss as a run that was never interrupted, and two processes under torchrun (gloo
on CPU, the code path Kubeflow Trainer's torch runtime takes on GPUs) follow the one-process loss curve.

The run's metrics go to a real MLflow store (SQLite in the test's folder); the resumed attempt continues the MLflow
run the killed one started."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.integration.conftest import chat_examples

pytestmark = pytest.mark.slow

EMPATHY = [sys.executable, "-m", "empathy.cli"]


def _write_split(root: Path) -> Path:
    data = root / "data"
    data.mkdir()
    for name, n in (("train.jsonl", 64), ("val.jsonl", 8)):
        with (data / name).open("w") as fh:
            for ex in chat_examples(n):
                fh.write(json.dumps(ex) + "\n")
    return data


def _config(root: Path, name: str, **over) -> Path:
    cfg = {"model": {"hidden_size": 64, "intermediate_size": 64}, "tokenizer": {"vocab_size": 300, "min_frequency": 1},
           "lora": {"modules_to_save": ["embed_tokens", "lm_head"], "dropout": 0.1},
           "optim": {"learning_rate": 0.004}, "batch_size": 4, "max_seq_len": 128, "seed": 3, "threads": 1,
           "eval_every": 10, "log_every": 5, "checkpoint_dir": str(root / f"ckpt-{name}")}
    cfg.update(over)
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _train_cmd(root: Path, config: Path, out: str, *extra: str) -> list[str]:
    return [*EMPATHY, "train", "--config", str(config), "--data", str(root / "data"), "--out", str(root / out),
            "--tracking-uri", f"sqlite:///{root / 'mlflow.db'}", *extra]


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), OMP_NUM_THREADS="1", TQDM_DISABLE="1")
    env.pop("WORLD_SIZE", None)
    return env


def _result(root: Path, out: str) -> dict:
    return json.loads((root / out / "train_result.json").read_text())


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("train-processes")
    _write_split(root)
    return root


def test_sigkill_then_resume_reaches_the_same_final_loss(work):
    steps = {"max_steps": 60, "checkpoint_every": 10}
    whole = _config(work, "whole", **steps)
    subprocess.run(_train_cmd(work, whole, "model-whole"), check=True, env=_env(), cwd=REPO, timeout=600)

    killed = _config(work, "killed", **steps)
    proc = subprocess.Popen(_train_cmd(work, killed, "model-killed"), env=_env(), cwd=REPO)
    first = work / "ckpt-killed" / "step-0000020" / "state.json"
    deadline = time.monotonic() + 300
    while not first.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL and not (work / "model-killed").exists()

    subprocess.run(_train_cmd(work, killed, "model-killed", "--resume"), check=True, env=_env(), cwd=REPO,
                   timeout=600)
    a, b = _result(work, "model-whole"), _result(work, "model-killed")
    assert b["resumed_from_step"] >= 20 and b["steps"] == a["steps"] == 60
    assert abs(a["final_train_loss"] - b["final_train_loss"]) < 1e-3
    assert abs(a["val_loss"] - b["val_loss"]) < 1e-3
    # one MLflow run for the killed attempt and its resumption, with the whole loss curve
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{work / 'mlflow.db'}")
    run_id = (work / "ckpt-killed" / "mlflow_run_id").read_text().strip()
    history = client.get_metric_history(run_id, "train_loss")
    assert sorted({m.step for m in history}) == list(range(5, 61, 5))
    assert client.get_run(run_id).data.tags["resumed_from_step"] == str(b["resumed_from_step"])


# no dropout: each process draws its own masks (seeded by rank), which one process cannot reproduce
COMMON = {"max_steps": 12, "log_every": 2, "eval_every": 6, "checkpoint_every": 0,
          "lora": {"modules_to_save": ["embed_tokens", "lm_head"], "dropout": 0.0}}


def _torchrun(work: Path, config: Path, out: str, port: int, *extra: str) -> None:
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(port),
                "-m", "empathy.cli"]
    subprocess.run(torchrun + _train_cmd(work, config, out, *extra)[len(EMPATHY):], check=True, env=_env(), cwd=REPO,
                   timeout=300)


def _losses(work: Path, out: str) -> list[float]:
    rows = map(json.loads, (work / out / "history.jsonl").open())
    return [h["train_loss"] for h in rows if "train_loss" in h]


@pytest.fixture(scope="module")
def single_process_curve(work) -> str:
    # one process accumulating 2 micro-batches per step sees exactly the batches two processes see together
    single = _config(work, "single", gradient_accumulation_steps=2, **COMMON)
    subprocess.run(_train_cmd(work, single, "model-single"), check=True, env=_env(), cwd=REPO, timeout=600)
    return "model-single"


@pytest.mark.parametrize("strategy, port", [("ddp", 29517), ("fsdp", 29518)])
def test_two_processes_under_torchrun_follow_the_one_process_curve(work, single_process_curve, strategy, port):
    double = _config(work, f"double-{strategy}", gradient_accumulation_steps=1,
                     distributed={"strategy": strategy, "nodes": 1, "gpus_per_node": 2}, **COMMON)
    _torchrun(work, double, f"model-{strategy}", port)
    one, two = _losses(work, single_process_curve), _losses(work, f"model-{strategy}")
    assert len(one) == len(two) == 6
    # the same gradients up to float summation order: stated tolerance 1e-4 on a loss near 5
    assert max(abs(x - y) for x, y in zip(one, two)) < 1e-4, (one, two)
    assert _result(work, f"model-{strategy}")["val_loss"] == pytest.approx(
        _result(work, single_process_curve)["val_loss"], abs=1e-4)
    # the adapter rank 0 gathered and wrote loads and generates
    from empathy.generate import ChatGenerator

    reply = ChatGenerator.from_dir(work / f"model-{strategy}").reply([{"role": "user", "content": "hello"}],
                                                                     max_new_tokens=4)
    assert reply["completion_tokens"] == 4 and reply["content"]


def test_sharded_run_stopped_by_its_time_budget_resumes_to_the_same_curve(work, single_process_curve):
    sharded = {"distributed": {"strategy": "fsdp", "nodes": 1, "gpus_per_node": 2}, **COMMON}
    stopped = _config(work, "budget", max_wall_hours=1e-7, **sharded)
    _torchrun(work, stopped, "model-budget", 29519)
    assert _result(work, "model-budget")["stopped_reason"] == "time_budget"
    assert _result(work, "model-budget")["steps"] == 1
    resumed = _config(work, "budget", max_wall_hours=12, **sharded)  # the budget may change on resume
    _torchrun(work, resumed, "model-budget", 29520, "--resume")
    after = _result(work, "model-budget")
    assert after["resumed_from_step"] == 1 and after["steps"] == 12 and after["stopped_reason"] == "completed"
    assert max(abs(x - y) for x, y in zip(_losses(work, single_process_curve), _losses(work, "model-budget"))) < 1e-4
