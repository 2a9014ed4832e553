"""Event time in the step protocol: reaction latency, triggers, determinism."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest
from conftest import small_gap_scenario

from agents import Agent, AgentConfig
from market import InstrumentSpec, MarketConfig, ReplayConfig
from market.events import Fill
from market.execution import CostModel
from orchestration import AgentSpec, HedgeConfig, Scenario, config_metrics, run_local
from orchestration.config import validate_scenario
from orchestration.engine import (
    FusedShard,
    LocalRuntime,
    build_components,
    make_pipelines,
    run_protocol,
)

YEAR = 365.0


def _hashes(results) -> dict[str, str]:
    return {k: config_metrics(v, 1.645)["pnl_sha256"] for k, v in results.items()}


class BuyOnceConfig(AgentConfig):
    """Buy ``qty`` of the underlying at step ``at``."""

    at: int = 1
    qty: float = 1.0


class BuyOnce(Agent):
    """Buys once; remembers its fills and the step it learnt of each."""

    Config: ClassVar[type[BuyOnceConfig]] = BuyOnceConfig
    config: BuyOnceConfig

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.learnt: list[tuple[int, Fill]] = []
        self.calls: list[int] = []

    def on_fill(self, fill: Fill) -> None:
        self.learnt.append((self._step, fill))

    def on_market(self, event, view):
        self.calls.append(event.step)
        if event.step != self.config.at:
            return []
        return [self.order("underlying", np.full(event.n_paths, self.config.qty))]


class AlwaysBuy(Agent):
    """Orders one unit on every path whenever it is called."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.calls: list[int] = []

    def on_market(self, event, view):
        self.calls.append(event.step)
        return [self.order("underlying", np.ones(event.n_paths))]


def _jump_scenario(latency: float, **agent: Any) -> Scenario:
    """A replay whose spot jumps 100 -> 110 between day 1 and day 2; 10 bp half-spread."""
    table = {
        "date": ("2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"),
        "spot": (100.0, 100.0, 110.0, 110.0, 110.0),
        "atm_vol": (0.2,) * 5,
    }
    market = MarketConfig(
        kind="replay",
        replay=ReplayConfig(table=table),
        instruments=(
            InstrumentSpec(
                name="underlying", kind="underlying", cost=CostModel(half_spread_bps=10.0)
            ),
        ),
    )
    cfg = {"latency": latency, **agent}
    return Scenario(
        name="jump",
        n_paths=4,
        days=4.0,
        market=market,
        configs={"c": HedgeConfig(agents=(AgentSpec(cls=BuyOnce, name="buyer", config=cfg),))},
    )


def _run(sc: Scenario, rt: Any = None):
    c = build_components(sc)
    res = run_protocol(
        rt or LocalRuntime(), c.market, make_pipelines(sc, c.managers, c.agents), sc.n_steps
    )
    return c, res


def test_an_order_with_latency_fills_at_its_execution_step_quote() -> None:
    # Decided at day 1 (spot 100), one day of latency: it executes at day 2,
    # after the known jump to 110, at that step's quote and costs.
    c, res = _run(_jump_scenario(latency=86_400.0))
    agent = c.agents["c"][0][1]
    assert len(agent.learnt) == 1
    learnt_at, fill = agent.learnt[0]
    assert fill.step == 2
    np.testing.assert_array_equal(fill.mid, 110.0)
    np.testing.assert_allclose(fill.price, 110.0 * (1 + 10e-4), rtol=1e-15)
    np.testing.assert_allclose(fill.cost, 110.0 * 10e-4, rtol=1e-12)
    assert learnt_at == 3  # the agent learns of its fill at its next turn
    np.testing.assert_allclose(res["c"].pnl, -110.0 * 10e-4, atol=1e-12)
    # without latency: filled at the decision step's 100 and rides the jump
    c0, res0 = _run(_jump_scenario(latency=0.0))
    f0 = c0.agents["c"][0][1].learnt[0][1]
    assert f0.step == 1
    np.testing.assert_array_equal(f0.mid, 100.0)
    np.testing.assert_allclose(res0["c"].pnl, 10.0 - 100.0 * 10e-4, rtol=1e-12)


