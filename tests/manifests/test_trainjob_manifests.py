"""Kubeflow Trainer v2 objects against their CRDs, and the contract between them.

(a) the ClusterTrainingRuntime, checkpoint PVC and trainer Role rendered into
    manifests/dev (and only there), with what the TrainJob relies on: a
    replicated job and container named "node", the torch mlPolicy, the H100
    node pool, /dev/shm;
(b) a TrainJob built by src/empathy/train/trainjob.py for every H100 preset
    (configs/train/*-h100.yaml) validates against the TrainJob CRD in
    ../shared/crds (skipped where absent) with unknown fields rejected, and
    broken copies of it and of the runtime fail.

Reuses the CRD helpers of test_manifests.py. Run with

    .venv/bin/python -m pytest -q tests/manifests/test_trainjob_manifests.py
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Iterator

import pytest

from components.images import TRAIN_IMAGE
from empathy.config import TrainConfig, load_pipeline_config, load_train_config
from empathy.train import trainjob
from tests.manifests.test_manifests import ENVS, H100_PRODUCT, K8S_VERSION, REPO, _crd_errors, _docs

pytestmark = pytest.mark.manifests

RUNTIME = trainjob.DEFAULT_RUNTIME
H100_PRESETS = sorted((REPO / "configs" / "train").glob("*-h100.yaml"))
CLUSTER = load_pipeline_config(REPO / "configs" / "pipeline" / "cluster.yaml").cluster


def _one(env: str, kind: str, name: str) -> dict[str, Any]:
    found = [d for d in _docs(env) if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{env}: expected one {kind} {name}, got {len(found)}"
    return found[0]


def _runtime() -> dict[str, Any]:
    return _one("dev", "ClusterTrainingRuntime", RUNTIME)


def _node_pod(runtime: dict[str, Any]) -> dict[str, Any]:
    jobs = {j["name"]: j for j in runtime["spec"]["template"]["spec"]["replicatedJobs"]}
    assert trainjob.NODE in jobs, f"the runtime has no replicated job named {trainjob.NODE!r}"
    return jobs[trainjob.NODE]["template"]["spec"]["template"]["spec"]


def _trainjob(preset: Path) -> dict[str, Any]:
    """What the train-job step creates for a preset, built the way run_trainjob builds it."""
    config = load_train_config(preset)
    name = trainjob.job_name("empathy-training-20261125103000")
    files = trainjob.job_files(CLUSTER.checkpoint_mount, name)
    return trainjob.build_trainjob(
        trainjob.pod_train_config(config, files, CLUSTER.checkpoint_mount), name=name, namespace="empathy-dev",
        image=TRAIN_IMAGE, runtime=RUNTIME, pvc=CLUSTER.checkpoint_pvc, mount=CLUSTER.checkpoint_mount,
        command=trainjob.train_command(files, "http://mlflow:5000"),
        env={"MLFLOW_TRACKING_URI": "http://mlflow:5000", "MLFLOW_RUN_ID": "0" * 32},
        active_deadline_s=int(trainjob.default_timeout_s(config)),
    )


def _assert_rejected(broken: dict[str, Any], fragment: str, what: str) -> None:
    errors = _crd_errors(broken)
    assert any(fragment in e for e in errors), f"a broken copy ({what}) was not rejected as expected; errors: {errors}"


# --------------------------------------------------------------------------
# (a) the rendered runtime, PVC and Role


def test_only_dev_carries_the_training_objects() -> None:
    for env in ENVS:
        kinds = {(d["kind"], d["metadata"]["name"]) for d in _docs(env)}
        training = {("ClusterTrainingRuntime", RUNTIME), ("PersistentVolumeClaim", CLUSTER.checkpoint_pvc),
                    ("Role", "empathy-trainer"), ("RoleBinding", "empathy-trainer")}
        if env == "dev":
            assert training <= kinds, f"dev lacks {training - kinds}"
        else:
            assert not training & kinds, f"{env} carries {training & kinds}: one owner for the cluster-scoped runtime"


def test_runtime_validates_against_its_crd() -> None:
    runtime = _runtime()
    assert runtime["apiVersion"] == "trainer.kubeflow.org/v1alpha1"
    assert "namespace" not in runtime["metadata"], "a ClusterTrainingRuntime is cluster-scoped"
    errors = _crd_errors(runtime)
    assert not errors, "\n".join(errors)


def test_runtime_is_torchrun_on_h100_nodes() -> None:
    runtime = _runtime()
    assert runtime["spec"]["mlPolicy"] == {"numNodes": 1, "torch": {}}
    (job,) = runtime["spec"]["template"]["spec"]["replicatedJobs"]
    assert job["template"]["metadata"]["labels"]["trainer.kubeflow.org/trainjob-ancestor-step"] == "trainer"
    pod = _node_pod(runtime)
    assert pod["nodeSelector"] == {"nvidia.com/gpu.product": H100_PRODUCT}
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    (container,) = pod["containers"]
    assert container["name"] == trainjob.NODE
    assert container["image"] == TRAIN_IMAGE
    assert container["command"][:2] == ["torchrun", "-m"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    assert volumes[mounts["/dev/shm"]]["emptyDir"]["medium"] == "Memory"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["HF_HOME"].startswith("/var/cache/empathy") and "/var/cache/empathy" in mounts
    assert pod["automountServiceAccountToken"] is False


def test_runtime_leaves_room_for_the_trainjobs_pvc_patch() -> None:
    """The TrainJob adds the volume and mount by name; the runtime must have the container and not the names."""
    pod = _node_pod(_runtime())
    assert trainjob.VOLUME not in {v["name"] for v in pod["volumes"]}
    assert CLUSTER.checkpoint_mount not in {m["mountPath"] for m in pod["containers"][0]["volumeMounts"]}
    patch = _trainjob(H100_PRESETS[0])["spec"]["runtimePatches"][0]["trainingRuntimeSpec"]["template"]["spec"]
    (job,) = patch["replicatedJobs"]
    patched = job["template"]["spec"]["template"]["spec"]
    assert job["name"] == trainjob.NODE
    assert {c["name"] for c in patched["containers"]} <= {c["name"] for c in pod["containers"]}


def test_checkpoint_pvc_is_shared_by_every_node() -> None:
    pvc = _one("dev", "PersistentVolumeClaim", CLUSTER.checkpoint_pvc)
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    assert trainjob.DEFAULT_PVC == CLUSTER.checkpoint_pvc and trainjob.DEFAULT_MOUNT == CLUSTER.checkpoint_mount


def test_trainer_role_allows_what_trainjob_py_calls_and_nothing_broader() -> None:
    role = _one("dev", "Role", "empathy-trainer")
    binding = _one("dev", "RoleBinding", "empathy-trainer")
    rules = {(g, r): set(rule["verbs"]) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]}
    assert {"get", "create"} <= rules[("trainer.kubeflow.org", "trainjobs")]
    assert {"list"} <= rules[("", "pods")]
    assert not any("*" in verbs or "delete" in verbs or "patch" in verbs for verbs in rules.values())
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "empathy-trainer"}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "default-editor", "namespace": "empathy-dev"}]


def _broken_runtimes(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], str]]:
    node = lambda d: _node_pod(d)["containers"][0]  # noqa: E731

    d = copy.deepcopy(doc)
    d["spec"]["mlPolicy"]["torch"]["numProcPerNode"] = 8  # a field of older Trainer versions, gone from this CRD
    yield "torch.numProcPerNode", d, "'numProcPerNode' was unexpected"

    d = copy.deepcopy(doc)
    d["spec"]["mlPolicy"]["torchrun"] = {}
    yield "unknown mlPolicy", d, "'torchrun' was unexpected"

    d = copy.deepcopy(doc)
    del node(d)["name"]
    yield "container without name", d, "'name' is a required property"

    d = copy.deepcopy(doc)
    del d["spec"]["template"]["spec"]["replicatedJobs"][0]["template"]
    yield "replicated job without template", d, "'template' is a required property"

    d = copy.deepcopy(doc)
    node(d)["resources"]["limits"]["memory"] = "lots"
    yield "malformed quantity", d, "does not match"


def test_crd_validation_rejects_broken_runtimes() -> None:
    for what, broken, fragment in _broken_runtimes(_runtime()):
        _assert_rejected(broken, fragment, what)


# --------------------------------------------------------------------------
# (b) TrainJobs built by trainjob.py


def test_there_are_h100_presets() -> None:
    assert H100_PRESETS, "configs/train/*-h100.yaml: no presets found"


@pytest.mark.parametrize("preset", H100_PRESETS, ids=lambda p: p.stem)
def test_trainjob_for_each_h100_preset_validates(preset: Path) -> None:
    job = _trainjob(preset)
    errors = _crd_errors(job)
    assert not errors, "\n".join(errors)
    # metadata is only `type: object` in the CRD; check it as ObjectMeta.
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    kubernetes_validate.validate({"apiVersion": "v1", "kind": "ConfigMap", "metadata": job["metadata"]},
                                 K8S_VERSION, strict=True)
    # Two of the CRD's CEL rules, which jsonschema does not run.
    assert trainjob._DNS_LABEL.match(job["metadata"]["name"]) and len(job["metadata"]["name"]) <= 63
    assert job["spec"]["trainer"]["numProcPerNode"] >= 1
    dist = load_train_config(preset).distributed
    assert (job["spec"]["trainer"]["numNodes"], job["spec"]["trainer"]["numProcPerNode"]) == \
        (dist.nodes, dist.gpus_per_node)


def _broken_trainjobs(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], str]]:
    d = copy.deepcopy(doc)
    del d["spec"]["runtimeRef"]
    yield "missing runtimeRef", d, "'runtimeRef' is a required property"

    d = copy.deepcopy(doc)
    del d["spec"]["runtimeRef"]["name"]
    yield "runtimeRef without name", d, "'name' is a required property"

    d = copy.deepcopy(doc)
    d["spec"]["trainer"]["numGPUs"] = 8
    yield "unknown trainer field", d, "'numGPUs' was unexpected"

    d = copy.deepcopy(doc)
    d["spec"]["trainer"]["numNodes"] = "two"
    yield "numNodes is a string", d, "is not of type 'integer'"

    d = copy.deepcopy(doc)
    d["spec"]["podTemplateOverrides"] = []  # the field's name in Trainer v2.1, not in this CRD
    yield "podTemplateOverrides", d, "'podTemplateOverrides' was unexpected"

    d = copy.deepcopy(doc)
    pod = d["spec"]["runtimePatches"][0]["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"][0]
    pod["template"]["spec"]["template"]["spec"]["hostNetwork"] = True  # not a field a runtime patch may set
    yield "runtime patch outside its allowed fields", d, "'hostNetwork' was unexpected"

    d = copy.deepcopy(doc)
    del d["spec"]["runtimePatches"][0]["manager"]
    yield "runtime patch without manager", d, "'manager' is a required property"

    d = copy.deepcopy(doc)
    d["spec"]["trainer"]["resourcesPerNode"]["requests"]["memory"] = "plenty"
    yield "malformed quantity", d, "does not match"


@pytest.mark.parametrize("preset", H100_PRESETS[:1], ids=lambda p: p.stem)
def test_crd_validation_rejects_broken_trainjobs(preset: Path) -> None:
    job = _trainjob(preset)
    assert not _crd_errors(job), "the unmodified TrainJob must validate"
    for what, broken, fragment in _broken_trainjobs(job):
        _assert_rejected(broken, fragment, what)


def test_default_trainconfig_builds_a_valid_single_gpu_trainjob() -> None:
    files = trainjob.job_files("/checkpoints", "empathy-train-x")
    job = trainjob.build_trainjob(TrainConfig(), name="empathy-train-x", namespace="empathy-dev", image="",
                                  runtime=RUNTIME, pvc="empathy-checkpoints", mount="/checkpoints",
                                  command=trainjob.train_command(files, "http://mlflow:5000"))
    assert not _crd_errors(job)
