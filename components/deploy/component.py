"""KFP component: deploy the registered version (InferenceService or local server) and talk to it."""

from kfp import dsl
from kfp.dsl import Artifact, Output

from components.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def deploy(model_uri: str, corpus_dir: str, config: dict, registry_config: dict, deployment: Output[Artifact]) -> str:
    """`deployment` is a directory: deploy.json, inference_log.jsonl (and serve.log locally). Returns the reply."""
    import os

    from empathy import stages
    from empathy.config import DeployConfig, RegistryConfig, validate_section

    deploy_config = validate_section(DeployConfig, config, "deploy config")
    registry = validate_section(RegistryConfig, registry_config, "registry config")
    result = stages.deploy(model_uri, registry.tracking_uri, deploy_config,
                           os.path.join(corpus_dir, deploy_config.inference_inputs), deployment.path)
    deployment.metadata.update({k: v for k, v in result.items() if isinstance(v, (str, int, float))})
    return result["reply"]
