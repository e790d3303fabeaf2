"""Clinical safety: the edge-case categories and their safety protocols (risk detection,
edge-case generation and the review queue come next; see docs/architecture.md)."""
