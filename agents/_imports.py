"""Which modules a user's class imports, read from its module's source (for the check kits)."""

from __future__ import annotations

import ast
import inspect


def module_imports_ray(cls: type) -> bool:
    """Whether the module defining ``cls`` imports ``ray`` (or a ``ray.`` submodule).

    A module whose source cannot be read (built in, or compiled) counts as not.
    """
    module = inspect.getmodule(cls)
    try:
        source = inspect.getsource(module) if module is not None else ""
    except (OSError, TypeError):
        return False
    for node in ast.walk(ast.parse(source)):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        if any(n == "ray" or n.startswith("ray.") for n in names):
            return True
    return False
