"""empathy: MLOps for therapeutic conversational AI.

Data preparation, MoE LoRA training, evaluation, MLflow registration, KServe
serving and Evidently monitoring, each a plain function called by both the
`empathy` CLI and the Kubeflow Pipelines components. See docs/architecture.md.
"""

__version__ = "0.1.0"
