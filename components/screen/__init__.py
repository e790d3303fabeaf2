"""The screen component."""
