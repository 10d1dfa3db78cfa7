"""Just enough shell reading to tell what a buildspec command runs.

Buildspec commands are bash text. To find a SonarQube analysis and the gate
after it, and to see whether the gate's exit status survives (``|| true``,
``; echo done`` and an unguarded pipe all hide a failure), the command is cut
at ``&&``, ``||``, ``;``, ``|``, ``&`` and newlines and the first word of each
piece is read. It is a heuristic, not a shell parser: quoting is not honoured.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from hdhooks.yamlsrc.node import YNode

_SPLIT_RE = re.compile(r"(\|\||&&|;|\n|\||&)")
_SKIP_WORDS = {"if", "then", "else", "elif", "do", "while", "until", "!", "{", "(", "time",
               "exec", "command", "env", "sudo"}
_FAILS_RE = re.compile(r"\bexit\s+[1-9]|\bfalse\b|\breturn\s+[1-9]")
# `gate; rc=$?; ...; exit $rc` (or `(exit $rc)`) hands the gate's status back.
_SAVED_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)=\$\?\s*$")
# `export X=$(hdhooks sonar gate)`: the line's status is export's, always 0.
_SUBST_GATE_RE = re.compile(
    r"\b(export|local|declare|readonly|typeset)\s+[A-Za-z_][A-Za-z0-9_]*=[\"']?\$\(\s*"
    r"(\S+)\s+sonar\s+gate\b"
)
_ERREXIT_RE = re.compile(r"\bset\s+-[a-zA-Z]*e|\bset\s+-o\s+errexit")
_TRAILING_WORDS = {"", "fi", "done", "}", ")"}
_MAVEN = {"mvn", "mvnw", "mvn.cmd"}
_GRADLE = {"gradle", "gradlew"}


@dataclass(frozen=True)
class Command:
    """One buildspec command as far as the quality-gate rule cares."""

    node: YNode
    order: int  # position across phases: later commands have larger numbers
    phase: str
    section: str  # "commands" or "finally"
    analysis: bool  # runs a SonarQube analysis
    gate: bool  # runs a gate (hdhooks sonar gate, or the scanner waiting for it)
    masked: str  # why the gate's failure would not fail the step ("" if it would)
    sets_pipefail: bool


def first_words(segment: str) -> list[str]:
    """The words of one simple command, leading keywords and VAR=value removed."""
    words = segment.split()
    while words and (words[0] in _SKIP_WORDS or re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0])):
        words = words[1:]
    return words


def is_analysis(words: list[str]) -> bool:
    if not words:
        return False
    name = program(words[0])
    if name in _MAVEN:
        return any(w == "sonar:sonar" or re.search(r"sonar-maven-plugin\S*:sonar$", w)
                   for w in words[1:])
    if name in _GRADLE:
        return any(w in ("sonar", "sonarqube") for w in words[1:])
    return name in ("sonar-scanner", "sonar-scanner.bat")


def program(word: str) -> str:
    """``/tmp/hdhooks/bin/hdhooks``, ``"$HDHOOKS"`` and ``${HDHOOKS}`` all name hdhooks."""
    word = word.strip("'\"")
    if word.startswith("$"):
        word = word.strip("${}").lower()
    return posixpath.basename(word)


def is_gate(words: list[str]) -> bool:
    if len(words) >= 3 and program(words[0]) == "hdhooks":
        return words[1:3] == ["sonar", "gate"]
    return is_analysis(words) and any("sonar.qualitygate.wait=true" in w for w in words)


def read_commands(node: YNode, order: int, phase: str, section: str,
                  pipefail_before: bool) -> Command:
    """Read one command string: does it analyse, gate, and is the gate masked?"""
    text = node.text()
    parts = _SPLIT_RE.split(text)
    analysis = gate = False
    masked = ""
    pipefail = pipefail_before or bool(re.search(r"\bset\b.*pipefail", text))
    for index in range(0, len(parts), 2):
        words = first_words(parts[index])
        analysis = analysis or is_analysis(words)
        if (is_gate(words) or _assigned_gate(parts[index])) and not gate:
            gate = True
            masked = _masked(parts, index, pipefail)
    substituted = _SUBST_GATE_RE.search(text)
    if substituted and not gate and program(substituted.group(2)) == "hdhooks":
        gate = True
        masked = (f"it runs inside '{substituted.group(1)} NAME=$(...)', whose status is "
                  f"{substituted.group(1)}'s (always 0); run the gate with --env-file and "
                  "source that file instead")
    return Command(node, order, phase, section, analysis, gate, masked,
                   bool(re.search(r"\bset\b.*pipefail", text)))


def _masked(parts: list[str], index: int, pipefail: bool) -> str:
    """Why the command at ``parts[index]`` cannot decide the step's exit status."""
    whole = "".join(parts)
    for sep_at in range(index + 1, len(parts), 2):
        sep = parts[sep_at]
        tail = "".join(parts[sep_at + 1:])
        if sep == "|" and sep_at == index + 1 and not pipefail:
            return "its output is piped and the last command of the pipe decides; " \
                   "add 'set -o pipefail' first"
        if sep == "&" and sep_at == index + 1:
            return "it runs in the background ('&')"
        if sep == "||" and not _FAILS_RE.search(tail):
            return f"'|| {tail.strip()}' turns a failed gate into success"
        if sep in (";", "\n") and not _ERREXIT_RE.search(whole):
            if _status_handed_back(parts, sep_at):
                return ""
            rest = [p.strip() for p in parts[sep_at + 1::2]]
            if any(r not in _TRAILING_WORDS for r in rest) and not _FAILS_RE.search(tail):
                return f"a later command in the same step ('{tail.strip()}') decides " \
                       "its exit status"
    return ""


def _assigned_gate(segment: str) -> bool:
    """``STATUS=$(hdhooks sonar gate ...)``: a bare assignment keeps the gate's status."""
    match = re.match(r"^\s*[A-Za-z_][A-Za-z0-9_]*=[\"']?\$\(\s*(\S+)\s+sonar\s+gate\b",
                     segment)
    return match is not None and program(match.group(1)) == "hdhooks"


def _status_handed_back(parts: list[str], sep_at: int) -> bool:
    """``gate; rc=$?; ...; exit $rc``: the saved status becomes the step's again.

    Also ``gate; exit $?``. The exit must be the step's last command (``(exit $rc)``
    or ``exit "$rc"``), and nothing between may be joined to it with ``||``.
    """
    following = parts[sep_at + 1:]
    first = following[0] if following else ""
    if re.match(r"^\s*\(?\s*exit\s+\"?\$\?\"?\s*\)?\s*$", first):
        return len(following) == 1 or all(p.strip() in _TRAILING_WORDS
                                           for p in following[2::2])
    saved = _SAVED_RE.match(first)
    if not saved:
        return False
    name = re.escape(saved.group(1))
    last = [p for p in following[::2] if p.strip() not in _TRAILING_WORDS]
    exit_re = rf"^\s*\(?\s*exit\s+\"?\$(\{{{name}\}}|{name})\"?\s*\)?\s*$"
    return bool(last) and re.match(exit_re, last[-1]) is not None and "||" not in following
