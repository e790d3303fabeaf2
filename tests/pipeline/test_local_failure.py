"""A pipeline task that fails: `empathy pipeline run --local` exits 1, names the task,
shows the end of its output, and keeps the full output in pipeline.log."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

pytestmark = pytest.mark.pipeline


def test_failed_task_is_reported(tmp_path, repo):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "sources.yaml").write_text(yaml.safe_dump({
        "dataset": "broken", "licence": "CC0-1.0",
        "sources": [{"id": "gone", "path": "missing.txt", "kind": "transcript", "content_type": "monologue"}],
    }))
    config = tmp_path / "pipeline.yaml"
    config.write_text(yaml.safe_dump({"corpus_dir": str(corpus), "train": {"preset": "train/tiny-moe-cpu.yaml"}}))
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "empathy.cli", "pipeline", "run", "--local", "--config", str(config),
         "--output-dir", str(out)], cwd=repo, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "Traceback (most recent call last)" not in proc.stderr.split("--- last lines of")[0]
    assert proc.stderr.startswith("empathy pipeline: failed: ")
    assert "ingest" in proc.stderr and "missing.txt: file not found" in proc.stderr
    assert "Executing task 'ingest'" in proc.stdout.replace("\x1b[96m", "").replace("\x1b[0m", "")
    first_lines = proc.stderr.split("--- last lines of")[0]
    assert "empathy.errors.UserError: source gone" in first_lines and "missing.txt: file not found" in first_lines
    assert "Got executor_input" not in proc.stdout
    assert "Got executor_input" in (out / "pipeline.log").read_text()
    assert not (out / "summary.json").exists()
