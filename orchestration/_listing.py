"""``gammaray list`` without importing the product: scenario scripts read as source.

This module imports only the standard library, so the console script's fast
path (:mod:`orchestration._entry`) lists the built-in scenarios without
loading numpy, pydantic, the pricing code or any scenario (a stress scenario
fits a GARCH model when it loads). :mod:`orchestration.config` and
:mod:`orchestration._cli_common` re-export what is here.
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path
from typing import Any

__all__ = [
    "EXIT_BROKEN_PIPE",
    "builtin_scenarios",
    "builtin_scenarios_root",
    "list_scenarios",
    "scenario_listing",
    "write_lines",
]


def builtin_scenarios_root() -> Path:
    """The folder of the built-in scenario scripts."""
    # The scenarios package sits beside this one (nothing is imported to find it).
    return Path(__file__).resolve().parent.parent / "scenarios"


def builtin_scenarios() -> dict[str, Path]:
    """Built-in scenario names to their script files."""
    root = builtin_scenarios_root()
    return {p.stem: p for p in sorted(root.glob("*.py")) if not p.stem.startswith("_")}


def scenario_listing(path: Path) -> tuple[int | None, str]:
    """``(version, description)`` of a scenario script read from its source, not run.

    What ``gammaray list`` shows, without importing the script (a stress
    scenario fits a GARCH model when it loads): a module-level
    ``DESCRIPTION = "..."`` if the script has one, else the literal
    ``description=`` and ``version=`` of a call in it (its ``Scenario(...)``),
    else the first line of its docstring. ``version`` is None when no literal
    ``version=`` is found (the scenario's default, 1).
    """
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    except (OSError, SyntaxError, ValueError) as exc:
        return None, f"(cannot be read: {type(exc).__name__})"
    literal: dict[str, Any] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and node in tree.body:
            for target in node.targets:
                if isinstance(target, ast.Name) and isinstance(node.value, ast.Constant):
                    literal.setdefault(target.id, node.value.value)
        elif isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg in ("description", "version") and isinstance(kw.value, ast.Constant):
                    literal.setdefault(f"kw_{kw.arg}", kw.value.value)
    version = literal.get("VERSION", literal.get("kw_version"))
    description = literal.get("DESCRIPTION", literal.get("kw_description"))
    if not isinstance(description, str):
        doc = (ast.get_docstring(tree) or "").strip().splitlines()
        description = doc[0].partition(": ")[2] or doc[0] if doc else ""
    return (version if isinstance(version, int) else None), description


def list_scenarios() -> int:
    """Print ``gammaray list``: each built-in scenario's name, version and one line.

    Returns:
        The exit status (0, or :data:`EXIT_BROKEN_PIPE`).
    """
    lines = []
    for name, path in builtin_scenarios().items():
        version, description = scenario_listing(path)
        lines.append(f"{name:20s} v{version or 1}  {description}")
    return write_lines(lines)


#: Exit status of a command whose reader went away (128 + SIGPIPE), as a shell reports it.
EXIT_BROKEN_PIPE = 141


def write_lines(lines: list[str]) -> int:
    """Print lines to stdout; a reader that stops early (``| head``) ends it quietly.

    On ``EPIPE`` the rest is dropped, stdout is pointed at ``/dev/null`` (so
    the interpreter's final flush cannot fail again) and the status is
    :data:`EXIT_BROKEN_PIPE`, what a standard tool killed by ``SIGPIPE``
    reports; nothing is written to stderr.

    Returns:
        0, or :data:`EXIT_BROKEN_PIPE`.
    """
    try:
        for line in lines:
            sys.stdout.write(line + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (OSError, ValueError):  # stdout is not a file (a test's capture)
            pass
        return EXIT_BROKEN_PIPE
    return 0
