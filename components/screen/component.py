"""KFP component: de-identify accepted pairs, rate their risk, and hold high-risk ones for clinical review."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Output

from components.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def screen(accepted: Input[Dataset], config: dict, passed: Output[Dataset], held: Output[Dataset],
           rejected: Output[Dataset], metrics: Output[Metrics]):
    """`passed` goes on to the split; `held` waits in the review queue; `rejected` holds what reviewers rejected."""
    from empathy import stages
    from empathy.config import ScreenConfig, validate_section

    counts = stages.screen(accepted.path, validate_section(ScreenConfig, config, "screen config"), passed.path,
                           held.path, rejected.path)
    for name in ("pairs_in", "passed", "held_for_review", "review_rejected", "approved_high_risk"):
        metrics.log_metric(name, counts[name])
    for name, value in counts["identifiers_replaced"].items():
        metrics.log_metric(f"deid_{name}", value)
