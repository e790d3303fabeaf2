"""Checks on the kustomize overlays and the rendered manifests/<env>/.

(a) the committed manifests/<env>/resources.yaml equals a fresh
    `kubectl kustomize kustomize/overlays/<env>` (skipped without kubectl);
(b) every custom resource validates against the openAPIV3Schema of its CRD
    (../shared/crds; skipped where absent), with unknown fields rejected as
    `kubectl apply` does with strict field validation, and broken copies fail;
(c) every built-in object validates with kubernetes-validate (strict);
(d) pod security settings of every container (training runtimes' pod templates too);
(e) the contract the pipeline's deploy stage relies on, per environment.
"""

from __future__ import annotations

import copy
import functools
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Iterator

import jsonschema
import pytest
import yaml

pytestmark = pytest.mark.manifests

REPO = Path(__file__).resolve().parents[2]
CRD_DIR = REPO.parent / "shared" / "crds"
OVERLAYS = REPO / "kustomize" / "overlays"
MANIFESTS = REPO / "manifests"
ENVS = ("dev", "staging", "prod")
# Every rendered overlay: ENVS (the custom predictor the deploy stage patches)
# plus prod-vllm (GPU clusters: vLLM predictor + the guard as transformer,
# checked in test_serving_manifests.py). Schema, security and render checks
# run on all of them.
RENDERED_ENVS = ENVS + ("prod-vllm",)
NAMESPACES = {"dev": "empathy-dev", "staging": "empathy-staging", "prod": "empathy-prod",
              "prod-vllm": "empathy-prod"}

# Kubernetes version whose OpenAPI schemas built-in kinds are checked against
# (kubernetes-validate ships 1.25 .. 1.37); matches kubectl 1.32 used to render.
K8S_VERSION = "1.32"

ISVC_NAME = "empathy-chat"
CONTAINER_NAME = "kserve-container"
RUNTIME = "empathy-runtime"
MODEL_FORMAT = "empathy-chat"
IMAGE = "ghcr.io/empathy-mlops/empathy-serve:0.1.0"
CONFIGMAP = "empathy-config"
SERVICE_ACCOUNT = "empathy-serve"
EXPECTED = {
    "dev": {"alias": "models:/empathy-chat@candidate", "min": 2, "max": 2, "gpu": False},
    "staging": {"alias": "models:/empathy-chat@staging", "min": 2, "max": 3, "gpu": False},
    "prod": {"alias": "models:/empathy-chat@production", "min": 2, "max": 6, "gpu": True},
}
H100_PRODUCT = "NVIDIA-H100-80GB-HBM3"
# Kinds without a namespace (kustomize cannot tell a custom kind's scope; the
# dev overlay strips the namespace it sets on the training runtime).
CLUSTER_SCOPED = {"Namespace", "ClusterTrainingRuntime"}

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# --------------------------------------------------------------------------
# helpers


def _kubectl() -> str | None:
    return shutil.which(os.environ.get("KUBECTL") or "kubectl")


def _load_docs(text: str) -> list[dict[str, Any]]:
    return [d for d in yaml.load_all(text, Loader=_Loader) if d]


def _strip_header(text: str) -> str:
    """Drop the leading '# ...' lines render_manifests.sh writes."""
    lines = text.splitlines(keepends=True)
    i = 0
    while i < len(lines) and lines[i].startswith("#"):
        i += 1
    return "".join(lines[i:])


def _manifest_path(env: str) -> Path:
    return MANIFESTS / env / "resources.yaml"


@functools.lru_cache(maxsize=None)
def _rendered(env: str) -> tuple[dict[str, Any], ...]:
    path = _manifest_path(env)
    if not path.is_file():
        pytest.fail(f"{path.relative_to(REPO)} is missing: run `make manifests`")
    return tuple(_load_docs(path.read_text()))


def _docs(env: str) -> list[dict[str, Any]]:
    return copy.deepcopy(list(_rendered(env)))


def _isvc(env: str) -> dict[str, Any]:
    found = [
        d for d in _docs(env)
        if d["kind"] == "InferenceService" and d["metadata"]["name"] == ISVC_NAME
    ]
    assert len(found) == 1, f"{env}: expected one InferenceService {ISVC_NAME}, got {len(found)}"
    return found[0]


