"""The `empathy` command line, run in a subprocess as a user would.

A user's mistake (missing corpus, missing / empty / malformed / incomplete
records file, malformed config or one with an unknown key, missing data
directory, missing pipeline package, ...) must exit 2 with ONE line on stderr
that names the file (or key) and no traceback. A happy path: `ingest` on the
demo corpus exits 0 and writes as many records as it reports.

The subprocesses are started together in a module fixture (each is an
interpreter start-up of about a second), and every test checks one result.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

GOOD_RECORD = {
    "id": "r1", "content_type": "dialogue",
    "source": {"dataset": "d", "source_id": "r1", "kind": "transcript", "licence": "CC0-1.0"},
    "turns": [{"speaker": "C", "role": "asker", "text": "What can I do?"},
              {"speaker": "T", "role": "responder", "text": "Try one small step at a time, every day."}],
}


def _run(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "empathy.cli", *args], cwd=REPO, capture_output=True, text=True, timeout=120,
    )


def _cases(tmp: Path) -> dict[str, tuple[list[str], list[str]]]:
    """name -> (argv, strings stderr must contain)."""
    out = str(tmp / "out")
    missing_dir = tmp / "no-such-corpus"
    missing = tmp / "no-such-records.jsonl"
    empty = tmp / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    malformed = tmp / "malformed.jsonl"
    malformed.write_text(json.dumps(GOOD_RECORD) + "\n{not json\n", encoding="utf-8")
    incomplete = tmp / "incomplete.jsonl"
    incomplete.write_text(
        json.dumps(GOOD_RECORD) + "\n" + json.dumps({k: v for k, v in GOOD_RECORD.items() if k != "content_type"})
        + "\n", encoding="utf-8")
    bad_yaml = tmp / "bad.yaml"
    bad_yaml.write_text("corpus_dir: data/demo\nsplit: {seed: [1,\n", encoding="utf-8")
    unknown_key = tmp / "unknown.yaml"
    unknown_key.write_text("corpus_dir: data/demo\npairs:\n  min_question_wrds: 3\n", encoding="utf-8")
    bad_split = tmp / "bad_split.yaml"
    bad_split.write_text("split: {val_fraction: 0.5, test_fraction: 0.5}\n", encoding="utf-8")
    data = tmp / "data"
    data.mkdir()
    for name in ("train", "val", "test"):
        (data / f"{name}.jsonl").write_text(json.dumps({"id": "x", "text": "no messages here"}) + "\n")
    not_a_model = tmp / "not-a-model"
    not_a_model.mkdir()
    good_data = tmp / "good-data"
    good_data.mkdir()
    chat = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    (good_data / "test.jsonl").write_text(json.dumps(chat) + "\n")
    # one store per case: the cases run concurrently, and two processes creating
    # MLflow's schema in one SQLite file race each other
    serve_registry = f"sqlite:///{tmp / 'serve-mlflow.db'}"
    deploy_registry = f"sqlite:///{tmp / 'deploy-mlflow.db'}"
    return {
        "ingest-missing-corpus": (["ingest", "--corpus", str(missing_dir), "--out-dir", out],
                                  [str(missing_dir), "not found"]),
        "pairs-missing-file": (["pairs", "--records", str(missing), "--out-dir", out], [str(missing), "not found"]),
        "pairs-empty-file": (["pairs", "--records", str(empty), "--out-dir", out], [str(empty), "empty"]),
        "pairs-malformed-jsonl": (["pairs", "--records", str(malformed), "--out-dir", out],
                                  [str(malformed), "line 2", "malformed JSON"]),
        "pairs-record-missing-field": (["pairs", "--records", str(incomplete), "--out-dir", out],
                                       [str(incomplete), "record 2", "content_type"]),
        "config-malformed-yaml": (["ingest", "--config", str(bad_yaml), "--out-dir", out],
                                  [str(bad_yaml), "line", "malformed YAML"]),
        "config-unknown-key": (["ingest", "--config", str(unknown_key), "--out-dir", out],
                               [str(unknown_key), "pairs.min_question_wrds"]),
        "config-inconsistent": (["pairs", "--config", str(bad_split), "--records", str(incomplete), "--out-dir", out],
                                [str(bad_split), "split"]),
        "train-missing-data": (["train", "--data", str(missing_dir), "--out", str(tmp / "model")],
                               [str(missing_dir), "not found"]),
        "train-records-without-messages": (["train", "--data", str(data), "--out", str(tmp / "model")],
                                           [str(data / "train.jsonl"), "record 1", "messages"]),
        "evaluate-not-a-model": (["evaluate", "--model", str(not_a_model), "--data", str(good_data), "--run-id", "r",
                                  "--out", str(tmp / "m.json")], [str(not_a_model), "base_model.json"]),
        "serve-unknown-model": (["serve", "--model", "models:/no-such-model@candidate", "--tracking-uri",
                                 serve_registry, "--port", "9"],
                                ["models:/no-such-model@candidate", "not found in the registry"]),
        "deploy-unknown-model": (["deploy", "--model-uri", "models:/no-such-model/3", "--tracking-uri",
                                  deploy_registry, "--inputs", "data/demo/inference_inputs.jsonl", "--out-dir", out],
                                 ["models:/no-such-model/3", "not found in the registry"]),
        "pipeline-submit-bad-arguments": (["pipeline", "submit", "--host", "http://127.0.0.1:9", "--arguments",
                                           "{corpus_dir: x"], ["--arguments", "malformed JSON"]),
        "pipeline-submit-unreachable-host": (["pipeline", "submit", "--host", "http://127.0.0.1:9", "--package",
                                              "pipelines/training_pipeline.yaml"], ["http://127.0.0.1:9"]),
        "monitor-missing-data": (["monitor", "--data", str(missing_dir), "--inference-log", str(missing),
                                  "--out-dir", out], [str(missing_dir)]),
        "split-missing-records": (["split", "--records", str(missing), "--pairs", str(missing), "--accepted",
                                   str(missing), "--screened", str(missing), "--held", str(missing), "--rejected",
                                   str(empty), "--out-dir", out], [str(missing)]),
        "screen-missing-accepted": (["screen", "--accepted", str(missing), "--out-dir", out], [str(missing)]),
        "data-process-missing-source": (["data", "process", "--source", f"annomi:{missing}", "--out", out],
                                        [str(missing)]),
        "data-process-unknown-kind": (["data", "process", "--source", f"rss:{missing}", "--out", out],
                                      ["unknown kind 'rss'"]),
        "data-validate-pairs-missing-file": (["data", "validate-pairs", str(missing)], [str(missing), "not found"]),
        "data-train-validator-missing-counsel-chat": (["data", "train-validator", "--counsel-chat", str(missing),
                                                       "--out", str(tmp / "validator.json")],
                                                      [str(missing), "not found"]),
        "pipeline-submit-missing-package": (["pipeline", "submit", "--host", "http://127.0.0.1:9",
                                             "--package", str(tmp / "missing-pipeline.yaml")],
                                            [str(tmp / "missing-pipeline.yaml"), "not found"]),
    }


HAPPY = "ingest-demo"
USAGE = "usage-missing-argument"


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    cases = _cases(tmp)
    argv = {name: args for name, (args, _) in cases.items()}
    argv[HAPPY] = ["ingest", "--corpus", "data/demo", "--out-dir", str(tmp / "ingest")]
    argv[USAGE] = ["pairs", "--out-dir", str(tmp / "usage")]
    # the slowest (pipeline submit imports kfp) first, so it overlaps with the others
    order = sorted(argv, key=lambda n: not n.startswith("pipeline"))
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        futures = {name: pool.submit(_run, argv[name]) for name in order}
        done = {name: f.result() for name, f in futures.items()}
    return {"tmp": tmp, "cases": cases, "runs": done}


def _case_names() -> list[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        return list(_cases(Path(d)))


CASE_NAMES = _case_names()


@pytest.mark.parametrize("name", CASE_NAMES)
def test_user_mistake_exits_2_with_one_line(results, name: str) -> None:
    proc = results["runs"][name]
    _, needles = results["cases"][name]
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    line = lines[0]
    command = name.split("-")[0] if not name.startswith("config") else None
    assert line.startswith("empathy "), line
    assert ": error: " in line
    if command:
        assert line.startswith(f"empathy {command}: error: "), line
    for needle in needles:
        assert needle in line, (needle, line)
    assert proc.stdout == ""


def test_happy_path_ingest_demo(results) -> None:
    proc = results["runs"][HAPPY]
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    counts = json.loads(proc.stdout)
    assert counts["records"] > 0 and counts["rejected"] == 0
    assert counts["items_in"] == counts["records"] + counts["rejected"]
    out = results["tmp"] / "ingest"
    lines = (out / "records.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == counts["records"]
    ids = [json.loads(line)["id"] for line in lines]
    assert len(set(ids)) == len(ids)
    assert (out / "rejected.jsonl").read_text(encoding="utf-8") == ""


def test_missing_required_argument_is_argparse_error(results) -> None:
    proc = results["runs"][USAGE]
    assert proc.returncode == 2
    assert "--records" in proc.stderr
    assert "Traceback" not in proc.stderr
