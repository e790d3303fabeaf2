"""The monitor component."""
