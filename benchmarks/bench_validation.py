"""Validation: out-of-sample speed on every window of real history, and stylized facts.

* ``oos``: ``oos_macro_gap`` (macro_gap's five rule-based configurations on
  every 30-trading-day window of S&P 500 closes 1990-2022, 8,283 paths of 30
  steps) in-process: the first call (reads the data, fits the GJR-GARCH whose
  vol fills in where VIX is not shipped) and a second (cached), beside the
  same configurations on the same number of GBM paths and steps (the ratio:
  what replaying real windows costs against simulating). The pnl_sha256 of
  one and two shards must agree, else the benchmark fails.
* ``facts``: kurtosis, ACF of |r| at lags 1/5/20, leverage at lag 1 (and
  vol of vol, half-life) of GBM, Heston, regime and the fitted world
  (``fitted_spx``'s), each at its default parameters, 63-day horizon,
  against real S&P 500 daily returns 1990-2022 cut into 63-day windows,
  measured on history-sized samples (:func:`market.facts.matched_headline`).

Run: ``python benchmarks/bench_validation.py [--quick]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import time

from market.config import MarketConfig
from market.facts import (
    AIM_KEYS,
    headline,
    matched_headline,
    real_returns,
    simulate_returns,
    stylized_facts,
    windows,
)
from orchestration import apply_overrides, config_metrics, load_scenario, run_local


def bench_oos(quick: bool) -> None:
    sc = load_scenario("oos_macro_gap", ["n_paths=2048"] if quick else [])
    t0 = time.perf_counter()
    res = run_local(sc)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    res2 = run_local(sc, shards=2)
    second = time.perf_counter() - t0
    for name in sc.configs:
        a = config_metrics(res[name], 1.0)["pnl_sha256"]
        if a != config_metrics(res2[name], 1.0)["pnl_sha256"]:
            sys.exit(f"FAIL: {name}: 1 and 2 shards differ")
    gbm = apply_overrides(sc, ['market.kind="gbm"'])
    t0 = time.perf_counter()
    run_local(gbm)
    sim = time.perf_counter() - t0
    print(
        f"| oos_macro_gap, {sc.n_paths:,} windows x {sc.n_steps} steps, 5 configs | "
        f"{first:.2f} s (first: data + fit) | {second:.2f} s (cached, 2 shards) | "
        f"GBM same size {sim:.2f} s | ratio {second / sim:.2f} |"
    )


def bench_facts(quick: bool) -> None:
    horizon, n = 63, 2000 if quick else 20_000
    real = windows(
        real_returns("sp500_skfolio", dt.date(1990, 1, 1), dt.date(2022, 12, 31)), horizon
    )
    fitted = load_scenario("fitted_spx").market
    worlds = {
        "gbm": MarketConfig(kind="gbm"),
        "heston": MarketConfig(kind="heston"),
        "regime": MarketConfig(kind="regime"),
        "fitted": fitted,
    }
    keys = (*AIM_KEYS, "vol_of_vol", "half_life")
    ref = headline(stylized_facts(real))
    print("| world | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    print("| real S&P 500 1990-2022 | " + " | ".join(f"{ref[k]:.3f}" for k in keys) + " |")
    for name, m in worlds.items():
        r = simulate_returns(m, n, horizon, 252.0, 1)
        got = matched_headline(r, real.shape[0])
        cells = []
        for k in keys:
            rel = got[k] / ref[k] - 1.0 if ref[k] else float("nan")
            ok = "" if k not in AIM_KEYS else (" ✓" if abs(rel) <= 0.25 else " ✗")
            cells.append(f"{got[k]:.3f} ({100 * rel:+.0f}%){ok}")
        print(f"| {name} | " + " | ".join(cells) + " |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    args = p.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load {os.getloadavg()[0]:.1f}, python {platform.python_version()}"
    )
    bench_oos(args.quick)
    bench_facts(args.quick)


if __name__ == "__main__":
    main()
