"""market.events: msgpack round trips of every event type, and a decoder that refuses junk."""

from __future__ import annotations

import math
import tracemalloc

import msgpack
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from agents.base import Agent
from market.events import (
    ALLOWED_DTYPES,
    DATACLASS_EXT,
    EVENT_TYPES,
    MAX_ARRAY_ELEMENTS,
    NDARRAY_EXT,
    Announcement,
    BudgetUpdate,
    EndOfRun,
    EventDecodeError,
    Fill,
    InstrumentQuote,
    MarketEvent,
    ModelAlert,
    Order,
    RiskSnapshot,
    decode,
    encode,
    events_equal,
)
from market.surface import SurfaceState

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ------------------------------------------------------------------------------ strategies

_DTYPES = [np.dtype(d) for d in sorted(ALLOWED_DTYPES)]
# 0-d arrays are left out here: they do not round-trip (see test_zero_dim_array_round_trips).
_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=0, max_side=4)


def _arrays(dtypes=None) -> st.SearchStrategy[np.ndarray]:
    dt = st.sampled_from(dtypes or [np.dtype("<f8"), np.dtype("<i8"), np.dtype("|b1")])
    return hnp.arrays(dtype=dt, shape=_shapes)


arrays = _arrays()
any_arrays = _arrays(_DTYPES)
floats = st.floats(allow_nan=True, allow_infinity=True)
ints = st.integers(-(2**63), 2**63 - 1)
texts = st.text(max_size=12)
keys = texts.filter(lambda s: s not in ("__event__", "__type__"))


@st.composite
def surfaces(draw) -> SurfaceState:
    return SurfaceState(
        atm=draw(arrays),
        skew=draw(arrays),
        term=draw(arrays),
        event_var=draw(arrays),
        event_time=draw(floats),
    )


@st.composite
def quotes(draw) -> InstrumentQuote:
    return InstrumentQuote(
        instrument=draw(texts),
        contract=draw(texts),
        kind=draw(st.sampled_from(["underlying", "option"])),
        is_call=draw(st.booleans()),
        expiry=draw(floats),
        strike=draw(arrays),
        mid=draw(arrays),
        iv=draw(arrays),
        delta=draw(arrays),
        gamma=draw(arrays),
        vega=draw(arrays),
        theta=draw(arrays),
    )


market_events = st.builds(
    MarketEvent,
    step=ints,
    sender=texts,
    time=floats,
    spot=arrays,
    surface=surfaces(),
    quotes=st.lists(quotes(), max_size=3).map(tuple),
    rate=floats,
    div=floats,
)
announcements = st.builds(
    Announcement,
    step=ints,
    sender=texts,
    time=floats,
    name=texts,
    event_time=floats,
    released=st.booleans(),
    expected_std=floats,
    gap=arrays,
)
risk_snapshots = st.builds(
    RiskSnapshot,
    step=ints,
    sender=texts,
    time=floats,
    delta=arrays,
    gamma=arrays,
    vega=arrays,
    theta=arrays,
    stressed_loss=arrays,
    bands=st.dictionaries(keys, arrays, max_size=3),
    positions=st.dictionaries(keys, arrays, max_size=3),
)
orders = st.builds(Order, step=ints, sender=texts, instrument=texts, qty=any_arrays)
fills = st.builds(
    Fill,
    step=ints,
    sender=texts,
    agent=texts,
    instrument=texts,
    contract=texts,
    qty=arrays,
    price=arrays,
    mid=arrays,
    cost=arrays,
)
budget_updates = st.builds(
    BudgetUpdate,
    step=ints,
    sender=texts,
    time=floats,
    total=floats,
    scales=st.dictionaries(keys, floats, max_size=4),
    reason=texts,
)
model_alerts = st.builds(
    ModelAlert,
    step=ints,
    sender=texts,
    time=floats,
    metric=texts,
    value=floats,
    threshold=floats,
)
end_of_runs = st.builds(EndOfRun, step=ints, sender=texts, time=floats)

ALL_EVENTS = {
    "MarketEvent": market_events,
    "Announcement": announcements,
    "RiskSnapshot": risk_snapshots,
    "Order": orders,
    "Fill": fills,
    "BudgetUpdate": budget_updates,
    "ModelAlert": model_alerts,
    "EndOfRun": end_of_runs,
}


def _roundtrip(ev):
    data = encode(ev)
    assert isinstance(data, bytes)
    return decode(data)


