"""Clinical safety: the 25 edge-case categories and their protocols (categories), the risk detector (risk),
edge-case generation (edge_cases) with its validation rules (rules), and the clinical review queue (review).
See docs/safety.md."""
