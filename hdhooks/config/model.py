"""The component config as immutable records, every default applied.

The records are :class:`~hdhooks.record.Record` subclasses rather than
dataclasses or NamedTuples: every hook process builds them, and the imports
those need would cost more than starting Python itself.

Built by :func:`build_config` from checked plain data (see
:mod:`hdhooks.config.load`); the rest of hdhooks reads these and never YAML.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import MappingProxyType

from hdhooks.record import Record

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (hook start-up)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any


#: The default of every mapping field: shared, so it must never change.
_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))



# The variables a systemd unit template may use. The systemd backend fills
# exactly these (a test holds it to that); the config checks templates
# against them when it loads, before any hook acts.
UNIT_VARIABLES = ("name", "unit", "description", "exec_start", "workdir", "workdir_line",
                  "user", "user_line", "group", "group_line", "environment_lines",
                  "log_file", "output_lines", "stop_timeout", "port")


class ServiceConfig(Record):
    """How the component runs: a systemd unit or a process hdhooks supervises."""

    name: str
    backend: str = "systemd"  # "systemd" | "process"
    command: tuple[str, ...] = ()
    user: str | None = None
    group: str | None = None
    workdir: str | None = None  # None: the current release directory
    env: Mapping[str, str] = _EMPTY
    stop_timeout: float = 30.0
    port: int | None = None
    systemctl: tuple[str, ...] = ("systemctl",)
    unit_template: str | None = None  # bundle-relative template of the unit file
    check_command: tuple[str, ...] = ()  # must pass before a start or reload (nginx -t)
    reload: bool = False  # a shared server (nginx): never stopped, reloaded at start


class ReleasesConfig(Record):
    """Where releases live: ``<base_dir>/releases/<deployment-id>`` and ``current``."""

    base_dir: str
    keep: int = 5
    # "bundle": a release is a copy of the revision the agent unpacked (no
    # appspec `files` needed); "incoming": of what `files` put in incoming/.
    source: str = "bundle"

    @property
    def incoming_dir(self) -> str:
        """Where the appspec ``files`` section puts the revision's files."""
        return os.path.join(self.base_dir, "incoming")

    @property
    def current_link(self) -> str:
        return os.path.join(self.base_dir, "current")


class IdentityCheck(Record):
    """A second URL the health check asks once the first passes (which build answers)."""

    url: str
    expect_status: tuple[int, ...] = (200,)
    body_contains: str | None = None
    json_fields: Mapping[str, Any] = _EMPTY


class HealthConfig(Record):
    """The local HTTP check ValidateService runs before traffic is allowed."""

    url: str
    deadline: float = 60.0
    interval: float = 1.0
    timeout: float = 2.0
    successes: int = 1
    expect_status: tuple[int, ...] = (200,)
    body_contains: str | None = None
    # dotted JSON field -> expected value; a string value may be a template
    json_fields: Mapping[str, Any] = _EMPTY
    identity: IdentityCheck | None = None


class CommandRequirement(Record):
    name: str
    min_version: str | None = None
    version_args: tuple[str, ...] | None = None  # None: the command's usual flag


class PreflightConfig(Record):
    min_free_disk_mb: int = 100
    disk_path: str = "/"
    commands: tuple[CommandRequirement, ...] = ()
    ports: tuple[int, ...] = ()  # must be free before the service starts


class TemplateSpec(Record):
    """One config file rendered in AfterInstall."""

    template: str  # bundle-relative
    destination: str  # relative to the release directory, or absolute
    mode: int = 0o640
    owner: str | None = None
    group: str | None = None

    def destination_path(self, release_dir: str | os.PathLike[str]) -> Path:
        from pathlib import Path

        return Path(release_dir, self.destination)


class SsmConfig(Record):
    paths: tuple[str, ...] = ()
    parameters: Mapping[str, str] = _EMPTY  # template name -> full name


class SecretRef(Record):
    name: str  # the template name: {{ secrets.<name> }}
    id: str  # Secrets Manager name or ARN
    key: str | None = None  # a key of a JSON secret


class TrafficConfig(Record):
    """How hdhooks takes the instance out of its target groups and brings it back.

    ``mode``: auto (act when the instance is on EC2 with target groups and
    CodeDeploy's own traffic control is off), hdhooks (always act; refused
    when CodeDeploy's control is on too), codedeploy or off (never act).
    ``events``: block in BeforeBlockTraffic / allow in AfterAllowTraffic
    instead of ApplicationStop / ValidateService.
    """

    mode: str = "auto"  # auto | hdhooks | codedeploy | off
    target_groups: tuple[str, ...] = ()  # ARNs or names
    standby: bool | None = None  # None: auto
    deregistration_wait: bool = True
    deregistration_timeout: int | None = None  # None: auto (longest delay + 60 s)
    port: int | None = None
    fleet_concurrency: int = 1  # instances deploying at once in the account and region
    imds_v1: bool = False
    events: tuple[str, ...] = ()


class MetricsConfig(Record):
    """The EMF line is always written; PutMetricData only when asked for."""

    put_metric_data: bool = False
    namespace: str = "hdhooks"


class HooksConfig(Record):
    timeouts: Mapping[str, int] = _EMPTY  # event -> seconds (hint)


