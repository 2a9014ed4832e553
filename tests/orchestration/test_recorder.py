"""orchestration.recorder: the event-log file format, its checks, streaming and atomicity."""

from __future__ import annotations

import copy
import os
import pickle
import struct
import tempfile
import time
import tracemalloc
import zlib
from pathlib import Path

import msgpack
import numpy as np
import pytest
from conftest import bsm_world_scenario, small_gap_scenario
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from market.events import (
    ALLOWED_DTYPES,
    DATACLASS_EXT,
    EVENT_TYPES,
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
from market.replay import LogReplayMarket
from market.surface import SurfaceState
from orchestration import config_metrics, run_local
from orchestration.recorder import (
    FORMAT_VERSION,
    MAGIC,
    MAX_EVENT_DEPTH,
    MAX_META_DEPTH,
    STEP,
    RecordError,
    RecordReader,
    RecordWriter,
    event_schema,
    make_header,
    read_header,
)

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ------------------------------------------------------------------------------ strategies
_shapes = hnp.array_shapes(min_dims=1, max_dims=2, min_side=0, max_side=4)
arrays = hnp.arrays(
    dtype=st.sampled_from([np.dtype(d) for d in sorted(ALLOWED_DTYPES)]), shape=_shapes
)
floats = st.floats(allow_nan=True, allow_infinity=True)
ints = st.integers(-(2**63), 2**63 - 1)
texts = st.text(max_size=10)
keys = texts.filter(lambda s: s not in ("__event__", "__type__"))

surfaces = st.builds(
    SurfaceState, atm=arrays, skew=arrays, term=arrays, event_var=arrays, event_time=floats
)
quotes = st.builds(
    InstrumentQuote,
    instrument=texts,
    contract=texts,
    kind=st.sampled_from(["underlying", "option"]),
    is_call=st.booleans(),
    expiry=floats,
    strike=arrays,
    mid=arrays,
    iv=arrays,
    delta=arrays,
    gamma=arrays,
    vega=arrays,
    theta=arrays,
)
STRATEGIES = {
    "MarketEvent": st.builds(
        MarketEvent,
        step=ints,
        sender=texts,
        time=floats,
        spot=arrays,
        surface=surfaces,
        quotes=st.lists(quotes, max_size=2).map(tuple),
        rate=floats,
        div=floats,
    ),
    "Announcement": st.builds(
        Announcement,
        step=ints,
        sender=texts,
        time=floats,
        name=texts,
        event_time=floats,
        released=st.booleans(),
        expected_std=floats,
        gap=arrays,
    ),
    "RiskSnapshot": st.builds(
        RiskSnapshot,
        step=ints,
        sender=texts,
        time=floats,
        delta=arrays,
        gamma=arrays,
        vega=arrays,
        theta=arrays,
        stressed_loss=arrays,
        bands=st.dictionaries(keys, arrays, max_size=2),
        positions=st.dictionaries(keys, arrays, max_size=2),
    ),
    "Order": st.builds(Order, step=ints, sender=texts, instrument=texts, qty=arrays),
    "Fill": st.builds(
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
    ),
    "BudgetUpdate": st.builds(
        BudgetUpdate,
        step=ints,
        sender=texts,
        time=floats,
        total=floats,
        scales=st.dictionaries(keys, floats, max_size=3),
        reason=texts,
    ),
    "ModelAlert": st.builds(
        ModelAlert,
        step=ints,
        sender=texts,
        time=floats,
        metric=texts,
        value=floats,
        threshold=floats,
    ),
    "EndOfRun": st.builds(EndOfRun, step=ints, sender=texts, time=floats),
}
any_event = st.one_of(*STRATEGIES.values())


def _write(path: Path, steps: list[tuple], scenario=None) -> None:
    with RecordWriter(path, scenario) as w:
        for s in steps:
            w.write(s)


def _read(path: Path) -> list[tuple]:
    with RecordReader(path) as r:
        return list(r)


def _same_steps(a: list[tuple], b: list[tuple]) -> bool:
    return len(a) == len(b) and all(
        len(x) == len(y) and all(events_equal(e, f) for e, f in zip(x, y, strict=True))
        for x, y in zip(a, b, strict=True)
    )


@pytest.fixture(scope="module")
def gap_log(tmp_path_factory) -> Path:
    """A small recorded macro-gap run (16 paths, 3 days at 4 steps a day)."""
    sc = small_gap_scenario(n_paths=16, days=3.0)
    path = tmp_path_factory.mktemp("log") / "gap.grlog"
    with RecordWriter(path, sc, {"source": "test"}) as w:
        run_local(sc, record=w.write)
    return path


# ------------------------------------------------------------------------------ round trips
def test_strategies_cover_every_event_type() -> None:
    assert set(STRATEGIES) == set(EVENT_TYPES)


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_event_type_round_trips_through_the_file(name: str) -> None:
    @SETTINGS
    @given(events=st.lists(STRATEGIES[name], min_size=1, max_size=3))
    def check(events) -> None:
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "x.grlog"
            steps = [tuple(events), (events[0],)]
            _write(path, steps)
            assert _same_steps(_read(path), steps)

    check()


@SETTINGS
@given(steps=st.lists(st.lists(any_event, min_size=0, max_size=4).map(tuple), max_size=5))
def test_mixed_steps_round_trip_and_counts_match(steps: list[tuple]) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x.grlog"
        _write(path, steps)
        assert _same_steps(_read(path), steps)
        expected: dict[str, int] = {}
        for s in steps:
            for e in s:
                expected[type(e).__name__] = expected.get(type(e).__name__, 0) + 1
        with RecordReader(path) as r:
            assert r.counts() == expected
            assert r.trailer["steps"] == len(steps)
        with RecordReader(path) as r:
            assert r.verify()["events"] == sum(expected.values())


def test_a_recorded_run_reads_back_equal_and_replays_to_the_same_bits(tmp_path: Path) -> None:
    sc = small_gap_scenario(n_paths=32, days=3.0)
    seen: list[tuple] = []
    path = tmp_path / "run.grlog"

    def record(events: tuple) -> None:
        seen.append(events)
        writer.write(events)

    with RecordWriter(path, sc) as writer:
        direct = run_local(sc, record=record)
    assert len(seen) == sc.n_steps + 1
    assert _same_steps(_read(path), seen)
    replayed = run_local(sc, market=LogReplayMarket(path))
    for name in sc.configs:
        a = config_metrics(direct[name], sc.risk_aversion)["pnl_sha256"]
        b = config_metrics(replayed[name], sc.risk_aversion)["pnl_sha256"]
        assert a == b, name


def test_header_is_versioned_and_describes_the_run(gap_log: Path) -> None:
    h = read_header(gap_log)
    assert h["format"] == "gammaray-event-log" and h["format_version"] == FORMAT_VERSION
    assert h["gammaray_version"] and h["scenario_name"] == "macro_gap"
    assert h["seed"] == 7 and h["n_paths"] == 16 and h["n_steps"] == 12
    assert h["schema"] == event_schema()
    assert h["schema"]["Order"] == ["step", "sender", "instrument", "qty"]
    assert h["meta"] == {"source": "test"}
    sc = h["scenario"]
    assert sc["name"] == "macro_gap" and sc["configs"]["delta"]["agents"][0]["cls"] == "delta"
    assert gap_log.read_bytes()[:8] == MAGIC


def test_agent_classes_are_stored_as_dotted_paths(tmp_path: Path) -> None:
    from agents import DeltaHedger
    from orchestration import AgentSpec, HedgeConfig

    sc = bsm_world_scenario(n_paths=4, days=2.0).model_copy(
        update={"configs": {"d": HedgeConfig(agents=(AgentSpec(cls=DeltaHedger),))}}
    )
    with RecordWriter(tmp_path / "c.grlog", sc):
        pass
    agent = read_header(tmp_path / "c.grlog")["scenario"]["configs"]["d"]["agents"][0]
    assert agent["cls"] == "agents.delta.DeltaHedger"


def test_recording_twice_gives_identical_bytes(tmp_path: Path) -> None:
    sc = bsm_world_scenario(n_paths=8, days=3.0)
    for name in ("a", "b"):
        with RecordWriter(tmp_path / f"{name}.grlog", sc) as w:
            run_local(sc, record=w.write)
    assert (tmp_path / "a.grlog").read_bytes() == (tmp_path / "b.grlog").read_bytes()


# ------------------------------------------------------------------------------ atomicity
def test_nothing_is_at_the_final_path_until_the_log_is_finished(tmp_path: Path) -> None:
    path = tmp_path / "x.grlog"
    w = RecordWriter(path)
    w.write((EndOfRun(step=0, sender="m", time=0.0),))
    assert not path.exists()
    info = w.close()
    assert path.exists() and info["steps"] == 1 and info["bytes"] == path.stat().st_size
    assert [p.name for p in tmp_path.iterdir()] == ["x.grlog"]


def test_a_failing_run_leaves_nothing_behind(tmp_path: Path) -> None:
    path = tmp_path / "x.grlog"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="boom"), RecordWriter(path) as w:
        w.write((EndOfRun(step=0, sender="m", time=0.0),))
        raise RuntimeError("boom")
    assert path.read_bytes() == b"old"  # the previous file is untouched
    assert [p.name for p in tmp_path.iterdir()] == ["x.grlog"]


