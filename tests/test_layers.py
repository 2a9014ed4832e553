"""Layers point one way: market/ knows nothing of agents, orchestration or Ray; agents/
nothing of orchestration or Ray; the orchestration has no import circle.

Every module's imports are read with ``ast`` (function-level imports included:
a lazy import is still a dependency), so the check needs no import and cannot
be fooled by import order.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("market", "agents", "orchestration")
#: Top-level names each package must never import.
FORBIDDEN = {
    "market": {"agents", "orchestration", "ray", "scenarios"},
    "agents": {"orchestration", "ray", "scenarios"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(p): p
        for pkg in PACKAGES
        for p in sorted((ROOT / pkg).rglob("*.py"))
        if "__pycache__" not in p.parts
    }


MODULES = _modules()


def _run_time_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of ``tree`` except those under ``if TYPE_CHECKING:`` (never run)."""
    out: list[ast.AST] = []
    todo = [tree]
    while todo:
        node = todo.pop()
        out.append(node)
        if isinstance(node, ast.If) and (
            (isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
            or (isinstance(node.test, ast.Attribute) and node.test.attr == "TYPE_CHECKING")
        ):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return out


def _imports(name: str, path: Path) -> set[str]:
    """Every module ``name`` imports, resolved to the modules of this project that exist.

    ``from pkg import sub`` counts as importing ``pkg.sub`` when that is a
    module; relative imports are resolved against the package. The
    ``COMMAND_MODULES`` tuple of :mod:`orchestration.cli` (imported by name at
    run time) counts too.
    """
    tree = ast.parse(path.read_text(), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in _run_time_nodes(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "COMMAND_MODULES" for t in node.targets)
        ) or (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "COMMAND_MODULES"
        ):
            assert node.value is not None
            found.update(ast.literal_eval(node.value))
    return found


IMPORTS = {name: _imports(name, path) for name, path in MODULES.items()}


def _edges(name: str) -> set[str]:
    """The project modules ``name`` imports: for each import, the longest prefix that is one.

    (Importing ``pkg.mod`` also runs ``pkg/__init__``; that parent edge is left
    out, or every package that re-exports its modules would count as a circle.
    A module that imports the package itself, ``from pkg import name``, keeps it.)
    """
    out = set()
    for imp in IMPORTS[name]:
        parts = imp.split(".")
        for i in range(len(parts), 0, -1):
            target = ".".join(parts[:i])
            if target in MODULES:
                if target != name:
                    out.add(target)
                break
    return out


def test_the_import_reader_sees_what_it_must() -> None:
    """The checks below would pass vacuously if the reader missed imports."""
    assert len(MODULES) > 40
    assert "orchestration.recorder" in MODULES and "market.eventlog" in MODULES
    assert "market.eventlog" in IMPORTS["orchestration.recorder"]
    assert "orchestration.cli_replay" in IMPORTS["orchestration.cli"]  # COMMAND_MODULES
    assert "orchestration.engine" in IMPORTS["orchestration.cli_replay"]  # function-level
    assert {"ray"} <= IMPORTS["orchestration.ray_runtime"]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_lower_layers_import_nothing_above_them(package: str) -> None:
    bad = {
        f"{name} imports {imp}"
        for name, imports in IMPORTS.items()
        if name.split(".")[0] == package
        for imp in imports
        if imp.split(".")[0] in FORBIDDEN[package]
    }
    assert not bad, sorted(bad)


def _cycle(nodes: set[str]) -> list[str] | None:
    """One import cycle among ``nodes`` (a depth-first search), or None."""
    graph = {n: sorted(_edges(n) & nodes) for n in sorted(nodes)}
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    for start in graph:
        if start in state:
            continue
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = [start]
        state[start] = 1
        while stack:
            node, i = stack.pop()
            if i < len(graph[node]):
                stack.append((node, i + 1))
                nxt = graph[node][i]
                if state.get(nxt) == 1:
                    return [*path[path.index(nxt) :], nxt]
                if nxt not in state:
                    state[nxt] = 1
                    path.append(nxt)
                    stack.append((nxt, 0))
            else:
                state[node] = 2
                path.pop()
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"orchestration.cli", "orchestration._cli_common"}) is None
    # cli imports cli_replay; had cli_replay imported cli back, this is what it would say
    IMPORTS["orchestration.cli_replay"].add("orchestration.cli")
    try:
        found = _cycle({"orchestration.cli", "orchestration.cli_replay"})
    finally:
        IMPORTS["orchestration.cli_replay"].discard("orchestration.cli")
    assert found is not None and found[0] == found[-1] and len(found) == 3


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_circle_within_a_package(package: str) -> None:
    # The package's __init__ takes part: a module importing the package would close a circle.
    nodes = {n for n in MODULES if n.split(".")[0] == package}
    assert _cycle(nodes) is None, " -> ".join(_cycle(nodes) or [])


def test_type_checking_imports_are_not_run_time_edges() -> None:
    assert "market.config" not in IMPORTS["market._tables"]  # under TYPE_CHECKING only
    assert "market._tables" in IMPORTS["market.config"]


def test_the_event_log_format_is_in_the_market_layer() -> None:
    log_replay = IMPORTS["market.replay"] | IMPORTS["market._log_replay"]
    assert "orchestration.recorder" not in log_replay and "market.eventlog" in log_replay
    assert "orchestration.cli" not in IMPORTS["orchestration.cli_replay"]
