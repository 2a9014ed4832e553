"""Throughput of Black-Scholes-Merton price + all greeks, on one core.

Compares, side by side in one run and on the same inputs, a naive numpy
baseline (the straightforward textbook formula, written below) with
:func:`market.pricing.bsm_greeks`, in options per second (price, delta,
gamma, vega, theta and rho for one option = one option).

Usage::

    python benchmarks/bench_bsm.py [--n N] [--repeat R] [--quick]

Each case is timed with :func:`time.perf_counter`; the best of ``R`` repeats
is kept, and the baseline and the candidate alternate within each repeat so
that both see the same machine load. ``run(quick)`` returns the rows for the
``gammaray bench`` command.
"""

from __future__ import annotations

import os

# One core: numpy ufuncs are single-threaded, but keep any BLAS/OpenMP pool at
# one thread too. Only effective when this module is imported first.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402
from scipy.special import ndtr  # noqa: E402

if __package__ in (None, ""):  # run as a script: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from market.pricing import bsm_greeks  # noqa: E402

UNIT = "Mopt/s"


def naive_greeks(
    spot: Any, strike: Any, tau: Any, vol: Any, rate: Any, div: Any, is_call: Any
) -> tuple[np.ndarray, ...]:
    """The straightforward vectorised textbook formulas (Hull), the baseline.

    One numpy expression per quantity, call and put both computed and picked
    with ``np.where``; ``scipy.special.ndtr`` for N(x) (faster than
    ``scipy.stats.norm.cdf``, so the baseline is not a straw man). No edge-case
    handling.
    """
    sqrt_tau = np.sqrt(tau)
    d1 = (np.log(spot / strike) + (rate - div + 0.5 * vol**2) * tau) / (vol * sqrt_tau)
    d2 = d1 - vol * sqrt_tau
    dq = np.exp(-div * tau)
    dr = np.exp(-rate * tau)
    pdf = np.exp(-0.5 * d1**2) / np.sqrt(2.0 * np.pi)
    nd1, nd2, nmd1, nmd2 = ndtr(d1), ndtr(d2), ndtr(-d1), ndtr(-d2)
    call = spot * dq * nd1 - strike * dr * nd2
    put = strike * dr * nmd2 - spot * dq * nmd1
    price = np.where(is_call, call, put)
    delta = np.where(is_call, dq * nd1, -dq * nmd1)
    gamma = dq * pdf / (spot * vol * sqrt_tau)
    vega = spot * dq * pdf * sqrt_tau
    decay = -spot * dq * pdf * vol / (2.0 * sqrt_tau)
    theta_call = decay + div * spot * dq * nd1 - rate * strike * dr * nd2
    theta_put = decay - div * spot * dq * nmd1 + rate * strike * dr * nmd2
    theta = np.where(is_call, theta_call, theta_put)
    rho = np.where(is_call, strike * tau * dr * nd2, -strike * tau * dr * nmd2)
    return price, delta, gamma, vega, theta, rho


def make_inputs(n: int, scalar_params: bool, seed: int = 0) -> dict[str, Any]:
    """Random market: spot, strike, vol per option; tau, rate, div, is_call per
    option too, or (``scalar_params``) shared scalars as in the simulator."""
    rng = np.random.default_rng(seed)
    x: dict[str, Any] = {
        "spot": rng.uniform(50.0, 150.0, n),
        "strike": rng.uniform(60.0, 140.0, n),
        "vol": rng.uniform(0.05, 0.8, n),
    }
    if scalar_params:
        x.update(tau=30.0 / 365.0, rate=0.03, div=0.01, is_call=True)
    else:
        x.update(
            tau=rng.uniform(1.0 / 365.0, 2.0, n),
            rate=rng.uniform(0.0, 0.08, n),
            div=rng.uniform(0.0, 0.04, n),
            is_call=rng.random(n) < 0.5,
        )
    return x


def _best_pair(
    base: Callable[[], object], cand: Callable[[], object], repeat: int, calls: int
) -> tuple[float, float]:
    """Best seconds per call of ``base`` and ``cand``, alternating per repeat."""
    best_b = best_c = float("inf")
    base()
    cand()  # warm up (caches, scratch buffers, page mappings)
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(calls):
            base()
        t1 = time.perf_counter()
        for _ in range(calls):
            cand()
        t2 = time.perf_counter()
        best_b = min(best_b, (t1 - t0) / calls)
        best_c = min(best_c, (t2 - t1) / calls)
    return best_b, best_c


def _max_rel_diff(a: tuple[np.ndarray, ...], b: tuple[np.ndarray, ...]) -> float:
    return max(
        float(np.max(np.abs(u - v) / np.maximum(1.0, np.abs(u)))) for u, v in zip(a, b, strict=True)
    )


