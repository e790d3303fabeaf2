"""KFP component: train/val/test chat JSONL, rejected.jsonl and the accounting report."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Output

from components.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def split(records: Input[Dataset], pairs: Input[Dataset], accepted: Input[Dataset], screened: Input[Dataset],
          held: Input[Dataset], ingest_rejected: Input[Dataset], pairs_rejected: Input[Dataset],
          validate_rejected: Input[Dataset], screen_rejected: Input[Dataset], edge_cases_report: Input[Artifact],
          config: dict, splits: Output[Dataset], metrics: Output[Metrics]):
    """`splits` is a directory: train.jsonl, val.jsonl, test.jsonl, rejected.jsonl, report.json.

    `edge_cases_report` is edge-case generation's directory; its counts per category and difficulty go into the
    data report.
    """
    from empathy import stages
    from empathy.config import SplitConfig, validate_section

    report = stages.split(
        records.path, pairs.path, accepted.path, screened.path, held.path,
        [ingest_rejected.path, pairs_rejected.path, validate_rejected.path, screen_rejected.path],
        validate_section(SplitConfig, config, "split config"), splits.path,
        edge_cases_report=f"{edge_cases_report.path}/report.json",
    )
    for name in ("items_in", "records", "pairs", "accepted", "held_for_review", "exported", "rejected"):
        metrics.log_metric(name, report[name])
    for name, count in report["splits"].items():
        metrics.log_metric(f"{name}_examples", count)
