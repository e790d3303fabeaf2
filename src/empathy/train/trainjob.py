"""Kubeflow Trainer v2 TrainJobs: LoRA fine-tuning on several GPUs and nodes.

Why it exists: a KFP task is one pod on one node, and the H100 presets need
more (configs/train/mixtral-8x7b-lora-h100.yaml shards over two nodes of
8 x H100). Kubeflow Trainer runs one pod per node and torchrun in each. This
module builds the TrainJob from a `TrainConfig` (numNodes =
distributed.nodes, numProcPerNode = distributed.gpus_per_node, GPUs per
node), creates it with the kubernetes client, follows it until it completes
or fails, and reports what changes on the way: conditions, child jobs,
progress, pod phases and restarts.

The TrainJob names the ClusterTrainingRuntime `empathy-torch-h100`
(kustomize/components/training). Its torch mlPolicy gives every node
PET_NNODES, PET_NPROC_PER_NODE, PET_NODE_RANK, PET_MASTER_ADDR and
PET_MASTER_PORT. torchrun reads those as its defaults and starts one process
per GPU with RANK, LOCAL_RANK and WORLD_SIZE set, so the pods run
`torchrun -m empathy.cli train ... --resume`: a JobSet recreated after a
node failed continues from the newest checkpoint, and a first attempt finds
none and starts at step 0. Files travel on the checkpoint PVC, which the
pipeline step and every node mount at the same path:

    <mount>/trainjobs/<job>/config.yaml   the training config (`empathy train --config`)
    <mount>/trainjobs/<job>/data/         train.jsonl and val.jsonl from split
    <mount>/trainjobs/<job>/model/        the fine-tuned model (`empathy train --out`)
    <mount>/trainjobs/<job>/checkpoints/  used when the config sets no checkpoint_dir

The pods log to an MLflow run that the step creates first (MLFLOW_RUN_ID),
so the step can return the run id as the in-pod train step does.

Called by components/train_job. From a pod that mounts the PVC:

    from empathy.train import trainjob
    opts = trainjob.TrainJobOptions(name=trainjob.job_name("my-run"), namespace="empathy-dev")
    trainjob.run_trainjob("runs/x/data", train_config, registry_config, "runs/x/model", opts, pipeline_run="my-run")

Tested without a cluster: tests/unit/test_trainjob.py (a fake API, a fake clock) and
tests/manifests/test_trainjob_manifests.py (the TrainJob against the Trainer CRD in ../shared/crds).
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable

import yaml

from empathy.config import RegistryConfig, TrainConfig
from empathy.errors import UserError
from empathy.io import read_json, stable_hash

log = logging.getLogger(__name__)

TJ_GROUP, TJ_VERSION, TJ_PLURAL = "trainer.kubeflow.org", "v1alpha1", "trainjobs"
RUNTIME_KIND = "ClusterTrainingRuntime"
DEFAULT_RUNTIME = "empathy-torch-h100"
DEFAULT_PVC = "empathy-checkpoints"
DEFAULT_MOUNT = "/checkpoints"
GPU_RESOURCE = "nvidia.com/gpu"
# The runtime's replicated job and its container are both called "node".
NODE = "node"
VOLUME = "checkpoints"
PATCH_MANAGER = "empathy.train.trainjob"
# JobSet labels every pod it creates with the JobSet's name, which is the TrainJob's.
POD_SELECTOR = "jobset.sigs.k8s.io/jobset-name"
SA_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
LABELS = {"app.kubernetes.io/name": "empathy", "app.kubernetes.io/part-of": "empathy",
          "app.kubernetes.io/component": "training"}
# An H100 node (8 GPUs) has about 200 vCPUs and 2 TiB: ask for a share per GPU,
# leaving room for the node's own daemons.
CPU_PER_GPU = 12
MEMORY_GI_PER_GPU = 120
# Scheduling, image pull and the base model's download come on top of the training time.
START_ALLOWANCE_S = 3600.0
# Errors of the API server worth waiting out during a wait of hours.
TRANSIENT_STATUS = {429, 500, 502, 503, 504}
MAX_TRANSIENT_ERRORS = 5
_DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")

Emit = Callable[[str], None]


class TrainJobFailed(RuntimeError):
    """The TrainJob failed, vanished or did not finish in time; the message names it and says why."""


@dataclass(frozen=True)
class TrainJobOptions:
    """Where a TrainJob runs and how it is followed (the train-job component's parameters)."""

    name: str
    namespace: str
    runtime: str = DEFAULT_RUNTIME
    image: str = ""  # empty: the runtime's image
    pvc: str = DEFAULT_PVC
    mount: str = DEFAULT_MOUNT
    timeout_s: float = 0.0  # 0: the config's max_wall_hours plus START_ALLOWANCE_S
    poll_s: float = 30.0
    reuse_existing: bool = False


@dataclass(frozen=True)
class JobFiles:
    """Paths on the checkpoint PVC, the same in the step's pod and in the TrainJob's pods."""

    root: str
    config: str
    data: str
    model: str
    checkpoints: str


# --------------------------------------------------------------------------
# building the TrainJob (pure)


def job_name(pipeline_run: str, prefix: str = "train") -> str:
    """A TrainJob name for a pipeline run: an RFC 1035 label of at most 63 characters.

    Deterministic, so a retried pipeline step finds the job its first try created.
    """
    slug = re.sub(r"[^a-z0-9-]+", "-", pipeline_run.lower()).strip("-")
    suffix = stable_hash(pipeline_run)[:8]
    head = f"{prefix}-{slug}"[: 63 - len(suffix) - 1].rstrip("-")
    return f"{head}-{suffix}"


def check_job_name(name: str) -> None:
    if len(name) > 63 or not _DNS_LABEL.match(name):
        raise UserError(f"TrainJob name {name!r}: must be a lowercase RFC 1035 label (a-z, 0-9, '-', "
                        "starting with a letter) of at most 63 characters")


def job_files(mount: str, name: str) -> JobFiles:
    root = PurePosixPath(mount) / "trainjobs" / name
    return JobFiles(str(root), str(root / "config.yaml"), str(root / "data"), str(root / "model"),
                    str(root / "checkpoints"))


def pod_train_config(config: TrainConfig, files: JobFiles, mount: str) -> TrainConfig:
    """The config the pods train with: checkpoints on the PVC, so a restarted job finds them."""
    if config.checkpoint_dir is None:
        return config.model_copy(update={"checkpoint_dir": files.checkpoints})
    if not PurePosixPath(config.checkpoint_dir).is_relative_to(mount):
        raise UserError(f"train.checkpoint_dir {config.checkpoint_dir}: not on the checkpoint PVC mounted at "
                        f"{mount}; checkpoints written elsewhere are lost when a TrainJob pod restarts")
    return config


def train_command(files: JobFiles, tracking_uri: str) -> list[str]:
    """What every node runs; torchrun takes its node count, rank and rendezvous from the PET_* variables."""
    return ["torchrun", "-m", "empathy.cli", "train", "--config", files.config, "--data", files.data,
            "--out", files.model, "--tracking-uri", tracking_uri, "--resume"]


def resources_per_node(gpus: int) -> dict[str, dict[str, str]]:
    """GPUs, with CPU and memory in proportion. No CPU limit: throttled data loading would starve the GPUs."""
    cpu, memory = str(CPU_PER_GPU * gpus), f"{MEMORY_GI_PER_GPU * gpus}Gi"
    return {"requests": {"cpu": cpu, "memory": memory, GPU_RESOURCE: str(gpus)},
            "limits": {"memory": memory, GPU_RESOURCE: str(gpus)}}


def _pvc_patch(pvc: str, mount: str) -> dict[str, Any]:
    """Adds the checkpoint PVC to the runtime's "node" pods (the runtime is cluster-scoped, the PVC is not)."""
    pod = {"volumes": [{"name": VOLUME, "persistentVolumeClaim": {"claimName": pvc}}],
           "containers": [{"name": NODE, "volumeMounts": [{"name": VOLUME, "mountPath": mount}]}]}
    job = {"name": NODE, "template": {"spec": {"template": {"spec": pod}}}}
    return {"manager": PATCH_MANAGER, "trainingRuntimeSpec": {"template": {"spec": {"replicatedJobs": [job]}}}}


def build_trainjob(config: TrainConfig, *, name: str, namespace: str, image: str, runtime: str, pvc: str, mount: str,
                   command: list[str], env: dict[str, str] | None = None,
                   active_deadline_s: int | None = None) -> dict[str, Any]:
    """The TrainJob object (trainer.kubeflow.org/v1alpha1) for `config.distributed`; image "" keeps the runtime's."""
    check_job_name(name)
    dist = config.distributed
    trainer: dict[str, Any] = {
        "command": list(command),
        "numNodes": dist.nodes,
        "numProcPerNode": dist.gpus_per_node,
        "resourcesPerNode": resources_per_node(dist.gpus_per_node),
    }
    if image:
        trainer["image"] = image
    if env:
        trainer["env"] = [{"name": k, "value": v} for k, v in env.items()]
    spec: dict[str, Any] = {
        "runtimeRef": {"apiGroup": TJ_GROUP, "kind": RUNTIME_KIND, "name": runtime},
        "trainer": trainer,
        "runtimePatches": [_pvc_patch(pvc, mount)],
    }
    if active_deadline_s:
        spec["activeDeadlineSeconds"] = int(active_deadline_s)
    return {"apiVersion": f"{TJ_GROUP}/{TJ_VERSION}", "kind": "TrainJob",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(LABELS)}, "spec": spec}


