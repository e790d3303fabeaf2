"""The training pipeline: edge cases + corpus -> chat data -> LoRA MoE -> evaluation -> MLflow, gates -> serving.

Wiring only: the components do the work (components/<stage>/), this file
connects them, sets caching and the Kubernetes settings from the config's
`cluster` section: the training step's H100 node pool, GPU limit and
checkpoint PVC, and the secrets of the edge-case step (review queue URL,
LLM API keys). A train config asking for more than one GPU
(`distributed.nodes` x `gpus_per_node`) trains through a Kubeflow Trainer
TrainJob (components/train_job) instead of in the step's own pod; the choice
is made when the pipeline is compiled. Edge-case generation runs first; its
export is an extra source for ingest (switch it off with
`edge_cases: {enabled: false}`). After registration the promote step checks
the gates of `registry.promote_to` (staging by default) and moves that alias
only when they pass; deploy serves the newly registered version either way,
as the candidate that the summary and the drift check describe. The same
graph runs on kfp's local runner (`make demo`) and on Kubeflow Pipelines
(`make pipelines` compiles training_pipeline.yaml).

    from pipelines.training_pipeline import build_pipeline
    pipeline_func = build_pipeline(load_pipeline_config("configs/pipeline/cluster.yaml"))
"""

from typing import Any

from kfp import dsl, kubernetes
from kfp.dsl import Artifact

from components.deploy.component import deploy
from components.edge_cases.component import edge_cases
from components.evaluate.component import evaluate
from components.images import TRAIN_IMAGE
from components.ingest.component import ingest
from components.monitor.component import monitor
from components.pairs.component import pairs
from components.promote.component import promote
from components.register.component import register
from components.screen.component import screen
from components.split.component import split
from components.summary.component import summary
from components.train.component import train
from components.train_job.component import train_job
from components.validate.component import validate
from empathy.config import ClusterConfig, PipelineConfig

PIPELINE_NAME = "empathy-training"


def configure_training(task: dsl.PipelineTask, cluster: ClusterConfig) -> None:
    """Run the training step on the GPU node pool with checkpoints on a PVC."""
    for key, value in cluster.train_node_selector.items():
        kubernetes.add_node_selector(task, label_key=key, label_value=value)
    for toleration in cluster.train_tolerations:
        kubernetes.add_toleration(task, **toleration)
    if cluster.train_gpus:
        task.set_accelerator_type(cluster.train_accelerator).set_accelerator_limit(cluster.train_gpus)
    task.set_cpu_request(cluster.train_cpu).set_memory_request(cluster.train_memory)
    kubernetes.mount_pvc(task, pvc_name=cluster.checkpoint_pvc, mount_path=cluster.checkpoint_mount)


def train_step(cfg: PipelineConfig, splits: Any, train_config: Any, registry_config: Any) -> dsl.PipelineTask:
    """One GPU: train in the step's pod. More: the step creates a TrainJob and follows it, sharing the checkpoint
    PVC with its nodes; it needs no GPU itself. Both return the MLflow run id and a `model` directory."""
    if cfg.train.distributed.world_size == 1:
        task = train(splits=splits, config=train_config, registry_config=registry_config,
                     pipeline_run=dsl.PIPELINE_JOB_NAME_PLACEHOLDER)
        configure_training(task, cfg.cluster)
    else:
        task = train_job(splits=splits, config=train_config, registry_config=registry_config,
                         pipeline_run=dsl.PIPELINE_JOB_NAME_PLACEHOLDER, image=TRAIN_IMAGE,
                         checkpoint_pvc=cfg.cluster.checkpoint_pvc, checkpoint_mount=cfg.cluster.checkpoint_mount)
        kubernetes.mount_pvc(task, pvc_name=cfg.cluster.checkpoint_pvc, mount_path=cfg.cluster.checkpoint_mount)
    return task.set_caching_options(False)


