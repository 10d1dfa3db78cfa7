"""Service control."""
