"""Deployment to Kubernetes without a cluster: the InferenceService comes from the
rendered manifest with the new model version, and is created or patched, then
waited on. No API server can run here, so a small fake stands in for the
kubernetes CustomObjectsApi (the only mock in the suite, and only for that)."""

from __future__ import annotations

import copy

import pytest
from kubernetes.client.exceptions import ApiException

from empathy.config import DeployConfig
from empathy.deploy import apply_inference_service, inference_service_from_manifest, wait_ready
from empathy.errors import UserError

MANIFEST = "manifests/dev/resources.yaml"


class FakeCustomObjects:
    """Stores InferenceServices like the API server would; becomes Ready after `ready_after` reads."""

    def __init__(self, ready_after: int = 1):
        self.objects: dict[tuple[str, str], dict] = {}
        self.calls: list[str] = []
        self.reads = 0
        self.ready_after = ready_after

    def get_namespaced_custom_object(self, group, version, namespace, plural, name):
        self.calls.append("get")
        if (namespace, name) not in self.objects:
            raise ApiException(status=404, reason="Not Found")
        self.reads += 1
        obj = copy.deepcopy(self.objects[(namespace, name)])
        if self.reads > self.ready_after:
            obj["status"] = {"conditions": [{"type": "Ready", "status": "True"}],
                             "address": {"url": f"http://{name}-predictor.{namespace}.svc.cluster.local"}}
        return obj

    def create_namespaced_custom_object(self, group, version, namespace, plural, body):
        self.calls.append("create")
        self.objects[(namespace, body["metadata"]["name"])] = copy.deepcopy(body)

    def patch_namespaced_custom_object(self, group, version, namespace, plural, name, body):
        self.calls.append("patch")
        self.objects[(namespace, name)] = copy.deepcopy(body)


def _model_arg(isvc):
    args = isvc["spec"]["predictor"]["model"]["args"]
    return args[args.index("--model") + 1]


def test_manifest_gets_the_new_version(repo):
    isvc = inference_service_from_manifest(repo / MANIFEST, "models:/empathy-chat/7")
    assert isvc["kind"] == "InferenceService"
    assert _model_arg(isvc) == "models:/empathy-chat/7"
    again = inference_service_from_manifest(repo / MANIFEST, "models:/empathy-chat/8")
    assert _model_arg(again) == "models:/empathy-chat/8" and _model_arg(isvc) == "models:/empathy-chat/7"


def test_create_then_patch_then_ready(repo):
    api = FakeCustomObjects(ready_after=2)
    isvc = inference_service_from_manifest(repo / MANIFEST, "models:/empathy-chat/1")
    ns = isvc["metadata"]["namespace"]
    assert apply_inference_service(api, isvc, ns) == "created"
    isvc2 = inference_service_from_manifest(repo / MANIFEST, "models:/empathy-chat/2")
    assert apply_inference_service(api, isvc2, ns) == "patched"
    assert _model_arg(api.objects[(ns, "empathy-chat")]) == "models:/empathy-chat/2"
    status = wait_ready(api, "empathy-chat", ns, timeout_s=5, poll_s=0.01)
    assert status["address"]["url"].startswith("http://empathy-chat-predictor.")


def test_not_ready_in_time_names_the_service(repo):
    api = FakeCustomObjects(ready_after=10**6)
    isvc = inference_service_from_manifest(repo / MANIFEST, "models:/empathy-chat/1")
    apply_inference_service(api, isvc, "empathy-dev")
    with pytest.raises(RuntimeError, match="empathy-dev/empathy-chat not Ready"):
        wait_ready(api, "empathy-chat", "empathy-dev", timeout_s=0.05, poll_s=0.01)


def test_bad_manifests_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="file not found"):
        inference_service_from_manifest(tmp_path / "missing.yaml", "models:/m/1")
    none = tmp_path / "none.yaml"
    none.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    with pytest.raises(UserError, match="exactly one InferenceService"):
        inference_service_from_manifest(none, "models:/m/1")
    no_arg = tmp_path / "noarg.yaml"
    no_arg.write_text("apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {name: x}\n"
                      "spec: {predictor: {containers: [{name: kserve-container, args: [serve]}]}}\n")
    with pytest.raises(UserError, match="kserve-container has no '--model URI'"):
        inference_service_from_manifest(no_arg, "models:/m/1")
    adapter = tmp_path / "adapter.yaml"
    adapter.write_text("apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {name: x}\n"
                       "spec: {predictor: {model: {modelFormat: {name: huggingface}, storageUri: 's3://b/a'}}}\n")
    with pytest.raises(UserError, match="spec.predictor.model has no '--model URI'.*storageUri"):
        inference_service_from_manifest(adapter, "models:/m/1")
    custom = tmp_path / "custom.yaml"
    custom.write_text("apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {name: x}\n"
                      "spec: {predictor: {containers: [{name: kserve-container, args: [serve, --model, old]}]}}\n")
    isvc = inference_service_from_manifest(custom, "models:/m/2")
    assert isvc["spec"]["predictor"]["containers"][0]["args"] == ["serve", "--model", "models:/m/2"]
    nameless = tmp_path / "nameless.yaml"
    nameless.write_text("apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata: {name: x}\n"
                        "spec: {predictor: {containers: [{name: other}]}}\n")
    with pytest.raises(UserError, match="neither spec.predictor.model nor a container named kserve-container"):
        inference_service_from_manifest(nameless, "models:/m/1")


def test_default_deploy_config_points_at_a_rendered_manifest(repo):
    assert (repo / DeployConfig().manifest).is_file()
