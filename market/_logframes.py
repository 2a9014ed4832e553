"""Low-level pieces of the event-log format (:mod:`market.eventlog`).

Constants of the layout, the error type, the header's common part, msgpack
headers, step splitting and the header's depth bound (an event's own
nesting is bounded by :func:`market.events.decode`).
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import struct
from typing import Any

from market.events import EVENT_TYPES, MAX_NESTING, InstrumentQuote
from market.surface import SurfaceState

#: First bytes of every event log.
MAGIC = b"GMRAYLOG"
#: Version of the file layout this module writes and reads.
FORMAT_VERSION = 1
#: Format name stored in the header.
FORMAT_NAME = "gammaray-event-log"
#: Suggested file suffix.
SUFFIX = ".grlog"
#: Largest frame payload accepted (one step's events), bytes.
MAX_FRAME_BYTES = 1 << 31
#: Largest header or trailer payload accepted, bytes.
MAX_META_BYTES = 64 << 20

PREFIX = struct.Struct("<8sH")
FRAME = struct.Struct("<cII")
HEADER, STEP, TRAILER = b"H", b"S", b"T"
KINDS = {HEADER: "header", STEP: "step", TRAILER: "trailer"}


class EventLogError(ValueError):
    """An event log that cannot be written or read; the message is one line."""


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def event_schema() -> dict[str, list[str]]:
    """Field names of every event type (and nested type), as the header records them."""
    types = [*EVENT_TYPES.values(), SurfaceState, InstrumentQuote]
    return {cls.__name__: [f.name for f in dataclasses.fields(cls)] for cls in types}


def gammaray_version() -> str:
    """The installed gammaray distribution's version (``"unknown"`` if not installed)."""
    try:
        return importlib.metadata.version("gammaray")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def base_header(
    facts: dict[str, Any] | None = None, meta: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The header map of a new log.

    Args:
        facts: Writer-specific entries placed after the version fields (JSON-able).
        meta: Extra JSON-able facts (e.g. ``{"source": "gammaray run"}``).

    Returns:
        ``format``, ``format_version``, ``gammaray_version``, the ``facts``,
        ``schema`` and ``meta``.
    """
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "gammaray_version": gammaray_version(),
        **(facts or {}),
        "schema": event_schema(),
        "meta": dict(meta or {}),
    }


#: Deepest nesting of event dataclasses accepted in one encoded event (an event
#: holding quotes or a surface is 2 deep); :func:`market.events.decode` enforces it.
MAX_EVENT_DEPTH = MAX_NESTING
#: Deepest nesting of lists and maps accepted in a header or trailer.
MAX_META_DEPTH = 64

_ARRAY = {0xDC: ">H", 0xDD: ">I"}
_BIN = {0xC4: ">B", 0xC5: ">H", 0xC6: ">I"}


class DepthError(ValueError):
    """Nesting deeper than the format allows; the message is one line."""


def array_header(n: int) -> bytes:
    """msgpack array header for ``n`` items."""
    if n < 16:
        return bytes((0x90 | n,))
    if n < 1 << 16:
        return b"\xdc" + struct.pack(">H", n)
    return b"\xdd" + struct.pack(">I", n)


def bin_header(n: int) -> bytes:
    """msgpack ``bin`` header for ``n`` bytes."""
    if n < 1 << 8:
        return bytes((0xC4, n))
    if n < 1 << 16:
        return b"\xc5" + struct.pack(">H", n)
    return b"\xc6" + struct.pack(">I", n)


def array_len(payload: bytes) -> tuple[int, int] | None:
    """Item count and header size of the msgpack array a payload starts with."""
    if not payload:
        return None
    b = payload[0]
    if 0x90 <= b <= 0x9F:
        return b & 0x0F, 1
    fmt = _ARRAY.get(b)
    size = 1 + struct.calcsize(fmt) if fmt else 0
    if fmt is None or len(payload) < size:
        return None
    return int(struct.unpack_from(fmt, payload, 1)[0]), size


def split_step(payload: bytes) -> list[memoryview] | None:
    """The encoded events of a step frame, as views into it (None: malformed).

    The payload must be exactly a msgpack array of ``bin`` values.
    """
    head = array_len(payload)
    if head is None:
        return None
    n, pos = head
    view = memoryview(payload)
    out = []
    end = len(payload)
    for _ in range(n):
        if pos >= end:
            return None
        fmt = _BIN.get(payload[pos])
        if fmt is None:
            return None
        size = struct.calcsize(fmt)
        if pos + 1 + size > end:
            return None
        length = int(struct.unpack_from(fmt, payload, pos + 1)[0])
        pos += 1 + size
        if pos + length > end:
            return None
        out.append(view[pos : pos + length])
        pos += length
    return out if pos == end else None


def check_meta(obj: Any, limit: int = MAX_META_DEPTH) -> None:
    """Refuse a decoded header or trailer that is not plain JSON-like data.

    Maps with text keys, lists, text, numbers, booleans and nil only (no
    binary, no extension types), nested at most ``limit`` deep. Iterative, so
    it is safe on any input; what comes after it (validation, JSON output)
    recurses on the structure.

    Raises:
        DepthError: Nested deeper than ``limit``.
        ValueError: A value that is not JSON-like data.
    """
    work: list[tuple[Any, int]] = [(obj, 0)]
    while work:
        node, depth = work.pop()
        if isinstance(node, dict):
            if not all(isinstance(k, str) for k in node):
                raise ValueError("a map key is not text")
            children: Any = node.values()
        elif isinstance(node, list):
            children = node
        elif node is None or isinstance(node, str | int | float | bool):
            continue
        else:
            raise ValueError(f"a {type(node).__name__} value where only JSON-like data belongs")
        if depth + 1 > limit:
            raise DepthError(f"lists and maps nest more than {limit} levels deep")
        work.extend((c, depth + 1) for c in children)