class ComponentConfig(Record):
    """A component's settings for one environment (overlay merged)."""

    component: str
    environment: str | None
    environment_source: str  # where the environment name came from
    path: str  # the config file
    bundle_dir: str
    service: ServiceConfig
    releases: ReleasesConfig
    health: HealthConfig | None
    preflight: PreflightConfig
    templates: tuple[TemplateSpec, ...]
    values: Mapping[str, Any]
    ssm: SsmConfig
    secrets: tuple[SecretRef, ...]
    traffic: TrafficConfig
    hooks: HooksConfig
    version: int = 1
    metrics: MetricsConfig = MetricsConfig()


def _service(component: str, s: dict[str, Any]) -> ServiceConfig:
    return ServiceConfig(
        name=s["name"] or component,
        backend=s["backend"],
        command=tuple(s["command"] or ()),
        user=s["user"],
        group=s["group"],
        workdir=s["workdir"],
        env=_frozen(s["env"]),
        stop_timeout=float(s["stop_timeout"]),
        port=s["port"],
        systemctl=tuple(s["systemctl"]),
        unit_template=s["unit_template"],
        check_command=tuple(s["check_command"] or ()),
        reload=bool(s["reload"]),
    )


def _health(h: dict[str, Any] | None, service: ServiceConfig) -> HealthConfig | None:
    if not h:
        return None
    origin = f"http://{h['host'] or '127.0.0.1'}:{h['port'] or service.port}"
    url = h["url"] or f"{origin}{h['path']}"
    i = h.get("identity")
    identity = None if not i else IdentityCheck(
        url=i["url"] or f"{_origin_of(url)}{i['path']}",
        expect_status=tuple(i["expect_status"]),
        body_contains=i["body_contains"],
        json_fields=_frozen(i["json_fields"]),
    )
    return HealthConfig(
        url=url,
        deadline=float(h["deadline"]),
        interval=float(h["interval"]),
        timeout=float(h["timeout"]),
        successes=int(h["successes"]),
        expect_status=tuple(h["expect_status"]),
        body_contains=h["body_contains"],
        json_fields=_frozen(h["json_fields"]),
        identity=identity,
    )


def _origin_of(url: str) -> str:
    """``scheme://host:port`` of ``url``: the identity path is asked where health is."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def _preflight(p: dict[str, Any], service: ServiceConfig, base_dir: str) -> PreflightConfig:
    ports = p["ports"] if p["ports"] is not None else ([service.port] if service.port else [])
    return PreflightConfig(
        min_free_disk_mb=p["min_free_disk_mb"],
        disk_path=p["disk_path"] or base_dir,
        commands=tuple(
            CommandRequirement(c["name"], c["min_version"],
                               None if c["version_args"] is None else tuple(c["version_args"]))
            for c in p["commands"]
        ),
        ports=tuple(ports),
    )


def _traffic(t: dict[str, Any], service: ServiceConfig) -> TrafficConfig:
    dereg = t["deregistration"] or {"wait": True, "timeout": "auto"}
    timeout = dereg.get("timeout", "auto")
    return TrafficConfig(
        mode=t["mode"],
        target_groups=tuple(t["target_groups"]),
        standby=None if t["standby"] == "auto" else bool(t["standby"]),
        deregistration_wait=bool(dereg.get("wait", True)),
        deregistration_timeout=None if timeout == "auto" else int(timeout),
        port=t["port"] or service.port,
        fleet_concurrency=int(t.get("fleet_concurrency") or 1),
        imds_v1=bool(t.get("imds_v1", False)),
        events=tuple(t.get("events") or ()),
    )


def _metrics(m: dict[str, Any] | None) -> MetricsConfig:
    if not m:
        return MetricsConfig()
    return MetricsConfig(put_metric_data=bool(m.get("put_metric_data", False)),
                         namespace=str(m.get("namespace") or "hdhooks"))


def build_config(
    top: dict[str, Any],
    sections: dict[str, Any],
    *,
    env: str | None,
    env_source: str,
    path: str,
    bundle_dir: str,
) -> ComponentConfig:
    """Checked plain data -> :class:`ComponentConfig`, defaults that depend on others applied."""
    component = top["component"]
    service = _service(component, sections["service"])
    rel = sections["releases"]
    releases = ReleasesConfig(base_dir=rel["base_dir"] or f"/opt/{component}", keep=rel["keep"],
                              source=rel["source"])
    ssm = sections["ssm"]
    return ComponentConfig(
        component=component,
        environment=env,
        environment_source=env_source,
        path=path,
        bundle_dir=bundle_dir,
        service=service,
        releases=releases,
        health=_health(sections["health"], service),
        preflight=_preflight(sections["preflight"], service, releases.base_dir),
        templates=tuple(
            TemplateSpec(t["template"], t["destination"], t["mode"], t["owner"], t["group"])
            for t in sections["templates"]
        ),
        values=_frozen(sections["values"]),
        ssm=SsmConfig(tuple(ssm["paths"]), _frozen(ssm["parameters"])),
        secrets=tuple(
            SecretRef(name, ref["id"], ref["key"]) for name, ref in sections["secrets"].items()
        ),
        traffic=_traffic(sections["traffic"], service),
        hooks=HooksConfig(_frozen(sections["hooks"]["timeouts"])),
        version=top["version"],
        metrics=_metrics(sections.get("metrics")),
    )
