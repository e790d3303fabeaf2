"""Kubeflow Pipelines components, one folder per stage; each body calls `empathy.stages`."""
