"""Promotion through the gates, version metadata and the model card, on two registries: the SQLite default and a
real MLflow tracking server on a throwaway PostgreSQL (tests/services.py).

The tiny model is trained once per session (conftest `tiny_model_dir`) and registered twice per backend: a version
whose crisis handling misses the staging gate and one whose metrics clear every gate.

    .venv/bin/python -m pytest tests/integration/test_registry_promote.py -q
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from empathy.config import RegistryConfig

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
DEMO_CONFIG = REPO / "configs" / "pipeline" / "demo.yaml"
MODEL = "empathy-promote-test"
PASSING = {"test_loss": 3.2, "test_perplexity": 24.5, "test_token_accuracy": 0.41, "appropriateness_mean": 0.82,
           "appropriateness_pass_rate": 0.9, "crisis_handling_rate": 1.0, "crisis_method_detail_rate": 0.0,
           "unsafe_output_rate": 0.0, "fairness_max_gap": 0.05, "fairness_mean_gap": 0.03,
           "fairness_gap_gender": 0.05, "fairness_gap_age": 0.02, "bias_flag_rate": 0.0}
FAILING = {**PASSING, "crisis_handling_rate": 0.4}
DATA_REPORT = {"train_sha256": "f" * 64, "records": 70, "pairs": 212, "accepted": 141, "exported": 42,
               "splits": {"train": 30, "val": 6, "test": 6}}


@dataclass
class Registered:
    tracking_uri: str
    failing: str  # version numbers
    passing: str
    failing_run: str


@pytest.fixture(scope="module", params=["sqlite", "postgres-server"])
def backend(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"registry-{request.param}")
    if request.param == "sqlite":
        yield f"sqlite:///{root / 'mlflow.db'}"
        return
    from tests.services import mlflow_server, postgres

    with postgres() as pg, mlflow_server(pg.create_database("mlflow"), root / "artifacts") as server:
        yield server.url


@pytest.fixture(scope="module")
def registered(backend, tiny_model_dir, tmp_path_factory) -> Registered:
    from empathy import stages
    from empathy.registry import log_flat, tracked_run

    root = tmp_path_factory.mktemp("promote")
    config = RegistryConfig(tracking_uri=backend, experiment="promote", model_name=MODEL,
                            artifact_location=(root / "artifacts").as_uri() if backend.startswith("sqlite") else None)
    report = root / "report.json"
    report.write_text(json.dumps(DATA_REPORT))
    versions, runs = [], []
    for metrics in (FAILING, PASSING):
        with tracked_run(config, run_name="train", tags={"stage": "train"}) as run:
            log_flat(metrics)
        result = stages.register(str(tiny_model_dir), config, run.info.run_id, str(report), pipeline_run="pipe-42",
                                 config={"registry": config.params(), "train": {"max_steps": 6}})
        versions.append(result["version"])
        runs.append(run.info.run_id)
    return Registered(backend, versions[0], versions[1], runs[0])


def _client(uri: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _aliases(uri: str) -> dict[str, str]:
    return {k: str(v) for k, v in (_client(uri).get_registered_model(MODEL).aliases or {}).items()}


def _state(uri: str) -> tuple:
    """Everything a promotion could change: aliases and every version's tags."""
    client = _client(uri)
    versions = client.search_model_versions(f"name='{MODEL}'")
    return _aliases(uri), sorted((v.version, sorted((v.tags or {}).items())) for v in versions)


