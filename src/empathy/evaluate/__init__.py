"""Evaluation of fine-tuned models on held-out data."""
