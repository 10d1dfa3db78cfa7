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

from hdhooks.yamlsrc import YNode

_SPLIT_RE = re.compile(r"(\|\||&&|;|\n|\||&)")
_SKIP_WORDS = {"if", "then", "else", "elif", "do", "while", "until", "!", "{", "(", "time",
               "exec", "command", "env", "sudo"}
_FAILS_RE = re.compile(r"\bexit\s+[1-9]|\bfalse\b|\breturn\s+[1-9]")
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
        if is_gate(words) and not gate:
            gate = True
            masked = _masked(parts, index, pipefail)
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
            rest = [p.strip() for p in parts[sep_at + 1::2]]
            if any(r not in _TRAILING_WORDS for r in rest) and not _FAILS_RE.search(tail):
                return f"a later command in the same step ('{tail.strip()}') decides " \
                       "its exit status"
    return ""
