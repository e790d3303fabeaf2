"""Monitoring: drift and quality of what the deployed model is asked."""