def test_an_unencodable_event_aborts_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "x.grlog"
    with pytest.raises(TypeError), RecordWriter(path) as w:
        w.write((Order(step=0, sender="a", instrument="u", qty=np.array(["x"])),))
    assert list(tmp_path.iterdir()) == []


def test_writer_refuses_a_missing_folder_or_a_folder_path(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="missing"):
        RecordWriter(tmp_path / "nope" / "x.grlog")
    with pytest.raises(RecordError, match="folder"):
        RecordWriter(tmp_path)


# ------------------------------------------------------------------------------ corruption
def _one_line_error(path: Path, how: str = "counts") -> str:
    with pytest.raises(RecordError) as info:
        with RecordReader(path) as r:
            getattr(r, how)()
    msg = str(info.value)
    assert len(msg.splitlines()) == 1 and msg
    return msg


def test_every_truncation_is_detected(gap_log: Path, tmp_path: Path) -> None:
    data = gap_log.read_bytes()
    bad = tmp_path / "cut.grlog"
    cuts = sorted(
        {0, 1, 9, 10, 15, 19, len(data) - 1, *range(0, len(data), max(1, len(data) // 150))}
    )
    for cut in cuts:
        bad.write_bytes(data[:cut])
        msg = _one_line_error(bad, "verify")
        assert "truncated" in msg or "not a gammaray" in msg, (cut, msg)


def test_every_flipped_byte_is_detected(gap_log: Path, tmp_path: Path) -> None:
    data = bytearray(gap_log.read_bytes())
    bad = tmp_path / "flip.grlog"
    positions = sorted(
        {*range(0, 40), *range(0, len(data), max(1, len(data) // 200)), len(data) - 1}
    )
    for pos in positions:
        flipped = bytearray(data)
        flipped[pos] ^= 0x20
        bad.write_bytes(bytes(flipped))
        for how in ("verify", "counts"):
            msg = _one_line_error(bad, how)
            assert any(
                s in msg
                for s in ("checksum", "truncated", "not a gammaray", "format version", "frame")
            ), (pos, msg)


def test_a_flipped_payload_byte_is_a_checksum_mismatch(gap_log: Path, tmp_path: Path) -> None:
    data = bytearray(gap_log.read_bytes())
    data[len(data) // 2] ^= 0x01
    bad = tmp_path / "flip.grlog"
    bad.write_bytes(bytes(data))
    assert "checksum mismatch" in _one_line_error(bad)


def test_a_wrong_format_version_is_refused(gap_log: Path, tmp_path: Path) -> None:
    data = bytearray(gap_log.read_bytes())
    struct.pack_into("<H", data, len(MAGIC), FORMAT_VERSION + 1)
    bad = tmp_path / "v2.grlog"
    bad.write_bytes(bytes(data))
    msg = _one_line_error(bad)
    assert f"format version {FORMAT_VERSION + 1} is not supported" in msg


@pytest.mark.parametrize(
    "content",
    [b"", b"hello world, not a log\n", msgpack.packb({"a": 1}), b"\x00" * 100, os.urandom(4096)],
)
def test_garbage_is_not_an_event_log(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "junk.grlog"
    bad.write_bytes(content)
    assert "not a gammaray event log" in _one_line_error(bad)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(RecordError, match="does not exist"):
        RecordReader(tmp_path / "nope.grlog")
    with pytest.raises(RecordError, match="is a folder"):
        RecordReader(tmp_path)


def _absurd_event() -> bytes:
    """An encoded Order whose qty declares 10**12 float64 elements and carries none."""
    good = encode(Order(step=0, sender="a", instrument="u", qty=np.zeros(1)))
    old = msgpack.packb(["<f8", [1], bytes(8)], use_bin_type=True)
    new = msgpack.packb(["<f8", [10**12], b""], use_bin_type=True)
    assert old in good and len(old) == len(new)  # same length: the containers stay valid
    return good.replace(old, new)


def test_an_absurd_declared_array_size_is_refused_before_allocating(tmp_path: Path) -> None:
    bad = tmp_path / "absurd.grlog"
    with RecordWriter(bad) as w:
        w.write((EndOfRun(step=0, sender="m", time=0.0),))
        w._frame(STEP, msgpack.packb([_absurd_event()], use_bin_type=True))
        w.steps += 1
        w.events += 1
    tracemalloc.start()
    try:
        msg = _one_line_error(bad)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "1000000000000 elements" in msg and "step 1" in msg
    assert peak < 1 << 20
    # The checksums are fine: only decoding refuses it.
    with RecordReader(bad) as r:
        assert r.verify()["steps"] == 2


def _nested_event(depth: int) -> bytes:
    """An encoded event whose dataclass extensions nest ``depth`` levels deep."""
    obj = None
    for _ in range(depth):
        payload = msgpack.packb(["MarketEvent", {"spot": obj}], use_bin_type=True)
        obj = msgpack.ExtType(DATACLASS_EXT, payload)
    return msgpack.packb(obj, use_bin_type=True)


def test_event_nesting_is_bounded_before_the_deeper_levels_are_unpacked(gap_log: Path) -> None:
    """Real events are 2 deep; a crafted one is refused at the limit, however deep."""
    with RecordReader(gap_log) as r:
        quote_event = r.read_step()[-1]
    assert isinstance(quote_event, MarketEvent) and quote_event.quotes
    assert events_equal(decode(encode(quote_event)), quote_event)
    with pytest.raises(EventDecodeError, match="missing fields"):  # at the limit: unpacked
        decode(_nested_event(MAX_EVENT_DEPTH))
    for depth in (MAX_EVENT_DEPTH + 1, 200, 10_000):
        with pytest.raises(EventDecodeError, match=f"more than {MAX_EVENT_DEPTH} levels deep"):
            decode(_nested_event(depth))


@pytest.mark.parametrize("depth", [150, 200, 10_000])
def test_a_deeply_nested_event_is_a_one_line_refusal(tmp_path: Path, depth: int) -> None:
    bad = tmp_path / "deep.grlog"
    with RecordWriter(bad) as w:
        w.write((EndOfRun(step=0, sender="m", time=0.0),))
        w._frame(STEP, msgpack.packb([_nested_event(depth)], use_bin_type=True))
        w.steps += 1
        w.events += 1
    msg = _one_line_error(bad)
    assert f"step 1, event 0: events nest more than {MAX_EVENT_DEPTH} levels deep" in msg


def _deep_list(depth: int) -> list:
    node: list = []
    for _ in range(depth):
        node = [node]
    return node


@pytest.mark.parametrize(
    ("meta", "needle"),
    [
        ({"x": _deep_list(MAX_META_DEPTH)}, "header refused: lists and maps nest more than 64"),
        ({"x": b"raw"}, "corrupt header: a bytes value where only JSON-like data belongs"),
        ({"x": msgpack.ExtType(1, b"")}, "corrupt header: a ExtType value"),
    ],
)
def test_a_header_that_is_not_plain_bounded_data_is_refused(
    tmp_path: Path, meta: dict, needle: str
) -> None:
    bad = tmp_path / "h.grlog"
    header = {**make_header(None), "meta": meta}
    with RecordWriter(bad, header=header):
        pass
    with pytest.raises(RecordError) as info:
        RecordReader(bad)
    msg = str(info.value)
    assert needle in msg and len(msg.splitlines()) == 1, msg
    ok = tmp_path / "ok.grlog"
    deepest = _deep_list(MAX_META_DEPTH - 3)  # header map, meta map, then 62 lists: 64 deep
    with RecordWriter(ok, header={**header, "meta": {"x": deepest}}):
        pass
    assert read_header(ok)["meta"]["x"] == deepest


def test_a_header_past_msgpacks_own_stack_is_one_line(tmp_path: Path) -> None:
    """5,000 nested lists (more than msgpack can even write): msgpack's StackError, one line."""
    marker = msgpack.packb("PLACEHOLDER")
    payload = msgpack.packb({**make_header(None), "meta": "PLACEHOLDER"}, use_bin_type=True)
    payload = payload.replace(marker, b"\x91" * 5000 + b"\x90")
    head = struct.pack("<cI", b"H", len(payload))
    crc = zlib.crc32(payload, zlib.crc32(head))
    bad = tmp_path / "stack.grlog"
    bad.write_bytes(
        MAGIC + struct.pack("<H", FORMAT_VERSION) + head + struct.pack("<I", crc) + payload
    )
    with pytest.raises(RecordError) as info:
        RecordReader(bad)
    msg = str(info.value)
    assert "corrupt header: StackError" in msg and len(msg.splitlines()) == 1, msg


def test_an_absurd_frame_length_is_refused_without_reading(gap_log: Path, tmp_path: Path) -> None:
    data = bytearray(gap_log.read_bytes())
    with RecordReader(gap_log) as r:
        first_step = r._pos
    for length, needle in ((0xFFFFFFF0, "limit"), (len(data), "truncated")):
        patched = bytearray(data)
        struct.pack_into("<I", patched, first_step + 1, length)
        bad = tmp_path / "len.grlog"
        bad.write_bytes(bytes(patched))
        tracemalloc.start()
        try:
            msg = _one_line_error(bad, "verify")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert needle in msg and peak < 1 << 20, msg


def test_bytes_after_the_trailer_and_a_missing_trailer(gap_log: Path, tmp_path: Path) -> None:
    bad = tmp_path / "extra.grlog"
    bad.write_bytes(gap_log.read_bytes() + b"\x00")
    assert "after the trailer" in _one_line_error(bad)
    with RecordWriter(tmp_path / "ok.grlog") as w:
        w.write((EndOfRun(step=0, sender="m", time=0.0),))
    data = (tmp_path / "ok.grlog").read_bytes()
    with RecordReader(tmp_path / "ok.grlog") as r:
        r.verify()
        trailer_len = len(msgpack.packb(r.trailer, use_bin_type=True)) + 9
    bad.write_bytes(data[:-trailer_len])
    assert "without its trailer" in _one_line_error(bad)


def test_errors_come_before_reading_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "big.grlog"
    step = (Order(step=0, sender="a", instrument="u", qty=np.arange(25_000.0)),)  # 200 KB
    with RecordWriter(path) as w:
        for _ in range(100):
            w.write(step)
    data = bytearray(path.read_bytes())
    assert len(data) > 19_000_000
    data[300_000] ^= 0xFF  # inside the second step frame
    path.write_bytes(bytes(data))
    tracemalloc.start()
    try:
        with pytest.raises(RecordError, match="checksum") as info, RecordReader(path) as r:
            r.counts()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "byte 2" in str(info.value) and r.steps_read == 1
    assert peak < 2_000_000  # about one frame, not 20 MB


# ------------------------------------------------------------------------------ streaming
def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc (Linux)")
def test_recording_a_million_events_keeps_memory_flat(tmp_path: Path) -> None:
    path = tmp_path / "long.grlog"
    step = tuple(EndOfRun(step=i, sender="market", time=0.001 * i) for i in range(100))
    t0 = time.perf_counter()
    before = _rss()
    samples = []
    with RecordWriter(path) as w:
        for k in range(10_000):
            w.write(step)
            if k % 1000 == 999:
                samples.append(_rss())
    assert w.events == 1_000_000
    size = path.stat().st_size
    assert size > 20_000_000
    # The file is tens of MB; the process grows by far less than that.
    assert max(samples) - before < 8_000_000, (before, samples)
    assert max(samples) - samples[0] < 4_000_000, samples
    with RecordReader(path) as r:
        before = _rss()
        assert r.verify()["events"] == 1_000_000
        assert _rss() - before < 4_000_000
    assert time.perf_counter() - t0 < 60


def test_reading_streams_one_frame_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "s.grlog"
    step = (Order(step=0, sender="a", instrument="u", qty=np.arange(10_000.0)),)  # 80 KB
    with RecordWriter(path) as w:
        for _ in range(200):
            w.write(step)
    tracemalloc.start()
    try:
        with RecordReader(path) as r:
            n = sum(1 for _ in r)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert n == 200 and path.stat().st_size > 16_000_000
    assert peak < 1_000_000


# ------------------------------------------------------------------------------ replay market
def test_log_replay_market_snapshot_restore_and_pickle(gap_log: Path) -> None:
    steps = _read(gap_log)
    m = LogReplayMarket(gap_log)
    assert m.n_steps == len(steps) - 1 and m.n_paths == 16
    assert events_equal(m.start()[-1], steps[0][-1])
    for k in range(1, 5):
        ev = m.step()
        assert _same_steps([ev], [steps[k]])
    snap = m.snapshot()
    rest = [m.step() for _ in range(3)]
    m.restore(snap)
    assert _same_steps([m.step() for _ in range(3)], rest)
    clone = pickle.loads(pickle.dumps(m))
    twin = copy.deepcopy(m)
    assert _same_steps([clone.step(), twin.step()], [steps[8], steps[8]])
    while not m.done:
        last = m.step()
    assert _same_steps([last], [steps[-1]])
    with pytest.raises(RuntimeError, match="no steps left"):
        m.step()
    ev = m.start()[-1]
    assert events_equal(ev, steps[0][-1]) and not ev.spot.flags.writeable


def test_log_replay_market_checks_the_trailer_at_the_end(gap_log: Path, tmp_path: Path) -> None:
    data = bytearray(gap_log.read_bytes())
    data[-3] ^= 0x10  # inside the trailer
    bad = tmp_path / "t.grlog"
    bad.write_bytes(bytes(data))
    m = LogReplayMarket(bad)
    m.start()
    with pytest.raises(RecordError, match="checksum"):
        while not m.done:
            m.step()


def test_a_changed_schema_blocks_only_events_of_that_type(gap_log: Path, tmp_path: Path) -> None:
    with RecordReader(gap_log) as r:
        header, steps = r.header, list(r)
    header["schema"] = {**header["schema"], "Fill": ["step", "sender", "old_field"]}
    header["gammaray_version"] = "0.0.1"
    path = tmp_path / "old.grlog"
    with RecordWriter(path, header=header) as w:
        for s in steps:
            w.write(s)
    with RecordReader(path) as r:
        assert r.schema_changes == ["Fill"]
        assert _same_steps(list(r), steps)  # market events only: still readable
    with RecordWriter(path, header=header) as w:
        w._frame(STEP, msgpack.packb([_absurd_event()], use_bin_type=True))
        w.steps += 1
        w.events += 1
    msg = _one_line_error(path)
    assert "written by gammaray 0.0.1, whose Fill had other fields" in msg
