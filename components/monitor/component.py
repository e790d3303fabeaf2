"""KFP component: Evidently drift report, training inputs vs inference inputs."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Metrics, Output

from components.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def monitor(splits: Input[Dataset], deployment: Input[Artifact], config: dict, report: Output[HTML],
            drift: Output[Artifact], metrics: Output[Metrics]):
    """`report` is the Evidently HTML (shown in the KFP UI); `drift` its JSON summary."""
    import json
    import os
    import shutil
    import tempfile

    from empathy import stages
    from empathy.config import MonitorConfig, validate_section

    work = tempfile.mkdtemp()
    summary = stages.monitor(os.path.join(splits.path, "train.jsonl"),
                             os.path.join(deployment.path, "inference_log.jsonl"),
                             validate_section(MonitorConfig, config, "monitor config"), work)
    shutil.copyfile(summary["report_html"], report.path)
    summary["report_html"] = report.path
    with open(drift.path, "w") as fh:
        json.dump(summary, fh, indent=2)
    metrics.log_metric("drift_share", summary["drift_share"])
    metrics.log_metric("alert", int(summary["alert"]))
