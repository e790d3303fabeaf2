"""KFP component: loss, perplexity and token accuracy on the held-out test split."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

from components.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def evaluate(model: Input[Model], splits: Input[Dataset], run_id: str, config: dict, registry_config: dict,
             evaluation: Output[Artifact], metrics: Output[Metrics]):
    """Metrics are logged to the training run in MLflow and written as JSON."""
    import os

    from empathy import stages
    from empathy.config import EvaluateConfig, RegistryConfig, validate_section

    result = stages.evaluate(
        model.path, os.path.join(splits.path, "test.jsonl"), validate_section(EvaluateConfig, config, "evaluate config"),
        validate_section(RegistryConfig, registry_config, "registry config"), run_id, evaluation.path,
    )
    for name, value in result.items():
        metrics.log_metric(name, value)
