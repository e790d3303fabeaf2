"""KFP component: LoRA fine-tuning of the MoE model, live metrics in MLflow."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output

from components.images import TRAIN_IMAGE


@dsl.component(base_image=TRAIN_IMAGE, install_kfp_package=False)
def train(splits: Input[Dataset], config: dict, registry_config: dict, pipeline_run: str, model: Output[Model],
          metrics: Output[Metrics]) -> str:
    """Returns the MLflow run id; `model` is the fine-tuned model directory."""
    import os

    from empathy import stages
    from empathy.config import RegistryConfig, TrainConfig, validate_section

    train_config = validate_section(TrainConfig, config, "train config")
    if train_config.checkpoint_dir and pipeline_run:
        # one folder per pipeline run, so a retried task resumes its own run and never another's
        train_config = train_config.model_copy(
            update={"checkpoint_dir": os.path.join(train_config.checkpoint_dir, pipeline_run)})
    result = stages.train(
        os.path.join(splits.path, "train.jsonl"), os.path.join(splits.path, "val.jsonl"), train_config,
        validate_section(RegistryConfig, registry_config, "registry config"), model.path, pipeline_run,
        resume=bool(train_config.checkpoint_dir),
    )
    for name, value in result.items():
        if isinstance(value, (int, float)):
            metrics.log_metric(name, value)
    return result["run_id"]
