"""The pairs component."""
