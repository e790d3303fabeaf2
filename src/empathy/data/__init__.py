"""Training-data preparation: sources -> records -> Q/A pairs -> validation -> splits."""