def build_pipeline(cfg: PipelineConfig):
    """The pipeline function, with the config's values as parameter defaults."""

    @dsl.pipeline(name=PIPELINE_NAME, description="Counselling corpus to a served, monitored MoE LoRA chat model.")
    def training_pipeline(
        corpus_dir: str = cfg.corpus_dir,
        ingest_config: dict = cfg.ingest.params(),
        pairs_config: dict = cfg.pairs.params(),
        validate_config: dict = cfg.validate_.params(),
        screen_config: dict = cfg.screen.params(),
        split_config: dict = cfg.split.params(),
        train_config: dict = cfg.train.params(),
        evaluate_config: dict = cfg.evaluate.params(),
        registry_config: dict = cfg.registry.params(),
        gates_config: dict = cfg.gates.params(),
        deploy_config: dict = cfg.deploy.params(),
        monitor_config: dict = cfg.monitor.params(),
        edge_cases_config: dict = cfg.edge_cases.params(),
    ) -> Artifact:
        # Not cached: clinicians' review decisions change what it exports between runs.
        edge_cases_task = edge_cases(config=edge_cases_config, registry_config=registry_config)
        edge_cases_task.set_caching_options(False)
        kubernetes.use_secret_as_env(edge_cases_task, secret_name=cfg.cluster.review_db_secret,
                                     secret_key_to_env={"url": "EMPATHY_REVIEW_URL"}, optional=True)
        kubernetes.use_secret_as_env(edge_cases_task, secret_name=cfg.cluster.llm_api_secret, optional=True,
                                     secret_key_to_env={"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"})
        ingest_task = ingest(corpus_dir=corpus_dir, config=ingest_config, edge_cases=edge_cases_task.outputs["edge_cases"])
        kubernetes.mount_pvc(ingest_task, pvc_name=cfg.cluster.data_pvc, mount_path=cfg.cluster.data_mount)
        pairs_task = pairs(records=ingest_task.outputs["records"], config=pairs_config)
        validate_task = validate(pairs=pairs_task.outputs["pairs"], config=validate_config)
        # Not cached: clinicians' review decisions change what passes between runs.
        screen_task = screen(accepted=validate_task.outputs["accepted"], config=screen_config)
        screen_task.set_caching_options(False)
        kubernetes.use_secret_as_env(screen_task, secret_name=cfg.cluster.review_db_secret,
                                     secret_key_to_env={"url": "EMPATHY_REVIEW_URL"}, optional=True)
        split_task = split(
            records=ingest_task.outputs["records"], pairs=pairs_task.outputs["pairs"],
            accepted=validate_task.outputs["accepted"], screened=screen_task.outputs["passed"],
            held=screen_task.outputs["held"], ingest_rejected=ingest_task.outputs["rejected"],
            pairs_rejected=pairs_task.outputs["rejected"], validate_rejected=validate_task.outputs["rejected"],
            screen_rejected=screen_task.outputs["rejected"], edge_cases_report=edge_cases_task.outputs["report"],
            config=split_config,
        )
        train_task = train_step(cfg, split_task.outputs["splits"], train_config, registry_config)
        evaluate_task = evaluate(model=train_task.outputs["model"], splits=split_task.outputs["splits"],
                                 run_id=train_task.outputs["Output"], config=evaluate_config,
                                 registry_config=registry_config, gates_config=gates_config)
        evaluate_task.set_caching_options(False)
        register_task = register(model=train_task.outputs["model"], splits=split_task.outputs["splits"],
                                 run_id=train_task.outputs["Output"], registry_config=registry_config,
                                 gates_config=gates_config, pipeline_run=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
                                 edge_cases_config=edge_cases_config, ingest_config=ingest_config,
                                 pairs_config=pairs_config, validate_config=validate_config,
                                 screen_config=screen_config, split_config=split_config, train_config=train_config,
                                 evaluate_config=evaluate_config)
        register_task.after(evaluate_task)  # the version's card and gates read the metrics evaluate logged
        register_task.set_caching_options(False)
        promote_task = promote(registration=register_task.outputs["registration"], registry_config=registry_config,
                               gates_config=gates_config)
        promote_task.set_caching_options(False)
        deploy_task = deploy(model_uri=register_task.outputs["Output"], corpus_dir=corpus_dir, config=deploy_config,
                             registry_config=registry_config)
        kubernetes.mount_pvc(deploy_task, pvc_name=cfg.cluster.data_pvc, mount_path=cfg.cluster.data_mount)
        deploy_task.set_caching_options(False)
        monitor_task = monitor(splits=split_task.outputs["splits"], deployment=deploy_task.outputs["deployment"],
                               config=monitor_config)
        monitor_task.set_caching_options(False)
        summary_task = summary(
            splits=split_task.outputs["splits"], model=train_task.outputs["model"],
            evaluation=evaluate_task.outputs["evaluation"], registration=register_task.outputs["registration"],
            promotion=promote_task.outputs["promotion"],
            deployment=deploy_task.outputs["deployment"], drift=monitor_task.outputs["drift"],
            report=monitor_task.outputs["report"], edge_cases_report=edge_cases_task.outputs["report"],
        )
        summary_task.set_caching_options(False)
        return summary_task.outputs["summary"]

    return training_pipeline