def _serving_container(env: str, comp: str = "predictor") -> dict[str, Any]:
    """The container serving `comp`: spec.<comp>.model merged over its runtime's
    kserve-container (as KServe merges them), or the custom container."""
    spec = _isvc(env)["spec"][comp]
    if "model" in spec:
        runtime = _runtime(env, spec["model"]["runtime"])
        (base,) = [c for c in runtime["spec"]["containers"] if c["name"] == "kserve-container"]
        merged = {**base, **{k: v for k, v in spec["model"].items()
                             if k not in ("modelFormat", "runtime", "protocolVersion", "storageUri", "args")}}
        merged["args"] = list(base.get("args") or []) + list(spec["model"].get("args") or [])
        return merged
    (c,) = [c for c in spec["containers"] if c["name"] == "kserve-container"]
    return c


def _runtime(env: str, name: str) -> dict[str, Any]:
    found = [d for d in _docs(env) if d["kind"] == "ServingRuntime" and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{env}: ServingRuntime {name} is not in the render (GitOps: keep it in Git)"
    return found[0]


def _is_builtin(doc: dict[str, Any]) -> bool:
    group = doc["apiVersion"].rpartition("/")[0]
    return group == "" or group.endswith(".k8s.io") or "." not in group


def _collect(builtin: bool) -> list[tuple[str, dict[str, Any]]]:
    """Rendered objects for parametrization; empty if a render is missing
    (test_committed_manifests_match_render then reports it)."""
    out = []
    for env in RENDERED_ENVS:
        path = _manifest_path(env)
        if path.is_file():
            out += [(env, d) for d in _load_docs(path.read_text()) if _is_builtin(d) == builtin]
    return out


def _doc_id(item: tuple[str, dict[str, Any]]) -> str:
    env, doc = item
    return f"{env}:{doc['kind']}/{doc['metadata']['name']}"


def _pod_specs(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, pod-spec-like dict) for every pod spec an object carries."""
    kind = doc["kind"]
    spec = doc.get("spec") or {}
    if kind == "InferenceService":
        for comp in ("predictor", "transformer", "explainer"):
            if comp in spec:
                yield f"spec.{comp}", spec[comp]
    elif kind in ("Pod", "ServingRuntime", "ClusterServingRuntime"):
        # A serving runtime's containers and volumes are merged into the pod.
        yield "spec", spec
    elif kind == "CronJob":
        yield "spec.jobTemplate.spec.template.spec", spec["jobTemplate"]["spec"]["template"]["spec"]
    elif kind in ("ClusterTrainingRuntime", "TrainingRuntime"):
        # A JobSet template: one pod template per replicated job.
        for i, job in enumerate(spec["template"]["spec"]["replicatedJobs"]):
            yield (f"spec.template.spec.replicatedJobs[{i}].template.spec.template.spec",
                   job["template"]["spec"]["template"]["spec"])
    elif "template" in spec and isinstance(spec["template"], dict) and "spec" in spec["template"]:
        yield "spec.template.spec", spec["template"]["spec"]


def _containers(pod: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key in ("initContainers", "containers"):
        yield from pod.get(key) or []


def _walk_keys(node: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    if isinstance(node, dict):
        for k, v in node.items():
            yield path, k, v
            yield from _walk_keys(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _walk_keys(v, f"{path}[{i}]")


# --------------------------------------------------------------------------
# CRD schemas


def _strict_schema(node: Any) -> Any:
    """OpenAPI v3 (structural CRD schema) -> JSON Schema draft 4, strict.

    The API server prunes or (kubectl's default strict field validation)
    rejects fields a structural schema does not declare, unless
    x-kubernetes-preserve-unknown-fields is set; JSON Schema allows them by
    default, so `additionalProperties: false` is added to every object
    schema with `properties` and no `additionalProperties`. `nullable` maps
    to a "null" type. x-kubernetes-* keys and `format` (int32, int64,
    date-time) are left for jsonschema to ignore: it only asserts formats
    when given a format checker, and int-or-string is already spelled as
    anyOf integer/string in these CRDs.
    """
    if isinstance(node, list):
        return [_strict_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _strict_schema(v) for k, v in node.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    if out.get("nullable") and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def _crd_dir() -> Path:
    if not CRD_DIR.is_dir():
        pytest.skip(
            f"CRD schemas not found at {CRD_DIR} (expected ../shared/crds next to "
            "the repository); custom resources cannot be validated offline here"
        )
    return CRD_DIR


@functools.lru_cache(maxsize=None)
def _crd_validator(api_version: str, kind: str) -> jsonschema.protocols.Validator:
    group, _, version = api_version.rpartition("/")
    crd_dir = _crd_dir()
    candidates = sorted(crd_dir.glob(f"{group}_*.yaml"))
    for path in candidates:
        crd = yaml.load(path.read_text(), Loader=_Loader)
        if crd.get("kind") != "CustomResourceDefinition":
            continue
        spec = crd["spec"]
        if spec["group"] != group or spec["names"]["kind"] != kind:
            continue
        for ver in spec["versions"]:
            if ver["name"] == version:
                assert ver.get("served"), f"{kind} {api_version} is not served by {path.name}"
                schema = _strict_schema(ver["schema"]["openAPIV3Schema"])
                jsonschema.Draft4Validator.check_schema(schema)
                return jsonschema.Draft4Validator(schema)
        pytest.fail(f"{path.name} defines {kind} but not version {version}")
    pytest.fail(f"no CRD for {kind} ({api_version}) in {crd_dir}")


def _crd_errors(doc: dict[str, Any]) -> list[str]:
    validator = _crd_validator(doc["apiVersion"], doc["kind"])
    return [
        f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
        for e in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.path)))
    ]


# --------------------------------------------------------------------------
# (a) committed manifests == fresh render


@pytest.mark.parametrize("env", RENDERED_ENVS)
def test_committed_manifests_match_render(env: str) -> None:
    kubectl = _kubectl()
    if kubectl is None:
        pytest.skip("kubectl not found (PATH or $KUBECTL): cannot render kustomize/overlays "
                    "to compare with manifests/; install kubectl >= 1.27")
    proc = subprocess.run(
        [kubectl, "kustomize", str(OVERLAYS / env)],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert proc.returncode == 0, f"kubectl kustomize overlays/{env} failed:\n{proc.stderr}"
    path = _manifest_path(env)
    assert path.is_file(), f"{path.relative_to(REPO)} missing: run `make manifests`"
    committed = path.read_text()
    assert committed.startswith("# Rendered from"), (
        f"{path.relative_to(REPO)} lacks the render header: run `make manifests`"
    )
    assert _strip_header(committed) == proc.stdout, (
        f"{path.relative_to(REPO)} is stale or hand-edited: run `make manifests` and commit"
    )


@pytest.mark.parametrize("env", ENVS)
def test_render_has_expected_objects(env: str) -> None:
    kinds = {(d["kind"], d["metadata"]["name"]) for d in _docs(env)}
    for expected in [
        ("Namespace", f"empathy-{env}"),
        ("ServiceAccount", SERVICE_ACCOUNT),
        ("ConfigMap", CONFIGMAP),
        ("InferenceService", ISVC_NAME),
    ]:
        assert expected in kinds, f"{env}: {expected} missing from the render"


@pytest.mark.parametrize("env", RENDERED_ENVS)
def test_namespace_and_labels(env: str) -> None:
    ns = NAMESPACES[env]
    for doc in _docs(env):
        meta = doc["metadata"]
        what = f"{env}:{doc['kind']}/{meta['name']}"
        if doc["kind"] == "Namespace":
            assert meta["name"] == ns
            continue
        if doc["kind"] in CLUSTER_SCOPED:
            assert "namespace" not in meta, f"{what} is cluster-scoped but has a namespace"
        else:
            assert meta.get("namespace") == ns, f"{what} is not in namespace {ns}"
        labels = meta.get("labels") or {}
        assert labels.get("app.kubernetes.io/name") == "empathy", what
        assert labels.get("app.kubernetes.io/part-of") == "empathy", what


# --------------------------------------------------------------------------
# (b) custom resources against their CRD


@pytest.mark.parametrize("item", _collect(builtin=False), ids=_doc_id)
def test_custom_resources_validate_against_crd(item: tuple[str, dict[str, Any]]) -> None:
    _, doc = item
    errors = _crd_errors(doc)
    assert not errors, "\n".join(errors)
    # metadata is only `type: object` in CRD schemas; check it as ObjectMeta.
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    kubernetes_validate.validate(
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": doc["metadata"]},
        K8S_VERSION, strict=True,
    )


def _broken_copies(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], str]]:
    """(what, broken copy, fragment the CRD validation error must contain)."""
    pred = lambda d: d["spec"]["predictor"]  # noqa: E731

    d = copy.deepcopy(doc)
    pred(d)["minReplicas"] = "two"
    yield "minReplicas is a string", d, "is not of type 'integer'"

    d = copy.deepcopy(doc)
    pred(d)["replicas"] = 2  # not a predictor field (min/maxReplicas are)
    yield "unknown predictor field", d, "'replicas' was unexpected"

    d = copy.deepcopy(doc)
    pred(d)["model"]["resource"] = {"limits": {"cpu": "1"}}
    yield "misspelt container field", d, "'resource' was unexpected"

    d = copy.deepcopy(doc)
    pred(d)["scaleMetric"] = "gpu"
    yield "scaleMetric outside its enum", d, "is not one of"

    d = copy.deepcopy(doc)
    pred(d)["model"]["resources"]["limits"]["memory"] = "lots"
    yield "malformed quantity", d, "does not match"

    d = copy.deepcopy(doc)
    del pred(d)["model"]["modelFormat"]["name"]
    yield "model format without name", d, "'name' is a required property"

    d = copy.deepcopy(doc)
    del d["spec"]["predictor"]
    yield "spec without predictor", d, "'predictor' is a required property"


@pytest.mark.parametrize("env", ENVS)
def test_crd_validation_rejects_broken_inferenceservice(env: str) -> None:
    doc = _isvc(env)
    assert not _crd_errors(doc), "the unmodified InferenceService must validate"
    for what, broken, fragment in _broken_copies(doc):
        errors = _crd_errors(broken)
        assert any(fragment in e for e in errors), (
            f"CRD validation did not reject a broken copy ({what}) as expected; "
            f"errors: {errors}"
        )


# --------------------------------------------------------------------------
# (c) built-in kinds with kubernetes-validate


@pytest.mark.parametrize("item", _collect(builtin=True), ids=_doc_id)
def test_builtin_objects_validate(item: tuple[str, dict[str, Any]]) -> None:
    _, doc = item
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    try:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    except kubernetes_validate.ValidationError as e:
        path = ".".join(str(p) for p in e.path)
        pytest.fail(f"{doc['kind']}/{doc['metadata']['name']}: {path}: {e.message}")
    except kubernetes_validate.SchemaNotFoundError as e:
        pytest.fail(e.message)


def test_kubernetes_validate_rejects_broken_object() -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    sa = next(d for d in _docs("dev") if d["kind"] == "ServiceAccount")
    sa["automountServiceAccountToken"] = "no"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(sa, K8S_VERSION, strict=True)
    cm = next(d for d in _docs("dev") if d["kind"] == "ConfigMap")
    cm["spec"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(cm, K8S_VERSION, strict=True)


# --------------------------------------------------------------------------
# (d) security


@pytest.mark.parametrize("env", RENDERED_ENVS)
def test_pod_security(env: str) -> None:
    checked = 0
    for doc in _docs(env):
        what = f"{env}:{doc['kind']}/{doc['metadata']['name']}"
        for path, key, value in _walk_keys(doc):
            assert key != "hostPath", f"{what}: hostPath volume at {path}"
            if key in ("hostNetwork", "hostPID", "hostIPC", "privileged"):
                assert value is not True, f"{what}: {path}.{key} is true"
        for pod_path, pod in _pod_specs(doc):
            pod_sc = pod.get("securityContext") or {}
            volumes = {v["name"] for v in pod.get("volumes") or []}
            for c in _containers(pod):
                checked += 1
                where = f"{what} {pod_path} container {c.get('name')}"
                sc = c.get("securityContext") or {}
                assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True, \
                    f"{where}: runAsNonRoot not set"
                uid = sc.get("runAsUser", pod_sc.get("runAsUser"))
                assert uid is None or uid != 0, f"{where}: runs as uid 0"
                assert sc.get("allowPrivilegeEscalation") is False, \
                    f"{where}: allowPrivilegeEscalation must be false"
                assert sc.get("privileged") in (None, False), f"{where}: privileged"
                assert "ALL" in ((sc.get("capabilities") or {}).get("drop") or []), \
                    f"{where}: capabilities must drop ALL"
                assert not (sc.get("capabilities") or {}).get("add"), \
                    f"{where}: adds capabilities"
                seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {})
                assert seccomp.get("type") == "RuntimeDefault", f"{where}: seccompProfile"
                assert sc.get("readOnlyRootFilesystem") is True, \
                    f"{where}: readOnlyRootFilesystem must be true"
                limits = (c.get("resources") or {}).get("limits") or {}
                requests = (c.get("resources") or {}).get("requests") or {}
                for res in ("cpu", "memory"):
                    assert res in limits, f"{where}: no {res} limit"
                    assert res in requests, f"{where}: no {res} request"
                mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts") or []}
                for m in mounts.values():
                    assert m in volumes, f"{where}: mounts undeclared volume {m}"
                # A read-only root needs somewhere writable for temp files.
                assert "/tmp" in mounts, f"{where}: no writable /tmp"
    assert checked, f"{env}: no containers found to check"


@pytest.mark.parametrize("env", ENVS)
def test_writable_volumes_are_emptydirs(env: str) -> None:
    runtime = _runtime(env, _isvc(env)["spec"]["predictor"]["model"]["runtime"])
    vols = {v["name"]: v for v in runtime["spec"]["volumes"]}
    c = _serving_container(env)
    env_vars = {e["name"]: e.get("value") for e in c["env"]}
    mounts = {m["mountPath"]: m["name"] for m in c["volumeMounts"]}
    assert "emptyDir" in vols[mounts["/tmp"]]
    # Hugging Face / MLflow caches land on a mounted emptyDir.
    for var in ("HF_HOME", "XDG_CACHE_HOME"):
        target = env_vars.get(var)
        assert target, f"{env}: {var} not set"
        mount = next((p for p in mounts if target == p or target.startswith(p + "/")), None)
        assert mount is not None, f"{env}: {var}={target} is not on a mounted volume"
        assert "emptyDir" in vols[mounts[mount]], f"{env}: {var} volume is not an emptyDir"


# --------------------------------------------------------------------------
# (e) the deploy-code contract


def _model_arg(container: dict[str, Any]) -> str:
    args = container["args"]
    assert "--model" in args, "args lack --model"
    i = args.index("--model")
    assert i + 1 < len(args), "--model has no value"
    return args[i + 1]


@pytest.mark.parametrize("env", ENVS)
def test_inferenceservice_contract(env: str) -> None:
    isvc = _isvc(env)
    exp = EXPECTED[env]
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1"
    assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "RawDeployment"
    pred = isvc["spec"]["predictor"]
    assert "containers" not in pred, "the model spec on the project runtime, not a custom container"
    assert pred["model"]["runtime"] == RUNTIME and pred["model"]["modelFormat"]["name"] == MODEL_FORMAT
    assert pred["model"]["args"] == ["--model", exp["alias"]], "overlays replace model.args[1]; keep --model first"
    assert "storageUri" not in pred["model"], "the server loads the model from the registry, not /mnt/models"
    c = _serving_container(env)
    assert c["name"] == CONTAINER_NAME
    assert c["image"] == IMAGE
    assert "command" not in c, "the image's ENTRYPOINT (empathy) must not be overridden"
    assert c["args"] == ["serve", "--name={{.Name}}", "--host", "0.0.0.0", "--port", "8080", "--model", exp["alias"]]
    assert _model_arg(c) == exp["alias"]
    runtime = _runtime(env, RUNTIME)["spec"]
    assert {"name": MODEL_FORMAT, "version": "1", "autoSelect": True, "priority": 1} in runtime["supportedModelFormats"]
    assert pred["model"]["protocolVersion"] in runtime["protocolVersions"]
    assert [p["containerPort"] for p in c["ports"]] == [8080]
    assert pred["minReplicas"] == exp["min"]
    assert pred["maxReplicas"] == exp["max"]
    assert pred["minReplicas"] <= pred["maxReplicas"]
    assert pred["serviceAccountName"] == SERVICE_ACCOUNT
    for probe, path in (("readinessProbe", "/v2/health/ready"), ("livenessProbe", "/v2/health/live")):
        get = c[probe]["httpGet"]
        assert (get["path"], get["port"]) == (path, 8080), probe


@pytest.mark.parametrize("env", ENVS)
def test_mlflow_uri_comes_from_configmap(env: str) -> None:
    docs = _docs(env)
    c = _serving_container(env)
    var = next(e for e in c["env"] if e["name"] == "MLFLOW_TRACKING_URI")
    ref = var["valueFrom"]["configMapKeyRef"]
    assert ref["name"] == CONFIGMAP
    cm = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == ref["name"])
    assert ref["key"] == "mlflow_tracking_uri"
    assert cm["data"][ref["key"]] == "http://mlflow.mlflow.svc.cluster.local:5000"
    sa = [d for d in docs if d["kind"] == "ServiceAccount"]
    assert [d["metadata"]["name"] for d in sa] == [SERVICE_ACCOUNT]


@pytest.mark.parametrize("env", ENVS)
def test_gpu_placement(env: str) -> None:
    pred = _isvc(env)["spec"]["predictor"]
    limits = pred["model"]["resources"]["limits"]
    if EXPECTED[env]["gpu"]:
        assert pred.get("nodeSelector") == {"nvidia.com/gpu.product": H100_PRODUCT}
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} \
            in pred.get("tolerations", [])
        assert str(limits.get("nvidia.com/gpu")) == "1"
    else:
        assert "nvidia.com/gpu" not in limits
        assert "nodeSelector" not in pred
        assert "tolerations" not in pred


def test_prod_is_larger_than_dev() -> None:
    def gib(q: str) -> float:
        units = {"Ki": 2**-20, "Mi": 2**-10, "Gi": 1, "Ti": 2**10}
        for u, f in units.items():
            if q.endswith(u):
                return float(q[: -len(u)]) * f
        return float(q) / 2**30

    dev = _isvc("dev")["spec"]["predictor"]["model"]["resources"]
    prod = _isvc("prod")["spec"]["predictor"]["model"]["resources"]
    for kind in ("requests", "limits"):
        assert float(prod[kind]["cpu"]) > float(dev[kind]["cpu"])
        assert gib(prod[kind]["memory"]) > gib(dev[kind]["memory"])


def test_deploy_stage_substitution_keeps_the_object_valid() -> None:
    """What the deploy stage does (src/empathy/deploy.py): replace the arg after --model, re-validate."""
    from empathy.deploy import inference_service_from_manifest

    for env in ENVS:
        isvc = inference_service_from_manifest(_manifest_path(env), "models:/empathy-chat/7")
        assert isvc["spec"]["predictor"]["model"]["args"] == ["--model", "models:/empathy-chat/7"]
        assert not _crd_errors(isvc)


@pytest.mark.parametrize("env", ENVS)
def test_pipeline_may_deploy_in_each_namespace(env: str) -> None:
    """The deploy step's API calls (src/empathy/deploy.py) are granted, and nothing broader."""
    docs = _docs(env)
    (role,) = [d for d in docs if d["kind"] == "Role" and d["metadata"]["name"] == "empathy-deployer"]
    (binding,) = [d for d in docs if d["kind"] == "RoleBinding" and d["metadata"]["name"] == "empathy-deployer"]
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == f"empathy-{env}"
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "empathy-deployer"}
    rules = {(g, r): set(rule["verbs"]) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]}
    assert {"get", "create", "patch"} <= rules[("serving.kserve.io", "inferenceservices")]
    assert all(g == "serving.kserve.io" for g, _ in rules), "the deployer role reaches beyond KServe"
    assert not any("*" in verbs or "delete" in verbs for verbs in rules.values())
    assert [s["kind"] for s in binding["subjects"]] == ["ServiceAccount"]
