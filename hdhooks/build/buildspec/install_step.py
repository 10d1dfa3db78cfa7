"""Will the buildspec's install step get hdhooks? PyPI has none.

A buildspec that runs ``pip install hdhooks==X`` (directly or through an
``env.variables`` value such as ``$HDHOOKS_INSTALL``) with nothing pointing pip
at another index stops at that step in every build. Pointing elsewhere means
``--index-url``/``--extra-index-url``/``--find-links`` on the command, a
``PIP_INDEX_URL``-style variable, or an earlier ``aws codeartifact login
--tool pip``. pip cannot read ``s3://`` URLs either. Both are warnings: the
validator cannot see a ``pip.conf`` baked into a custom build image.
"""

from __future__ import annotations

import re

from hdhooks.build.buildspec.checks import Checks
from hdhooks.build.buildspec.phases import PHASES
from hdhooks.build.buildspec.shell_words import first_words, program
from hdhooks.yamlsrc.node import YNode

_SPLIT_RE = re.compile(r"\|\||&&|;|\n|\||&")
_VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_HDHOOKS_REQ_RE = re.compile(r"^hdhooks(\[[^\]]*\])?\s*([=<>!~].*)?$", re.IGNORECASE)
_INDEX_OPTIONS = ("-i", "--index-url", "--extra-index-url", "-f", "--find-links")
_INDEX_VARIABLES = ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS")
_PIPS = {"pip", "pip3", "pip3.10", "pip3.11", "pip3.12", "pip3.13"}


def check_install(root: YNode, checks: Checks) -> None:
    """Warn at each step that installs hdhooks from PyPI or pip-installs an s3:// URL."""
    phases = root.get("phases")
    if phases is None or not phases.is_map:
        return
    variables = _variables(root)
    elsewhere = any(name in variables for name in _INDEX_VARIABLES)
    for node in _commands(phases):
        text = _VAR_RE.sub(lambda m: variables.get(m.group(1) or m.group(2), m.group(0)),
                           node.text())
        for segment in _SPLIT_RE.split(text):
            words = [w.strip("'\"") for w in first_words(segment)]
            if _codeartifact_login(words):
                elsewhere = True
            args = _pip_install_args(words)
            if args is None:
                continue
            _check_args(node, args, elsewhere, checks)


def _check_args(node: YNode, args: list[str], elsewhere: bool, checks: Checks) -> None:
    if any(a in _INDEX_OPTIONS or a.split("=", 1)[0] in _INDEX_OPTIONS[1:] for a in args):
        return
    for arg in args:
        if arg.startswith("s3://"):
            checks.warning(node, "bs-install-s3",
                           f"pip cannot read '{arg}': copy the wheel with 'aws s3 cp' first, "
                           "check its sha256sum, then pip install the file")
        elif _HDHOOKS_REQ_RE.match(arg) and not elsewhere:
            checks.warning(node, "bs-install-pypi",
                           f"this step installs '{arg}' from PyPI, which has no hdhooks, so "
                           "every build stops here: install the release wheel (from the "
                           "source or S3, see hdhooks_install) or point pip at an index that "
                           "has it (--index-url, or 'aws codeartifact login --tool pip' "
                           "first)")


def _variables(root: YNode) -> dict[str, str]:
    env = root.get("env")
    node = env.get("variables") if env is not None and env.is_map else None
    if node is None or not node.is_map:
        return {}
    return {name: value.text() for name, value in node.items() if value.is_scalar}


def _commands(phases: YNode) -> list[YNode]:
    found = []
    for name in PHASES:
        phase = phases.get(name)
        if phase is None or not phase.is_map:
            continue
        for section in ("commands", "finally"):
            node = phase.get(section)
            if node is not None and node.is_seq:
                found += [item for item in node.children() if item.is_str]
    return found


def _codeartifact_login(words: list[str]) -> bool:
    return (len(words) >= 3 and program(words[0]) == "aws" and words[1:3] == ["codeartifact",
                                                                              "login"]
            and "pip" in words and "--tool" in words)


def _pip_install_args(words: list[str]) -> list[str] | None:
    """The words after ``pip install`` (or ``python -m pip install``); None otherwise."""
    if words and program(words[0]).startswith("python") and words[1:3] == ["-m", "pip"]:
        words = words[2:]
    if len(words) < 2 or program(words[0]) not in _PIPS or words[1] != "install":
        return None
    return words[2:]