def run(quick: bool = False, n: int | None = None, repeat: int | None = None) -> list[dict]:
    """Benchmark rows: ``name, value, unit, baseline, ratio`` (+ ``n``, ``check``).

    ``value`` and ``baseline`` are millions of options per second (price and
    all five greeks) for :func:`bsm_greeks` and the naive baseline; ``ratio``
    is ``value / baseline``; ``check`` the largest relative difference between
    the two results (sanity).
    """
    n = n if n is not None else (100_000 if quick else 1_000_000)
    repeat = repeat if repeat is not None else (3 if quick else 7)
    small = 10_000
    cases = [
        (f"bsm_greeks, all inputs arrays, n={n:.0e}", n, False),
        (f"bsm_greeks, scalar tau/rate/div/is_call, n={n:.0e}", n, True),
        (f"bsm_greeks, scalar tau/rate/div/is_call, n={small:.0e} per call", small, True),
    ]
    rows = []
    rows.append(_one_option_row(repeat))
    for name, size, scalar_params in cases:
        x = make_inputs(size, scalar_params)
        args = (x["spot"], x["strike"], x["tau"], x["vol"], x["rate"], x["div"], x["is_call"])
        calls = max(1, n // size) if size < n else 1
        with np.errstate(all="ignore"):
            tb, tc = _best_pair(
                lambda a=args: naive_greeks(*a), lambda a=args: bsm_greeks(*a), repeat, calls
            )
            check = _max_rel_diff(naive_greeks(*args), tuple(bsm_greeks(*args)))
        value, baseline = size / tc / 1e6, size / tb / 1e6
        rows.append(
            {
                "name": name,
                "value": round(value, 3),
                "unit": UNIT,
                "baseline": round(baseline, 3),
                "ratio": round(value / baseline, 2),
                "n": size,
                "check": check,
            }
        )
    return rows


def _one_option_row(repeat: int) -> dict[str, Any]:
    """One option per call (the simulator's one-path case): the scalar fast path.

    ``value``/``baseline`` are thousands of calls per second; ``check`` the
    largest relative difference to the naive formulas, and the result must
    also equal, bit for bit, the same option evaluated inside an array.
    """
    x = make_inputs(200, scalar_params=False, seed=3)
    calls = 200
    one = [
        (float(x["spot"][i]), float(x["strike"][i]), float(x["tau"][i]), float(x["vol"][i]))
        for i in range(calls)
    ]
    arr = bsm_greeks(x["spot"], x["strike"], x["tau"], x["vol"], 0.03, 0.01, True)
    best_b = best_c = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for s, k, t, v in one:
            naive_greeks(s, k, t, v, 0.03, 0.01, True)
        t1 = time.perf_counter()
        for s, k, t, v in one:
            bsm_greeks(s, k, t, v, 0.03, 0.01, True)
        t2 = time.perf_counter()
        best_b, best_c = min(best_b, (t1 - t0) / calls), min(best_c, (t2 - t1) / calls)
    check = 0.0
    bits = True
    for i, (s, k, t, v) in enumerate(one[:64]):
        g = bsm_greeks(s, k, t, v, 0.03, 0.01, True)
        ref = naive_greeks(s, k, t, v, 0.03, 0.01, True)
        check = max(
            check,
            _max_rel_diff(tuple(np.atleast_1d(r) for r in ref), tuple(np.atleast_1d(f) for f in g)),
        )
        bits &= all(getattr(g, f).tobytes() == getattr(arr, f)[i].tobytes() for f in g._fields)
    return {
        "name": "bsm_greeks, one option per call (µs per call: "
        f"{best_c * 1e6:.1f} vs naive {best_b * 1e6:.1f})",
        "value": round(1e-3 / best_c, 2),
        "unit": "kcalls/s",
        "baseline": round(1e-3 / best_b, 2),
        "ratio": round(best_b / best_c, 2),
        "n": 1,
        "check": check if bits else float("inf"),
    }


#: Largest relative difference to the baseline that passes the check.
CHECK_TOLERANCE = 1e-10


def machine_info() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": str(os.cpu_count()),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "threads": "1 (numpy ufuncs are single-threaded; OMP/BLAS pools set to 1)",
    }
    if hasattr(os, "getloadavg"):
        info["loadavg"] = " ".join(f"{v:.2f}" for v in os.getloadavg())
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=float, default=1e6, help="options per call (default 1e6)")
    parser.add_argument("--repeat", type=int, default=7, help="repeats, best kept (default 7)")
    parser.add_argument("--quick", action="store_true", help="n=1e5, 3 repeats")
    args = parser.parse_args(argv)
    if args.quick:
        rows = run(quick=True)
    else:
        rows = run(n=int(args.n), repeat=args.repeat)
    print("command: " + " ".join([Path(sys.executable).name, *sys.argv]))
    for k, v in machine_info().items():
        print(f"{k:>9}: {v}")
    print()
    w = max(len(r["name"]) for r in rows)
    print(f"{'case':<{w}}  {'naive numpy':>12}  {'bsm_greeks':>11}  {'ratio':>6}  max rel diff")
    for r in rows:
        print(
            f"{r['name']:<{w}}  {r['baseline']:>8.2f} {r['unit']}  {r['value']:>7.2f} {r['unit']}"
            f"  {r['ratio']:>5.2f}x  {r['check']:.1e}"
        )
    bad = [r["name"] for r in rows if not r["check"] <= CHECK_TOLERANCE]
    if bad:
        print(f"FAIL: results differ from the baseline by more than {CHECK_TOLERANCE:g}: {bad}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
