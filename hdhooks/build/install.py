"""Where a build gets hdhooks: the install source in the component settings.

hdhooks is not on PyPI, so ``pip install hdhooks==X`` stops every build at its
install step. A component names one of three sources (``hdhooks_install``):

* ``path``: the release wheel kept in the source repository (the default:
  ``.hdhooks/hdhooks-<this version>-py3-none-any.whl``), optionally with its
  ``sha256``;
* ``wheel``: the release wheel at an ``s3://`` or ``https://`` URL, with its
  ``sha256`` (required: the build installs what it checked, nothing else);
* ``requirement`` with ``index_url`` or ``codeartifact`` (domain, domain owner,
  repository): a private index that has the release, logged in with
  ``aws codeartifact login --tool pip`` for CodeArtifact.

:func:`install_commands` turns the source into the buildspec's install
commands; every value is checked here and shell-quoted there.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass

from hdhooks import __version__
from hdhooks.yamlsrc.node import YNode

INSTALL_KEYS = ("path", "wheel", "sha256", "requirement", "index_url", "codeartifact")
CODEARTIFACT_KEYS = ("domain", "domain_owner", "repository", "region")
VENV = "/tmp/hdhooks"
PIP = f"{VENV}/bin/pip install --quiet --disable-pip-version-check"
DOWNLOAD_DIR = "/tmp/hdhooks-wheel"

_UNSAFE = r"\s'\"`$\\;&|<>(){}*?"
_WHEEL_NAME_RE = re.compile(r"^hdhooks-\d+\.\d+\.\d+[A-Za-z0-9.+]*-py3-none-any\.whl$")
_PATH_RE = re.compile(rf"^[^/{_UNSAFE}][^{_UNSAFE}]*\.whl$")
_URL_RE = re.compile(rf"^(s3|https)://[^/{_UNSAFE}]+/[^{_UNSAFE}]+\.whl$")
_INDEX_RE = re.compile(rf"^https://[^/{_UNSAFE}]+(/[^{_UNSAFE}]*)?$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_REQUIREMENT_RE = re.compile(r"^hdhooks(\[[a-z,]+\])?(==|~=|>=)\d[0-9A-Za-z.+-]*$")
_CODEARTIFACT_RE = {
    "domain": (re.compile(r"^[a-z][a-z0-9-]{1,49}$"), "lowercase letters, digits and -"),
    "domain_owner": (re.compile(r"^\d{12}$"), "the 12-digit account id, quoted"),
    "repository": (re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,99}$"),
                   "letters, digits, '.', '_' and '-'"),
    "region": (re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$"), "a region such as eu-west-1"),
}

Fail = Callable[[YNode, str], None]
Unknown = Callable[[YNode, tuple[str, ...], str], None]  # node, allowed keys, what it is


@dataclass(frozen=True)
class InstallSource:
    """One way to get hdhooks into the build's venv (exactly one of path, wheel, requirement)."""

    path: str = ""
    wheel: str = ""
    sha256: str = ""
    requirement: str = ""
    index_url: str = ""
    codeartifact: tuple[tuple[str, str], ...] = ()

    @property
    def kind(self) -> str:
        return "path" if self.path else "wheel" if self.wheel else "index"

    def describe(self) -> str:
        """For the buildspec's comment: where hdhooks comes from."""
        if self.path:
            return f"the wheel {self.path} in the source"
        if self.wheel:
            return f"the wheel {self.wheel} (SHA-256 checked)"
        ca = dict(self.codeartifact)
        where = (f"CodeArtifact {ca['domain']}/{ca['repository']}" if ca
                 else self.index_url)
        return f"{self.requirement} from {where}"


def default_source(version: str = __version__) -> InstallSource:
    """The release wheel of this hdhooks version, kept in the source repository."""
    return InstallSource(path=f".hdhooks/hdhooks-{version}-py3-none-any.whl")


def install_commands(source: InstallSource) -> list[str]:
    """The install phase's commands that put hdhooks into /tmp/hdhooks."""
    if source.path:
        missing = (f"hdhooks: {source.path} is not in the source; commit the release wheel "
                   "there (make dist builds it) or set hdhooks_install")
        steps = [f"test -f {shlex.quote(source.path)} || {{ echo {shlex.quote(missing)}; "
                 "false; }"]
        target = "./" + source.path
    elif source.wheel:
        target = posixpath.join(DOWNLOAD_DIR, posixpath.basename(source.wheel))
        fetch = (f"aws s3 cp --only-show-errors {shlex.quote(source.wheel)} {target}"
                 if source.wheel.startswith("s3://")
                 else f"curl -sSfL -o {target} {shlex.quote(source.wheel)}")
        steps = [f"mkdir -p {DOWNLOAD_DIR} && {fetch}"]
    else:
        steps = []
        ca = dict(source.codeartifact)
        if ca:
            region = f" --region {ca['region']}" if ca.get("region") else ""
            steps.append(f"aws codeartifact login --tool pip --domain {ca['domain']} "
                         f"--domain-owner {ca['domain_owner']} --repository "
                         f"{ca['repository']}{region}")
        index = f" --index-url {shlex.quote(source.index_url)}" if source.index_url else ""
        return [*steps, f"python3 -m venv {VENV}",
                f"{PIP}{index} {shlex.quote(source.requirement)}"]
    if source.sha256:
        steps.append(f"printf '%s  %s\\n' {source.sha256} {shlex.quote(target)} > "
                     f"{VENV}-wheel.sha256 && sha256sum --check --quiet {VENV}-wheel.sha256")
    return [*steps, f"python3 -m venv {VENV}", f"{PIP} {shlex.quote(target)}"]