def test_an_arrival_between_grid_points_is_its_own_market_state() -> None:
    sc = _jump_scenario(latency=43_200.0, at=2)  # half a day
    # daily grid plus every decision's arrival half a day later
    assert sc.n_steps == 8
    np.testing.assert_allclose(sc.timeline.times * YEAR, np.arange(9) / 2, atol=1e-9)
    c, _ = _run(sc)
    agent = c.agents["c"][0][1]
    fill = agent.learnt[0][1]
    assert fill.step == 3  # day 1.5
    np.testing.assert_array_equal(fill.mid, 100.0)  # the replay holds day 1's close
    # the every-step agent is not called at arrival steps (off the decision grid)
    assert agent.calls == [0, 2, 4, 6]


def test_an_order_in_flight_is_in_the_agents_view_and_passes_limits_at_execution() -> None:
    sc = _jump_scenario(latency=86_400.0, qty=10.0)
    sc = validate_scenario(
        {
            **sc.model_dump(),
            "configs": {
                "c": {
                    "agents": [
                        {
                            "cls": BuyOnce,
                            "name": "buyer",
                            "config": {"latency": 86_400.0, "qty": 10.0},
                        }
                    ],
                    "manager": {"max_order": {"underlying": 5.0}},
                }
            },
        }
    )
    c = build_components(sc)
    mgr = c.managers["c"]
    market, agent = c.market, c.agents["c"][0][1]
    events = market.start()
    for k in range(3):
        turn = mgr.begin_step(events)
        orders = agent.step(events, turn)
        turn = mgr.submit("buyer", orders)
        if k == 1:
            assert len(mgr._inflight) == 1  # decided at step 1, in flight...
            np.testing.assert_array_equal(turn.view.delta, 10.0)  # ...and in the view
            np.testing.assert_array_equal(mgr.portfolio.stock, 0.0)
        mgr.settle(turn)
        events = market.step()
    # rejected at its execution step by the hard limit of that step
    np.testing.assert_array_equal(mgr.rejected, 1)
    np.testing.assert_array_equal(mgr.portfolio.stock, 0.0)


def _events_scenario(n_paths: int = 300, days: float = 4.0) -> Scenario:
    sc = small_gap_scenario(n_paths=n_paths, days=days)
    data = sc.model_dump()
    data["market"]["gap"].update(
        day=2.0, at="08:30", refine={"before_minutes": 60, "after_minutes": 90, "step_minutes": 30}
    )
    base = {c: data["configs"][c] for c in ("delta_gamma_vega",)}
    dgv = base["delta_gamma_vega"]
    trig = {
        "manager": dgv["manager"],
        "agents": [
            {
                "cls": "vega",
                "config": {
                    "instrument": "vega_opt",
                    "target": 0.8,
                    "latency": 60.0,
                    "schedule": {"kind": "every", "minutes": 360},
                },
            },
            {
                "cls": "gamma",
                "config": {
                    "instrument": "gamma_opt",
                    "target": 0.8,
                    "schedule": {"kind": "on_release"},
                },
            },
            {
                "cls": "delta",
                "config": {"latency": 5.0, "schedule": {"kind": "spot_move", "threshold": 0.003}},
            },
        ],
    }
    band = {
        "manager": dgv["manager"],
        "agents": [{"cls": "delta", "config": {"latency": 900.0, "schedule": {"kind": "band"}}}],
    }
    data["configs"] = {"plain": dgv, "triggers": trig, "band": band}
    return validate_scenario(data)


def test_latency_zero_and_every_step_give_the_same_bits_as_no_settings() -> None:
    sc = small_gap_scenario(n_paths=200, days=4.0)
    data = sc.model_dump()
    explicit = [
        {**a, "config": {**a["config"], "latency": 0.0, "schedule": {"kind": "every_step"}}}
        for a in data["configs"]["delta_gamma_vega"]["agents"]
    ]
    data["configs"]["explicit"] = {**data["configs"]["delta_gamma_vega"], "agents": explicit}
    h = _hashes(run_local(validate_scenario(data)))
    assert h["explicit"] == h["delta_gamma_vega"]
    assert h == _hashes(run_local(sc)) | {"explicit": h["delta_gamma_vega"]}


def test_a_band_trigger_gives_the_bits_of_the_band_hedger_called_every_step() -> None:
    sc = small_gap_scenario(n_paths=200, days=4.0)
    data = sc.model_dump()
    banded = [
        {**a, "config": {**a["config"], "schedule": {"kind": "band"}}}
        for a in data["configs"]["delta_gamma_vega"]["agents"]
    ]
    data["configs"]["banded"] = {**data["configs"]["delta_gamma_vega"], "agents": banded}
    h = _hashes(run_local(validate_scenario(data)))
    assert h["banded"] == h["delta_gamma_vega"]