# ------------------------------------------------------------------------------ round trips


def test_strategies_cover_every_event_type() -> None:
    assert set(ALL_EVENTS) == set(EVENT_TYPES)


@pytest.mark.parametrize("name", sorted(ALL_EVENTS))
def test_every_event_type_round_trips(name: str) -> None:
    @SETTINGS
    @given(ev=ALL_EVENTS[name])
    def check(ev) -> None:
        out = _roundtrip(ev)
        assert type(out) is type(ev)
        assert events_equal(out, ev)
        # Re-encoding the decoded event gives the same bytes.
        assert encode(out) == encode(ev)

    check()


@SETTINGS
@given(a=any_arrays)
def test_every_allowed_dtype_and_shape_round_trips(a: np.ndarray) -> None:
    ev = Order(step=0, sender="s", instrument="x", qty=a)
    out = _roundtrip(ev)
    assert out.qty.dtype == a.dtype
    assert out.qty.shape == a.shape
    assert out.qty.tobytes() == a.tobytes()
    assert events_equal(out, ev)


@pytest.mark.parametrize("a", [np.array(1.5), np.array(True), np.array(7, dtype=np.int32)])
def test_zero_dim_array_round_trips(a: np.ndarray) -> None:
    out = _roundtrip(Order(0, "s", "x", a))
    assert out.qty.shape == ()
    assert events_equal(out, Order(0, "s", "x", a))


def test_nested_types_round_trip_alone() -> None:
    s = SurfaceState(np.ones(3), np.zeros(3), np.full(3, 0.1), np.zeros(3), math.inf)
    assert events_equal(_roundtrip(s), s)


def test_market_event_concrete_values() -> None:
    n = 4
    surf = SurfaceState(
        atm=np.full(n, 0.2),
        skew=np.array([-0.1, 0.0, np.nan, -np.inf]),
        term=np.zeros(n),
        event_var=np.full(n, 9e-4),
        event_time=10 / 365,
    )
    q = InstrumentQuote(
        "gamma_opt",
        "gamma_opt@7",
        "option",
        False,
        21 / 365,
        np.full(n, 100.0),
        np.array([2.5, 3.0, 0.0, np.inf]),
        np.full(n, 0.2),
        np.full(n, -0.5),
        np.full(n, 0.04),
        np.full(n, 11.0),
        np.full(n, -20.0),
    )
    ev = MarketEvent(7, "market", 7 / 365, np.arange(n, dtype=float), surf, (q,), 0.01, 0.02)
    out = _roundtrip(ev)
    assert isinstance(out.quotes, tuple)
    assert out.quote("gamma_opt").contract == "gamma_opt@7"
    assert out.quote("gamma_opt").is_call is False
    assert np.isnan(out.surface.skew[2]) and out.surface.skew[3] == -np.inf
    assert out.n_paths == n
    assert events_equal(out, ev)
    # Decoded arrays are independent and writable.
    out.spot[0] = 99.0
    assert ev.spot[0] == 0.0
    with pytest.raises(KeyError, match="not listed"):
        out.quote("nope")


def test_read_only_and_non_contiguous_arrays_encode() -> None:
    a = np.arange(10.0)
    a.flags.writeable = False
    ev = Order(0, "s", "x", a[::3])
    out = _roundtrip(ev)
    np.testing.assert_array_equal(out.qty, [0.0, 3.0, 6.0, 9.0])
    f = np.asfortranarray(np.arange(6.0).reshape(2, 3))
    assert events_equal(_roundtrip(Order(0, "s", "x", f)), Order(0, "s", "x", f))


def test_big_endian_arrays_decode_as_little_endian_same_values() -> None:
    a = np.array([1.5, -2.0, np.nan], dtype=">f8")
    out = _roundtrip(Order(0, "s", "x", a))
    assert out.qty.dtype == np.dtype("<f8")
    np.testing.assert_array_equal(out.qty, a)


def test_empty_default_gap() -> None:
    ann = Announcement(0, "market", 0.0, "CPI", 0.1, False, 0.03)
    out = _roundtrip(ann)
    assert out.gap.shape == (0,)
    assert events_equal(out, ann)


def test_numpy_scalars_encode_as_python_scalars() -> None:
    ev = EndOfRun(np.int64(5), "m", np.float64(0.5))
    out = _roundtrip(ev)
    assert out.step == 5 and type(out.step) is int
    assert out.time == 0.5 and type(out.time) is float


