"""KFP component: register the model version in MLflow, with its config, data report and model card."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Model, Output

from components.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def register(model: Input[Model], splits: Input[Dataset], run_id: str, registry_config: dict, gates_config: dict,
             pipeline_run: str, edge_cases_config: dict, ingest_config: dict, pairs_config: dict,
             validate_config: dict, screen_config: dict, split_config: dict, train_config: dict,
             evaluate_config: dict, registration: Output[Artifact]) -> str:
    """Returns the versioned model URI (models:/NAME/VERSION). The sections that made the model are logged together
    as the run's config/pipeline.yaml."""
    import json
    import os

    from empathy import stages
    from empathy.config import GatesConfig, RegistryConfig, validate_section

    config = {"edge_cases": edge_cases_config, "ingest": ingest_config, "pairs": pairs_config,
              "validate": validate_config, "screen": screen_config, "split": split_config, "train": train_config,
              "evaluate": evaluate_config, "registry": registry_config, "gates": gates_config}
    result = stages.register(
        model.path, validate_section(RegistryConfig, registry_config, "registry config"), run_id,
        os.path.join(splits.path, "report.json"), pipeline_run, config=config,
        gates=validate_section(GatesConfig, gates_config, "gates config"),
    )
    with open(registration.path, "w") as fh:
        json.dump(result, fh, indent=2)
    registration.metadata.update(result)
    return result["model_uri"]
