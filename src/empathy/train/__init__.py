"""LoRA fine-tuning of Mixture-of-Experts causal language models."""
