"""Serving checks on every rendered overlay (manifests/<env>/resources.yaml):
RawDeployment with >= 2 replicas and HPA autoscaling, a PodDisruptionBudget
and topology spread that select the pods KServe creates, probes on the
server's health routes, no secret values; and for prod-vllm (GPU clusters)
the Hugging Face / vLLM predictor with base + LoRA adapter, its namespaced
ServingRuntime, and the project image as the guard transformer.

Schema validation of these objects (CRDs in ../shared/crds, kubernetes-validate
for built-in kinds) and pod security are in test_manifests.py, which covers
every rendered overlay too.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from test_manifests import ISVC_NAME, RENDERED_ENVS, _crd_errors, _docs, _isvc, _runtime, _serving_container

pytestmark = pytest.mark.manifests

PROJECT_IMAGE_REPO = "ghcr.io/empathy-mlops/empathy-serve"
PORT = 8080
# Labels KServe (RawDeployment) puts on the pods of each component.
POD_LABELS = {
    comp: {"serving.kserve.io/inferenceservice": ISVC_NAME, "component": comp}
    for comp in ("predictor", "transformer")
}
VLLM_ENV = "prod-vllm"
SECRET_NAME = "empathy-serve-secrets"


def _matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if set(selector) - {"matchLabels", "matchExpressions"}:
        return False
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        value, op = labels.get(expr["key"]), expr["operator"]
        if op == "In" and value not in expr["values"]:
            return False
        if op == "NotIn" and value in expr["values"]:
            return False
        if op == "Exists" and value is None:
            return False
        if op == "DoesNotExist" and value is not None:
            return False
    return True


def _components(env: str) -> list[str]:
    return [c for c in ("predictor", "transformer") if c in _isvc(env)["spec"]]


@pytest.mark.parametrize("env", RENDERED_ENVS)
def test_raw_deployment_with_hpa_autoscaling(env: str) -> None:
    isvc = _isvc(env)
    ann = isvc["metadata"].get("annotations") or {}
    assert ann.get("serving.kserve.io/deploymentMode") == "RawDeployment"
    # HPA is KServe's default autoscaler class for RawDeployment.
    assert ann.get("serving.kserve.io/autoscalerClass", "hpa") == "hpa"
    for comp in _components(env):
        spec = isvc["spec"][comp]
        assert spec["minReplicas"] >= 2, f"{env}: {comp} must keep at least two replicas"
        assert spec["maxReplicas"] >= spec["minReplicas"], f"{env}: {comp} maxReplicas < minReplicas"
        assert spec["scaleMetric"] in ("cpu", "memory"), f"{env}: {comp} scaleMetric not an HPA resource metric"
        assert 0 < spec["scaleTarget"] <= 100, f"{env}: {comp} scaleTarget is a utilisation percentage"


@pytest.mark.parametrize("env", RENDERED_ENVS)
def test_pdb_and_spread_select_the_serving_pods(env: str) -> None:
    pdbs = [d for d in _docs(env) if d["kind"] == "PodDisruptionBudget"]
    for comp in _components(env):
        labels = POD_LABELS[comp]
        other = POD_LABELS["transformer" if comp == "predictor" else "predictor"]
        mine = [p for p in pdbs if _matches(p["spec"]["selector"], labels)]
        assert len(mine) == 1, f"{env}: expected one PodDisruptionBudget for the {comp} pods, got {len(mine)}"
        (pdb,) = mine
        assert pdb["spec"].get("minAvailable") == 1
        assert not _matches(pdb["spec"]["selector"], other), f"{env}: {pdb['metadata']['name']} spans components"
        assert pdb["spec"]["minAvailable"] < _isvc(env)["spec"][comp]["minReplicas"], \
            f"{env}: the {comp} PDB would block every drain"
        spread = _isvc(env)["spec"][comp].get("topologySpreadConstraints") or []
        by_host = [t for t in spread if t["topologyKey"] == "kubernetes.io/hostname"]
        assert by_host, f"{env}: {comp} replicas are not spread across nodes"
        for t in spread:
            assert _matches(t["labelSelector"], labels), f"{env}: {comp} spread selector misses its pods"


@pytest.mark.parametrize("env", RENDERED_ENVS)
def test_probes_on_the_health_routes(env: str) -> None:
    for comp in _components(env):
        c = _serving_container(env, comp)
        ports = [p["containerPort"] for p in c["ports"]]
        assert ports == [PORT], f"{env}: {comp} ports {ports}"
        for probe, path in (("startupProbe", "/v2/health/live"), ("readinessProbe", "/v2/health/ready"),
                            ("livenessProbe", "/v2/health/live")):
            assert probe in c, f"{env}: {comp} has no {probe}"
            get = c[probe]["httpGet"]
            assert (get["path"], get["port"]) == (path, PORT), f"{env}: {comp} {probe}"


@pytest.mark.parametrize("env", RENDERED_ENVS)
def test_referenced_runtime_exists_and_supports_the_model(env: str) -> None:
    for comp in _components(env):
        model = _isvc(env)["spec"][comp].get("model")
        if model is None:
            continue  # custom container: no runtime
        rt = _runtime(env, model["runtime"])
        formats = {f["name"] for f in rt["spec"]["supportedModelFormats"]}
        assert model["modelFormat"]["name"] in formats
        assert model.get("protocolVersion", "v1") in rt["spec"]["protocolVersions"]
        assert not rt["spec"].get("disabled", False)
        assert rt["metadata"]["namespace"] == _isvc(env)["metadata"]["namespace"]


@pytest.mark.parametrize("env", RENDERED_ENVS)
def test_no_secret_values_in_the_repo(env: str) -> None:
    docs = _docs(env)
    assert not [d for d in docs if d["kind"] == "Secret"], f"{env}: a Secret is rendered into Git"
    sensitive = re.compile(r"SECRET|TOKEN|PASSWORD|_URL$|VAULT_ROLE")
    for comp in _components(env):
        containers = [_serving_container(env, comp)]
        for c in containers:
            for var in c.get("env") or []:
                if sensitive.search(var["name"]):
                    assert "value" not in var, f"{env}: {comp} {var['name']} has a literal value"
                    ref = (var.get("valueFrom") or {}).get("secretKeyRef")
                    assert ref is not None, f"{env}: {comp} {var['name']} not from a Secret"
        if comp == "predictor" and "model" in _isvc(env)["spec"][comp]:
            continue  # vLLM holds no application secrets; the guard does
        refs = [e["secretRef"] for e in containers[0].get("envFrom") or [] if "secretRef" in e]
        assert refs == [{"name": SECRET_NAME, "optional": True}], f"{env}: {comp} envFrom {refs}"


# --------------------------------------------------------------------------
# prod-vllm: base + LoRA adapter on vLLM, the guard in front


def _args(c: dict[str, Any]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for a in c["args"]:
        if a.startswith("--"):
            k, _, v = a.partition("=")
            out[k] = v or None
    return out


def test_vllm_predictor_serves_base_plus_adapter() -> None:
    pred = _isvc(VLLM_ENV)["spec"]["predictor"]
    assert "containers" not in pred, "the custom container must give way to the runtime"
    model = pred["model"]
    assert model["modelFormat"]["name"] == "huggingface"
    rt = _runtime(VLLM_ENV, model["runtime"])
    assert rt["spec"]["containers"][0]["image"].startswith("kserve/huggingfaceserver:")
    args = _args(_serving_container(VLLM_ENV))
    assert args["--backend"] == "vllm"
    assert args["--model_id"], "no base model"
    assert "--enable-lora" in args
    name, _, path = (args["--lora-modules"] or "").partition("=")
    assert name == ISVC_NAME and path == "/mnt/models", "the adapter is served as the model's name"
    assert model["storageUri"].endswith("/production/adapter"), "prod serves the production adapter"
    limits = model["resources"]["limits"]
    gpus = int(limits["nvidia.com/gpu"])
    assert gpus >= 1
    assert gpus == int(args.get("--tensor-parallel-size") or 1), "tensor parallel size != GPUs"
    assert pred["nodeSelector"] == {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pred["tolerations"]


def test_vllm_guard_transformer_runs_the_project_image() -> None:
    isvc = _isvc(VLLM_ENV)
    tr = isvc["spec"]["transformer"]
    (c,) = tr["containers"]
    assert c["name"] == "kserve-container"
    assert c["image"].rpartition(":")[0] == PROJECT_IMAGE_REPO
    assert "command" not in c, "the image's ENTRYPOINT (empathy) must not be overridden"
    assert c["args"][0] == "guard"
    # KServe appends --model_name/--predictor_host/--http_port to a transformer;
    # setting them here too would pin a host that differs per namespace.
    assert not {"--predictor_host", "--predictor-host"} & set(c["args"])
    assert "nvidia.com/gpu" not in c["resources"]["limits"], "the guard needs no GPU"
    assert tr["serviceAccountName"] == "empathy-serve"
    env = {e["name"]: e for e in c["env"]}
    assert env["MLFLOW_TRACKING_URI"]["valueFrom"]["configMapKeyRef"]["name"] == "empathy-config"


def test_crd_rejects_a_transformer_with_an_unknown_field() -> None:
    isvc = _isvc(VLLM_ENV)
    assert not _crd_errors(isvc)
    isvc["spec"]["transformer"]["containers"][0]["predictorHost"] = "x"
    assert _crd_errors(isvc)
    isvc = _isvc(VLLM_ENV)
    isvc["spec"]["predictor"]["model"]["loraModules"] = ["x"]
    assert _crd_errors(isvc)


def test_vllm_predictor_is_reachable_only_from_the_guard() -> None:
    """vLLM has no auth: a NetworkPolicy admits only the transformer's pods to the predictor's port."""
    policies = [d for d in _docs(VLLM_ENV) if d["kind"] == "NetworkPolicy"]
    guarding = [p for p in policies if _matches(p["spec"]["podSelector"], POD_LABELS["predictor"])]
    assert guarding, "no NetworkPolicy selects the predictor pods"
    for policy in guarding:
        assert "Ingress" in policy["spec"]["policyTypes"]
        for rule in policy["spec"].get("ingress") or []:
            assert rule.get("from"), f"{policy['metadata']['name']}: an ingress rule without 'from' admits everyone"
            for peer in rule["from"]:
                assert set(peer) == {"podSelector"}, "only pods of this namespace, selected by label"
                assert _matches(peer["podSelector"], POD_LABELS["transformer"])
                assert not _matches(peer["podSelector"], POD_LABELS["predictor"] | {"component": "other"})
            assert [p["port"] for p in rule["ports"]] == [PORT]
    assert not any(_matches(p["spec"]["podSelector"], POD_LABELS["transformer"]) for p in policies), \
        "clients must still reach the guard"

