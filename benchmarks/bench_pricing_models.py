"""Throughput of the Heston and Merton pricers (and implied vol), vectorised vs a Python loop.

Each case times the vectorised call on ``n`` options (best of ``R`` repeats)
and the same function called once per option in a scalar Python loop over
the first few hundred of those options (the way a per-option pricing
library is used; per-option time, best of ``R``), on the same inputs, and
reports options per second for both and their ratio. For reference, an
established external library prices Heston at about 50 µs/option in such a
loop; the goal for the vectorised path is well under that.

Heston cases, since the cost depends on what the options share:

* surface: a few maturities × many strikes, one parameter set per maturity
  (the characteristic function is shared: a cos/sin pair per node per option);
* paths: spot and ``v0`` differ per option, ``tau`` and the model parameters
  are shared (a hedging simulation: the ``v0``-free parts are shared);
* distinct: strike, ``tau`` and ``v0`` all differ (nothing shared).

Usage::

    python benchmarks/bench_pricing_models.py [--n N] [--loop-n L] [--repeat R] [--quick]

``run(quick)`` returns the rows for the ``gammaray bench`` command.
"""

from __future__ import annotations

import os

# One core: numpy ufuncs are single-threaded, but keep any BLAS/OpenMP pool at
# one thread too. Only effective when this module is imported first.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import functools  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402

if __package__ in (None, ""):  # run as a script: make the repo root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from market.pricing import (  # noqa: E402
    bsm_price,
    heston_greeks,
    heston_price,
    implied_vol,
    merton_greeks,
    merton_price,
)

UNIT = "kopt/s"
#: Heston parameters of every case (Feller violated, strong skew).
HESTON = {"kappa": 1.5, "theta_var": 0.05, "xi": 0.8, "rho": -0.7}
#: Merton jump parameters of every case.
MERTON = {"lam": 1.5, "jump_mean": -0.08, "jump_std": 0.12}