def default_timeout_s(config: TrainConfig) -> float:
    """Training stops itself after max_wall_hours; allow for getting it started too."""
    return config.max_wall_hours * 3600 + START_ALLOWANCE_S


def timeout_of(opts: TrainJobOptions, config: TrainConfig) -> float:
    """How long the step waits, and the TrainJob's activeDeadlineSeconds, so the cluster stops it too."""
    return opts.timeout_s or default_timeout_s(config)


def env_value(job: dict[str, Any], name: str) -> str | None:
    for var in (job.get("spec") or {}).get("trainer", {}).get("env") or []:
        if var.get("name") == name:
            return var.get("value")
    return None


# --------------------------------------------------------------------------
# the Kubernetes API


def own_namespace(path: str | Path = SA_NAMESPACE_FILE) -> str:
    """The namespace this pod runs in: where the PVC it mounts lives, so where the TrainJob must run."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"no TrainJob namespace given and {p} does not exist (not running in a pod): pass a namespace")
    return p.read_text().strip()


def kube_apis() -> tuple[Any, Any]:
    """(CustomObjectsApi, CoreV1Api) from the in-cluster config, else a kubeconfig."""
    from kubernetes import client, config as kube_config

    try:
        kube_config.load_incluster_config()
    except kube_config.ConfigException:
        kube_config.load_kube_config()
    return client.CustomObjectsApi(), client.CoreV1Api()


def api_message(exc: Any) -> str:
    """The API server's own words for a failed call (its JSON Status message), else the HTTP reason."""
    try:
        message = json.loads(exc.body or "{}").get("message")
    except (TypeError, ValueError):
        message = None
    return f"HTTP {exc.status} {exc.reason}: {message or exc.body or ''}".strip().rstrip(":")


