"""KFP component: register the model version in MLflow and point the alias at it."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Model, Output

from components.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def register(model: Input[Model], splits: Input[Dataset], run_id: str, registry_config: dict, pipeline_run: str,
             registration: Output[Artifact]) -> str:
    """Returns the versioned model URI (models:/NAME/VERSION)."""
    import json
    import os

    from empathy import stages
    from empathy.config import RegistryConfig, validate_section

    result = stages.register(
        model.path, validate_section(RegistryConfig, registry_config, "registry config"), run_id,
        os.path.join(splits.path, "report.json"), pipeline_run,
    )
    with open(registration.path, "w") as fh:
        json.dump(result, fh, indent=2)
    registration.metadata.update(result)
    return result["model_uri"]
