"""KFP component: Q/A pairs, extracted from real questions and contextual for running text."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Output

from components.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def pairs(records: Input[Dataset], config: dict, pairs: Output[Dataset], rejected: Output[Dataset],
          metrics: Output[Metrics]):
    """Records without a usable pair go to `rejected` with the reason."""
    from empathy import stages
    from empathy.config import PairsConfig, validate_section

    counts = stages.pairs(records.path, validate_section(PairsConfig, config, "pairs config"), pairs.path, rejected.path)
    for name, value in counts.items():
        metrics.log_metric(name, value)
