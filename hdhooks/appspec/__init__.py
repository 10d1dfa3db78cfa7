"""The AppSpec file."""
