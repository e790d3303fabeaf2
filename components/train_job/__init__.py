"""The train-job component."""