def get_trainjob(api: Any, namespace: str, name: str) -> dict[str, Any] | None:
    from kubernetes.client.exceptions import ApiException

    try:
        return api.get_namespaced_custom_object(TJ_GROUP, TJ_VERSION, namespace, TJ_PLURAL, name)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise TrainJobFailed(f"reading TrainJob {namespace}/{name} failed: {api_message(exc)}") from None


def _exists_error(namespace: str, name: str) -> UserError:
    return UserError(f"TrainJob {namespace}/{name} already exists: reuse it (reuse_existing) or delete it first "
                     f"(kubectl delete trainjob -n {namespace} {name})")


def create_trainjob(api: Any, job: dict[str, Any]) -> None:
    from kubernetes.client.exceptions import ApiException

    namespace, name = job["metadata"]["namespace"], job["metadata"]["name"]
    try:
        api.create_namespaced_custom_object(TJ_GROUP, TJ_VERSION, namespace, TJ_PLURAL, job)
    except ApiException as exc:
        if exc.status == 409:
            raise _exists_error(namespace, name) from None
        raise TrainJobFailed(f"creating TrainJob {namespace}/{name} (runtime {job['spec']['runtimeRef']['name']}) "
                             f"failed: {api_message(exc)}") from None


# --------------------------------------------------------------------------
# following a TrainJob