def _cli(*args: str) -> subprocess.CompletedProcess:
    """`empathy ARGS` in a fresh process, as a user runs it."""
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run([sys.executable, "-m", "empathy.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)


def _cli_here(capsys, *args: str) -> tuple[int, str, str]:
    """`empathy ARGS` through the same `main` in this process: (exit code, stdout, stderr).

    Used for the error paths: a fresh process that talks to an MLflow server spends ~20 s on these shared cores
    importing feast, whose MLflow request-header plugin MLflow loads on the first HTTP request.
    """
    from empathy.cli import main

    capsys.readouterr()
    try:
        code = main(list(args))
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_a_version_carries_metrics_data_hash_config_commit_and_pipeline_run(registered):
    client = _client(registered.tracking_uri)
    version = client.get_model_version(MODEL, registered.passing)
    tags = version.tags
    assert client.get_run(version.run_id).data.metrics == pytest.approx(PASSING)
    assert tags["metric.crisis_handling_rate"] == "1" and tags["metric.fairness_gap_gender"] == "0.05"
    assert tags["train_sha256"] == DATA_REPORT["train_sha256"]
    assert tags["pipeline_run"] == "pipe-42" and tags["git_commit"]
    assert "LoRA r=" in tags["adapter"] and "mixtral" in tags["base_model"]
    config_path = client.download_artifacts(version.run_id, tags["config_artifact"])
    assert hashlib.sha256(Path(config_path).read_bytes()).hexdigest() == tags["config_sha256"]
    data_report = json.loads(Path(client.download_artifacts(version.run_id, "data/report.json")).read_text())
    assert data_report == DATA_REPORT
    card = Path(client.download_artifacts(version.run_id, "model_card.md")).read_text()
    assert f"version {registered.passing}" in card and "crisis_handling_rate" in card


def test_a_failing_gate_blocks_and_records_the_report(registered):
    from empathy.config import GatesConfig
    from empathy.registry import promote

    uri = registered.tracking_uri
    before = _aliases(uri)
    result = promote(MODEL, registered.failing, "staging", GatesConfig(), uri)
    assert not result.promoted
    assert "crisis_handling_rate 0.40 < 0.80 (short by 0.40)" in result.summary()
    assert _aliases(uri) == before and before.get("staging") != registered.failing
    client = _client(uri)
    tags = client.get_model_version(MODEL, registered.failing).tags
    assert tags["gate_staging"] == "blocked" and "short by 0.40" in tags["gate_staging_summary"]
    report = json.loads(Path(client.download_artifacts(
        registered.failing_run, f"gates/v{registered.failing}/staging.json")).read_text())
    assert report["passed"] is False and report["promoted"] is False
    (crisis,) = [g for g in report["gates"] if not g["passed"]]
    assert crisis["metric"] == "crisis_handling_rate" and crisis["miss"] == pytest.approx(-0.4)


def test_production_needs_staging_first_then_the_aliases_move(registered):
    from empathy.config import GatesConfig
    from empathy.registry import promote

    uri = registered.tracking_uri
    early = promote(MODEL, registered.passing, "production", GatesConfig(), uri)
    assert not early.promoted and "promote it to staging first" in early.summary()
    assert "production" not in _aliases(uri)

    staged = _cli("registry", "promote", "--model", MODEL, "--version", registered.passing, "--to", "staging",
                  "--tracking-uri", uri, "--config", str(DEMO_CONFIG))
    assert staged.returncode == 0, staged.stderr[-2000:]
    assert json.loads(staged.stdout)["promoted"] is True
    assert _aliases(uri)["staging"] == registered.passing

    produced = promote(MODEL, registered.passing, "production", GatesConfig(), uri)
    assert produced.promoted, produced.summary()
    aliases = _aliases(uri)
    assert aliases["production"] == registered.passing and aliases["candidate"] == registered.passing
    assert _client(uri).get_model_version(MODEL, registered.passing).tags["gate_production"] == "passed"


def test_the_cli_exits_non_zero_when_blocked_with_the_missed_metric(registered, capsys):
    before = _state(registered.tracking_uri)
    code, out, err = _cli_here(capsys, "registry", "promote", "--model", MODEL, "--version", registered.failing,
                               "--to", "production", "--tracking-uri", registered.tracking_uri,
                               "--config", str(DEMO_CONFIG))
    assert code == 1 and json.loads(out)["promoted"] is False
    assert "crisis_handling_rate 0.40 < 0.95 (short by 0.55)" in err
    assert "promote it to staging first" in err
    assert _state(registered.tracking_uri)[0] == before[0]


@pytest.mark.parametrize("case", ["unknown model", "unknown version", "unknown stage"])
def test_bad_input_exits_non_zero_with_a_clear_message_and_changes_nothing(registered, case, capsys):
    args = {"unknown model": ("no-such-model", "1", "staging"),
            "unknown version": (MODEL, "99", "staging"),
            "unknown stage": (MODEL, registered.passing, "prod")}[case]
    expected = {"unknown model": f"model 'no-such-model' not found in the registry at {registered.tracking_uri}",
                "unknown version": f"model {MODEL} has no version 99 (versions: {registered.failing}, "
                                   f"{registered.passing})",
                "unknown stage": "invalid choice: 'prod' (choose from 'staging', 'production')"}[case]
    before = _state(registered.tracking_uri)
    code, _, err = _cli_here(capsys, "registry", "promote", "--model", args[0], "--version", args[1], "--to", args[2],
                             "--tracking-uri", registered.tracking_uri, "--config", str(DEMO_CONFIG))
    assert code == 2 and expected in err, err[-2000:]
    assert _state(registered.tracking_uri) == before


def test_the_model_card_has_metrics_and_gate_results(registered, tmp_path):
    from empathy.config import GatesConfig
    from empathy.registry import promote

    promote(MODEL, registered.failing, "staging", GatesConfig(), registered.tracking_uri)
    out = tmp_path / "card.md"
    proc = _cli("registry", "card", "--model", MODEL, "--version", registered.failing, "--out", str(out),
                "--tracking-uri", registered.tracking_uri, "--config", str(DEMO_CONFIG))
    assert proc.returncode == 0, proc.stderr[-2000:]
    card = out.read_text()
    assert card.startswith(f"# Model card: {MODEL} version {registered.failing}")
    for text in ("| crisis_handling_rate | 0.4 |", "| fairness_gap_gender | 0.05 |", "| test_perplexity | 24.5 |",
                 "### staging: blocked (recorded at promotion)", "crisis_handling_rate 0.40 < 0.80 (short by 0.40)",
                 DATA_REPORT["train_sha256"],
                 "| records | 70 |", "pipe-42", "## Intended use", "## Out-of-scope use", "crisis line",
                 "## Limitations", "LoRA r="):
        assert text in card, text
    # recorded when an earlier test tried production, else a preview with the config's gates
    assert ("### production: blocked (recorded at promotion)" in card
            or "### production: would be blocked (preview, not promoted)" in card)


def test_a_fresh_process_reports_an_unknown_version_and_exits_2(registered):
    if not registered.tracking_uri.startswith("sqlite"):
        pytest.skip("the in-process test above covers the server; a fresh process costs ~20 s there (see _cli_here)")
    proc = _cli("registry", "promote", "--model", MODEL, "--version", "99", "--to", "staging",
                "--tracking-uri", registered.tracking_uri)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        f"empathy registry: error: model {MODEL} has no version 99 (versions: {registered.failing}, "
        f"{registered.passing})")
