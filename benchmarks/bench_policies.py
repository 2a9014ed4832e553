"""Allocation policies on macro_gap: quality at equal budget, the budget frontier, and
the policy hook's overhead on the in-process step time.

1. Equal budget (600, the scenario's): the three band hedgers (vega, gamma,
   delta) under each policy on identical paths; CVaR95 of the loss and the
   mean transaction cost, and their ratios to ``static``.
2. Frontier: the same under ``static``, ``cost_aware`` and ``cost_aware`` +
   ``event_aware`` at each budget of a sweep; whether every ``static`` point is
   dominated (cost and CVaR95 both lower or equal) by a point of the other.
3. Hook overhead: the built-in macro_gap scenario (its five configurations) at
   10,000 paths in-process: this tree against the tree before the policy hook
   (``--baseline``, run in a subprocess with that tree first on
   ``PYTHONPATH``), interleaved, median of ``--repeats``; plus the time spent
   inside the hook itself (``RiskManager._update_budget``, state and policy
   call included) as a share of the run. The baseline must give the same
   ``pnl_sha256`` bits (checked).

Run: ``python benchmarks/bench_policies.py [--paths 10000] [--baseline /work/main]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

POLICIES: dict[str, dict[str, Any]] = {
    "static": {"kind": "static"},
    "event_aware": {"kind": "event_aware"},
    "vol_scaled": {"kind": "vol_scaled"},
    "cost_aware": {"kind": "cost_aware"},
    "cost_aware_p1.5": {"kind": "cost_aware", "power": 1.5},
    "cost_aware+event_aware": {"kind": "event_aware", "base": {"kind": "cost_aware"}},
    "cost_aware_p1.5+event_aware": {
        "kind": "event_aware",
        "base": {"kind": "cost_aware", "power": 1.5},
    },
}
#: The seed of sections 1 and 2 (``--seed``).
SEED = [7]
FRONTIER = ("static", "cost_aware", "cost_aware+event_aware", "cost_aware_p1.5+event_aware")

_TIMED = """
import json, sys, time
from orchestration import load_scenario, apply_overrides, config_metrics
from orchestration.engine import run_local
sc = apply_overrides(load_scenario("macro_gap"), [f"n_paths={int(sys.argv[1])}"])
t = time.perf_counter()
res = run_local(sc)
wall = time.perf_counter() - t
sha = {k: config_metrics(v, sc.risk_aversion)["pnl_sha256"] for k, v in res.items()}
print(json.dumps({"wall": wall, "steps": sc.n_steps, "sha": sha}))
"""

_HOOKED = _TIMED.replace(
    "t = time.perf_counter()\nres = run_local(sc)",
    "from agents.manager import RiskManager\n"
    "acc = [0.0]\n"
    "orig = RiskManager._update_budget\n"
    "def timed(self, *a):\n"
    "    t0 = time.perf_counter()\n"
    "    try:\n"
    "        return orig(self, *a)\n"
    "    finally:\n"
    "        acc[0] += time.perf_counter() - t0\n"
    "RiskManager._update_budget = timed\n"
    "t = time.perf_counter()\nres = run_local(sc)",
).replace('"steps": sc.n_steps,', '"steps": sc.n_steps, "hook": acc[0],')


def _key(name: str, budget: float) -> str:
    """A configuration name for a policy at a budget (letters, digits, _ - .)."""
    return f"{name.replace('+', '__')}-{budget:g}"


def _scenario(paths: int, budgets: list[float], names: tuple[str, ...]) -> Any:
    from orchestration import load_scenario
    from orchestration.config import validate_scenario

    sc = load_scenario("macro_gap")
    base = sc.configs["delta_gamma_vega"]
    mgr = base.manager.model_dump()
    data = sc.model_dump(mode="python")
    data["n_paths"] = paths
    data["seed"] = SEED[0]
    data["configs"] = {
        _key(name, b): {
            "agents": [a.model_dump() for a in base.agents],
            "manager": {**mgr, "budget": b, "policy": POLICIES[name]},
        }
        for b in budgets
        for name in names
    }
    return validate_scenario(data)


def _metrics(paths: int, budgets: list[float], names: tuple[str, ...]) -> dict[str, dict]:
    from orchestration import config_metrics
    from orchestration.engine import run_local

    sc = _scenario(paths, budgets, names)
    res = run_local(sc)
    return {k: config_metrics(v, sc.risk_aversion) for k, v in res.items()}


def _run(code: str, tree: str, paths: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": tree, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(paths)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tree,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", type=int, default=10_000)
    ap.add_argument("--budgets", default="300,600,1200,2400")
    ap.add_argument("--baseline", help="a tree before the policy hook (for the overhead)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7, help="seed of sections 1 and 2")
    ap.add_argument("--sections", default="1,2,3", help="which parts to run (1,2,3)")
    args = ap.parse_args()
    here = str(Path(__file__).resolve().parents[1])
    print(
        f"machine: {platform.node()} {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cpus, load {os.getloadavg()[0]:.1f}"
    )

    sections = {int(x) for x in args.sections.split(",")}
    SEED[0] = args.seed
    if 1 in sections:
        _equal_budget(args.paths)
    if 2 in sections:
        _frontier(args.paths, [float(b) for b in args.budgets.split(",")])
    if 3 in sections:
        _overhead(args.paths, here, args.baseline, args.repeats)
    return 0


def _equal_budget(paths: int) -> None:
    args = argparse.Namespace(paths=paths)
    print(f"\n## 1. equal budget 600, macro_gap, {args.paths:,} paths, seed {SEED[0]}")
    m = _metrics(args.paths, [600.0], tuple(POLICIES))
    ref = m[_key("static", 600.0)]
    print("| policy | CVaR95 | vs static | transaction cost | vs static | mean P&L |")
    print("|---|---|---|---|---|---|")
    for name in POLICIES:
        x = m[_key(name, 600.0)]
        print(
            f"| {name} | {x['cvar_95']:,.0f} | {x['cvar_95'] / ref['cvar_95']:.2f}x "
            f"| {x['transaction_cost']:,.1f} "
            f"| {x['transaction_cost'] / ref['transaction_cost']:.2f}x "
            f"| {x['pnl_mean']:,.0f} |"
        )


def _frontier(paths: int, budgets: list[float]) -> None:
    args = argparse.Namespace(paths=paths)
    print(f"\n## 2. frontier over budgets {budgets}")
    f = _metrics(args.paths, budgets, FRONTIER)
    print("| policy | " + " | ".join(f"budget {b:g}: cost / CVaR95" for b in budgets) + " |")
    print("|---|" + "---|" * len(budgets))
    for name in FRONTIER:
        cells = [
            f"{f[_key(name, b)]['transaction_cost']:,.0f} / {f[_key(name, b)]['cvar_95']:,.0f}"
            for b in budgets
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")
    for name in FRONTIER[1:]:
        pts = [(f[_key(name, b)]["transaction_cost"], f[_key(name, b)]["cvar_95"]) for b in budgets]
        dominated = 0
        for b in budgets:
            c, v = f[_key("static", b)]["transaction_cost"], f[_key("static", b)]["cvar_95"]
            dominated += any(pc <= c and pv <= v for pc, pv in pts)
        print(f"{name}: dominates {dominated}/{len(budgets)} static points")


def _overhead(paths: int, here: str, baseline: str | None, repeats: int) -> None:
    args = argparse.Namespace(paths=paths, baseline=baseline, repeats=repeats)
    print(f"\n## 3. policy hook overhead, built-in macro_gap at {args.paths:,} paths, in-process")
    new, old, hook = [], [], []
    for _ in range(args.repeats):
        a = _run(_TIMED, here, args.paths)
        new.append(a["wall"])
        h = _run(_HOOKED, here, args.paths)
        hook.append(h["hook"] / h["wall"])
        if args.baseline:
            b = _run(_TIMED, args.baseline, args.paths)
            old.append(b["wall"])
            assert b["sha"] == a["sha"], "the baseline tree gives different bits"
    steps = a["steps"]
    print(
        f"this tree: median {statistics.median(new):.2f} s "
        f"({1e3 * statistics.median(new) / steps:.1f} ms/step, {steps} steps), runs {new}"
    )
    print(
        f"time inside the hook (state + policy + scales): median "
        f"{100 * statistics.median(hook):.2f}% of the run"
    )
    if old:
        r = statistics.median(new) / statistics.median(old)
        print(
            f"baseline: median {statistics.median(old):.2f} s, runs {old}; ratio {r:.3f}x "
            "(pnl_sha256 identical)"
        )


if __name__ == "__main__":
    sys.exit(main())
