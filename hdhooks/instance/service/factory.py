"""Picking a service backend: the one module that knows them all.

The base module defines the interface and must not import its backends;
this module joins them, and is what the hooks call.
"""

from __future__ import annotations

from hdhooks.errors import ConfigError
from hdhooks.instance.service.base import Service, ServiceSpec, validate_spec


def make_service(spec: ServiceSpec) -> Service:
    """The backend object for ``spec``; raises ConfigError for a bad spec."""
    problems = validate_spec(spec)
    if problems:
        raise ConfigError(f"service {spec.name!r}: {problems[0]}")
    if spec.backend == "systemd":
        from hdhooks.instance.service.systemd import SystemdService

        return SystemdService(spec)
    from hdhooks.instance.service.process import ProcessService

    return ProcessService(spec)
