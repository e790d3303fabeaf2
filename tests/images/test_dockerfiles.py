"""Static checks on images/*/Dockerfile (no Docker engine needed).

Every Dockerfile builds with the repository root as its context, so each
COPY/ADD source must exist there; the images must run `empathy` as a non-root
user; base must carry the CPU build of torch 2.13.0 and train the CUDA one.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
IMAGES = REPO / "images"
NAMES = ("base", "train", "serve")
TORCH = "2.13.0"


@dataclass
class Instruction:
    line: int
    cmd: str  # upper-case keyword
    args: str  # raw argument text, continuations joined


def parse(path: Path) -> list[Instruction]:
    """Minimal Dockerfile parser: comments, blank lines, `\\` continuations."""
    out: list[Instruction] = []
    buf: list[str] = []
    start = 0
    for no, raw in enumerate(path.read_text().splitlines(), start=1):
        stripped = raw.strip()
        if not buf and (not stripped or stripped.startswith("#")):
            continue
        if buf and stripped.startswith("#"):  # comment inside a continuation
            continue
        if not buf:
            start = no
        if stripped.endswith("\\"):
            buf.append(stripped[:-1].strip())
            continue
        buf.append(stripped)
        text = " ".join(p for p in buf if p)
        buf = []
        keyword, _, rest = text.partition(" ")
        out.append(Instruction(start, keyword.upper(), rest.strip()))
    assert not buf, f"{path}: dangling line continuation"
    return out


def exec_form(args: str) -> list[str] | None:
    try:
        value = json.loads(args)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


def copy_sources(ins: Instruction) -> list[str] | None:
    """Sources of a COPY/ADD, or None when it copies from a stage/image."""
    form = exec_form(ins.args)
    words = form if form is not None else shlex.split(ins.args)
    flags = [w for w in words if w.startswith("--")]
    paths = [w for w in words if not w.startswith("--")]
    if any(f.startswith("--from=") for f in flags):
        return None
    assert len(paths) >= 2, f"line {ins.line}: {ins.cmd} needs a source and a destination"
    return paths[:-1]


def dockerfile(name: str) -> Path:
    path = IMAGES / name / "Dockerfile"
    assert path.is_file(), f"{path.relative_to(REPO)} is missing"
    return path


def instructions(name: str) -> list[Instruction]:
    return parse(dockerfile(name))


def run_text(name: str) -> str:
    return "\n".join(i.args for i in instructions(name) if i.cmd == "RUN")


@pytest.mark.parametrize("name", NAMES)
def test_header_says_how_to_build(name: str) -> None:
    text = dockerfile(name).read_text()
    assert f"docker build -f images/{name}/Dockerfile" in text, (
        f"images/{name}/Dockerfile: header comment must show the build command"
    )
    assert re.search(rf"docker build -f images/{name}/Dockerfile[^\n]*(\\\n[^\n]*)*\s\.\s*$",
                     text, re.M), "the build context must be the repo root ('.')"


@pytest.mark.parametrize("name", NAMES)
def test_copy_sources_exist(name: str) -> None:
    missing = []
    for ins in instructions(name):
        if ins.cmd not in ("COPY", "ADD"):
            continue
        sources = copy_sources(ins)
        if sources is None:
            continue
        for src in sources:
            assert not re.match(r"^[a-z]+://", src), f"line {ins.line}: remote ADD {src}"
            assert not src.startswith(("/", "..")), f"line {ins.line}: {src} leaves the context"
            if any(ch in src for ch in "*?["):
                if not list(REPO.glob(src)):
                    missing.append(f"line {ins.line}: {src} (no match)")
            elif not (REPO / src).exists():
                missing.append(f"line {ins.line}: {src}")
    assert not missing, (
        f"images/{name}/Dockerfile copies paths that do not exist in the repo "
        f"(the build context is the repo root): " + "; ".join(missing)
    )


@pytest.mark.parametrize("name", NAMES)
def test_entrypoint_is_empathy(name: str) -> None:
    entry = [i for i in instructions(name) if i.cmd == "ENTRYPOINT"]
    assert entry, f"images/{name}/Dockerfile has no ENTRYPOINT"
    assert exec_form(entry[-1].args) == ["empathy"], (
        f"images/{name}/Dockerfile: ENTRYPOINT must be [\"empathy\"] (exec form), "
        f"got {entry[-1].args}"
    )


@pytest.mark.parametrize("name", NAMES)
def test_runs_as_non_root_user(name: str) -> None:
    users = [i for i in instructions(name) if i.cmd == "USER"]
    assert users, f"images/{name}/Dockerfile sets no USER"
    user = users[-1].args.split(":")[0]
    assert user not in ("root", "0", ""), f"images/{name}: final USER is {users[-1].args}"
    # Numeric, so that the kubelet can enforce runAsNonRoot.
    assert user.isdigit(), f"images/{name}: USER should be a numeric uid, got {user}"
    assert user == "1000", "manifests run the pods with runAsUser 1000"


@pytest.mark.parametrize("name", NAMES)
def test_from_is_pinned(name: str) -> None:
    ins = instructions(name)
    froms = [i for i in ins if i.cmd == "FROM"]
    assert froms, f"images/{name}: no FROM"
    args = {}
    for i in ins:
        if i.cmd == "ARG" and "=" in i.args:
            k, _, v = i.args.partition("=")
            args.setdefault(k.strip(), v.strip().strip('"'))
    for f in froms:
        image = f.args.split()[0]
        image = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), image)
        assert "$" not in image, f"images/{name}: FROM {f.args} has an ARG without default"
        assert ":" in image.rsplit("/", 1)[-1] or "@" in image, f"images/{name}: untagged {image}"
        assert not image.endswith(":latest"), f"images/{name}: FROM uses :latest"


def test_base_installs_cpu_torch_from_lock() -> None:
    lock = REPO / "requirements.lock"
    if lock.is_file():
        pins = [ln.strip() for ln in lock.read_text().splitlines() if ln.startswith("torch==")]
        assert pins == [f"torch=={TORCH}+cpu"], f"requirements.lock pins {pins}"
    run = run_text("base")
    assert "uv pip install --system" in run
    assert "-r requirements.lock" in run
    assert "https://download.pytorch.org/whl/cpu" in run
    assert "--index-strategy unsafe-best-match" in run
    assert "whl/cu" not in run, "the base image must not pull a CUDA torch"
    assert re.search(r"uv pip install --system --no-deps \.(\s|$)", run), \
        "the project must be installed with --no-deps after the lock"
    assert [i.args for i in instructions("base") if i.cmd == "FROM"][0].endswith(
        ("python:3.11-slim", "${PYTHON_IMAGE}")
    )
    assert "PYTHON_IMAGE=python:3.11-slim" in dockerfile("base").read_text()
    assert "WORKDIR" in {i.cmd for i in instructions("base")}
    assert [i.args for i in instructions("base") if i.cmd == "WORKDIR"][-1] == "/app"


def test_train_installs_cuda_torch() -> None:
    text = dockerfile("train").read_text()
    args = dict(
        i.args.split("=", 1) for i in instructions("train") if i.cmd == "ARG" and "=" in i.args
    )
    run = run_text("train")
    for k, v in args.items():
        run = run.replace("${%s}" % k, v).replace("$%s" % k, v)
    assert f"torch=={TORCH}+cu128" in run, "train must install the CUDA 12.8 build of torch"
    assert "https://download.pytorch.org/whl/cu128" in run
    assert "grep -v '^torch==' requirements.lock" in run, \
        "train must install the rest of the lock without its CPU torch pin"
    assert "whl/cpu" not in run
    assert "uv pip install --system --no-deps ." in run
    assert "Why python:3.11-slim" in text or "nvidia/cuda" in text, \
        "the choice of base image must be justified in a comment"


def test_serve_builds_on_base() -> None:
    ins = instructions("serve")
    text = dockerfile("serve").read_text()
    assert "ARG BASE_IMAGE=ghcr.io/empathy-mlops/empathy:0.1.0" in text
    assert [i.args for i in ins if i.cmd == "FROM"] == ["${BASE_IMAGE}"]
    assert [i.args for i in ins if i.cmd == "EXPOSE"] == ["8080"]
    cmd = [i for i in ins if i.cmd == "CMD"]
    assert cmd and exec_form(cmd[-1].args) == ["serve", "--host", "0.0.0.0", "--port", "8080"]


def test_serve_image_matches_manifests() -> None:
    """The ServingRuntime the InferenceService names runs the image and port this Dockerfile produces."""
    base = (REPO / "kustomize" / "base" / "servingruntime.yaml")
    if not base.is_file():
        pytest.skip("kustomize/base/servingruntime.yaml not present")
    yaml = pytest.importorskip("yaml")
    runtime = yaml.safe_load(base.read_text())
    (c,) = [c for c in runtime["spec"]["containers"] if c["name"] == "kserve-container"]
    assert "command" not in c, "the predictor must keep the image ENTRYPOINT (empathy)"
    assert c["image"].startswith("ghcr.io/empathy-mlops/empathy-serve:")
    assert c["securityContext"]["runAsUser"] == 1000
    assert [p["containerPort"] for p in c["ports"]] == [8080]
