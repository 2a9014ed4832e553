"""Event-log throughput: encode, decode, write, read, and replay of one recorded path.

* ``encode`` / ``decode``: :func:`market.events.encode` / ``decode`` of the
  market events of a recorded run (one step's ``MarketEvent`` with three
  listed quotes, one path; and the same at 1,000 paths), events/s and MB/s of
  encoded bytes.
* ``write log`` / ``read log``: the same events through
  :class:`~orchestration.recorder.RecordWriter` (frames, crc32, sha256,
  fsync, rename) and :class:`~orchestration.recorder.RecordReader` (checks
  and decodes every frame).
* ``replay``: a recorded single-path run (``macro_gap`` at ``n_paths = 1``,
  all five configurations) replayed end to end with
  :class:`~market.replay.LogReplayMarket`, in-process and on Ray (every
  component in its own actor), events/s of the log; both must give the
  recorded run's ``pnl_sha256``.

Run: ``python benchmarks/bench_recorder.py [--quick]``
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import ray

from market.events import decode, encode
from market.replay import LogReplayMarket
from orchestration import config_metrics, load_scenario, run_local
from orchestration.recorder import RecordReader, RecordWriter


def _events(n_paths: int, days: float) -> tuple[Any, list[tuple[Any, ...]]]:
    sc = load_scenario(
        "macro_gap", [f"n_paths={n_paths}", f"days={days}", f"market.gap.day={days / 2}"]
    )
    from orchestration.engine import build_components

    market = build_components(sc).market
    steps = [market.start()] + [market.step() for _ in range(sc.n_steps)]
    return sc, steps


def _rate(fn: Any, n_items: int, min_time: float = 0.5) -> float:
    """Seconds per call of ``fn`` (repeated for at least ``min_time``)."""
    reps, t = 0, 0.0
    start = time.perf_counter()
    while t < min_time:
        fn()
        reps += 1
        t = time.perf_counter() - start
    return t / reps


def _codec_rows(label: str, steps: list[tuple[Any, ...]], repeat: int) -> list[dict[str, Any]]:
    """Codec rows; the log rows write the steps ``repeat`` times (a longer file)."""
    events = [e for s in steps for e in s]
    blobs = [encode(e) for e in events]
    nbytes = sum(len(b) for b in blobs)
    n = len(events)
    t_enc = _rate(lambda: [encode(e) for e in events], n)
    t_dec = _rate(lambda: [decode(b) for b in blobs], n)
    rows = [
        dict(name=f"encode {label}", value=n / t_enc, unit="events/s", mbps=nbytes / t_enc / 1e6),
        dict(name=f"decode {label}", value=n / t_dec, unit="events/s", mbps=nbytes / t_dec / 1e6),
    ]
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "bench.grlog"

        def write() -> None:
            with RecordWriter(path) as w:
                for _ in range(repeat):
                    for s in steps:
                        w.write(s)

        def read() -> None:
            with RecordReader(path) as r:
                for _ in r:
                    pass

        t_w = _rate(write, n)
        size = path.stat().st_size
        t_r = _rate(read, n)
    m = n * repeat
    rows += [
        dict(name=f"write log {label}", value=m / t_w, unit="events/s", mbps=size / t_w / 1e6),
        dict(name=f"read log {label}", value=m / t_r, unit="events/s", mbps=size / t_r / 1e6),
    ]
    base = {r["name"].split(" ")[0]: r["value"] for r in rows[:2]}
    for r in rows:
        kind = r["name"].split(" ")[0]
        ref = "encode" if kind in ("write", "encode") else "decode"
        r["baseline"] = f"{ref} {label}" if kind in ("write", "read") else None
        r["ratio"] = base[ref] / r["value"] if kind in ("write", "read") else None
    return rows


def _ray_replay(sc: Any, path: Path) -> tuple[float, float, dict[str, Any]]:
    """Replay on Ray, every component in its own actor: (total s, steady s, results)."""
    from orchestration.engine import Pipeline, build_components, run_protocol
    from orchestration.ray_runtime import RayRuntime

    rt = RayRuntime()
    try:
        t0 = time.perf_counter()
        c = build_components(sc)
        market = rt.host(LogReplayMarket(path))
        pipelines = [
            Pipeline(n, rt.host(c.managers[n]), [(a, rt.host(o)) for a, o in c.agents[n]])
            for n in sc.configs
        ]
        ray.get([h.pid.remote() for h in rt.actors])
        t1 = time.perf_counter()
        res = run_protocol(rt, market, pipelines, sc.n_steps)
        t2 = time.perf_counter()
    finally:
        rt.shutdown()
    return t2 - t0, t2 - t1, res


def _replay_rows(days: float) -> list[dict[str, Any]]:
    sc = load_scenario("macro_gap", ["n_paths=1", f"days={days}", f"market.gap.day={days / 2}"])
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "one_path.grlog"
        with RecordWriter(path, sc) as w:
            recorded = run_local(sc, record=w.write)
        want = {k: config_metrics(v, sc.risk_aversion)["pnl_sha256"] for k, v in recorded.items()}
        with RecordReader(path) as r:
            n_events = r.verify()["events"]
        t = time.perf_counter()
        local = run_local(sc, market=LogReplayMarket(path))
        t_local = time.perf_counter() - t
        total, steady, remote = _ray_replay(sc, path)

    def same(res: Any) -> bool:
        got = {k: config_metrics(v, sc.risk_aversion)["pnl_sha256"] for k, v in res.items()}
        return got == want

    steps = sc.n_steps + 1
    label = f"replay 1 path, {steps} steps x {len(sc.configs)} configs"
    rows = [
        dict(
            name=f"{label}, local",
            value=n_events / t_local,
            unit="events/s",
            steps_per_s=steps / t_local,
            baseline=None,
            ratio=None,
            same_bits=same(local),
        )
    ]
    for kind, secs in (("steady", steady), ("total", total)):
        rows.append(
            dict(
                name=f"{label}, ray per-agent ({kind})",
                value=n_events / secs,
                unit="events/s",
                steps_per_s=steps / secs,
                baseline=f"{label}, local",
                ratio=secs / t_local,
                same_bits=same(remote),
            )
        )
    return rows


def run(quick: bool = False) -> list[dict[str, Any]]:
    """Measure; return table rows (name, value, unit, baseline, ratio, ...)."""
    if not ray.is_initialized():
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    days = 2.0 if quick else 10.0
    rows: list[dict[str, Any]] = []
    _, steps1 = _events(1, days)
    rows += _codec_rows("1 path", steps1, repeat=20 if quick else 50)
    _, steps_k = _events(1000, days / 2)
    rows += _codec_rows("1,000 paths", steps_k, repeat=2 if quick else 5)
    rows += _replay_rows(5.0 if quick else 30.0)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    a = p.parse_args(argv)
    rows = run(a.quick)
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, python "
        f"{platform.python_version()}, numpy {np.__version__}, msgpack "
        f"{'.'.join(map(str, msgpack.version))}, ray {ray.__version__}"
    )
    print(f"command: python benchmarks/bench_recorder.py {' '.join(argv or sys.argv[1:])}".rstrip())
    print(f"{'benchmark':56s} {'value':>10s} {'unit':9s} {'MB/s':>11s} {'ratio':>8s} same bits")
    for r in rows:
        mbps = f"{r['mbps']:.1f}" if "mbps" in r else f"{r['steps_per_s']:.1f} st/s"
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        same = str(r["same_bits"]) if "same_bits" in r else ""
        print(f"{r['name']:56s} {r['value']:10,.0f} {r['unit']:9s} {mbps:>11s} {ratio:>8s} {same}")
    print(
        "ratio: write/read log = time per event against encode/decode alone; ray = time "
        "against local (steady: actors already up; total: with their start); st/s = steps/s"
    )
    ray.shutdown()
    if not all(r.get("same_bits", True) for r in rows):
        print("FAILED: a replay did not reproduce the recorded run's bits")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
