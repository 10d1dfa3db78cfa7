"""Buildspecs."""
