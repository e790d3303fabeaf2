"""KFP component: held-out metrics, generation-based evaluation, fairness and bias, with a gate preview."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Metrics, Model, Output

from components.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def evaluate(model: Input[Model], splits: Input[Dataset], run_id: str, config: dict, registry_config: dict,
             gates_config: dict, evaluation: Output[Artifact], metrics: Output[Metrics], report: Output[HTML]):
    """Metrics and both files are logged to the training run in MLflow; the report is shown in the KFP UI."""
    import os

    from empathy import stages
    from empathy.config import EvaluateConfig, GatesConfig, RegistryConfig, validate_section

    result = stages.evaluate(
        model.path, os.path.join(splits.path, "test.jsonl"), validate_section(EvaluateConfig, config, "evaluate config"),
        validate_section(RegistryConfig, registry_config, "registry config"), run_id, evaluation.path,
        validate_section(GatesConfig, gates_config, "gates config"), report.path,
    )
    for name, value in result["metrics"].items():
        metrics.log_metric(name, value)
    for stage, verdict in result.get("gates", {}).items():
        evaluation.metadata[f"gates_{stage}"] = verdict["summary"]