def test_encode_refuses_object_arrays() -> None:
    with pytest.raises(TypeError):
        encode(Order(0, "s", "x", np.array([object()], dtype=object)))


def test_encode_refuses_unknown_objects() -> None:
    with pytest.raises(TypeError):
        encode(EndOfRun(0, "s", {1, 2}))


def test_events_equal_distinguishes() -> None:
    a = Order(0, "s", "x", np.array([1.0, np.nan]))
    assert events_equal(a, Order(0, "s", "x", np.array([1.0, np.nan])))
    assert not events_equal(a, Order(0, "s", "x", np.array([1.0, 2.0])))
    assert not events_equal(a, Order(0, "s", "x", np.array([1, 2])))
    assert not events_equal(a, Order(1, "s", "x", np.array([1.0, np.nan])))
    assert not events_equal(a, EndOfRun(0, "s", 0.0))
    assert events_equal(EndOfRun(0, "s", math.nan), EndOfRun(0, "s", math.nan))


# ------------------------------------------------------------------------------ bad input


def _ext(dtype, shape, raw) -> msgpack.ExtType:
    return msgpack.ExtType(NDARRAY_EXT, msgpack.packb([dtype, shape, raw], use_bin_type=True))


def _tagged(obj):
    """Hand-build the wire form: maps tagged ``__event__``/``__type__`` become event exts."""
    if isinstance(obj, dict) and ("__event__" in obj or "__type__" in obj):
        name = obj.get("__event__", obj.get("__type__"))
        fields = {k: _tagged(v) for k, v in obj.items() if k not in ("__event__", "__type__")}
        return msgpack.ExtType(DATACLASS_EXT, msgpack.packb([name, fields], use_bin_type=True))
    return obj


def _order_bytes(qty) -> bytes:
    return msgpack.packb(
        _tagged({"__event__": "Order", "step": 0, "sender": "a", "instrument": "x", "qty": qty}),
        use_bin_type=True,
    )


def test_hand_built_ext_decodes() -> None:
    raw = np.array([1.0, 2.0, 3.0]).tobytes()
    out = decode(_order_bytes(_ext("<f8", [3], raw)))
    assert events_equal(out, Order(0, "a", "x", np.array([1.0, 2.0, 3.0])))


@pytest.mark.parametrize(
    "data",
    [b"", b"\xc1", b"\x92", b"\xde\xff", b"\x81\xa1", b"\xd9\x10abc"],
)
def test_garbage_raises(data: bytes) -> None:
    with pytest.raises(EventDecodeError):
        decode(data)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=64))
def test_random_bytes_raise_only_event_decode_error(data: bytes) -> None:
    try:
        decode(data)
    except EventDecodeError:
        pass


def test_every_truncation_raises() -> None:
    ev = Fill(3, "market", "a", "opt", "opt@0", *(np.arange(3.0) + i for i in range(4)))
    data = encode(ev)
    for cut in range(len(data)):
        with pytest.raises(EventDecodeError):
            decode(data[:cut])


def test_trailing_bytes_raise() -> None:
    data = encode(EndOfRun(1, "m", 0.0))
    with pytest.raises(EventDecodeError):
        decode(data + b"\x00")


@pytest.mark.parametrize(
    ("shape", "n_bytes"),
    [([3], 16), ([3], 32), ([2, 2], 24), ([], 0), ([0], 8), ([4], 0)],
)
def test_shape_disagreeing_with_byte_length_raises(shape, n_bytes) -> None:
    with pytest.raises(EventDecodeError, match="declares"):
        decode(_order_bytes(_ext("<f8", shape, b"\x00" * n_bytes)))


