"""Multi-GPU / multi-node training as a Kubeflow Trainer TrainJob, without a cluster.

No Kubernetes API server can run here, so `FakeTrainerApi` stands in for the
kubernetes CustomObjectsApi (and `FakePods` for CoreV1Api's pod listing), as
tests/unit/test_deploy.py does for the InferenceService: it stores the
TrainJob it is given and answers reads with a scripted sequence of statuses.
The wait loop runs on a fake clock, so timeouts take no time. The component
test calls the KFP component's Python function with a directory standing in
for the checkpoint PVC and a SQLite MLflow store.

    .venv/bin/python -m pytest -q tests/unit/test_trainjob.py
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from empathy.config import RegistryConfig, TrainConfig, load_train_config
from empathy.errors import UserError
from empathy.train import trainjob
from empathy.train.trainjob import TrainJobFailed, TrainJobOptions

NS, NAME = "empathy-dev", "empathy-train-run-1-0123abcd"
H100_PRESETS = sorted(Path(__file__).resolve().parents[2].glob("configs/train/*-h100.yaml"))


def _condition(kind: str, status: str = "True", reason: str = "", message: str = "") -> dict:
    return {"type": kind, "status": status, "reason": reason, "message": message,
            "lastTransitionTime": "2026-11-25T10:00:00Z"}


CREATED = _condition("Created", reason="JobsCreationSucceeded", message="succeeded to create Jobs")
RUNNING = {"conditions": [CREATED], "jobsStatus": [{"name": "node", "active": 2, "ready": 2, "succeeded": 0,
                                                     "failed": 0, "suspended": 0}]}
COMPLETE = {"conditions": [CREATED, _condition("Complete", reason="JobSetCompleted", message="jobset completed")]}
FAILED = {"conditions": [CREATED, _condition("Failed", reason="FailedJobs",
                                             message="jobset failed: job node-1 reached its backoff limit")]}


class FakeTrainerApi:
    """Stores TrainJobs like the API server; the n-th read after creation returns statuses[n] (the last repeats).

    An entry of `statuses` that is an ApiException is raised instead; `on_complete` runs once when a read
    returns a Complete condition, standing in for what the pods write on the PVC.
    """

    def __init__(self, statuses: list, on_complete=None):
        self.statuses = list(statuses)
        self.objects: dict[tuple[str, str], dict] = {}
        self.reads = 0
        self.creates: list[dict] = []
        self.on_complete = on_complete

    def create_namespaced_custom_object(self, group, version, namespace, plural, body):
        assert (group, version, plural) == ("trainer.kubeflow.org", "v1alpha1", "trainjobs")
        key = (namespace, body["metadata"]["name"])
        if key in self.objects:
            raise ApiException(status=409, reason="Conflict")
        self.creates.append(copy.deepcopy(body))
        self.objects[key] = copy.deepcopy(body)

    def get_namespaced_custom_object(self, group, version, namespace, plural, name):
        if (namespace, name) not in self.objects:
            raise ApiException(status=404, reason="Not Found")
        status = self.statuses[min(self.reads, len(self.statuses) - 1)]
        self.reads += 1
        if isinstance(status, ApiException):
            raise status
        obj = copy.deepcopy(self.objects[(namespace, name)])
        if status is not None:
            obj["status"] = copy.deepcopy(status)
        if self.on_complete and any(c["type"] == "Complete" for c in (status or {}).get("conditions", [])):
            self.on_complete()
            self.on_complete = None
        return obj


def _pod(name: str, phase: str, restarts: int = 0, last_reason: str | None = None) -> k8s.V1Pod:
    last = k8s.V1ContainerState(terminated=k8s.V1ContainerStateTerminated(exit_code=137, reason=last_reason)) \
        if last_reason else k8s.V1ContainerState()
    status = k8s.V1ContainerStatus(name="node", image="img", image_id="", ready=phase == "Running",
                                   restart_count=restarts, last_state=last, state=k8s.V1ContainerState())
    return k8s.V1Pod(metadata=k8s.V1ObjectMeta(name=name),
                     status=k8s.V1PodStatus(phase=phase, container_statuses=[status]))


class FakePods:
    """CoreV1Api.list_namespaced_pod, answering with a scripted pod list per call (the last repeats)."""

    def __init__(self, lists: list):
        self.lists, self.calls = lists, 0
        self.selectors: list[str] = []

    def list_namespaced_pod(self, namespace, label_selector):
        self.selectors.append(label_selector)
        pods = self.lists[min(self.calls, len(self.lists) - 1)]
        self.calls += 1
        if isinstance(pods, ApiException):
            raise pods
        return k8s.V1PodList(items=pods)


class FakeClock:
    def __init__(self):
        self.now, self.sleeps = 0.0, []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _created(api: FakeTrainerApi) -> None:
    job = trainjob.build_trainjob(TrainConfig(), name=NAME, namespace=NS, image="", runtime="empathy-torch-h100",
                                  pvc="empathy-checkpoints", mount="/checkpoints", command=["torchrun"])
    trainjob.create_trainjob(api, job)


def _wait(api, timeout_s=3600.0, pods=None):
    clock, lines = FakeClock(), []
    status = trainjob.wait_for_trainjob(api, NS, NAME, timeout_s, poll_s=30, emit=lines.append, pods_api=pods,
                                        clock=clock, sleep=clock.sleep)
    return status, lines, clock


# --------------------------------------------------------------------------
# building


@pytest.mark.parametrize("preset", H100_PRESETS, ids=lambda p: p.stem)
def test_trainjob_asks_for_the_presets_nodes_and_gpus(preset):
    config = load_train_config(preset)
    dist = config.distributed
    files = trainjob.job_files("/checkpoints", NAME)
    job = trainjob.build_trainjob(config, name=NAME, namespace=NS, image="ghcr.io/empathy-mlops/empathy-train:0.1.0",
                                  runtime="empathy-torch-h100", pvc="empathy-checkpoints", mount="/checkpoints",
                                  command=trainjob.train_command(files, "http://mlflow:5000"))
    trainer = job["spec"]["trainer"]
    assert (trainer["numNodes"], trainer["numProcPerNode"]) == (dist.nodes, dist.gpus_per_node)
    resources = trainer["resourcesPerNode"]
    assert resources["requests"]["nvidia.com/gpu"] == resources["limits"]["nvidia.com/gpu"] == str(dist.gpus_per_node)
    assert "cpu" not in resources["limits"]
    assert trainer["command"][:4] == ["torchrun", "-m", "empathy.cli", "train"]
    assert trainer["command"][4:] == ["--config", files.config, "--data", files.data, "--out", files.model,
                                      "--tracking-uri", "http://mlflow:5000", "--resume"]
    assert job["spec"]["runtimeRef"] == {"apiGroup": "trainer.kubeflow.org", "kind": "ClusterTrainingRuntime",
                                         "name": "empathy-torch-h100"}
    # the preset's checkpoint_dir is on the PVC, so the pods keep it as it is
    assert trainjob.pod_train_config(config, files, "/checkpoints").checkpoint_dir == config.checkpoint_dir


def test_empty_image_keeps_the_runtimes():
    job = trainjob.build_trainjob(TrainConfig(), name=NAME, namespace=NS, image="", runtime="r", pvc="p",
                                  mount="/checkpoints", command=["torchrun"])
    assert "image" not in job["spec"]["trainer"] and "env" not in job["spec"]["trainer"]


def test_pvc_is_patched_into_the_node_pods():
    job = trainjob.build_trainjob(TrainConfig(), name=NAME, namespace=NS, image="", runtime="r", pvc="my-pvc",
                                  mount="/ckpt", command=["torchrun"], env={"MLFLOW_RUN_ID": "abc"},
                                  active_deadline_s=7200)
    (patch,) = job["spec"]["runtimePatches"]
    (node,) = patch["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"]
    pod = node["template"]["spec"]["template"]["spec"]
    assert node["name"] == "node"
    assert pod["volumes"] == [{"name": "checkpoints", "persistentVolumeClaim": {"claimName": "my-pvc"}}]
    assert pod["containers"] == [{"name": "node", "volumeMounts": [{"name": "checkpoints", "mountPath": "/ckpt"}]}]
    assert job["spec"]["activeDeadlineSeconds"] == 7200
    assert trainjob.env_value(job, "MLFLOW_RUN_ID") == "abc"


def test_pods_command_trains_on_the_staged_files_and_resumes(tmp_path, monkeypatch):
    """The contract with the CLI: what follows `torchrun -m empathy.cli` in the pods reads the training config
    and splits the step staged on the PVC, logs to the given tracking URI, and resumes from checkpoints."""
    import inspect

    from empathy import cli, stages

    splits = tmp_path / "splits"
    splits.mkdir()
    for split in ("train.jsonl", "val.jsonl"):
        (splits / split).write_text("")
    files = trainjob.job_files(str(tmp_path / "pvc"), NAME)
    preset = load_train_config(H100_PRESETS[0]).model_copy(update={"checkpoint_dir": None})
    config = trainjob.pod_train_config(preset, files, str(tmp_path / "pvc"))
    trainjob.stage_inputs(splits, files, config)
    signature, seen = inspect.signature(stages.train), {}
    monkeypatch.setattr(stages, "train", lambda *a, **kw: seen.update(signature.bind(*a, **kw).arguments) or {})
    command = trainjob.train_command(files, "sqlite:///pods.db")
    assert command[:3] == ["torchrun", "-m", "empathy.cli"]
    try:
        args = cli.build_parser().parse_args(command[3:])
        args.func(args)
    except (SystemExit, UserError) as exc:
        pytest.fail(f"`empathy {' '.join(command[3:])}` fails ({exc}): the TrainJob's pods need `empathy train` to "
                    "take a training preset with --config, and --resume")
    assert seen["config"] == config
    assert (seen["train_path"], seen["val_path"]) == (f"{files.data}/train.jsonl", f"{files.data}/val.jsonl")
    assert seen["out_dir"] == files.model and seen["registry"].tracking_uri == "sqlite:///pods.db"
    assert seen["resume"] is True


def test_job_names_are_dns_labels_and_stable():
    long_run = "Empathy_Training 2026-11-25 12:00:00 " + "x" * 80
    name = trainjob.job_name(long_run)
    assert len(name) <= 63 and name == trainjob.job_name(long_run)
    trainjob.check_job_name(name)
    assert trainjob.job_name("run-a") != trainjob.job_name("run-b")
    for bad in ("Upper", "9starts-with-digit", "ends-", "x" * 64):
        with pytest.raises(UserError, match="RFC 1035"):
            trainjob.check_job_name(bad)


def test_checkpoints_off_the_pvc_are_refused_and_missing_ones_default_onto_it():
    files = trainjob.job_files("/checkpoints", NAME)
    with pytest.raises(UserError, match="not on the checkpoint PVC mounted at /checkpoints"):
        trainjob.pod_train_config(TrainConfig(checkpoint_dir="/tmp/ckpt"), files, "/checkpoints")
    assert trainjob.pod_train_config(TrainConfig(), files, "/checkpoints").checkpoint_dir == files.checkpoints


# --------------------------------------------------------------------------
# the API: create, conflict, wait


def test_conflict_names_the_existing_job():
    api = FakeTrainerApi([None])
    _created(api)
    with pytest.raises(UserError, match=f"TrainJob {NS}/{NAME} already exists.*kubectl delete trainjob -n {NS} {NAME}"):
        _created(api)


def test_other_create_errors_carry_the_servers_message():
    class Rejecting(FakeTrainerApi):
        def create_namespaced_custom_object(self, *args):
            raise ApiException(http_resp=type("R", (), {"status": 422, "reason": "Unprocessable Entity",
                                                         "data": json.dumps({"message": "runtime not found"}).encode(),
                                                         "getheaders": lambda self: {}})())

    with pytest.raises(TrainJobFailed, match=r"creating TrainJob .* failed: HTTP 422 .*runtime not found"):
        _created(Rejecting([None]))


def test_success_streams_each_change_once():
    api = FakeTrainerApi([None, {"conditions": [CREATED]}, RUNNING, RUNNING, COMPLETE])
    pods = FakePods([[], [_pod(f"{NAME}-node-0-0-a", "Pending")], [_pod(f"{NAME}-node-0-0-a", "Running")]])
    _created(api)
    status, lines, clock = _wait(api, pods=pods)
    assert any(c["type"] == "Complete" for c in status["conditions"])
    assert clock.sleeps == [30, 30, 30, 30]
    text = "\n".join(lines)
    assert text.count("condition Created: Created=True (JobsCreationSucceeded") == 1
    assert text.count("jobs node: active 2, ready 2") == 1
    assert f"pod {NAME}-node-0-0-a: Pending, restarts 0" in text
    assert f"pod {NAME}-node-0-0-a: Running, restarts 0" in text
    assert "Complete=True (JobSetCompleted: jobset completed)" in text
    assert all(line.startswith(f"TrainJob {NS}/{NAME}: ") for line in lines)
    assert pods.selectors[0] == f"jobset.sigs.k8s.io/jobset-name={NAME}"


def test_failed_condition_raises_with_reason_message_and_pods():
    api = FakeTrainerApi([RUNNING, FAILED])
    pods = FakePods([[_pod(f"{NAME}-node-1-0-b", "Failed", restarts=1, last_reason="OOMKilled")]])
    _created(api)
    with pytest.raises(TrainJobFailed) as info:
        _wait(api, pods=pods)
    message = str(info.value)
    assert f"TrainJob {NS}/{NAME} failed: FailedJobs: jobset failed: job node-1 reached its backoff limit" in message
    assert "restarts 1, last exit: OOMKilled (137)" in message


def test_timeout_names_the_job_and_its_last_condition():
    api = FakeTrainerApi([{"conditions": [CREATED, _condition("Suspended", reason="Suspended",
                                                              message="waiting for quota")]}])
    _created(api)
    with pytest.raises(TrainJobFailed) as info:
        _wait(api, timeout_s=100)
    message = str(info.value)
    assert f"TrainJob {NS}/{NAME} did not complete within 100 s" in message
    assert "Suspended=True (Suspended: waiting for quota)" in message
    assert f"kubectl delete trainjob -n {NS} {NAME}" in message


def test_transient_api_errors_are_ridden_out_and_a_deleted_job_is_reported():
    api = FakeTrainerApi([ApiException(status=503, reason="Service Unavailable"), COMPLETE])
    _created(api)
    _, lines, _ = _wait(api)
    assert any("HTTP 503 Service Unavailable; retrying" in line for line in lines)
    with pytest.raises(TrainJobFailed, match="disappeared"):
        _wait(FakeTrainerApi([None]))
    forbidden = FakeTrainerApi([ApiException(status=403, reason="Forbidden")])
    _created(forbidden)
    with pytest.raises(TrainJobFailed, match=f"reading TrainJob {NS}/{NAME} failed: HTTP 403 Forbidden"):
        _wait(forbidden)


def test_pods_forbidden_is_said_once_and_the_job_still_followed():
    api = FakeTrainerApi([RUNNING, RUNNING, COMPLETE])
    pods = FakePods([ApiException(status=403, reason="Forbidden")])
    _created(api)
    _, lines, _ = _wait(api, pods=pods)
    assert sum("pod status not shown" in line for line in lines) == 1
    assert pods.calls == 1


# --------------------------------------------------------------------------
# the KFP component, end to end against the fakes


@pytest.fixture
def setup(tmp_path, monkeypatch):
    """Splits, a PVC directory, a SQLite MLflow store, and the fakes in place of the cluster."""
    splits = tmp_path / "splits"
    splits.mkdir()
    (splits / "train.jsonl").write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    (splits / "val.jsonl").write_text("")
    pvc = tmp_path / "pvc"
    registry = RegistryConfig(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}", experiment="trainjob-test")

    def install(statuses, reuse_existing=False, existing=None):
        name = trainjob.job_name("run-1")
        model_dir = pvc / "trainjobs" / name / "model"

        def pods_write_the_model():
            model_dir.mkdir(parents=True)
            (model_dir / "train_result.json").write_text(json.dumps({"steps": 40, "final_train_loss": 1.5}))
            (model_dir / "adapter").mkdir()

        api = FakeTrainerApi(statuses, on_complete=pods_write_the_model)
        if existing is not None:
            api.objects[(NS, name)] = existing
        monkeypatch.setattr(trainjob, "kube_apis", lambda: (api, FakePods([[]])))
        return api, name

    return splits, pvc, registry, install


def _run_component(splits, pvc, registry, tmp_path, reuse_existing=False):
    from kfp import dsl

    from components.train_job.component import train_job

    model = dsl.Model(uri=str(tmp_path / "model"))
    metrics = dsl.Metrics(uri=str(tmp_path / "metrics"))
    config = TrainConfig(distributed={"strategy": "fsdp", "nodes": 2, "gpus_per_node": 8}).params()
    run_id = train_job.python_func(
        splits=dsl.Dataset(uri=str(splits)), config=config, registry_config=registry.params(), pipeline_run="run-1",
        model=model, metrics=metrics, checkpoint_mount=str(pvc), namespace=NS, timeout_s=600.0,
        poll_s=0.0, reuse_existing=reuse_existing,
    )
    return run_id, model, metrics


@pytest.mark.slow
def test_component_trains_through_a_trainjob(setup, tmp_path):
    import mlflow

    splits, pvc, registry, install = setup
    api, name = install([None, RUNNING, COMPLETE])
    run_id, model, metrics = _run_component(splits, pvc, registry, tmp_path)
    (job,) = api.creates
    assert job["metadata"] == {"name": name, "namespace": NS, "labels": trainjob.LABELS}
    assert (job["spec"]["trainer"]["numNodes"], job["spec"]["trainer"]["numProcPerNode"]) == (2, 8)
    assert job["spec"]["activeDeadlineSeconds"] == 600
    assert trainjob.env_value(job, "MLFLOW_RUN_ID") == run_id
    staged = pvc / "trainjobs" / name
    assert (staged / "data" / "train.jsonl").read_text() == (splits / "train.jsonl").read_text()
    pod_config = load_train_config(staged / "config.yaml")  # what `empathy train --config` reads in the pods
    assert pod_config.checkpoint_dir == str(staged / "checkpoints")
    assert pod_config.distributed.world_size == 16
    assert job["spec"]["trainer"]["command"][-3:] == ["--tracking-uri", registry.tracking_uri, "--resume"]
    assert (Path(model.path) / "adapter").is_dir()
    assert metrics.metadata == {"steps": 40, "final_train_loss": 1.5}
    run = mlflow.MlflowClient(registry.tracking_uri).get_run(run_id)
    assert run.data.tags["pipeline_run"] == "run-1" and run.data.tags["trainjob"] == f"{NS}/{name}"
    assert run.info.run_name == "train-run-1"


@pytest.mark.slow
def test_component_fails_clearly_and_marks_the_run_failed(setup, tmp_path):
    import mlflow

    splits, pvc, registry, install = setup
    api, name = install([RUNNING, FAILED])
    with pytest.raises(TrainJobFailed, match=f"TrainJob {NS}/{name} failed: FailedJobs"):
        _run_component(splits, pvc, registry, tmp_path)
    run_id = trainjob.env_value(api.creates[0], "MLFLOW_RUN_ID")
    assert mlflow.MlflowClient(registry.tracking_uri).get_run(run_id).info.status == "FAILED"


@pytest.mark.slow
def test_component_refuses_an_existing_job_unless_asked_to_reuse_it(setup, tmp_path):
    splits, pvc, registry, install = setup
    earlier_run = trainjob.start_run(registry, "train-run-1", {"pipeline_run": "run-1"})
    existing = trainjob.build_trainjob(TrainConfig(), name=trainjob.job_name("run-1"), namespace=NS, image="",
                                       runtime="r", pvc="p", mount=str(pvc), command=["torchrun"],
                                       env={"MLFLOW_RUN_ID": earlier_run})
    api, name = install([COMPLETE], existing=existing)
    with pytest.raises(UserError, match=f"TrainJob {NS}/{name} already exists"):
        _run_component(splits, pvc, registry, tmp_path)
    assert api.creates == []
    run_id, model, _ = _run_component(splits, pvc, registry, tmp_path, reuse_existing=True)
    assert run_id == earlier_run and api.creates == []
    assert (Path(model.path) / "train_result.json").is_file()


@pytest.mark.slow
def test_reuse_refuses_a_job_this_step_did_not_create(setup, tmp_path):
    splits, pvc, registry, install = setup
    foreign = trainjob.build_trainjob(TrainConfig(), name=trainjob.job_name("run-1"), namespace=NS, image="",
                                      runtime="r", pvc="p", mount=str(pvc), command=["torchrun"])
    install([COMPLETE], existing=foreign)
    with pytest.raises(UserError, match="has no MLFLOW_RUN_ID"):
        _run_component(splits, pvc, registry, tmp_path, reuse_existing=True)


@pytest.mark.slow
def test_a_rejected_create_marks_the_run_failed(setup, tmp_path, monkeypatch):
    import mlflow

    splits, pvc, registry, install = setup
    api, name = install([COMPLETE])
    sent = []

    def reject(group, version, namespace, plural, body):
        sent.append(body)
        raise ApiException(status=404, reason="Not Found")  # what the API answers before the Trainer's CRDs exist

    monkeypatch.setattr(api, "create_namespaced_custom_object", reject)
    with pytest.raises(TrainJobFailed, match=f"creating TrainJob {NS}/{name} .*HTTP 404"):
        _run_component(splits, pvc, registry, tmp_path)
    run_id = trainjob.env_value(sent[0], "MLFLOW_RUN_ID")
    assert mlflow.MlflowClient(registry.tracking_uri).get_run(run_id).info.status == "FAILED"
