"""Heston and Merton prices per second: vectorised vs a scalar Python loop, side by side.

The vectorised call prices ``n`` options (random strikes, maturities and
parameters) in one call; the baseline calls the same function once per
option in a Python loop (the way a per-option library is used), on a few
hundred options. Both use this package's formulas, so the ratio is the gain
from vectorising, measured in one run.

Run: ``python benchmarks/bench_pricing_models.py [--n 20000] [--loop 200]``
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

from market.pricing import heston_price, merton_price


def _inputs(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "strike": rng.uniform(60, 160, n),
        "tau": rng.uniform(0.05, 2.0, n),
        "v0": rng.uniform(0.01, 0.2, n),
        "kappa": rng.uniform(0.5, 4.0, n),
        "theta_var": rng.uniform(0.01, 0.2, n),
        "xi": rng.uniform(0.1, 1.0, n),
        "rho": rng.uniform(-0.9, 0.3, n),
        "vol": rng.uniform(0.1, 0.4, n),
        "lam": rng.uniform(0.0, 3.0, n),
        "jm": rng.uniform(-0.15, 0.05, n),
        "js": rng.uniform(0.02, 0.2, n),
    }


def _heston(a, i=slice(None)):
    return heston_price(
        100.0,
        a["strike"][i],
        a["tau"][i],
        a["v0"][i],
        a["kappa"][i],
        a["theta_var"][i],
        a["xi"][i],
        a["rho"][i],
    )


def _merton(a, i=slice(None)):
    return merton_price(
        100.0, a["strike"][i], a["tau"][i], a["vol"][i], a["lam"][i], a["jm"][i], a["js"][i]
    )


def _best(fn, repeat: int) -> float:
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def run(quick: bool = False, n: int = 20_000, loop: int = 200) -> list[dict]:
    """Measure; return table rows (name, value, unit, baseline, ratio)."""
    if quick:
        n, loop = 2000, 50
    a = _inputs(n)
    rows = []
    for name, fn in (("heston", _heston), ("merton", _merton)):
        vec = _best(lambda fn=fn: fn(a), 3) / n
        one = _best(lambda fn=fn: [fn(a, slice(i, i + 1)) for i in range(loop)], 2) / loop
        rows.append(
            dict(
                name=f"{name} scalar loop",
                value=1.0 / one,
                unit="options/s",
                baseline=None,
                ratio=None,
                us_per_option=one * 1e6,
            )
        )
        rows.append(
            dict(
                name=f"{name} vectorised (n={n:,})",
                value=1.0 / vec,
                unit="options/s",
                baseline=f"{name} scalar loop",
                ratio=one / vec,
                us_per_option=vec * 1e6,
            )
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=20_000)
    p.add_argument("--loop", type=int, default=200)
    p.add_argument("--quick", action="store_true")
    a = p.parse_args(argv)
    rows = run(a.quick, a.n, a.loop)
    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, python "
        f"{platform.python_version()}, numpy {np.__version__}"
    )
    print(f"command: python benchmarks/bench_pricing_models.py {' '.join(argv or sys.argv[1:])}")
    print(f"{'benchmark':34s} {'options/s':>12s} {'us/option':>10s} {'speed-up':>9s}")
    for r in rows:
        sp = "" if r["ratio"] is None else f"{r['ratio']:.0f}x"
        print(f"{r['name']:34s} {r['value']:12,.0f} {r['us_per_option']:10.2f} {sp:>9s}")


if __name__ == "__main__":
    main()
