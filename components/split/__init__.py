"""The split component."""