def _conditions(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c.get("type"): c for c in (obj.get("status") or {}).get("conditions") or []}


def _is_true(conditions: dict[str, dict[str, Any]], kind: str) -> bool:
    return conditions.get(kind, {}).get("status") == "True"


def _describe(condition: dict[str, Any]) -> str:
    text = f"{condition.get('type')}={condition.get('status')}"
    reason, message = condition.get("reason"), condition.get("message")
    return text + (f" ({reason}{': ' + message if message else ''})" if reason or message else "")


def job_state(obj: dict[str, Any]) -> dict[str, str]:
    """What is worth reporting about a TrainJob, keyed so that a change of one part is one line."""
    status = obj.get("status") or {}
    state = {f"condition {c}": _describe(v) for c, v in _conditions(obj).items()}
    for job in status.get("jobsStatus") or []:
        counts = ", ".join(f"{k} {job.get(k, 0)}" for k in ("active", "ready", "succeeded", "failed", "suspended"))
        state[f"jobs {job.get('name')}"] = counts
    trainer = status.get("trainerStatus") or {}
    if trainer.get("progressPercentage") is not None:
        left = trainer.get("estimatedRemainingSeconds")
        state["progress"] = f"{trainer['progressPercentage']}%" + (f", about {left} s left" if left is not None else "")
    return state


def _pod_line(pod: Any) -> str:
    statuses = (pod.status.container_statuses or []) if pod.status else []
    restarts = sum(s.restart_count or 0 for s in statuses)
    line = f"{pod.status.phase if pod.status else 'Unknown'}, restarts {restarts}"
    for s in statuses:
        waiting = s.state.waiting if s.state else None
        last = s.last_state.terminated if s.last_state else None
        if waiting and waiting.reason:
            line += f", waiting: {waiting.reason}"
        if last and last.reason:
            line += f", last exit: {last.reason} ({last.exit_code})"
    return line


def pod_state(pods_api: Any, namespace: str, name: str) -> dict[str, str]:
    pods = pods_api.list_namespaced_pod(namespace, label_selector=f"{POD_SELECTOR}={name}").items
    return {f"pod {p.metadata.name}": _pod_line(p) for p in pods}


def changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    lines = [f"{key}: {value}" for key, value in after.items() if before.get(key) != value]
    return lines + [f"{key}: gone" for key in before if key not in after]


