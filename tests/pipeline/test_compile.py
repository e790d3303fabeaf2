"""The compiled pipeline: committed YAML is current, loads with kfp, has one task per stage,
and asks for the H100 node pool, a GPU and the checkpoint PVC on the training step."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from empathy.config import load_pipeline_config

pytestmark = pytest.mark.pipeline

STAGES = {"edge-cases", "ingest", "pairs", "validate", "screen", "split", "train", "evaluate", "register", "promote",
          "deploy", "monitor"}
COMPILED = "pipelines/training_pipeline.yaml"


@pytest.fixture(scope="module")
def fresh(tmp_path_factory, repo):
    out = tmp_path_factory.mktemp("compiled") / "training_pipeline.yaml"
    subprocess.run(
        [sys.executable, "-m", "empathy.cli", "pipeline", "compile", "--config", "configs/pipeline/cluster.yaml",
         "--output", str(out)], cwd=repo, check=True, capture_output=True,
    )
    return out


def test_committed_yaml_is_current(fresh, repo):
    committed = (repo / COMPILED).read_text()
    assert fresh.read_text() == committed, "pipelines/training_pipeline.yaml is stale: run `make pipelines`"


def test_compile_is_deterministic(fresh, repo, tmp_path):
    again = tmp_path / "again.yaml"
    subprocess.run([sys.executable, "-m", "empathy.cli", "pipeline", "compile", "--output", str(again)],
                   cwd=repo, check=True, capture_output=True)
    assert again.read_text() == fresh.read_text()


def test_round_trips_through_kfp(fresh):
    from kfp import components

    loaded = components.load_component_from_file(str(fresh))
    assert loaded.name == "empathy-training"
    assert {"corpus_dir", "train_config", "registry_config"} <= set(loaded.component_spec.inputs)


def _docs(path):
    docs = list(yaml.safe_load_all(path.read_text()))
    return docs[0], (docs[1] if len(docs) > 1 else {})


def test_one_task_per_stage(fresh):
    spec, _ = _docs(fresh)
    tasks = set(spec["root"]["dag"]["tasks"])
    assert STAGES <= tasks
    assert tasks - STAGES == {"summary"}


def test_training_step_runs_on_h100_pool_with_checkpoint_pvc(fresh, repo):
    cluster = load_pipeline_config(repo / "configs/pipeline/cluster.yaml").cluster
    spec, platform = _docs(fresh)
    executors = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    train_exec = executors["exec-train"]
    assert train_exec["nodeSelector"]["labels"] == cluster.train_node_selector
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in train_exec["tolerations"]
    assert {m["mountPath"] for m in train_exec["pvcMount"]} == {cluster.checkpoint_mount}
    assert train_exec["pvcMount"][0]["constant"] == cluster.checkpoint_pvc
    resources = spec["deploymentSpec"]["executors"]["exec-train"]["container"]["resources"]
    assert resources["accelerator"]["resourceType"] == cluster.train_accelerator
    assert int(resources["accelerator"]["resourceCount"]) == cluster.train_gpus
    assert "exec-ingest" in executors and executors["exec-ingest"]["pvcMount"][0]["mountPath"] == cluster.data_mount


def test_components_run_the_project_images(fresh):
    from components.images import BASE_IMAGE, TRAIN_IMAGE

    spec, _ = _docs(fresh)
    images = {name: ex["container"]["image"] for name, ex in spec["deploymentSpec"]["executors"].items()}
    assert images.pop("exec-train") == TRAIN_IMAGE
    assert set(images.values()) == {BASE_IMAGE}


def test_training_is_never_cached(fresh):
    spec, _ = _docs(fresh)
    tasks = spec["root"]["dag"]["tasks"]
    for name in ("edge-cases", "train", "evaluate", "register", "promote", "deploy"):
        assert tasks[name]["cachingOptions"] == {}, f"{name} must not be cached"
    assert tasks["ingest"]["cachingOptions"] == {"enableCache": True}


def test_edge_cases_feed_ingest_and_read_their_secrets(fresh, repo):
    cluster = load_pipeline_config(repo / "configs/pipeline/cluster.yaml").cluster
    spec, platform = _docs(fresh)
    ingest_inputs = spec["root"]["dag"]["tasks"]["ingest"]["inputs"]["artifacts"]
    assert ingest_inputs["edge_cases"]["taskOutputArtifact"] == {"outputArtifactKey": "edge_cases",
                                                                   "producerTask": "edge-cases"}
    env = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-edge-cases"]["secretAsEnv"]
    wanted = {(cluster.review_db_secret, "url", "EMPATHY_REVIEW_URL"),
              (cluster.llm_api_secret, "openai", "OPENAI_API_KEY"),
              (cluster.llm_api_secret, "anthropic", "ANTHROPIC_API_KEY")}
    got = {(e.get("secretName") or e.get("secretNameParameter", {}).get("runtimeValue", {}).get("constant"),
            kv["secretKey"], kv["envVar"]) for e in env for kv in e["keyToEnv"]}
    assert wanted <= got
    assert all(e["optional"] for e in env)


def test_screen_sits_between_validate_and_split_and_reads_the_review_queue_secret(fresh, repo):
    cluster = load_pipeline_config(repo / "configs/pipeline/cluster.yaml").cluster
    spec, platform = _docs(fresh)
    tasks = spec["root"]["dag"]["tasks"]
    assert tasks["screen"]["inputs"]["artifacts"]["accepted"]["taskOutputArtifact"]["producerTask"] == "validate"
    split_inputs = tasks["split"]["inputs"]["artifacts"]
    assert {split_inputs[k]["taskOutputArtifact"]["producerTask"] for k in ("screened", "held", "screen_rejected")} \
        == {"screen"}
    assert split_inputs["edge_cases_report"]["taskOutputArtifact"]["producerTask"] == "edge-cases"
    env = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-screen"]["secretAsEnv"]
    got = {(e.get("secretName") or e.get("secretNameParameter", {}).get("runtimeValue", {}).get("constant"),
            kv["secretKey"], kv["envVar"]) for e in env for kv in e["keyToEnv"]}
    assert got == {(cluster.review_db_secret, "url", "EMPATHY_REVIEW_URL")}
    assert tasks["screen"]["cachingOptions"] == {}   # off: review decisions change what passes


def test_gates_stand_between_evaluation_and_promotion(fresh):
    """evaluate previews the gates, register waits for evaluate's metrics, promote checks the registered version
    against the same gates config, and the gates are a pipeline parameter a run can override."""
    spec, _ = _docs(fresh)
    tasks = spec["root"]["dag"]["tasks"]
    assert "gates_config" in spec["root"]["inputDefinitions"]["parameters"]
    for name in ("evaluate", "register", "promote"):
        assert tasks[name]["inputs"]["parameters"]["gates_config"] == {"componentInputParameter": "gates_config"}
    assert "evaluate" in tasks["register"]["dependentTasks"]
    promote_in = tasks["promote"]["inputs"]["artifacts"]["registration"]["taskOutputArtifact"]
    assert promote_in == {"outputArtifactKey": "registration", "producerTask": "register"}
    outputs = spec["components"]["comp-evaluate"]["outputDefinitions"]["artifacts"]
    assert outputs["report"]["artifactType"]["schemaTitle"] == "system.HTML"
    register_params = tasks["register"]["inputs"]["parameters"]
    assert {"train_config", "ingest_config", "evaluate_config"} <= set(register_params), \
        "the version must carry the config that made it"
