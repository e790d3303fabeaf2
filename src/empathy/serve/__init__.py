"""Serving: the KServe predictor for registered chat models."""