class CountingRuntime(LocalRuntime):
    def __init__(self) -> None:
        self.calls: list[tuple[Any, str]] = []

    def call(self, handle: Any, method: str, *args: Any) -> Any:
        self.calls.append((handle, method))
        return super().call(handle, method, *args)


def test_clock_schedules_skip_the_call_and_state_triggers_zero_paths_not_due() -> None:
    sc = _events_scenario()
    tl = sc.timeline
    rt = CountingRuntime()
    c, res = _run(sc, rt)
    n = sc.n_steps
    grid = int(tl.on_grid[:-1].sum())

    def count(config: str, name: str) -> int:
        agent = dict(c.agents[config])[name]
        return sum(1 for h, m in rt.calls if h is agent and m == "step")

    assert count("triggers", "vega") == int(tl.due_every(360.0)[:-1].sum()) < grid
    assert count("triggers", "gamma") == 1  # on_release: the release step only
    # spot_move / band agents are called on the decision grid, not at arrival steps
    assert count("triggers", "delta") == count("band", "delta") == grid < n
    assert count("plain", "vega") == grid
    for r in res.values():
        assert np.isfinite(r.pnl).all()


def test_a_spot_move_trigger_trades_only_the_paths_that_moved() -> None:
    sc = small_gap_scenario(n_paths=64, days=3.0)
    data = sc.model_dump()
    data["configs"] = {
        "c": {
            "agents": [
                {
                    "cls": AlwaysBuy,
                    "name": "buy",
                    "config": {"schedule": {"kind": "spot_move", "threshold": 0.01}},
                }
            ]
        }
    }
    sc = validate_scenario(data)
    seen: list[tuple] = []
    c = build_components(sc)
    run_protocol(
        LocalRuntime(),
        c.market,
        make_pipelines(sc, c.managers, c.agents),
        sc.n_steps,
        record=seen.append,
    )
    last = np.full(64, np.nan)
    expect = np.zeros(64)
    calls = []
    for k in range(sc.n_steps):
        spot = seen[k][-1].spot
        due = np.isnan(last) | (np.abs(spot / np.where(np.isnan(last), spot, last) - 1) > 0.01)
        if due.any():
            calls.append(k)
        expect += due
        last = np.where(due, spot, last)
    np.testing.assert_array_equal(c.managers["c"].portfolio.stock, expect)
    assert c.agents["c"][0][1].calls == calls
    assert 0 < expect.min() < expect.max() < sc.n_steps


def test_snapshot_restore_midway_reproduces_the_hashes_with_latencies_in_flight() -> None:
    sc = _events_scenario(n_paths=200)
    expected = _hashes(run_local(sc))
    a = FusedShard(sc, 0, sc.n_paths)
    k = sc.timeline.events["CPI"] + 1
    for _ in range(k):
        a.step()
    state = a.snapshot()
    assert any(state["components"][f"{c}/manager"]["inflight"] for c in ("triggers", "band"))
    b = FusedShard(sc, 0, sc.n_paths)
    b.restore(state)
    b.components.market.restore(state["components"]["market"])
    while b.protocol.next_step < sc.n_steps:
        b.step()
    assert _hashes(b.finish()) == expected


def test_a_recorded_log_replays_to_the_same_bits_with_the_new_clock(tmp_path) -> None:
    from market.replay import LogReplayMarket
    from orchestration.recorder import RecordWriter

    sc = _events_scenario(n_paths=64)
    path = tmp_path / "run.grlog"
    with RecordWriter(path, sc) as writer:
        direct = run_local(sc, record=writer.write)
    replayed = run_local(sc, market=LogReplayMarket(path))
    assert _hashes(direct) == _hashes(replayed)


def test_sharded_runs_give_the_same_bits_with_triggers_and_latencies() -> None:
    sc = _events_scenario(n_paths=1100)
    assert _hashes(run_local(sc, shards=2)) == _hashes(run_local(sc))


