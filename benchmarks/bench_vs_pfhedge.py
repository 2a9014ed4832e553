"""One short ATM call delta-hedged daily: gammaray in-process vs pfhedge 0.23, side by side.

The textbook case both libraries can run: S0 = 1, K = 1, sigma = 0.2,
T = 30/250, 30 daily rebalances (250-day year), a short call hedged with the
underlying at the Black-Scholes delta, proportional costs of 0, 10 and 100
bps on the underlying's trades (gammaray: ``half_spread_bps``; pfhedge:
``BrownianStock(cost=...)``). Both sides simulate their own paths and compute
the hedged P&L; each repeat times gammaray and pfhedge back to back so that
both see the same machine load, and the medians are reported. Both run on
one thread (gammaray's in-process runtime is single-threaded; torch is set to
one thread). The script fails (exit 1) when the two P&L standard deviations
differ by more than 3% (their paths differ: the check is statistical; at
10,000 paths the std's own sampling error is ~0.7%).

What each side computes per step differs: pfhedge evaluates the delta; the
gammaray step marks the whole book to market (BSM price and four greeks),
attributes the P&L, checks the risk budget and keeps the report's series.

pfhedge is *not* a gammaray dependency. Install it into a separate
environment layered over gammaray's, e.g.::

    python -m venv /tmp/bench-venv
    echo "$(python -c 'import site; print(site.getsitepackages()[0])')" \\
        > /tmp/bench-venv/lib/python3.11/site-packages/gammaray-env.pth
    /tmp/bench-venv/bin/pip install pfhedge==0.23.0 tqdm --no-deps
    /tmp/bench-venv/bin/python benchmarks/bench_vs_pfhedge.py

Without pfhedge the script times gammaray alone and says so.

Run: ``python benchmarks/bench_vs_pfhedge.py [--paths 10000 100000] [--repeat 5]``
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from agents import BookPosition, ManagerConfig
from market import CostModel, InstrumentSpec, MarketConfig, SurfaceConfig
from orchestration import AgentSpec, HedgeConfig, Scenario, run_local

#: Costs on the underlying, basis points of the traded notional.
COSTS_BPS = (0.0, 10.0, 100.0)
#: Largest relative difference of the two P&L stds that passes.
STD_TOLERANCE = 0.03


def scenario(n_paths: int, cost_bps: float, seed: int = 0) -> Scenario:
    """The single-option delta hedge as a gammaray scenario."""
    return Scenario(
        name="atm_call_delta",
        seed=seed,
        n_paths=n_paths,
        days=30.0,
        steps_per_day=1,
        year_days=250.0,
        market=MarketConfig(
            kind="gbm",
            spot=1.0,
            surface=SurfaceConfig(atm=0.2),
            instruments=(
                InstrumentSpec(
                    name="underlying", kind="underlying", cost=CostModel(half_spread_bps=cost_bps)
                ),
            ),
        ),
        book=(BookPosition(is_call=True, moneyness=1.0, expiry_days=30.0, qty=-1.0),),
        configs={
            "delta": HedgeConfig(
                agents=(AgentSpec(cls="delta", config={"target": 0.0}),),
                # a zero delta band: the hedger trades to delta-neutral every day
                manager=ManagerConfig(
                    budget=1.0, weights={"delta": 0.0, "gamma": 0.0, "vega": 0.0}
                ),
            )
        },
    )


def _pfhedge() -> Any:
    try:
        import torch
        from pfhedge.instruments import BrownianStock, EuropeanOption
        from pfhedge.nn import BlackScholes, Hedger
    except ImportError:
        return None
    torch.set_num_threads(1)

    def run(n_paths: int, cost_bps: float) -> np.ndarray:
        stock = BrownianStock(sigma=0.2, cost=cost_bps * 1e-4)
        option = EuropeanOption(stock, maturity=30 / 250)
        model = BlackScholes(option)
        hedger = Hedger(model, model.inputs())
        with torch.no_grad():
            pnl = hedger.compute_pnl(option, n_paths=n_paths)
        return pnl.numpy().astype(np.float64)

    torch.manual_seed(0)
    return run


def _time(fn: Any) -> tuple[float, float, Any]:
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - w0, time.process_time() - c0, out


def run(quick: bool = False, paths: list[int] | None = None, repeat: int | None = None) -> list:
    """Rows: gammaray's median time per (paths, cost), pfhedge's as the baseline."""
    paths = paths or ([2000] if quick else [10_000, 100_000])
    repeat = repeat or (2 if quick else 5)
    pf = _pfhedge()
    rows = []
    for n in paths:
        for bps in COSTS_BPS:
            sc = scenario(n, bps)
            run_local(sc)  # warm up (imports, scratch buffers)
            if pf is not None:
                pf(n, bps)
            g_wall, g_cpu, p_wall, p_cpu = [], [], [], []
            for _ in range(repeat):
                w, c, res = _time(lambda sc=sc: run_local(sc))
                g_wall.append(w)
                g_cpu.append(c)
                if pf is not None:
                    w, c, pnl = _time(lambda n=n, bps=bps: pf(n, bps))
                    p_wall.append(w)
                    p_cpu.append(c)
            g_std = float(res["delta"].pnl.std())
            row: dict[str, Any] = {
                "name": f"{n:,} paths, {bps:g} bps",
                "value": statistics.median(g_wall) * 1e3,
                "unit": "ms",
                "cpu_ms": statistics.median(g_cpu) * 1e3,
                "gammaray_std": g_std,
                "baseline": None,
                "ratio": None,
            }
            if pf is not None:
                p_std = float(pnl.std())
                row.update(
                    baseline=round(statistics.median(p_wall) * 1e3, 2),
                    baseline_cpu_ms=statistics.median(p_cpu) * 1e3,
                    ratio=statistics.median(g_wall) / statistics.median(p_wall),
                    cpu_ratio=statistics.median(g_cpu) / statistics.median(p_cpu),
                    pfhedge_std=p_std,
                    std_ok=abs(g_std - p_std) <= STD_TOLERANCE * p_std,
                )
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--paths", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--repeat", type=int, default=5)
    a = p.parse_args(argv)
    rows = run(False, a.paths, a.repeat)
    has_pf = rows[0]["baseline"] is not None
    print(f"command: python benchmarks/bench_vs_pfhedge.py {' '.join(argv or sys.argv[1:])}")
    load = " ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "-"
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, load {load}, python "
        f"{platform.python_version()}, numpy {np.__version__}"
    )
    if not has_pf:
        print("pfhedge is not installed here: gammaray alone (see the docstring to add it)")
    else:
        import pfhedge
        import torch

        print(f"pfhedge {pfhedge.__version__}, torch {torch.__version__} (1 thread)")
    print(
        f"{'case':24s} {'gammaray ms':>12s} {'cpu ms':>8s} {'pfhedge ms':>11s} {'cpu ms':>8s} "
        f"{'time ratio':>10s} {'cpu ratio':>9s} {'std gammaray':>12s} {'std pfhedge':>11s}"
    )
    ok = True
    for r in rows:
        if has_pf:
            ok &= r["std_ok"]
            print(
                f"{r['name']:24s} {r['value']:12.1f} {r['cpu_ms']:8.1f} {r['baseline']:11.1f} "
                f"{r['baseline_cpu_ms']:8.1f} {r['ratio']:9.2f}x {r['cpu_ratio']:8.2f}x "
                f"{r['gammaray_std']:12.5f} {r['pfhedge_std']:11.5f}"
                + ("" if r["std_ok"] else "  <- std differs by more than 3%")
            )
        else:
            print(f"{r['name']:24s} {r['value']:12.1f} {r['cpu_ms']:8.1f} {r['gammaray_std']:.5f}")
    if not ok:
        print("FAIL: the P&L stds differ by more than 3%")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