def make_cases(n: int, seed: int = 0) -> list[tuple[str, Callable[..., Any], dict[str, Any]]]:
    """``(name, function, keyword arrays)`` per case, ``n`` options each."""
    rng = np.random.default_rng(seed)
    n_tau = 8
    per = -(-n // n_tau)
    taus = np.array([7, 14, 30, 60, 91, 182, 365, 730]) / 365.0
    surface = {
        "spot": 100.0,
        "strike": np.tile(np.linspace(60.0, 150.0, per), n_tau)[:n],
        "tau": np.repeat(taus, per)[:n],
        "v0": 0.04,
        **HESTON,
        "rate": 0.02,
        "div": 0.01,
    }
    paths = {
        "spot": 100.0 * np.exp(rng.normal(0.0, 0.05, n)),
        "strike": 100.0,
        "tau": 30.0 / 365.0,
        "v0": rng.uniform(0.01, 0.15, n),
        **HESTON,
        "rate": 0.02,
        "div": 0.01,
    }
    distinct = {
        "spot": 100.0,
        "strike": rng.uniform(70.0, 140.0, n),
        "tau": rng.uniform(7.0 / 365.0, 2.0, n),
        "v0": rng.uniform(0.01, 0.15, n),
        **HESTON,
        "rate": 0.02,
        "div": 0.01,
        "is_call": rng.random(n) < 0.5,
    }
    merton = {
        "spot": 100.0,
        "strike": rng.uniform(70.0, 140.0, n),
        "tau": rng.uniform(7.0 / 365.0, 2.0, n),
        "vol": rng.uniform(0.1, 0.4, n),
        **MERTON,
        "rate": 0.02,
        "div": 0.01,
        "is_call": rng.random(n) < 0.5,
    }
    k = rng.uniform(70.0, 140.0, n)
    t = rng.uniform(7.0 / 365.0, 2.0, n)
    vol = rng.uniform(0.05, 1.0, n)
    iv = {
        "price": bsm_price(100.0, k, t, vol, 0.02, 0.0, k > 100.0),
        "spot": 100.0,
        "strike": k,
        "tau": t,
        "rate": 0.02,
        "is_call": k > 100.0,
    }
    return [
        ("heston_price, surface (8 tau x strikes)", heston_price, surface),
        ("heston_price, paths (spot, v0 per option)", heston_price, paths),
        ("heston_greeks, paths (spot, v0 per option)", heston_greeks, paths),
        ("heston_price, distinct (K, tau, v0 per option)", heston_price, distinct),
        ("merton_price, distinct (K, tau, vol per option)", merton_price, merton),
        ("merton_greeks, distinct (K, tau, vol per option)", merton_greeks, merton),
        ("implied_vol, distinct (K, tau, vol per option)", implied_vol, iv),
    ]


def _best(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm up (caches, node rules, page mappings)
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _loop(fn: Callable[..., Any], kw: dict[str, Any], m: int) -> Callable[[], None]:
    """One scalar call per option (Python floats and bools), over the first ``m`` options."""
    arrays = {key: np.broadcast_to(np.asarray(val), (m,)) for key, val in _head(kw, m).items()}
    calls = [{key: val[i].item() for key, val in arrays.items()} for i in range(m)]

    def go() -> None:
        for c in calls:
            fn(**c)

    return go


def _first(result: Any) -> float:
    """The price (or vol) of a scalar call's result."""
    return float(np.asarray(result[0] if isinstance(result, tuple) else result))


def _one(kw: dict[str, Any], i: int) -> dict[str, Any]:
    """Option ``i`` of the case as scalars."""
    return {k: (v[i].item() if isinstance(v, np.ndarray) and v.ndim else v) for k, v in kw.items()}


def _head(kw: dict[str, Any], m: int) -> dict[str, Any]:
    return {k: (v[:m] if isinstance(v, np.ndarray) and v.ndim else v) for k, v in kw.items()}


def run(
    quick: bool = False, n: int | None = None, loop_n: int | None = None, repeat: int | None = None
) -> list[dict]:
    """Benchmark rows: ``name, value, unit, baseline, ratio`` (+ ``n``, ``us_per_option``,
    ``loop_us_per_option``, ``check``).

    ``value`` and ``baseline`` are thousands of options per second for the
    vectorised call and for the scalar Python loop; ``ratio`` is
    ``value / baseline``; ``check`` the largest relative difference between
    the loop's and the vectorised results on the looped options (sanity).
    """
    n = n if n is not None else (20_000 if quick else 100_000)
    loop_n = loop_n if loop_n is not None else (100 if quick else 300)
    repeat = repeat if repeat is not None else (2 if quick else 5)
    rows = []
    for name, fn, kw in make_cases(n):
        t_vec = _best(functools.partial(fn, **kw), repeat)
        t_loop = _best(_loop(fn, kw, loop_n), max(1, repeat // 2))
        # Sanity: the looped (scalar) results equal the vectorised ones.
        vec = fn(**_head(kw, loop_n))
        picks = list(range(0, loop_n, max(1, loop_n // 10)))
        got = np.array([_first(fn(**_one(kw, i))) for i in picks])
        want = np.asarray(vec[0] if isinstance(vec, tuple) else vec)[picks]
        check = float(np.nanmax(np.abs(got - want) / np.maximum(1.0, np.abs(want))))
        value = n / t_vec / 1e3
        baseline = loop_n / t_loop / 1e3
        rows.append(
            {
                "name": name,
                "value": round(value, 2),
                "unit": UNIT,
                "baseline": round(baseline, 3),
                "ratio": round(value / baseline, 1),
                "n": n,
                "us_per_option": round(t_vec / n * 1e6, 3),
                "loop_us_per_option": round(t_loop / loop_n * 1e6, 1),
                "check": check,
            }
        )
    return rows


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
    parser.add_argument("--n", type=float, default=1e5, help="options per vectorised call")
    parser.add_argument("--loop-n", type=int, default=300, help="options in the scalar loop")
    parser.add_argument("--repeat", type=int, default=5, help="repeats, best kept (default 5)")
    parser.add_argument("--quick", action="store_true", help="n=2e4, 100 looped, 2 repeats")
    args = parser.parse_args(argv)
    if args.quick:
        rows = run(quick=True)
    else:
        rows = run(n=int(args.n), loop_n=args.loop_n, repeat=args.repeat)
    print("command: " + " ".join([Path(sys.executable).name, *sys.argv]))
    for k, v in machine_info().items():
        print(f"{k:>9}: {v}")
    print()
    w = max(len(r["name"]) for r in rows)
    print(
        f"{'case':<{w}}  {'vectorised':>16}  {'':>10}  {'scalar loop':>16}  {'':>10}"
        f"  {'ratio':>7}  max rel diff"
    )
    for r in rows:
        print(
            f"{r['name']:<{w}}  {r['value']:>9.1f} {UNIT}  {r['us_per_option']:>6.2f} us/opt"
            f"  {r['baseline']:>9.2f} {UNIT}  {r['loop_us_per_option']:>6.0f} us/opt"
            f"  {r['ratio']:>6.0f}x  {r['check']:.1e}"
        )
    bad = [r["name"] for r in rows if not r["check"] < 1e-9]
    if bad:  # the vectorised and scalar results must agree, or the timing means nothing
        print(f"FAILED: vectorised and scalar results differ for {', '.join(bad)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
