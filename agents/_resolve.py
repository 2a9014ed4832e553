"""Resolving a class named by a scenario: a class, a short name or a dotted path."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

T = TypeVar("T")


def resolve_class(
    ref: str | type, base: type[T], builtins: Mapping[str, type[T]], what: str
) -> type[T]:
    """The subclass of ``base`` that ``ref`` names.

    Args:
        ref: A class, a short name of ``builtins`` or a dotted path
            (``"pkg.module.Class"`` or ``"pkg.module:Class"``).
        base: The class it must derive from.
        builtins: Short names to classes.
        what: What is resolved, for messages (``"policy class"``).

    Raises:
        ValueError: One line: it names no importable subclass of ``base``.
    """
    cls: Any = ref
    if isinstance(ref, str):
        if ref in builtins:
            return builtins[ref]
        module, sep, name = ref.partition(":") if ":" in ref else ref.rpartition(".")
        dotted = [*module.split("."), name]
        if not sep or not all(part.isidentifier() for part in dotted):
            known = ", ".join(builtins) or "none"
            raise ValueError(
                f"unknown {what} {ref!r} (use {known} or a dotted path such as "
                "'pkg.module.Class'; relative paths are not allowed)"
            )
        try:
            cls = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"unknown {what} {ref!r}: {exc}") from None
        except Exception as exc:  # the module itself raised while importing
            msg = " ".join(str(exc).split())
            raise ValueError(
                f"{what} {ref!r}: importing {module!r} raised {type(exc).__name__}: {msg}"
            ) from None
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ValueError(f"{what} {ref!r} is not a subclass of agents.{base.__name__}")
    return cls


#: Union tags of the policy and manager references (never field names).
UNION_TAGS = frozenset(
    {
        "policy_spec",
        "manager_spec",
        "manager_config",
        "static",
        "event_aware",
        "vol_scaled",
        "cost_aware",
    }
)


def first_error(exc: ValidationError) -> str:
    """``field.path: message`` of the first error, union tags left out."""
    err = exc.errors()[0]
    loc = ".".join(
        str(p)
        for p in err["loc"]
        if str(p) not in UNION_TAGS and not str(p).startswith("function-")
    )
    msg = " ".join(str(err["msg"]).removeprefix("Value error, ").split())
    return f"{loc}: {msg}" if loc else msg
