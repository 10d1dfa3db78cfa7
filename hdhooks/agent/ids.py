"""Deployment ids in the agent's local format: ``d-XXXXXXXXX-local``."""

from __future__ import annotations

import os

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def new_deployment_id() -> str:
    """A fresh id: nine random upper-case letters or digits, like codedeploy-local."""
    raw = os.urandom(9)
    return "d-" + "".join(_ALPHABET[b % len(_ALPHABET)] for b in raw) + "-local"


def is_deployment_id(name: str) -> bool:
    """True for names :func:`new_deployment_id` could have made."""
    return (
        len(name) == 17
        and name.startswith("d-")
        and name.endswith("-local")
        and all(c in _ALPHABET for c in name[2:11])
    )
