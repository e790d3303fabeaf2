"""KFP component: generate edge-case dialogues, check them, screen them, and export what clinicians cleared."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Metrics, Output

from components.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def edge_cases(config: dict, registry_config: dict, edge_cases: Output[Dataset], report: Output[Artifact],
               metrics: Output[Metrics]):
    """`edge_cases` is the training-ready export (empty when switched off); `report` the run's directory."""
    import shutil

    from empathy import stages
    from empathy.config import EdgeCasesConfig, RegistryConfig, validate_section

    cfg = validate_section(EdgeCasesConfig, config, "edge_cases config")
    registry = validate_section(RegistryConfig, registry_config, "registry config") if cfg.enabled else None
    result = stages.edge_cases(cfg, report.path, registry, progress=False)
    shutil.copyfile(f"{report.path}/edge_cases.jsonl", edge_cases.path)
    metrics.log_metric("exported", result["exported"])
    for name, value in result.get("totals", {}).items():
        metrics.log_metric(name, value)
    for name, value in result.get("review_queue", {}).items():
        metrics.log_metric(f"review_{name}", value)
