"""Config rendering (AfterInstall): Jinja2 templates, sandboxed, strict, atomic.

Values come from the component config (``values``), the process environment
(``env``), SSM Parameter Store (``ssm``) and Secrets Manager (``secrets``).
Rendering is planned before anything is written: every template is rendered
into a temporary file next to its destination, and only when all of them
succeeded are they renamed into place. A render that fails or is killed
leaves every existing file as it was.

Secret values are registered with :mod:`hdhooks.redact` when fetched, and
every error this module raises is redacted, so a template error can never
print a secret.
"""

from __future__ import annotations

import logging
import os
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hdhooks.config.model import ComponentConfig, TemplateSpec
from hdhooks.errors import CheckFailed
from hdhooks.fsutil import PendingFile, remove_stale_temps
from hdhooks.record import EMPTY_MAP, Record
from hdhooks.redact import redact

log = logging.getLogger("hdhooks.render")


class RenderFailed(CheckFailed):
    """A template could not be rendered; ``location`` is ``template:line``."""

    def __init__(self, message: str, *, location: str = "", hint: str = "") -> None:
        text = f"{location}: {message}" if location else message
        super().__init__(redact(text), hint=redact(hint))
        self.location = location


class Fetched(Record):
    """Values fetched from AWS for the templates (secret ones are registered)."""

    ssm: Mapping[str, str] = EMPTY_MAP
    secrets: Mapping[str, str] = EMPTY_MAP


class RenderedFile(Record):
    template: str
    destination: Path
    mode: int
    bytes: int


def fetch_values(config: ComponentConfig, *, region: str | None = None) -> Fetched:
    """SSM parameters and secrets the config names; no AWS call when it names none.

    A parameter under ``ssm.paths`` is reachable by its name relative to the
    path (``db/password``) and by its full name; ``ssm.parameters`` entries by
    their template name.
    """
    ssm: dict[str, str] = {}
    secrets: dict[str, str] = {}
    if config.ssm.paths or config.ssm.parameters or config.secrets:
        from hdhooks.aws import params

        for path in config.ssm.paths:
            prefix = path.rstrip("/") + "/"
            for p in params.parameters_by_path(path, region=region):
                relative = p.name[len(prefix):] if p.name.startswith(prefix) else p.name
                ssm[relative] = p.value
                ssm[p.name] = p.value
        for name, full in config.ssm.parameters.items():
            ssm[name] = params.parameter(full, region=region).value
        for ref in config.secrets:
            secrets[ref.name] = params.secret_value(ref.id, json_key=ref.key,
                                                    region=region).value
    return Fetched(types.MappingProxyType(ssm), types.MappingProxyType(secrets))


