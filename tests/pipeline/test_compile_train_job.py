"""The pipeline compiled for a train config with more than one GPU: training runs as a Kubeflow Trainer
TrainJob created by the train-job step, which mounts the checkpoint PVC and asks for no GPU itself.

    .venv/bin/python -m pytest -q tests/pipeline/test_compile_train_job.py
"""

from __future__ import annotations

import pytest
import yaml

from empathy.config import load_pipeline_config, load_train_config

pytestmark = pytest.mark.pipeline

PRESET = "configs/train/qwen3-30b-a3b-lora-h100.yaml"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory, repo):
    from kfp import compiler

    from pipelines.training_pipeline import build_pipeline

    cfg = load_pipeline_config(repo / "configs/pipeline/cluster.yaml")
    cfg = cfg.model_copy(update={"train": load_train_config(repo / PRESET)})
    assert cfg.train.distributed.world_size > 1
    out = tmp_path_factory.mktemp("compiled") / "training_pipeline.yaml"
    compiler.Compiler().compile(build_pipeline(cfg), str(out))
    spec, platform = yaml.safe_load_all(out.read_text())
    return cfg, out, spec, platform


def test_train_job_replaces_the_in_pod_train_step(compiled):
    _, _, spec, _ = compiled
    tasks = spec["root"]["dag"]["tasks"]
    assert "train-job" in tasks and "train" not in tasks
    for consumer in ("evaluate", "register"):
        inputs = tasks[consumer]["inputs"]
        assert inputs["parameters"]["run_id"]["taskOutputParameter"]["producerTask"] == "train-job"
        assert inputs["artifacts"]["model"]["taskOutputArtifact"]["producerTask"] == "train-job"
    assert tasks["train-job"]["cachingOptions"] == {}


def test_train_job_step_mounts_the_pvc_and_passes_the_train_image(compiled):
    from components.images import BASE_IMAGE, TRAIN_IMAGE

    cfg, _, spec, platform = compiled
    executor = spec["deploymentSpec"]["executors"]["exec-train-job"]["container"]
    assert executor["image"] == BASE_IMAGE
    assert "accelerator" not in executor.get("resources", {})
    k8s = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-train-job"]
    assert [(m["mountPath"], m["constant"]) for m in k8s["pvcMount"]] == \
        [(cfg.cluster.checkpoint_mount, cfg.cluster.checkpoint_pvc)]
    params = spec["root"]["dag"]["tasks"]["train-job"]["inputs"]["parameters"]
    assert params["image"]["runtimeValue"]["constant"] == TRAIN_IMAGE
    assert params["checkpoint_pvc"]["runtimeValue"]["constant"] == cfg.cluster.checkpoint_pvc
    assert params["checkpoint_mount"]["runtimeValue"]["constant"] == cfg.cluster.checkpoint_mount


def test_round_trips_through_kfp(compiled):
    from kfp import components

    _, out, _, _ = compiled
    assert components.load_component_from_file(str(out)).name == "empathy-training"
