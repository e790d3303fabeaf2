"""MLflow registry on SQLite: a registered version with its alias and tags, and a pyfunc
model that loads and generates in a fresh process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration


def test_alias_points_at_the_new_version(registered, registry_config):
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=registry_config.tracking_uri)
    version = client.get_model_version_by_alias(registry_config.model_name, "candidate")
    assert str(version.version) == registered.version
    assert version.run_id == registered.run_id
    assert version.tags["train_sha256"] == "abc"
    assert registered.model_uri == f"models:/{registry_config.model_name}/{registered.version}"


def test_second_registration_moves_the_alias(tiny_model_dir, registered, registry_config):
    from mlflow import MlflowClient

    from empathy.registry import register_model, tracked_run

    with tracked_run(registry_config) as run:
        pass
    second = register_model(tiny_model_dir, registry_config, run.info.run_id)
    assert int(second.version) == int(registered.version) + 1
    client = MlflowClient(tracking_uri=registry_config.tracking_uri)
    assert str(client.get_model_version_by_alias(registry_config.model_name, "candidate").version) == second.version


def test_pyfunc_loads_and_generates_in_a_fresh_process(registered, registry_config):
    code = (
        "import json, mlflow.pyfunc\n"
        f"m = mlflow.pyfunc.load_model('models:/{registry_config.model_name}@candidate')\n"
        "out = m.predict({'messages': [{'role': 'user', 'content': 'How do I cope with sleep?'}]},"
        " params={'max_new_tokens': 8})\n"
        "print(json.dumps(out))\n"
    )
    env = {**os.environ, "MLFLOW_TRACKING_URI": registry_config.tracking_uri}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (reply,) = json.loads(proc.stdout.strip().splitlines()[-1])
    assert reply["completion_tokens"] >= 1 and isinstance(reply["content"], str)
