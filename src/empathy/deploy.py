"""Deployment of a registered model version, then a first conversation with it.

- `local`: starts `empathy serve` (kserve ModelServer on 127.0.0.1, a free
  port) as a child process, waits until the model is ready, sends the probe
  prompt and the inference inputs, and stops the server by PID.
- `kubernetes`: reads the InferenceService from the rendered manifest
  (manifests/<env>/resources.yaml, the GitOps source), points its `--model`
  argument at the new version, creates or patches it with the kubernetes
  client, waits for Ready, then talks to it the same way.

Either way the replies are written as an inference log that monitoring reads.

    empathy deploy --model-uri models:/empathy-chat/3 --inputs data/demo/inference_inputs.jsonl --out-dir runs/x/deploy
"""

from __future__ import annotations

import copy
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from empathy.config import DeployConfig
from empathy.errors import UserError
from empathy.serve.client import ChatClient, model_name_from_uri

IS_GROUP, IS_VERSION, IS_PLURAL = "serving.kserve.io", "v1beta1", "inferenceservices"


@dataclass
class DeployResult:
    target: str
    model_uri: str
    endpoint: str
    prompt: str
    reply: str
    inference_log: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        latencies = sorted(r["latency_ms"] for r in self.inference_log)
        return {
            "target": self.target, "model_uri": self.model_uri, "endpoint": self.endpoint,
            "prompt": self.prompt, "reply": self.reply, "requests": len(self.inference_log),
            "latency_ms_p50": latencies[len(latencies) // 2] if latencies else None,
        }


def converse(client: ChatClient, prompt: str, inputs: list[dict[str, Any]], model_uri: str,
             max_new_tokens: int) -> tuple[str, list[dict[str, Any]]]:
    """Send the probe prompt and every inference input; return the probe's reply and the log."""
    log = []
    for item in [{"id": "probe", "text": prompt}, *inputs]:
        reply = client.chat([{"role": "user", "content": item["text"]}], max_new_tokens)
        log.append({
            "id": item["id"], "text": item["text"], "reply": reply["content"], "latency_ms": reply["latency_ms"],
            "completion_tokens": reply["completion_tokens"], "model_uri": model_uri,
            "timestamp": datetime.now(timezone.utc).isoformat(),
        })
    return log[0]["reply"], log


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen, grace_s: float = 15.0) -> None:
    """SIGTERM the server's process group, SIGKILL it if it outlives the grace period."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def deploy_local(model_uri: str, tracking_uri: str, config: DeployConfig, inputs: list[dict[str, Any]],
                 log_path: str | Path) -> DeployResult:
    port = free_port()
    name = model_name_from_uri(model_uri)
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri}
    # the local demo: loopback only, no credentials; its audit log and stores live beside the server log
    work = Path(log_path).resolve().parent
    for var, db in (("EMPATHY_AUDIT_URL", "audit.db"), ("EMPATHY_CONVERSATION_URL", "conversations.db"),
                    ("EMPATHY_INFERENCE_LOG_URL", "inference_log.db")):
        env.setdefault(var, f"sqlite:///{work / db}")
    with Path(log_path).open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "empathy.cli", "serve", "--model", model_uri, "--port", str(port),
             "--host", "127.0.0.1", "--tracking-uri", tracking_uri, "--no-auth"],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
    client = ChatClient(f"http://127.0.0.1:{port}", name)
    try:
        deadline = time.monotonic() + config.startup_timeout_s
        while not client.ready():
            if proc.poll() is not None:
                raise RuntimeError(f"empathy serve exited with {proc.returncode} before it was ready; see {log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"empathy serve not ready after {config.startup_timeout_s}s; see {log_path}")
            time.sleep(0.25)
        reply, log_rows = converse(client, config.prompt, inputs, model_uri, config.max_new_tokens)
    finally:
        client.close()
        stop_process(proc)
    return DeployResult("local", model_uri, client.base_url, config.prompt, reply, log_rows)


def inference_service_from_manifest(manifest: str | Path, model_uri: str) -> dict[str, Any]:
    """The manifest's InferenceService with its `--model` argument set to model_uri.

    The argument is looked for in `spec.predictor.model.args` (the model spec on the `empathy-runtime`
    ServingRuntime, whose container args KServe appends them to), else in the args of a custom
    `kserve-container` in `spec.predictor.containers`."""
    path = Path(manifest)
    if not path.is_file():
        raise UserError(f"manifest {path}: file not found (run `make manifests`)")
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    services = [d for d in docs if d.get("kind") == "InferenceService"]
    if len(services) != 1:
        raise UserError(f"manifest {path}: expected exactly one InferenceService, found {len(services)}")
    isvc = copy.deepcopy(services[0])
    predictor = (isvc.get("spec") or {}).get("predictor") or {}
    if "model" in predictor:
        where, args = "spec.predictor.model", predictor["model"].setdefault("args", [])
    else:
        container = next((c for c in predictor.get("containers") or [] if c.get("name") == "kserve-container"), None)
        if container is None:
            raise UserError(f"manifest {path}: InferenceService has neither spec.predictor.model nor a container "
                            "named kserve-container")
        where, args = "kserve-container", container.setdefault("args", [])
    if "--model" not in args or args.index("--model") == len(args) - 1:
        raise UserError(f"manifest {path}: {where} has no '--model URI' argument (an InferenceService that takes "
                        "its model from storageUri, like prod-vllm's, is promoted by its adapter's storageUri)")
    args[args.index("--model") + 1] = model_uri
    return isvc


def apply_inference_service(api: Any, isvc: dict[str, Any], namespace: str) -> str:
    """Create or patch; returns 'created' or 'patched'."""
    from kubernetes.client.exceptions import ApiException

    name = isvc["metadata"]["name"]
    try:
        api.get_namespaced_custom_object(IS_GROUP, IS_VERSION, namespace, IS_PLURAL, name)
    except ApiException as exc:
        if exc.status != 404:
            raise
        api.create_namespaced_custom_object(IS_GROUP, IS_VERSION, namespace, IS_PLURAL, isvc)
        return "created"
    api.patch_namespaced_custom_object(IS_GROUP, IS_VERSION, namespace, IS_PLURAL, name, isvc)
    return "patched"


def wait_ready(api: Any, name: str, namespace: str, timeout_s: float, poll_s: float = 5.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        obj = api.get_namespaced_custom_object(IS_GROUP, IS_VERSION, namespace, IS_PLURAL, name)
        status = obj.get("status") or {}
        conditions = {c.get("type"): c for c in status.get("conditions", [])}
        ready = conditions.get("Ready", {})
        if ready.get("status") == "True":
            return status
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"InferenceService {namespace}/{name} not Ready after {timeout_s}s: "
                f"{ready.get('reason', 'no Ready condition')} {ready.get('message', '')}".strip()
            )
        time.sleep(poll_s)


def deploy_kubernetes(model_uri: str, config: DeployConfig, inputs: list[dict[str, Any]], api: Any = None) -> DeployResult:
    isvc = inference_service_from_manifest(config.manifest, model_uri)
    namespace = config.namespace or isvc["metadata"].get("namespace") or "default"
    isvc["metadata"]["namespace"] = namespace
    if api is None:
        from kubernetes import client, config as kube_config

        try:
            kube_config.load_incluster_config()
        except kube_config.ConfigException:
            kube_config.load_kube_config()
        api = client.CustomObjectsApi()
    apply_inference_service(api, isvc, namespace)
    status = wait_ready(api, isvc["metadata"]["name"], namespace, config.ready_timeout_s)
    endpoint = (status.get("address") or {}).get("url") or status.get("url")
    if not endpoint:
        raise RuntimeError(f"InferenceService {namespace}/{isvc['metadata']['name']} is Ready but has no URL")
    client_ = ChatClient(endpoint, model_name_from_uri(model_uri))
    try:
        reply, log_rows = converse(client_, config.prompt, inputs, model_uri, config.max_new_tokens)
    finally:
        client_.close()
    return DeployResult("kubernetes", model_uri, endpoint, config.prompt, reply, log_rows)


def deploy(model_uri: str, tracking_uri: str, config: DeployConfig, inputs: list[dict[str, Any]],
           work_dir: str | Path) -> DeployResult:
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    if config.target == "local":
        return deploy_local(model_uri, tracking_uri, config, inputs, work / "serve.log")
    return deploy_kubernetes(model_uri, config, inputs)
