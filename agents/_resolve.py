"""Resolving a class named by a scenario: a class, a short name or a dotted path."""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import ValidationError

T = TypeVar("T")


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the choice closest to a mistyped word, or ``""``.

    Args:
        word: What was typed.
        choices: The names it may have meant.
    """
    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


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
                f"unknown {what} {ref!r}{did_you_mean(ref, builtins)} (use {known} or a "
                "dotted path such as "
                "'pkg.module.Class'; relative paths are not allowed)"
            )
        try:
            mod = importlib.import_module(module)
        except ImportError as exc:
            raise ValueError(f"unknown {what} {ref!r}: {exc}") from None
        except Exception as exc:  # the module itself raised while importing
            msg = " ".join(str(exc).split())
            raise ValueError(
                f"{what} {ref!r}: importing {module!r} raised {type(exc).__name__}: {msg}"
            ) from None
        try:
            cls = getattr(mod, name)
        except AttributeError:
            near = [k for k, v in vars(mod).items() if isinstance(v, type) and issubclass(v, base)]
            raise ValueError(
                f"unknown {what} {ref!r}: module {module!r} has no {name!r}"
                f"{did_you_mean(name, near)}"
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


def check_class_config(klass: Any, config: Any) -> None:
    """Validate ``config`` with ``klass.Config``; a failure is one line naming the class.

    Raises:
        ValueError: ``field.path: message (config of Klass)``.
    """
    try:
        klass.Config.model_validate(config)
    except ValidationError as exc:
        raise ValueError(f"{first_error(exc)} (config of {klass.__name__})") from None
