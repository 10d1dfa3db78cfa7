"""The component config."""
