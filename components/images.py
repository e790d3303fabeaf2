"""Container images the components run in (built from images/, see images/README.md)."""

BASE_IMAGE = "ghcr.io/empathy-mlops/empathy:0.1.0"
TRAIN_IMAGE = "ghcr.io/empathy-mlops/empathy-train:0.1.0"
