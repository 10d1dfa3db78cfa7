"""What the steps of a hook share: the config, the service, the releases, the output.

Built once per hook from the :class:`~hdhooks.instance.context.HookEnv` and
the component config. The service and the release store are made on first
use, so an event that needs neither pays nothing for them.
"""

from __future__ import annotations

import os
import sys
from functools import cached_property

from hdhooks.config.model import ComponentConfig
from hdhooks.instance.context import HookEnv, service_dirs
from hdhooks.redact import redact

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (hook start-up)
if TYPE_CHECKING:
    from typing import IO, Any

    from hdhooks.instance.releases import ReleaseStore
    from hdhooks.instance.render import Fetched
    from hdhooks.instance.service.base import Service, ServiceSpec

BUILD_ID_FILE = "deploy/build-id"


def read_build_id(bundle_dir: str) -> str | None:
    """The build id the build wrote into the bundle (first word of deploy/build-id)."""
    try:
        with open(os.path.join(bundle_dir, BUILD_ID_FILE), encoding="utf-8") as fh:
            words = fh.read().split()
    except OSError:
        return None
    return words[0] if words else None


def build_id_of(config: ComponentConfig, deployment_id: str) -> str:
    """deploy/build-id of the bundle, else ``values.build_id``, else the deployment id."""
    return (read_build_id(config.bundle_dir) or str(config.values.get("build_id") or "")
            or deployment_id)


class Runtime:
    """The shared state of one hook run."""

    def __init__(self, env: HookEnv | None, config: ComponentConfig,
                 out: IO[str] | None = None):
        self.env = env
        self.config = config
        self.out = out or sys.stdout
        self._services: list[tuple[ServiceSpec, Service]] = []

    def say(self, text: str) -> None:
        """One line of progress on the hook's output (secrets masked)."""
        self.out.write(redact(text) + "\n")
        self.out.flush()

    @cached_property
    def build_id(self) -> str:
        """deploy/build-id of the bundle, else ``values.build_id``, else the deployment id."""
        return build_id_of(self.config, self.env.deployment_id if self.env else "")

    def service_for(self, spec: ServiceSpec) -> Service:
        """The :class:`~hdhooks.instance.service.base.Service` of ``spec`` (one per spec)."""
        for known, service in self._services:
            if known is spec:
                return service
        from hdhooks.instance.service.factory import make_service

        made = make_service(spec)
        self._services.append((spec, made))
        return made

    def store(self, base_dir: str = "") -> ReleaseStore:
        """The release store under ``base_dir`` (empty: this component's)."""
        if not base_dir or base_dir == self.config.releases.base_dir:
            return self.releases
        from hdhooks.instance.releases import ReleaseStore

        return ReleaseStore(base_dir)

    @cached_property
    def releases(self) -> ReleaseStore:
        """The :class:`~hdhooks.instance.releases.ReleaseStore` of the component."""
        from hdhooks.instance.releases import ReleaseStore

        return ReleaseStore(self.config.releases.base_dir)

    def template_context(self, release_dir: str, fetched: Fetched | None = None
                         ) -> dict[str, Any]:
        """The names templates and health settings see (docs/config.md)."""
        from hdhooks.instance.render import build_context

        return build_context(
            self.config,
            release_dir=release_dir,
            fetched=fetched,
            deployment_id=self.env.deployment_id if self.env else None,
            deployment_group=self.env.deployment_group if self.env else None,
            extra={"build_id": self.build_id},
        )


def service_spec(config: ComponentConfig) -> ServiceSpec:
    """The ServiceSpec of a component: defaults filled from the releases layout."""
    from hdhooks.instance.service.base import ServiceSpec
    from hdhooks.instance.service.systemd import root_of

    svc = config.service
    log_dir, run_dir = service_dirs()
    unit_template: str | None = None
    if svc.unit_template:
        unit_template = os.path.join(config.releases.current_link, svc.unit_template)
    elif svc.backend == "systemd" and svc.command:
        unit_template = "builtin"
    # A systemctl with --root (an image being built, the daemonless systemctl)
    # reads units from that tree, so a rendered unit must be written there.
    root = root_of(svc.systemctl)
    unit_dir = os.path.join(root, "etc", "systemd", "system") if root else ServiceSpec.unit_dir
    return ServiceSpec(
        name=svc.name,
        backend=svc.backend,  # type: ignore[arg-type]
        command=svc.command,
        workdir=svc.workdir or config.releases.current_link,
        env=dict(svc.env),
        user=svc.user,
        group=svc.group,
        stop_timeout=svc.stop_timeout,
        log_dir=log_dir,
        pidfile=os.path.join(run_dir, f"{svc.name}.pid") if run_dir else None,
        systemctl=svc.systemctl,
        unit_template=unit_template,
        port=svc.port,
        unit_dir=unit_dir,
    )
