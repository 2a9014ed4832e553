"""The event types that flow between components, and their msgpack encoding.

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
from dataclasses import dataclass, field
from typing import Any, ClassVar

import msgpack
import numpy as np

from market.surface import SurfaceState

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


Array = np.ndarray


@dataclass(frozen=True, slots=True)
class InstrumentQuote:
    """A listed hedge instrument as quoted this step, one value per path.

    Attributes:
        instrument: The listing name used in orders (e.g. ``"underlying"``,
            ``"gamma_opt"``).
        contract: Identity of the contract currently listed under that name
            (``"gamma_opt@12"`` = listed at step 12). Positions accrue per contract.
        kind: ``"underlying"`` or ``"option"``.
        is_call: True for a call, False for a put (ignored for the underlying).
        expiry: Absolute expiry time in years since the run start (``inf`` for
            the underlying).
        strike: Strike per path, currency, shape ``[n]`` (zeros for the underlying).
        mid: Mid price per path, currency per unit, shape ``[n]``.
        iv: Implied vol the quote is struck at, decimal, shape ``[n]``
            (zeros for the underlying).
        delta: Delta per unit of spot, shape ``[n]``.
        gamma: Gamma per unit of spot squared, shape ``[n]``.
        vega: Vega per 1.00 of vol, shape ``[n]``.
        theta: Theta per year, shape ``[n]``.
    """

    instrument: str
    contract: str
    kind: str
    is_call: bool
    expiry: float
    strike: Array
    mid: Array
    iv: Array
    delta: Array
    gamma: Array
    vega: Array
    theta: Array


@dataclass(frozen=True, slots=True)
class MarketEvent:
    """The state of the market at one simulated timestamp.

    Attributes:
        step: Step number, a count (0 = first quote); steps need not be
            evenly spaced (event time).
        sender: Component name (``"market"``).
        time: Time since the run start, years (ACT/``year_days``); this
            step's length is ``time`` minus the previous event's ``time``.
        spot: Spot per path, currency, shape ``[n]``.
        surface: The implied-vol surface state per path (:class:`SurfaceState`).
        quotes: The listed hedge instruments (:class:`InstrumentQuote`), in
            listing order.
        rate: Continuously compounded risk-free rate, decimal per year.
        div: Continuous dividend yield, decimal per year.
        stamp: Calendar date and time of the step (ISO 8601), where the
            scenario has a calendar (a clock start, or a dated replay); else "".
    """

    hook: ClassVar[str] = "on_market"
    step: int
    sender: str
    time: float
    spot: Array
    surface: SurfaceState
    quotes: tuple[InstrumentQuote, ...]
    rate: float = 0.0
    div: float = 0.0
    stamp: str = ""

    @property
    def n_paths(self) -> int:
        """Number of paths this event carries."""
        return int(self.spot.shape[0])

    def quote(self, instrument: str) -> InstrumentQuote:
        """The quote listed under ``instrument``.

        Raises:
            KeyError: No instrument of that name is listed.
        """
        for q in self.quotes:
            if q.instrument == instrument:
                return q
        listed = ", ".join(q.instrument for q in self.quotes)
        raise KeyError(f"instrument {instrument!r} is not listed (listed: {listed})")


@dataclass(frozen=True, slots=True)
class Announcement:
    """A scheduled macro announcement: first as scheduled, then as released.

    Attributes:
        step: Step number at which it is published.
        sender: Component name.
        time: Publication time, years.
        name: Announcement name (e.g. ``"CPI"``).
        event_time: Scheduled release time, years.
        released: False when announced ahead, True at release.
        expected_std: Std of the log spot gap the market prices in (decimal).
        gap: Realised log spot gap per path at release, shape ``[n]``; empty
            before release.
    """

    hook: ClassVar[str] = "on_announcement"
    step: int
    sender: str
    time: float
    name: str
    event_time: float
    released: bool
    expected_std: float
    gap: Array = field(default_factory=lambda: np.zeros(0))


@dataclass(frozen=True, slots=True)
class RiskSnapshot:
    """The book as one agent sees it: greeks per path and its risk bands.

    The manager sends each agent, in cascade order, the book's greeks after the
    orders of the agents before it.

    Attributes:
        step: Step number, a count (as the :class:`MarketEvent`'s).
        sender: ``"manager"``.
        time: Time since the run start, years.
        delta: Book delta per unit of spot, shape ``[n]``.
        gamma: Book gamma per unit of spot squared, shape ``[n]``.
        vega: Book vega per 1.00 of vol, shape ``[n]``.
        theta: Book theta per year, shape ``[n]``.
        stressed_loss: Loss under the manager's stress grid (positive = loss),
            currency, shape ``[n]``.
        bands: Greek name (``"delta"``, ``"gamma"``, ``"vega"``) to the largest
            absolute value of that greek the manager lets the book keep, per
            path, same units as the greek, shape ``[n]``: this agent's share
            of the stressed-loss budget (weights times budget scales, divided
            by the greek's loss per unit under the stress move). A band agent
            trades only where ``abs(view.delta) > view.bands["delta"]``.
        positions: Instrument listing name to the book's position in the
            currently listed contract of that name, units, shape ``[n]``.
        model: The pricing model the greeks come from (the agent's:
            ``"bsm"``, ``"heston"``, ``"merton"``).
        hedge_greeks: Listed instrument to its greeks per unit under that
            model (``delta``, ``gamma``, ``vega``, ``theta``, ``[n]`` each).
    """

    hook: ClassVar[str] = "on_risk"
    step: int
    sender: str
    time: float
    delta: Array
    gamma: Array
    vega: Array
    theta: Array
    stressed_loss: Array
    bands: dict[str, Array]
    positions: dict[str, Array]
    model: str = "bsm"
    hedge_greeks: dict[str, dict[str, Array]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Order:
    """An order for one listed instrument, a quantity per path.

    Attributes:
        step: Step number.
        sender: Agent name.
        instrument: Listing name from :class:`InstrumentQuote`.
        qty: Units to buy (positive) or sell (negative) per path, shape ``[n]``.
    """

    hook: ClassVar[str] = "on_order"
    step: int
    sender: str
    instrument: str
    qty: Array


@dataclass(frozen=True, slots=True)
class Fill:
    """The execution of an order, per path.

    Attributes:
        step: Step number, a count: the step the fill executed at.
        sender: ``"market"``.
        agent: The agent whose order this fills.
        instrument: Listing name.
        contract: Contract identity the position accrues to.
        qty: Units filled per path (+ bought), shape ``[n]`` (0 where rejected).
        price: Execution price per unit, currency, shape ``[n]``.
        mid: Mid price per unit, currency, shape ``[n]``.
        cost: Cost against mid (spread + fees), currency, >= 0, shape ``[n]``.
    """

    hook: ClassVar[str] = "on_fill"
    step: int
    sender: str
    agent: str
    instrument: str
    contract: str
    qty: Array
    price: Array
    mid: Array
    cost: Array


@dataclass(frozen=True, slots=True)
class BudgetUpdate:
    """The manager's allocation of the stressed-loss budget.

    Attributes:
        step: Step number, a count (as the :class:`MarketEvent`'s).
        sender: ``"manager"``.
        time: Time since the run start, years.
        total: Total stressed-loss budget, currency.
        scales: Greek name to the multiplier applied to that greek's share
            (1.0 = the static allocation; < 1 tightens).
        reason: Why it changed (``"initial"``, ``"pre_event"``, ``"release"``).
    """

    hook: ClassVar[str] = "on_budget"
    step: int
    sender: str
    time: float
    total: float
    scales: dict[str, float]
    reason: str


@dataclass(frozen=True, slots=True)
class ModelAlert:
    """A model-decay alert: realised hedging error drifting past a threshold.

    Attributes:
        step: Step number, a count (as the :class:`MarketEvent`'s).
        sender: ``"manager"``.
        time: Time since the run start, years.
        metric: What drifted (e.g. ``"unexplained_pnl"``).
        value: Its value, units of the metric (a per-path alert: the share of
            paths whose alert is on).
        threshold: The threshold it crossed.
        paths: A per-path alert's state after this step, ``[n]`` bool (True:
            the alert is on for that path); None for an alert on the whole batch.
    """

    hook: ClassVar[str] = "on_alert"
    step: int
    sender: str
    time: float
    metric: str
    value: float
    threshold: float
    paths: Array | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class EndOfRun:
    """The last event of a run.

    Attributes:
        step: Number of steps run.
        sender: ``"market"``.
        time: Final time, years.
    """

    hook: ClassVar[str] = "on_end"
    step: int
    sender: str
    time: float


EVENT_TYPES: dict[str, type] = {
    cls.__name__: cls
    for cls in (
        MarketEvent,
        Announcement,
        RiskSnapshot,
        Order,
        Fill,
        BudgetUpdate,
        ModelAlert,
        EndOfRun,
    )
}
_NESTED_TYPES: dict[str, type] = {cls.__name__: cls for cls in (SurfaceState, InstrumentQuote)}
_ALL_TYPES: dict[str, type] = {**EVENT_TYPES, **_NESTED_TYPES}
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
