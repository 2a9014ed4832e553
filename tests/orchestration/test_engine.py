"""The step protocol in-process: hedging laws and determinism."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
from conftest import bsm_world_scenario, small_gap_scenario

from agents import Agent
from market.events import encode
from orchestration import AgentSpec, config_metrics, run_local
from orchestration.engine import LocalRuntime, Pipeline, build_components, run_protocol


def test_delta_hedging_error_falls_like_one_over_sqrt_rebalances() -> None:
    # Black-Scholes world, zero costs, short one 30-day ATM call hedged at every step:
    # the hedging error's std scales like 1/sqrt(number of rebalances).
    daily = run_local(bsm_world_scenario(n_paths=8000, steps_per_day=1))
    four = run_local(bsm_world_scenario(n_paths=8000, steps_per_day=4))
    s1, s4 = daily["delta"].pnl.std(), four["delta"].pnl.std()
    assert 1.75 < s1 / s4 < 2.25, (s1, s4)
    # hedging removes most of the unhedged risk, and costs nothing here
    assert s1 < 0.15 * daily["unhedged"].pnl.std()
    assert float(np.abs(daily["delta"].cost).max()) == 0.0


def test_unhedged_short_call_pnl_is_zero_on_average_in_a_risk_neutral_world() -> None:
    res = run_local(bsm_world_scenario(n_paths=20000, steps_per_day=1))
    pnl = res["unhedged"].pnl
    assert abs(pnl.mean()) < 4 * pnl.std() / np.sqrt(pnl.size)


def test_same_scenario_and_seed_give_the_same_bits() -> None:
    sc = small_gap_scenario()
    a, b = run_local(sc), run_local(sc)
    for name in sc.configs:
        assert a[name].pnl.tobytes() == b[name].pnl.tobytes()
    other = run_local(sc.model_copy(update={"seed": sc.seed + 1}))
    assert other["delta"].pnl.tobytes() != a["delta"].pnl.tobytes()


class EventProbe(Agent):
    """Keeps the sha256 of the market's events it sees at every step (trades nothing)."""

    def __init__(self, name: str, config: Any = None, **kw: Any) -> None:
        super().__init__(name, config, **kw)
        self.seen: list[bytes] = []
        self.digests: list[str] = []

    def on_announcement(self, announcement: Any) -> None:
        self.seen.append(encode(announcement))

    def on_market(self, event: Any, view: Any) -> list[Any]:
        digest = hashlib.sha256(b"".join([*self.seen, encode(event)])).hexdigest()
        self.digests.append(digest)
        self.seen = []
        return []


def test_configurations_share_identical_paths() -> None:
    # Every configuration sees byte-identical market events (quotes, surface,
    # announcements) at every step: a probe agent in each one hashes them.
    sc = small_gap_scenario()
    probe = AgentSpec(cls=EventProbe, name="probe")
    probed = sc.model_copy(
        update={
            "configs": {
                n: hc.model_copy(update={"agents": (*hc.agents, probe)})
                for n, hc in sc.configs.items()
            }
        }
    )
    c = build_components(probed)
    pipelines = [Pipeline(n, c.managers[n], list(c.agents[n])) for n in probed.configs]
    run_protocol(LocalRuntime(), c.market, pipelines, probed.n_steps)
    seen = {n: dict(c.agents[n])["probe"].digests for n in probed.configs}  # type: ignore[attr-defined]
    first = seen["unhedged"]
    assert len(first) == sc.n_steps and len(set(first)) == sc.n_steps
    assert all(d == first for d in seen.values()), {n: d[:2] for n, d in seen.items()}
    res = run_local(sc)
    m = {k: config_metrics(v, 1.645) for k, v in res.items()}
    assert m["unhedged"]["transaction_cost"] == 0.0
    assert len({v["pnl_sha256"] for v in m.values()}) == len(m)
