"""The promote (gate) component."""
