"""Kubeflow pipeline definitions (wiring only) and their compiled YAML."""