@pytest.mark.parametrize("shape", [[10**12], [10**6, 10**6], [MAX_ARRAY_ELEMENTS + 1]])
def test_absurd_size_raises_without_allocating(shape) -> None:
    data = _order_bytes(_ext("<f8", shape, b"\x00" * 8))
    tracemalloc.start()
    try:
        with pytest.raises(EventDecodeError, match="more than allowed"):
            decode(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


@pytest.mark.parametrize("dtype", ["|O", ">f8", "<c16", "<U3", "|V8", "<M8[s]", 5, None])
def test_disallowed_dtype_raises(dtype) -> None:
    with pytest.raises(EventDecodeError):
        decode(_order_bytes(_ext(dtype, [1], b"\x00" * 8)))


@pytest.mark.parametrize("shape", [[-1], [1.0], "3", None, [[1]]])
def test_bad_shape_raises(shape) -> None:
    with pytest.raises(EventDecodeError):
        decode(_order_bytes(_ext("<f8", shape, b"\x00" * 8)))


def test_bad_ext_payloads_raise() -> None:
    with pytest.raises(EventDecodeError, match="extension"):
        decode(_order_bytes(msgpack.ExtType(NDARRAY_EXT + 5, b"\x90")))
    with pytest.raises(EventDecodeError):
        decode(_order_bytes(msgpack.ExtType(NDARRAY_EXT, b"\xc1garbage")))
    with pytest.raises(EventDecodeError):
        decode(_order_bytes(msgpack.ExtType(NDARRAY_EXT, msgpack.packb(["<f8", [1]]))))
    with pytest.raises(EventDecodeError):
        decode(_order_bytes(_ext("<f8", [1], "8 chars!")))


@pytest.mark.parametrize(
    "obj",
    [
        {"__event__": "NoSuchEvent", "step": 0},
        {"__event__": "Order", "step": 0, "sender": "a", "instrument": "x"},
        {"__event__": "EndOfRun", "step": 0, "sender": "a", "time": 0.0, "extra": 1},
        {
            "__event__": "EndOfRun",
            "step": 0,
            "sender": "a",
            "time": {"__type__": "Pickle", "x": 1},
        },
    ],
)
def test_unknown_type_or_wrong_fields_raise(obj) -> None:
    with pytest.raises(EventDecodeError):
        decode(msgpack.packb(_tagged(obj), use_bin_type=True))


@pytest.mark.parametrize("obj", [5, [1, 2], {"a": 1}, None])
def test_valid_msgpack_that_is_not_an_event_raises(obj) -> None:
    with pytest.raises(EventDecodeError):
        decode(msgpack.packb(obj))


@pytest.mark.parametrize(
    "obj",
    [
        {
            "__event__": "MarketEvent",
            "step": 0,
            "sender": "m",
            "time": 0.0,
            "spot": 1,
            "surface": None,
            "quotes": 5,
            "rate": 0.0,
            "div": 0.0,
        },
        {"__event__": "EndOfRun", b"step": 1, "sender": "m", "time": 0.0},
    ],
    ids=["quotes-not-a-list", "bytes-key"],
)
def test_malformed_event_fields_raise_event_decode_error(obj) -> None:
    with pytest.raises(EventDecodeError):
        decode(msgpack.packb(_tagged(obj), use_bin_type=True))


def test_dict_keys_named_like_type_tags_round_trip() -> None:
    ev = BudgetUpdate(0, "manager", 0.0, 1.0, {"__type__": 1.0}, "initial")
    assert events_equal(_roundtrip(ev), ev)


# ------------------------------------------------------------------------------ hooks


@pytest.mark.parametrize(
    ("cls", "hook"),
    [
        (MarketEvent, "on_market"),
        (Announcement, "on_announcement"),
        (Fill, "on_fill"),
        (BudgetUpdate, "on_budget"),
        (ModelAlert, "on_alert"),
    ],
)
def test_agent_hooks_exist_on_agent(cls, hook) -> None:
    assert cls.hook == hook
    assert callable(getattr(Agent, hook))


def test_non_agent_hooks() -> None:
    assert RiskSnapshot.hook == "on_risk"
    assert Order.hook == "on_order"
    for cls in EVENT_TYPES.values():
        assert cls.hook.startswith("on_")


def test_end_of_run_hook_exists_on_agent() -> None:
    assert callable(getattr(Agent, EndOfRun.hook))


def test_a_per_path_model_alert_round_trips_with_its_paths() -> None:
    paths = np.array([True, False, True, True])
    ev = ModelAlert(3, "manager", 0.01, "unexplained_ratio", 0.75, 0.08, paths)
    back = decode(encode(ev))
    assert events_equal(back, ev) and back.paths.dtype == np.bool_
    assert back.paths.tolist() == paths.tolist()
    fields = {"step": 3, "sender": "manager", "time": 0.01, "metric": "m", "value": 0.5}
    before = msgpack.packb(  # a log written before the field existed
        msgpack.ExtType(DATACLASS_EXT, msgpack.packb(["ModelAlert", {**fields, "threshold": 0.5}]))
    )
    assert decode(before).paths is None