class _Follower:
    """Reads a TrainJob (and its pods) and emits each change once; rides out brief API server trouble."""

    def __init__(self, api: Any, namespace: str, name: str, emit: Emit, pods_api: Any = None):
        self.api, self.namespace, self.name, self.emit, self.pods_api = api, namespace, name, emit, pods_api
        self.state: dict[str, str] = {}
        self.transient_errors = 0

    @property
    def what(self) -> str:
        return f"TrainJob {self.namespace}/{self.name}"

    def read(self) -> dict[str, Any] | None:
        """The object, or None after a transient API error (it is read again next poll)."""
        from kubernetes.client.exceptions import ApiException

        try:
            obj = self.api.get_namespaced_custom_object(TJ_GROUP, TJ_VERSION, self.namespace, TJ_PLURAL, self.name)
        except ApiException as exc:
            if exc.status == 404:
                raise TrainJobFailed(f"{self.what} disappeared while it was followed (deleted?)") from None
            self.transient_errors += 1
            if exc.status not in TRANSIENT_STATUS or self.transient_errors > MAX_TRANSIENT_ERRORS:
                raise TrainJobFailed(f"reading {self.what} failed: {api_message(exc)}") from None
            self.emit(f"{self.what}: API server answered {api_message(exc)}; retrying")
            return None
        self.transient_errors = 0
        self.report(job_state(obj) | self.pods())
        return obj

    def pods(self) -> dict[str, str]:
        from kubernetes.client.exceptions import ApiException

        if self.pods_api is None:
            return {}
        try:
            return pod_state(self.pods_api, self.namespace, self.name)
        except ApiException as exc:
            # Pod details are a convenience: without the right to list pods, follow the TrainJob alone.
            self.emit(f"{self.what}: pod status not shown ({api_message(exc)})")
            self.pods_api = None
            return {}

    def report(self, state: dict[str, str]) -> None:
        for line in changes(self.state, state):
            self.emit(f"{self.what}: {line}")
        self.state = state

    def pod_summary(self) -> str:
        pods = [f"{k.removeprefix('pod ')}: {v}" for k, v in self.state.items() if k.startswith("pod ")]
        return f"; pods: {'; '.join(pods)}" if pods else ""