def build_context(
    config: ComponentConfig,
    *,
    release_dir: str | os.PathLike[str],
    fetched: Fetched | None = None,
    deployment_id: str | None = None,
    deployment_group: str | None = None,
    environ: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The names a template sees (documented in docs/config.md)."""
    fetched = fetched or Fetched()
    service = config.service
    context: dict[str, Any] = {
        "component": config.component,
        "environment": config.environment,
        "deployment_id": deployment_id,
        "deployment_group": deployment_group,
        "release_dir": str(release_dir),
        "base_dir": config.releases.base_dir,
        "current_dir": config.releases.current_link,
        "service": {"name": service.name, "user": service.user, "group": service.group,
                    "port": service.port, "command": list(service.command)},
        "values": dict(config.values),
        "ssm": dict(fetched.ssm),
        "secrets": dict(fetched.secrets),
        "env": dict(os.environ if environ is None else environ),
    }
    context.update(extra or {})
    return context


def _environment(bundle_dir: str | os.PathLike[str] | None) -> Any:
    from jinja2 import FileSystemLoader

    from hdhooks.instance.sandbox import environment

    return environment(FileSystemLoader(os.fspath(bundle_dir)) if bundle_dir is not None
                       else None)


def render_string(text: str, context: Mapping[str, Any], *, what: str = "value") -> str:
    """Render a short template string (e.g. a health check's expected value)."""
    import jinja2

    from hdhooks.instance.sandbox import MAX_VALUE, TemplateLimit, bounded, limits

    env = _environment(None)
    try:
        with limits():
            return "".join(bounded(env.from_string(text).generate(**context), MAX_VALUE))
    except (jinja2.TemplateError, TemplateLimit, ArithmeticError, TypeError, ValueError,
            LookupError, AttributeError, MemoryError, RecursionError) as exc:
        raise RenderFailed(_describe(exc), location=what) from None


def _describe(exc: BaseException) -> str:
    import jinja2

    kind = {
        jinja2.TemplateSyntaxError: "syntax error",
        jinja2.UndefinedError: "undefined",
        jinja2.TemplateNotFound: "template not found",
    }
    for cls, name in kind.items():
        if isinstance(exc, cls):
            return f"{name}: {getattr(exc, 'message', None) or exc}"
    if type(exc).__name__ == "SecurityError":
        return f"not allowed in the sandbox: {exc}"
    if type(exc).__name__ == "TemplateLimit":
        return f"limit exceeded: {exc}"
    if isinstance(exc, MemoryError):
        return "limit exceeded: rendering ran out of the memory it may use"
    if isinstance(exc, RecursionError):
        return "limit exceeded: recursion too deep (a macro or include calling itself?)"
    return f"{type(exc).__name__}: {exc}"


def _error_line(exc: BaseException, filename: str) -> int:
    """The template line an exception was raised at (Jinja rewrites frames to it)."""
    lineno = getattr(exc, "lineno", None)
    if lineno and getattr(exc, "filename", None) in (filename, None):
        return int(lineno)
    tb = exc.__traceback__
    found = 0
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            found = tb.tb_lineno
        tb = tb.tb_next
    return found


def _group_for(spec: TemplateSpec, config: ComponentConfig) -> str | int | None:
    """The group of a rendered file: the template's, the service's, or the user's own."""
    if spec.group:
        return spec.group
    return group_for_service(config)


def group_for_service(config: ComponentConfig) -> str | int | None:
    """``service.group``, else the primary group of ``service.user``, else None."""
    if config.service.group:
        return config.service.group
    if config.service.user:
        import pwd

        try:
            return pwd.getpwnam(config.service.user).pw_gid
        except KeyError:
            raise CheckFailed(f"service user '{config.service.user}' does not exist on "
                              "this machine", hint="create it before deploying") from None
    return None


def _destination(spec: TemplateSpec, stage_dir: Path) -> Path:
    dest = _destination_path(spec, stage_dir)
    remove_stale_temps(dest.parent)  # left by a render that was killed
    return dest


def _destination_path(spec: TemplateSpec, stage_dir: Path) -> Path:
    if os.path.isabs(spec.destination):
        dest = Path(spec.destination)
        if not dest.parent.is_dir():
            raise RenderFailed(f"directory {dest.parent} does not exist",
                               location=spec.template, hint="create it in the AMI")
        return dest
    dest = stage_dir / spec.destination
    if os.path.relpath(dest.resolve(), stage_dir.resolve()).startswith(".."):
        raise RenderFailed(f"destination '{spec.destination}' leaves the release directory",
                           location=spec.template)
    _make_dirs(dest.parent)
    return dest


def _make_dirs(directory: Path) -> None:
    """Missing directories of a destination in the release, 0755 whatever the umask.

    The service (another user) must reach its config; the file's own mode and
    group protect what is in it.
    """
    missing: list[Path] = []
    while not directory.is_dir():
        missing.append(directory)
        directory = directory.parent
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
        os.chmod(path, 0o755)


def render_templates(
    config: ComponentConfig,
    context: Mapping[str, Any],
    *,
    stage_dir: str | os.PathLike[str],
) -> list[RenderedFile]:
    """Render every template of ``config``; relative destinations go under ``stage_dir``.

    ``stage_dir`` is the release being prepared (see ``ReleaseStore.promote``);
    the context's ``release_dir`` is where it will live. All files are written
    or none: each is rendered to a temporary file, and they are renamed only
    when every template succeeded.
    """
    import jinja2

    from hdhooks.instance.sandbox import limits

    env = _environment(config.bundle_dir)
    stage = Path(stage_dir)
    pending: list[tuple[PendingFile, TemplateSpec]] = []
    try:
        for spec in config.templates:
            dest = _destination(spec, stage)
            group = _group_for(spec, config)
            out = PendingFile(dest, mode=spec.mode, owner=spec.owner, group=group)
            pending.append((out, spec))
            with limits():
                _render_into(env, spec, context, out, jinja2)
            out.finish()
        rendered = [
            RenderedFile(spec.template, out.commit(), spec.mode, out.size)
            for out, spec in pending
        ]
    finally:
        for out, _ in pending:
            out.discard()
    for item in rendered:
        log.info("rendered %s -> %s (mode %04o, %d bytes)", item.template, item.destination,
                 item.mode, item.bytes)
    return rendered


def _render_into(env: Any, spec: TemplateSpec, context: Mapping[str, Any],
                 out: PendingFile, jinja2: Any) -> None:
    """Stream one template into its temporary file; errors name template:line."""
    from hdhooks.instance.sandbox import TemplateLimit, bounded

    filename = os.path.join(env.loader.searchpath[0], spec.template)
    try:
        template = env.get_template(spec.template)
        for chunk in bounded(template.generate(**context)):
            out.write(chunk)
    except jinja2.TemplateNotFound as exc:
        if exc.name == spec.template:
            raise RenderFailed("template file not found in the bundle",
                               location=spec.template) from None
        line = _error_line(exc, filename)
        raise RenderFailed(f"included template not found: {exc.name}",
                           location=f"{spec.template}:{line}" if line else spec.template
                           ) from None
    except (jinja2.TemplateError, TemplateLimit, ArithmeticError, TypeError, ValueError,
            LookupError, AttributeError, MemoryError, RecursionError) as exc:
        line = _error_line(exc, filename)
        raise RenderFailed(_describe(exc),
                           location=f"{spec.template}:{line}" if line else spec.template
                           ) from None


class _Discard:
    """A sink for a render whose output is not kept (a check at lint time)."""

    size = 0

    def write(self, chunk: str) -> None:
        self.size += len(chunk)


def check_templates(config: ComponentConfig, context: Mapping[str, Any]
                    ) -> list[tuple[int, RenderFailed]]:
    """Render every template of ``config`` exactly as AfterInstall does, writing nothing.

    Returns (index in ``templates``, error) for each template that would fail,
    so that a syntax error or an undefined name is found before a deployment
    stops the running service.
    """
    import jinja2

    from hdhooks.instance.sandbox import limits

    env = _environment(config.bundle_dir)
    failed: list[tuple[int, RenderFailed]] = []
    for index, spec in enumerate(config.templates):
        try:
            with limits():
                _render_into(env, spec, context, _Discard(), jinja2)  # type: ignore[arg-type]
        except RenderFailed as exc:
            failed.append((index, exc))
    return failed
