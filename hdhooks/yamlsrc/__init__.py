"""Positioned YAML."""
