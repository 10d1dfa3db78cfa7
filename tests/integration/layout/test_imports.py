"""The layout's rules, checked on the source: who may import what.

architecture.md: arrows point down. The shared base imports nothing above
it, click stays in ``cli/``, boto3 in ``aws/``, subprocess in ``proc``, jinja2
in the render modules and their sandbox; the service base does not import its backends;
the YAML node does not import its builder; and no two modules import each
other at load time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[3] / "hdhooks"
BASE = {"hdhooks.errors", "hdhooks.record", "hdhooks.proc", "hdhooks.fsutil", "hdhooks.fsread",
        "hdhooks.fstree", "hdhooks.fsremove", "hdhooks.redact", "hdhooks.metrics", "hdhooks.events",
        "hdhooks.version"}


def module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def imports(path: Path, *, top_only: bool) -> set[str]:
    """Modules ``path`` imports (at load time only when ``top_only``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.If) and top_only:
            continue  # `if TYPE_CHECKING:` blocks do not run
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def importers_of(prefix: str) -> set[str]:
    return {name for name, path in MODULES.items()
            if any(m == prefix or m.startswith(prefix + ".")
                   for m in imports(path, top_only=False))}


@pytest.mark.parametrize(("library", "allowed"), [
    ("click", ("hdhooks.cli",)),
    ("boto3", ("hdhooks.aws",)),
    ("botocore", ("hdhooks.aws",)),
    ("jinja2", ("hdhooks.instance.render", "hdhooks.instance.sandbox", "hdhooks.build.render",
                "hdhooks.provision.render")),
    ("cfnlint", ("hdhooks.provision.validate",)),
    ("subprocess", ("hdhooks.proc",)),
])
def test_library_stays_in_its_module(library: str, allowed: tuple[str, ...]) -> None:
    outside = {m for m in importers_of(library)
               if not any(m == a or m.startswith(a + ".") for a in allowed)}
    assert outside == set()


def test_shared_base_imports_nothing_above_it() -> None:
    for name in BASE & MODULES.keys():
        ours = {m for m in imports(MODULES[name], top_only=False) if m.startswith("hdhooks.")}
        above = {m for m in ours if not any(m == b or m.startswith(b + ".") for b in BASE)}
        assert above == set(), name


def test_package_inits_hold_a_docstring_only() -> None:
    for path in PACKAGE.rglob("__init__.py"):
        if path.parent == PACKAGE:
            continue  # the top package holds the version too
        body = ast.parse(path.read_text(encoding="utf-8")).body
        assert len(body) == 1 and isinstance(body[0], ast.Expr), path
        assert isinstance(body[0].value, ast.Constant) and len(body[0].value.value) > 40, path


def test_service_base_does_not_import_its_backends() -> None:
    mods = imports(MODULES["hdhooks.instance.service.base"], top_only=False)
    assert not any(m.startswith(("hdhooks.instance.service.systemd",
                                 "hdhooks.instance.service.process")) for m in mods)


def test_yaml_node_does_not_import_its_builder() -> None:
    mods = imports(MODULES["hdhooks.yamlsrc.node"], top_only=False)
    assert not any(m.startswith("hdhooks.yamlsrc.builder") for m in mods)


def test_no_import_cycles_at_load_time() -> None:
    graph = {name: {m for m in imports(path, top_only=True) if m in MODULES and m != name}
             for name, path in MODULES.items()}
    seen: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        seen[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if seen.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt):], nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in seen:
                visit(nxt)
        stack.pop()
        seen[node] = 2

    for name in sorted(graph):
        if name not in seen:
            visit(name)
