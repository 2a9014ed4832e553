"""The event types that flow between components, and their msgpack encoding.

The types are defined in :mod:`market._messages` and re-exported here.
Every event is a frozen, slotted dataclass of numpy arrays (shape ``[n_paths]``)
and scalars. Each carries the ``step`` number and its ``sender`` (a component
name), and a class-level ``hook``: the name of the agent method that receives
it (``on_market``, ``on_fill``, ...). Dispatch is a ``getattr`` on that name, not
an ``isinstance`` chain, so a new event type needs no change to the dispatcher.

The wire and file format is msgpack. A numpy array is an explicit extension
type (code :data:`NDARRAY_EXT`): ``[dtype, shape, raw little-endian bytes]``;
only plain numeric and boolean dtypes are accepted, so decoding never runs
code (no pickle anywhere). An event, or a nested dataclass
(:class:`~market.surface.SurfaceState`, :class:`InstrumentQuote`), is the
extension type :data:`DATACLASS_EXT`: ``[type name, {field: value}]``, so no
user key inside a dict field can be mistaken for a type tag.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import msgpack
import numpy as np

from market._messages import (
    _ALL_TYPES,
    EVENT_TYPES,
    Announcement,
    BudgetUpdate,
    EndOfRun,
    Fill,
    InstrumentQuote,
    MarketEvent,
    ModelAlert,
    Order,
    RiskSnapshot,
)

__all__ = [
    "ALLOWED_DTYPES",
    "DATACLASS_EXT",
    "EVENT_TYPES",
    "MAX_ARRAY_ELEMENTS",
    "MAX_NESTING",
    "NDARRAY_EXT",
    "Announcement",
    "BudgetUpdate",
    "EndOfRun",
    "EventDecodeError",
    "Fill",
    "InstrumentQuote",
    "MarketEvent",
    "ModelAlert",
    "Order",
    "RiskSnapshot",
    "decode",
    "encode",
    "events_equal",
]

#: msgpack extension code for a numpy array.
NDARRAY_EXT = 1
#: dtypes an encoded array may carry (little-endian); anything else is refused.
ALLOWED_DTYPES = frozenset(
    {"<f8", "<f4", "<i8", "<i4", "<i2", "|i1", "<u8", "<u4", "<u2", "|u1", "|b1"}
)
#: Largest array a decoder accepts, in elements (guards against absurd sizes).
MAX_ARRAY_ELEMENTS = 1 << 31
#: Deepest nesting of dataclasses a decoder accepts (an event holding quotes or a
#: surface is 2 deep). Each level is a level of C recursion in msgpack, so a crafted
#: payload a few hundred levels deep would otherwise overflow the stack.
MAX_NESTING = 8


class EventDecodeError(ValueError):
    """Raised when bytes do not decode to a valid event."""


#: msgpack extension code for an event or nested dataclass: ``[type name, {field: value}]``.
DATACLASS_EXT = 2


def _default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        arr = np.ascontiguousarray(obj).reshape(obj.shape)
        if arr.dtype.byteorder == ">":
            arr = arr.astype(arr.dtype.newbyteorder("<"))
        dtype = arr.dtype.str
        if dtype not in ALLOWED_DTYPES:
            raise TypeError(f"cannot encode an array of dtype {arr.dtype}")
        payload = msgpack.packb([dtype, list(arr.shape), arr.tobytes()], use_bin_type=True)
        return msgpack.ExtType(NDARRAY_EXT, payload)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        name = type(obj).__name__
        if name not in _ALL_TYPES:
            raise TypeError(f"cannot encode a {name}")
        fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
        payload = msgpack.packb([name, fields], default=_default, use_bin_type=True)
        return msgpack.ExtType(DATACLASS_EXT, payload)
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot encode a {type(obj).__name__}")


def _decode_array(data: bytes) -> np.ndarray:
    try:
        dtype, shape, raw = msgpack.unpackb(data, raw=False)
    except Exception as exc:
        raise EventDecodeError(f"corrupt array payload: {exc}") from None
    if dtype not in ALLOWED_DTYPES:
        raise EventDecodeError(f"array dtype {dtype!r} is not allowed")
    if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
        raise EventDecodeError(f"bad array shape {shape!r}")
    count = 1
    for s in shape:
        count *= s
    if count > MAX_ARRAY_ELEMENTS:
        raise EventDecodeError(f"array declares {count} elements, more than allowed")
    dt = np.dtype(dtype)
    if not isinstance(raw, bytes) or len(raw) != count * dt.itemsize:
        raise EventDecodeError(
            f"array declares {count} elements of {dtype} but carries "
            f"{len(raw) if isinstance(raw, bytes) else 'no'} bytes"
        )
    return np.frombuffer(raw, dtype=dt).reshape(shape).copy()


def _decode_dataclass(data: bytes, depth: int) -> Any:
    """Decode a dataclass payload found at nesting ``depth`` (the event itself is 1)."""
    try:
        name, fields = msgpack.unpackb(
            data, ext_hook=_ext_hook(depth), raw=False, strict_map_key=True
        )
    except EventDecodeError:
        raise
    except Exception as exc:
        raise EventDecodeError(f"corrupt event payload: {exc}") from None
    cls = _ALL_TYPES.get(name) if isinstance(name, str) else None
    if cls is None:
        raise EventDecodeError(f"unknown event type {name!r}")
    if not isinstance(fields, dict):
        raise EventDecodeError(f"{name}: fields must be a map")
    names = {f.name for f in dataclasses.fields(cls)}
    # Fields added later with a default (MarketEvent.stamp) may be absent
    # from older logs: they decode to their default.
    required = {f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING}
    required -= {
        f.name for f in dataclasses.fields(cls) if f.default_factory is not dataclasses.MISSING
    }
    if not (required <= set(fields) <= names):
        missing, extra = sorted(names - set(fields)), sorted(set(fields) - names, key=str)
        raise EventDecodeError(f"{name}: missing fields {missing}, unknown fields {extra}")
    if cls is MarketEvent:
        quotes = fields["quotes"]
        if not isinstance(quotes, list) or not all(isinstance(q, InstrumentQuote) for q in quotes):
            raise EventDecodeError("MarketEvent: quotes must be a list of InstrumentQuote")
        fields["quotes"] = tuple(quotes)
    return cls(**fields)


def _ext_hook(depth: int) -> Callable[[int, bytes], Any]:
    """The msgpack extension hook for values nested inside a payload at ``depth``.

    The depth travels with the hook (no global state); a dataclass past
    :data:`MAX_NESTING` is refused before it is unpacked.
    """

    def hook(code: int, data: bytes) -> Any:
        if code == NDARRAY_EXT:
            return _decode_array(data)
        if code == DATACLASS_EXT:
            if depth >= MAX_NESTING:
                raise EventDecodeError(f"events nest more than {MAX_NESTING} levels deep")
            return _decode_dataclass(data, depth + 1)
        raise EventDecodeError(f"unknown msgpack extension type {code}")

    return hook


def encode(event: Any) -> bytes:
    """Encode an event (or nested dataclass) to msgpack bytes.

    Args:
        event: Any event dataclass from this module.

    Returns:
        The msgpack bytes.
    """
    return msgpack.packb(event, default=_default, use_bin_type=True)


def decode(data: bytes) -> Any:
    """Decode msgpack bytes produced by :func:`encode`.

    Args:
        data: The bytes.

    Returns:
        The event, equal to the one encoded.

    Raises:
        EventDecodeError: The bytes are not a valid encoded event (dataclasses
            nested more than :data:`MAX_NESTING` deep included: refused before
            the deeper levels are unpacked).
    """
    try:
        obj = msgpack.unpackb(data, ext_hook=_ext_hook(0), raw=False, strict_map_key=True)
    except EventDecodeError:
        raise
    except Exception as exc:
        raise EventDecodeError(f"not a msgpack event: {exc}") from None
    if type(obj).__name__ not in _ALL_TYPES or not dataclasses.is_dataclass(obj):
        raise EventDecodeError(f"not an event: decoded a {type(obj).__name__}")
    return obj


def events_equal(a: Any, b: Any) -> bool:
    """Field-by-field equality of two events, arrays compared bit for bit.

    Args:
        a: An event.
        b: Another event.

    Returns:
        True when both have the same type and equal fields (NaN equals NaN).
    """
    if type(a) is not type(b):
        return False
    if isinstance(a, np.ndarray):
        return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()
    if dataclasses.is_dataclass(a):
        return all(
            events_equal(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a)
        )
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(events_equal(a[k], b[k]) for k in a)
    if isinstance(a, tuple | list):
        return len(a) == len(b) and all(events_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and a != a:
        return b != b
    return bool(a == b)