def wait_for_trainjob(api: Any, namespace: str, name: str, timeout_s: float, *, poll_s: float = 30.0,
                      emit: Emit = log.info, pods_api: Any = None, clock: Callable[[], float] = time.monotonic,
                      sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """Poll until Complete (returns the status) or Failed (raises TrainJobFailed); raises it after timeout_s too."""
    follower = _Follower(api, namespace, name, emit, pods_api)
    deadline = clock() + timeout_s
    while True:
        obj = follower.read() or {}
        conditions = _conditions(obj)
        if _is_true(conditions, "Complete"):
            return obj["status"]
        if _is_true(conditions, "Failed"):
            failed = conditions["Failed"]
            raise TrainJobFailed(f"{follower.what} failed: {failed.get('reason') or 'no reason given'}: "
                                 f"{failed.get('message') or 'no message'}{follower.pod_summary()}")
        if clock() > deadline:
            last = "; ".join(_describe(c) for c in conditions.values()) or "no conditions yet"
            raise TrainJobFailed(f"{follower.what} did not complete within {timeout_s:.0f} s ({last}"
                                 f"{follower.pod_summary()}); it is left as it is: kubectl describe trainjob -n "
                                 f"{namespace} {name}, or kubectl delete trainjob -n {namespace} {name}")
        sleep(poll_s)


# --------------------------------------------------------------------------
# the whole step: stage files, start the MLflow run, create, wait, collect


def stage_inputs(splits_dir: str | Path, files: JobFiles, config: TrainConfig) -> None:
    """Copy the splits and write the pods' training config onto the PVC."""
    data = Path(files.data)
    data.mkdir(parents=True, exist_ok=True)
    for split in ("train.jsonl", "val.jsonl"):
        source = Path(splits_dir) / split
        if not source.is_file():
            raise UserError(f"splits directory {splits_dir}: {split} not found")
        shutil.copyfile(source, data / split)
    Path(files.config).write_text(yaml.safe_dump(config.params(), sort_keys=False))


def start_run(registry: RegistryConfig, run_name: str, tags: dict[str, str]) -> str:
    """A new MLflow run that the pods continue (MLFLOW_RUN_ID), so its id is known before they start."""
    from empathy.registry import ensure_experiment

    import mlflow

    experiment_id = ensure_experiment(registry)
    return mlflow.MlflowClient(registry.tracking_uri).create_run(experiment_id, run_name=run_name,
                                                                 tags=tags).info.run_id


def end_run(registry: RegistryConfig, run_id: str, run_name: str, tags: dict[str, str], failed: bool) -> None:
    """Name and tag the run again (`empathy train` in the pods sets its own); mark it failed if the job failed."""
    import mlflow

    client = mlflow.MlflowClient(registry.tracking_uri)
    for key, value in tags.items():
        client.set_tag(run_id, key, value)
    client.update_run(run_id, name=run_name)
    if failed:
        client.set_terminated(run_id, "FAILED")


def _submit(splits_dir: str | Path, train: TrainConfig, registry: RegistryConfig, opts: TrainJobOptions,
            files: JobFiles, run_name: str, tags: dict[str, str], api: Any, emit: Emit) -> str:
    """Create the TrainJob, or reuse one of the same name when asked; returns its MLflow run id."""
    existing = get_trainjob(api, opts.namespace, opts.name)
    if existing is not None:
        if not opts.reuse_existing:
            raise _exists_error(opts.namespace, opts.name)
        run_id = env_value(existing, "MLFLOW_RUN_ID")
        if not run_id:
            raise UserError(f"TrainJob {opts.namespace}/{opts.name} exists but has no MLFLOW_RUN_ID: it was not "
                            "created by this step, so its run cannot be reused; delete it or pick another name")
        emit(f"TrainJob {opts.namespace}/{opts.name} exists: following it (MLflow run {run_id})")
        return run_id
    stage_inputs(splits_dir, files, pod_train_config(train, files, opts.mount))
    run_id = start_run(registry, run_name, tags)
    job = build_trainjob(train, name=opts.name, namespace=opts.namespace, image=opts.image, runtime=opts.runtime,
                         pvc=opts.pvc, mount=opts.mount, command=train_command(files, registry.tracking_uri),
                         env={"MLFLOW_TRACKING_URI": registry.tracking_uri, "MLFLOW_RUN_ID": run_id},
                         active_deadline_s=int(timeout_of(opts, train)))
    try:
        create_trainjob(api, job)
    except (UserError, TrainJobFailed):
        end_run(registry, run_id, run_name, tags, failed=True)
        raise
    dist = train.distributed
    emit(f"TrainJob {opts.namespace}/{opts.name} created: {dist.nodes} node(s) x {dist.gpus_per_node} GPU(s), "
         f"{dist.strategy}, runtime {opts.runtime}, MLflow run {run_id}")
    return run_id


def run_trainjob(splits_dir: str | Path, train: TrainConfig, registry: RegistryConfig, model_dir: str | Path,
                 opts: TrainJobOptions, pipeline_run: str = "", *, api: Any = None, pods_api: Any = None,
                 emit: Emit = log.info, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    """Train through a TrainJob; copies the model into model_dir, returns the run id and the training summary."""
    if api is None:
        api, pods_api = kube_apis()
    files = job_files(opts.mount, opts.name)
    run_name = f"train-{pipeline_run}" if pipeline_run else f"train-{opts.name}"
    tags = {"pipeline_run": pipeline_run, "stage": "train", "trainjob": f"{opts.namespace}/{opts.name}"}
    run_id = _submit(splits_dir, train, registry, opts, files, run_name, tags, api, emit)
    try:
        wait_for_trainjob(api, opts.namespace, opts.name, timeout_of(opts, train), poll_s=opts.poll_s, emit=emit,
                          pods_api=pods_api, clock=clock, sleep=sleep)
    except TrainJobFailed:
        end_run(registry, run_id, run_name, tags, failed=True)
        raise
    end_run(registry, run_id, run_name, tags, failed=False)
    summary = read_json(Path(files.model) / "train_result.json", "training summary of the TrainJob")
    shutil.copytree(files.model, model_dir, dirs_exist_ok=True)
    return {"run_id": run_id, "trainjob": f"{opts.namespace}/{opts.name}", **summary}