def read_install(node: YNode | None, fail: Fail, unknown: Unknown) -> InstallSource:
    """``hdhooks_install`` from the settings; problems go to ``fail`` / ``unknown``."""
    if node is None:
        return default_source()
    if node.is_str:
        text = node.text()
        if _PATH_RE.match(text) and ".." not in text.split("/"):
            return InstallSource(path=text)
        fail(node, f"hdhooks_install '{text}' would be looked for on PyPI, which has no "
                   "hdhooks: give {wheel: s3://.../hdhooks-X-py3-none-any.whl, sha256: ...}, "
                   "{path: <wheel in the source>} or {requirement: hdhooks==X, index_url: ...}")
        return default_source()
    if not node.is_map:
        fail(node, f"hdhooks_install must be a mapping (wheel, path or requirement), not "
                   f"{node.kind_name()}")
        return default_source()
    unknown(node, INSTALL_KEYS, "hdhooks_install")
    nodes = dict(node.items())
    given = [k for k in ("path", "wheel", "requirement") if k in nodes]
    if len(given) != 1:
        fail(node, "hdhooks_install needs exactly one of path, wheel or requirement"
                   + (f" (not {' and '.join(given)})" if given else ""))
        return default_source()
    values = {key: _text(value, fail, key) for key, value in nodes.items()
              if key != "codeartifact"}
    source = InstallSource(
        path=values.get("path", ""), wheel=values.get("wheel", ""),
        sha256=values.get("sha256", ""), requirement=values.get("requirement", ""),
        index_url=values.get("index_url", ""),
        codeartifact=_codeartifact(nodes.get("codeartifact"), fail, unknown))
    _check(source, nodes, fail)
    return source


def _text(node: YNode, fail: Fail, key: str) -> str:
    if node.is_scalar and node.tag == "int":
        return node.raw  # a digest of digits only is still a digest
    if not node.is_str:
        fail(node, f"hdhooks_install.{key} must be a string, not {node.kind_name()}")
        return ""
    return node.text()


def _check(source: InstallSource, nodes: dict[str, YNode], fail: Fail) -> None:
    """Each value's own rule, then the rules between them."""
    rules = {
        "path": (lambda v: bool(_PATH_RE.match(v)) and ".." not in v.split("/"),
                 "a relative path to a .whl inside the source, without '..', spaces or "
                 "quotes"),
        "wheel": (lambda v: bool(_URL_RE.match(v)),
                  "an s3:// or https:// URL of a .whl, without spaces or quotes"),
        "sha256": (lambda v: bool(_SHA_RE.match(v)), "64 lowercase hex digits (sha256sum)"),
        "requirement": (lambda v: bool(_REQUIREMENT_RE.match(v)),
                        "a pinned requirement such as hdhooks==0.1.0"),
        "index_url": (lambda v: bool(_INDEX_RE.match(v)), "an https:// URL"),
    }
    for key, (ok, expected) in rules.items():
        value = getattr(source, key)
        if key in nodes and value and not ok(value):
            fail(nodes[key], f"hdhooks_install.{key} '{value}' is not valid: expected "
                             f"{expected}")
    name = posixpath.basename(source.path or source.wheel)
    if name and not _WHEEL_NAME_RE.match(name):
        fail(nodes["path" if source.path else "wheel"],
             f"'{name}' is not an hdhooks wheel name: pip installs only "
             "hdhooks-<version>-py3-none-any.whl")
    if source.wheel and not source.sha256:
        fail(nodes["wheel"], "hdhooks_install.wheel needs its sha256: the build must install "
                             "the wheel that was released, not whatever is at the URL")
    if source.requirement and not (source.index_url or source.codeartifact):
        fail(nodes["requirement"], "hdhooks_install.requirement needs index_url or "
                                   "codeartifact: PyPI has no hdhooks")
    extra: list[str] = [k for k in ("index_url", "codeartifact")
                        if k in nodes and not source.requirement]
    extra += ["sha256"] if "sha256" in nodes and source.requirement else []
    for key in extra:
        fail(nodes[key], f"hdhooks_install.{key} does not go with "
                         f"{'requirement' if key == 'sha256' else source.kind}")


def _codeartifact(node: YNode | None, fail: Fail, unknown: Unknown
                  ) -> tuple[tuple[str, str], ...]:
    if node is None:
        return ()
    if not node.is_map:
        fail(node, "hdhooks_install.codeartifact must be a mapping (domain, domain_owner, "
                   "repository, region)")
        return ()
    unknown(node, CODEARTIFACT_KEYS, "hdhooks_install.codeartifact")
    nodes = dict(node.items())
    pairs = []
    for key in CODEARTIFACT_KEYS:
        value = nodes.get(key)
        if value is None:
            if key != "region":
                fail(node, f"hdhooks_install.codeartifact needs '{key}'")
            continue
        text = _text(value, fail, f"codeartifact.{key}")
        pattern, expected = _CODEARTIFACT_RE[key]
        if text and not pattern.match(text):
            fail(value, f"hdhooks_install.codeartifact.{key} '{text}' is not valid: "
                        f"expected {expected}")
        pairs.append((key, text))
    return tuple(pairs)