@pytest.mark.slow
@pytest.mark.usefixtures("ray_session")
def test_ray_per_agent_and_fused_give_the_same_bits_with_triggers_and_latencies() -> None:
    from orchestration.ray_runtime import run_ray

    sc = _events_scenario(n_paths=1100, days=3.0)
    local = _hashes(run_local(sc))
    assert _hashes(run_ray(sc, shards=1, placement="per-agent")) == local
    assert _hashes(run_ray(sc, shards=2, placement="fused")) == local


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ('market.gap.refine={"step_minutes": 0}', "step_minutes"),
        ("configs.delta.agents.0.config.latency=-1", "latency"),
        ("configs.delta.agents.0.config.latency=NaN", "latency"),
        ("market.gap.day=50", "market.gap.day"),
    ],
)
def test_bad_clock_settings_exit_2_naming_the_field_and_write_nothing(
    tmp_path, capsys, override: str, field: str
) -> None:
    from orchestration.cli import main

    out = tmp_path / "run"
    rc = main(
        [
            "run",
            "macro_gap",
            "--runtime",
            "local",
            "--no-progress",
            "--out",
            str(out),
            "--set",
            override,
        ]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert len(err.splitlines()) == 1 and field in err, err
    assert not out.exists()


def test_delta_hedge_error_still_falls_like_one_over_sqrt_rebalances_on_a_wake_up_clock() -> None:
    # The BSM world on a 6-hour base grid; the delta hedger wakes every 1440 or
    # every 360 minutes (the timeline holds the wake-ups): 4x the rebalances,
    # half the hedging error.
    from conftest import bsm_world_scenario

    sc = bsm_world_scenario(n_paths=6000, steps_per_day=4)
    data = sc.model_dump()
    delta = data["configs"]["delta"]
    for name, minutes in (("daily", 1440.0), ("six_hourly", 360.0)):
        agent = {
            **delta["agents"][0],
            "config": {"schedule": {"kind": "every", "minutes": minutes}},
        }
        data["configs"][name] = {**delta, "agents": [agent]}
    res = run_local(validate_scenario(data))
    s1, s4 = res["daily"].pnl.std(), res["six_hourly"].pnl.std()
    assert 1.75 < s1 / s4 < 2.25, (s1, s4)
    assert _hashes(res)["six_hourly"] == _hashes(res)["delta"]  # every grid step = every 360 min


def test_a_release_widens_the_spread_at_execution_time() -> None:
    # One order at the release step and one 10 half-lives later: the first pays
    # k times the half-spread, the second ~1x.
    table_sc = small_gap_scenario(n_paths=8, days=4.0)
    data = table_sc.model_dump()
    data["market"]["gap"].update(
        day=2.0,
        at="08:30",
        size_std=0.0,
        refine={"before_minutes": 0, "after_minutes": 60, "step_minutes": 6},
    )
    data["market"]["instruments"][0]["cost"] = {
        "half_spread_bps": 1.0,
        "release_spread_mult": 8.0,
        "release_half_life_minutes": 6.0,
    }
    data["configs"] = {"c": {"agents": [{"cls": AlwaysBuy, "name": "buy"}]}}
    sc = validate_scenario(data)
    c = build_components(sc)
    seen: list[tuple] = []
    run_protocol(
        LocalRuntime(),
        c.market,
        make_pipelines(sc, c.managers, c.agents),
        sc.n_steps,
        record=seen.append,
    )
    mgr = c.managers["c"]
    k = sc.timeline.events["CPI"]
    # one unit bought every step at mid: the cost is mid * 1bp * the multiplier
    expect = 0.0
    for j in range(sc.n_steps):
        m = seen[j][-1]
        minutes = (m.time - sc.timeline.times[k]) * 365 * 1440
        mult = 1.0 + 7.0 * 0.5 ** (minutes / 6.0) if j >= k else 1.0
        expect = expect + m.spot * 1e-4 * mult
    np.testing.assert_allclose(mgr.portfolio.cost, expect, rtol=1e-12)


@pytest.mark.slow
@pytest.mark.usefixtures("ray_session")
def test_killing_an_actor_with_orders_in_flight_still_gives_the_undisturbed_hash() -> None:
    import os
    import signal

    import ray

    from orchestration.ray_runtime import RayRun

    sc = _events_scenario(n_paths=100, days=3.0)
    sc = sc.model_copy(update={"configs": {k: sc.configs[k] for k in ("triggers", "band")}})
    expected = _hashes(run_local(sc))
    run = RayRun(sc, checkpoint_every=3)
    at = sc.timeline.events["CPI"] + 2
    role = "band/manager"
    killed: list[int] = []

    def kill(step: int) -> None:
        if step == at and not killed:
            killed.append(step)
            os.kill(ray.get(run.units[0].handles[role].pid.remote()), signal.SIGKILL)

    assert _hashes(run.run(kill)) == expected
    assert run.failures == {f"shard 0:{role}": 1}
