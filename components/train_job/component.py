"""KFP component: LoRA fine-tuning on several GPUs or nodes as a Kubeflow Trainer TrainJob."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output

from components.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def train_job(splits: Input[Dataset], config: dict, registry_config: dict, pipeline_run: str, model: Output[Model],
              metrics: Output[Metrics], runtime: str = "empathy-torch-h100", image: str = "",
              checkpoint_pvc: str = "empathy-checkpoints", checkpoint_mount: str = "/checkpoints",
              namespace: str = "", timeout_s: float = 0.0, poll_s: float = 30.0, reuse_existing: bool = False) -> str:
    """Returns the MLflow run id; `model` is the fine-tuned model directory, copied from the PVC."""
    import functools

    from empathy.config import RegistryConfig, TrainConfig, validate_section
    from empathy.train import trainjob

    opts = trainjob.TrainJobOptions(
        name=trainjob.job_name(pipeline_run), namespace=namespace or trainjob.own_namespace(), runtime=runtime,
        image=image, pvc=checkpoint_pvc, mount=checkpoint_mount, timeout_s=timeout_s, poll_s=poll_s,
        reuse_existing=reuse_existing,
    )
    result = trainjob.run_trainjob(
        splits.path, validate_section(TrainConfig, config, "train config"),
        validate_section(RegistryConfig, registry_config, "registry config"), model.path, opts, pipeline_run,
        emit=functools.partial(print, flush=True),
    )
    for name, value in result.items():
        if isinstance(value, (int, float)):
            metrics.log_metric(name, value)
    return result["run_id"]
