"""benchmarks/gpu_trainer_check.py on CPU (its hidden --cpu: a fixed batch size, no autocast), so that the script
whoever next has a GPU runs does not rot; its GPU figures are recorded in docs/benchmarks.md when it has run."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("gpu_trainer_check", REPO / "benchmarks" / "gpu_trainer_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_check_trains_logs_and_checkpoints_on_cpu(tmp_path, capsys):
    out = tmp_path / "check.json"
    assert _script().main(["--cpu", "--steps", "4", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["device"] == "cpu" and report["batch_size_chosen"] == 8 and report["autocast_bf16"] is False
    assert report["result"]["steps"] == 4 and report["result"]["stopped_reason"] == "completed"
    assert any("val_loss" in row for row in report["metrics"])
    assert report["gpu_metrics_logged"] == []      # no NVML on CPU; on a GPU the report lists them
    assert "step-0000004" in report["checkpoints"] and "best" in report["checkpoints"]


def test_without_cuda_it_says_so(capsys):
    import pytest
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: the script would run")
    assert _script().main(["--out", "/dev/null"]) == 2
    assert "no CUDA device" in capsys.readouterr().err
