"""KFP component: semantic validation of Q/A pairs (format checks, then the trained validator's score)."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Output

from components.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def validate(pairs: Input[Dataset], config: dict, accepted: Output[Dataset], rejected: Output[Dataset],
             metrics: Output[Metrics]):
    """Pairs whose answer does not address the question go to `rejected` with a reason code."""
    from empathy import stages
    from empathy.config import ValidateConfig, validate_section

    counts = stages.validate(pairs.path, validate_section(ValidateConfig, config, "validate config"), accepted.path,
                             rejected.path)
    for name, value in counts.items():
        metrics.log_metric(name, value)
