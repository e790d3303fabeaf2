"""The KServe predictor: `predict` called directly, then `empathy serve` as a real
kserve ModelServer on a loopback port (v1/v2 routes, errors, /metrics), stopped by PID."""

from __future__ import annotations

import asyncio
import os
import subprocess

import httpx
import pytest

from tests.services import empathy_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def predictor(tiny_model_dir):
    from empathy.serve.predictor import ChatPredictor

    p = ChatPredictor("empathy-chat", str(tiny_model_dir), max_new_tokens=8)
    p.load()
    return p


def test_predict_directly(predictor):
    out = asyncio.run(predictor.predict({"instances": [
        {"messages": [{"role": "user", "content": "How do I cope with worry?"}], "max_new_tokens": 6}]}))
    (reply,) = out["predictions"]
    assert 1 <= reply["completion_tokens"] <= 6 and reply["prompt_tokens"] > 0


@pytest.mark.parametrize("payload, message", [
    ({}, "instances"),
    ({"instances": []}, "instances"),
    ({"instances": ["hello"]}, "messages"),
    ({"instances": [{"messages": []}]}, "non-empty"),
    ({"instances": [{"messages": [{"role": "user", "content": "hi"}], "max_new_tokens": 0}]}, "max_new_tokens"),
    ({"instances": [{"messages": [{"role": "user", "content": "hi"}], "repetition_penalty": 5}]}, "repetition_penalty"),
    ({"instances": [{"messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}]}, "could not convert"),
])
def test_predict_rejects_bad_input(predictor, payload, message):
    from kserve.errors import InvalidInput

    with pytest.raises(InvalidInput, match=message):
        asyncio.run(predictor.predict(payload))


@pytest.fixture(scope="module")
def server(registered, registry_config, tmp_path_factory):
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    env = {**os.environ, "MLFLOW_TRACKING_URI": registry_config.tracking_uri}
    for var, db in (("EMPATHY_AUDIT_URL", "audit.db"), ("EMPATHY_CONVERSATION_URL", "conversations.db"),
                    ("EMPATHY_INFERENCE_LOG_URL", "inference_log.db")):
        env[var] = f"sqlite:///{log.parent / db}"
    with empathy_server(["--model", f"models:/{registry_config.model_name}@candidate", "--no-auth"], env, log) \
            as (base, proc):
        yield base, proc, int(base.rsplit(":", 1)[1])


def test_v1_chat_round_trip(server, registry_config):
    from empathy.serve.client import ChatClient

    base, _, _ = server
    client = ChatClient(base, registry_config.model_name)
    assert client.ready()
    reply = client.chat([{"role": "user", "content": "How do I cope with grief?"}], max_new_tokens=8)
    assert reply["completion_tokens"] >= 1 and reply["latency_ms"] > 0
    assert reply["safety"] == {"risk_level": "none", "action": "none"} or reply["safety"]["action"] in (
        "none", "filtered")


def test_v2_metadata_and_metrics(server, registry_config):
    base, _, _ = server
    assert httpx.get(f"{base}/v2/models/{registry_config.model_name}").status_code == 200
    metrics = httpx.get(f"{base}/metrics").text
    assert "request_predict_seconds" in metrics or "python_gc" in metrics


def test_bad_requests_get_4xx_and_the_server_keeps_serving(server, registry_config):
    base, proc, _ = server
    url = f"{base}/v1/models/{registry_config.model_name}:predict"
    bad = httpx.post(url, content=b"{not json", headers={"Content-Type": "application/json"})
    assert 400 <= bad.status_code < 500
    empty = httpx.post(url, json={"instances": [{"messages": []}]})
    assert empty.status_code in (400, 422) and "must not be empty" in empty.json()["error"]["message"]
    unknown = httpx.post(f"{base}/v1/models/no-such-model:predict", json={"instances": []})
    assert unknown.status_code == 404
    ok = httpx.post(url, json={"instances": [{"messages": [{"role": "user", "content": "hi"}], "max_new_tokens": 4}]})
    assert ok.status_code == 200 and proc.poll() is None


def test_binds_loopback_only(server):
    _, proc, port = server
    out = subprocess.run(["ss", "-ltnp"], capture_output=True, text=True).stdout
    listening = [line for line in out.splitlines() if f":{port} " in line]
    assert listening and all("127.0.0.1:" in line for line in listening), listening


def test_deploy_local_talks_to_the_model_and_stops_the_server(registered, registry_config, tmp_path):
    from empathy.config import DeployConfig
    from empathy.deploy import deploy_local

    inputs = [{"id": "a", "text": "I cannot sleep before exams."}, {"id": "b", "text": "My friend moved away."}]
    result = deploy_local(registered.model_uri, registry_config.tracking_uri, DeployConfig(max_new_tokens=6), inputs,
                          tmp_path / "serve.log")
    assert [row["id"] for row in result.inference_log] == ["probe", "a", "b"]
    assert result.reply == result.inference_log[0]["reply"]
    assert all(row["model_uri"] == registered.model_uri for row in result.inference_log)
    port = int(result.endpoint.rsplit(":", 1)[1])
    out = subprocess.run(["ss", "-ltn"], capture_output=True, text=True).stdout
    assert f":{port} " not in out, "the local server is still listening after deploy"
