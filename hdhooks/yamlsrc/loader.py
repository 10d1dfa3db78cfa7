"""Loading YAML text into positioned :class:`~hdhooks.yamlsrc.node.YNode` trees."""

from __future__ import annotations

from typing import Any

from hdhooks.yamlsrc.node import Document
from hdhooks.yamlsrc.problems import ERROR, WARNING, Problem

#: Lists and mappings nested deeper than this are refused before they are composed.
MAX_DEPTH = 100

#: Who reads a file: named in the messages about YAML the reader refuses or ignores.
CODEDEPLOY_AGENT = "the CodeDeploy agent"
CODEBUILD = "CodeBuild"
HDHOOKS = "hdhooks"


def load(text: str, reader: str = CODEDEPLOY_AGENT, *, pure: bool = False) -> Document:
    """Parse ``text`` as ``reader`` would; never raises for bad YAML, problems are returned.

    ``pure`` forces PyYAML's Python parser (the C one is used when present).
    """
    import yaml

    if not text.strip() or _only_comments(text):
        return Document(None, [], empty=True)
    loader_cls = yaml.SafeLoader if pure else getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    shape = _shape_problem(loader_cls, text)
    if shape is not None:
        return Document(None, [shape])
    loader = loader_cls(text)
    try:
        if not loader.check_node():
            return Document(None, [], empty=True)
        node = loader.get_node()
        extra = _later_documents(loader)
    except yaml.MarkedYAMLError as exc:
        return Document(None, [_syntax_problem(text, exc)])
    except yaml.reader.ReaderError as exc:
        return Document(None, [_reader_problem(text, exc)])
    except yaml.YAMLError as exc:  # pragma: no cover - unmarked errors are rare
        message = str(exc).splitlines()[0] if str(exc) else "unreadable YAML"
        return Document(None, [Problem(ERROR, f"YAML error: {message}", "yaml-syntax", 1, 1)])
    finally:
        loader.dispose()
    from hdhooks.yamlsrc.builder import Builder, alias_bomb

    bomb = alias_bomb(node, text)
    if bomb is not None:
        return Document(None, [bomb])
    builder = Builder(reader)
    root = builder.build(node, "")
    problems = builder.problems
    if extra:
        problems.append(
            Problem(
                WARNING,
                "more than one YAML document ('---' or '...'); only the first is read, "
                "everything from here on is ignored",
                "yaml-multi-document",
                *_document_marker(text, extra),
            )
        )
    return Document(root, problems)


def _shape_problem(loader_cls: Any, text: str) -> Problem | None:
    """A cyclic alias or nesting beyond :data:`MAX_DEPTH` in the first document.

    Both are found from the parser's event stream, which neither parser builds
    recursively, before the (recursive) composer sees them: a cycle such as
    ``a: &a [*a]`` would make every reader that expands it run forever, and
    deep nesting exhausts the composer's stack. Syntax errors are left to the
    composing pass, which reports them.
    """
    import yaml

    loader = loader_cls(text)
    open_anchors: list[str | None] = []
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.CollectionStartEvent):
                open_anchors.append(event.anchor)
                if len(open_anchors) > MAX_DEPTH:
                    return _mark_problem(
                        event.start_mark, f"lists and mappings nested more than {MAX_DEPTH} "
                        "levels deep; hdhooks reads at most that many: flatten the value",
                        "yaml-depth")
            elif isinstance(event, yaml.CollectionEndEvent):
                open_anchors.pop()
            elif isinstance(event, yaml.AliasEvent) and event.anchor in open_anchors:
                return _mark_problem(
                    event.start_mark, f"YAML alias '*{event.anchor}' stands for a value that "
                    "contains it (a cycle): a reader that expands it never ends; write the "
                    "value out instead", "yaml-alias-cycle")
            elif isinstance(event, yaml.DocumentEndEvent):
                return None
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()
    return None


def _mark_problem(mark: Any, message: str, code: str) -> Problem:
    return Problem(ERROR, message, code, mark.line + 1, mark.column + 1)


def _later_documents(loader: Any) -> tuple[int, int] | None:
    """Where text follows the first document, or None. Readers that stop after
    the first document (the CodeDeploy agent's) never see a syntax error there."""
    import yaml

    try:
        if not loader.check_node():
            return None
        mark = loader.peek_event().start_mark
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
    except yaml.YAMLError:
        mark = None
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


def _document_marker(text: str, where: tuple[int, int]) -> tuple[int, int]:
    """The '---' or '...' line that ends the first document, when it is just
    before ``where`` (only blank or comment lines between), else ``where``."""
    lines = text.splitlines()
    for n in range(min(where[0], len(lines)), 0, -1):
        line = lines[n - 1]
        if line.startswith(("---", "...")):
            return n, 1
        if n != where[0] and line.strip() and not line.lstrip().startswith("#"):
            break
    return where


def _reader_problem(text: str, exc: Any) -> Problem:
    """A character YAML does not allow (NUL, other control characters)."""
    position = max(0, min(int(getattr(exc, "position", 0) or 0), len(text)))
    before = text[:position]
    line = before.count("\n") + 1
    column = position - (before.rfind("\n") + 1) + 1
    char = getattr(exc, "character", None)
    if isinstance(char, str) and len(char) == 1:
        char = ord(char)
    code = f"#x{char:04x}" if isinstance(char, int) else "here"
    return Problem(ERROR, f"character {code} is not allowed in YAML (control characters "
                          "are not); remove it, or check that this is a text file",
                   "yaml-syntax", line, column)


def _only_comments(text: str) -> bool:
    for line in text.splitlines():
        s = line.strip()
        if s and not s.startswith("#") and s not in ("---", "..."):
            return False
    return True


def _syntax_problem(text: str, exc: Any) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else 1
    column = mark.column + 1 if mark else 1
    problem = exc.problem or "syntax error"
    lines = text.splitlines()
    tab = _first_leading_tab(lines)
    # A tab at or before the failing line is almost always the cause.
    if tab and ("\t" in problem or "\\t" in problem or tab[0] <= line):
        return Problem(
            ERROR,
            "tab character in indentation; YAML allows only spaces there",
            "yaml-tab",
            tab[0],
            tab[1],
        )
    message = f"YAML syntax error: {problem}"
    if exc.context:
        message += f" ({exc.context})"
    return Problem(ERROR, message, "yaml-syntax", line, column)


def _first_leading_tab(lines: list[str]) -> tuple[int, int] | None:
    for n, line in enumerate(lines, 1):
        indent = line[: len(line) - len(line.lstrip(" \t"))]
        if "\t" in indent:
            return n, indent.index("\t") + 1
    return None


def read_file(path: str) -> str:
    """Read a YAML file as text, refusing binary or non-UTF-8 content clearly."""
    from hdhooks.errors import InputError
    from hdhooks.fsread import read_regular

    # Regular files only, size-limited: a FIFO or /dev/zero is refused at once.
    data = read_regular(path)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path}: not UTF-8 text (byte {exc.start})", hint="save the file as UTF-8"
        ) from None
