"""KFP component: the promotion gate. Moves the stage's alias to the new version only when its gates pass."""

from kfp import dsl
from kfp.dsl import Artifact, Input, Metrics, Output

from components.images import BASE_IMAGE


@dsl.component(base_image=BASE_IMAGE, install_kfp_package=False)
def promote(registration: Input[Artifact], registry_config: dict, gates_config: dict, promotion: Output[Artifact],
            gate_metrics: Output[Metrics]) -> bool:
    """Returns whether the version was promoted. Blocked is a result, not a failure: the step succeeds and the
    verdict, with each missed metric and by how much, is in `promotion`, on the model version and in the KFP UI."""
    import json

    from empathy import stages
    from empathy.config import GatesConfig, RegistryConfig, validate_section

    registry = validate_section(RegistryConfig, registry_config, "registry config")
    with open(registration.path) as fh:
        registered = json.load(fh)
    if registry.promote_to is None:
        result = {"promoted": False, "stage": None, "summary": "registry.promote_to is null: registered only"}
    else:
        result = stages.promote(registered, registry.promote_to,
                                validate_section(GatesConfig, gates_config, "gates config"), registry)
        for gate in result["gates"]["gates"]:
            if gate["value"] is not None and gate["value"] == gate["value"]:  # KFP metrics take no NaN
                gate_metrics.log_metric(f"{gate['metric']}", gate["value"])
        gate_metrics.log_metric("gates_failed", sum(not g["passed"] for g in result["gates"]["gates"]))
    with open(promotion.path, "w") as fh:
        json.dump(result, fh, indent=2)
    promotion.metadata.update({"promoted": result["promoted"], "stage": result["stage"], "summary": result["summary"]})
    print(result["summary"])
    return bool(result["promoted"])
