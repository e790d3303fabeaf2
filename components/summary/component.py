"""KFP component: one summary of the run (JSON, and Markdown for the KFP UI)."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Markdown, Model, Output

from components.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def summary(splits: Input[Dataset], model: Input[Model], evaluation: Input[Artifact], registration: Input[Artifact],
            promotion: Input[Artifact], deployment: Input[Artifact], drift: Input[Artifact], report: Input[HTML], edge_cases_report: Input[Artifact],
            summary: Output[Artifact], summary_md: Output[Markdown]):
    """Where to look: data report, edge cases and review, model version, metrics, drift report, a sample reply."""
    import os

    from empathy.summary import build_summary, write_summary

    data = build_summary(
        data_report=os.path.join(splits.path, "report.json"), model_dir=model.path, evaluation=evaluation.path,
        registration=registration.path, promotion=promotion.path,
        deployment=os.path.join(deployment.path, "deploy.json"), drift=drift.path,
        drift_report=report.path, edge_cases_report=edge_cases_report.path,
    )
    write_summary(data, summary.path, summary_md.path)
