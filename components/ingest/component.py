"""KFP component: load every source of a corpus into one record schema."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Metrics, Output

from components.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def ingest(corpus_dir: str, config: dict, edge_cases: Input[Dataset], records: Output[Dataset],
           rejected: Output[Dataset], metrics: Output[Metrics]):
    """Records with source attribution, the corpus's plus the edge-case export; unloadable items go to `rejected`."""
    from empathy import stages
    from empathy.config import IngestConfig, validate_section

    counts = stages.ingest(corpus_dir, validate_section(IngestConfig, config, "ingest config"), records.path, rejected.path,
                           edge_cases.path)
    for name, value in counts.items():
        metrics.log_metric(name, value)
