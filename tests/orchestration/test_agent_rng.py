"""Agents' random generators and the end of the run, in every runtime.

A randomising agent draws from ``self.rng`` (keyed by seed, configuration,
agent and path block): its run keeps its bits on any number of shards,
in-process and on Ray. Every agent receives ``on_end`` once, after its last
fills, in a run and in a replay. A Ray run's JSON log lines carry the run id,
the shard and the component.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, ClassVar

import pytest

from agents import Agent, AgentConfig, BookPosition, ManagerConfig
from market import MarketConfig, SurfaceConfig
from market.events import EndOfRun
from orchestration import AgentSpec, HedgeConfig, Scenario, run_local
from orchestration._agent_rng import agent_rng
from orchestration.engine import LocalRuntime, Pipeline, build_components, run_protocol
from orchestration.metrics import pnl_sha256
from orchestration.recorder import RecordWriter


class NoisyConfig(AgentConfig):
    """``log_path``: where the agent writes JSON log lines from its process (or None)."""

    log_path: str | None = None


class NoisyDelta(Agent):
    """Hedges a random fraction of delta: per-path noise and a shared scalar per step."""

    Config: ClassVar[type[AgentConfig]] = NoisyConfig
    greek: ClassVar[str | None] = "delta"
    config: NoisyConfig

    def __init__(self, name: str, config: AgentConfig | None = None, **kw: Any) -> None:
        super().__init__(name, config, **kw)
        self.ended: list[EndOfRun] = []
        self.last_fill_step = -1

    def _log(self, event: str, **kw: Any) -> None:
        if self.config.log_path is None:
            return
        import structlog

        from orchestration._logging import configure_logging, get_logger

        configure_logging(json_lines=True, verbose=True)  # as a --log-json worker does
        with open(self.config.log_path, "a") as sink:
            structlog.configure(logger_factory=lambda *_: structlog.PrintLogger(sink))
            get_logger().info(event, **kw)

    def on_market(self, event: Any, view: Any) -> list[Any]:
        noise = self.rng.normal(1.0, 0.2, size=event.n_paths)  # per path, keyed by block
        scale = self.rng.uniform()  # one number, the same on every shard
        if event.step == 0:
            self._log("agent.step", step=event.step)
        return [self.order("underlying", -view.delta * noise * (0.5 + 0.5 * scale))]

    def on_fill(self, fill: Any) -> None:
        self.last_fill_step = fill.step

    def on_end(self, end: EndOfRun) -> None:
        self.ended.append(end)
        self._log("agent.end", step=end.step, last_fill_step=self.last_fill_step)

    def snapshot(self) -> dict[str, Any]:
        return {"rng": self.rng.snapshot(), "fill": self.last_fill_step}

    def restore(self, state: dict[str, Any]) -> None:
        self.rng.restore(state["rng"])
        self.last_fill_step = int(state["fill"])


def _scenario(n_paths: int, configs: tuple[str, ...] = ("a", "b"), **agent: Any) -> Scenario:
    spec = AgentSpec(cls=NoisyDelta, name="noisy", config=agent)
    mgr = ManagerConfig(budget=1e-9, weights={"delta": 1.0})
    return Scenario(
        name="noisy",
        seed=5,
        n_paths=n_paths,
        days=3.0,
        market=MarketConfig(kind="gbm", surface=SurfaceConfig(atm=0.2)),
        book=(BookPosition(is_call=True, expiry_days=10.0, qty=-1.0),),
        configs={c: HedgeConfig(agents=(spec,), manager=mgr) for c in configs},
    )


def test_agent_streams_are_keyed_by_block_configuration_and_agent() -> None:
    whole = agent_rng(5, "a", "noisy", 0, 2048).normal(size=(2, 2048))
    second = agent_rng(5, "a", "noisy", 1024, 2048).normal(size=(2, 1024))
    assert whole[:, 1024:].tobytes() == second.tobytes()
    draws = {
        key: agent_rng(5, *key, 0, 64).normal(size=64).tobytes()
        for key in [("a", "noisy"), ("a", "other"), ("b", "noisy")]
    }
    assert len(set(draws.values())) == 3
    assert agent_rng(6, "a", "noisy", 0, 64).normal(size=64).tobytes() != draws[("a", "noisy")]


def test_a_randomising_agent_runs_with_the_same_bits_on_any_sharding() -> None:
    sc = _scenario(2100)
    one, three = run_local(sc), run_local(sc, shards=3)
    for c in ("a", "b"):
        assert pnl_sha256(one[c].pnl) == pnl_sha256(three[c].pnl)
    # the noise matters, and each configuration's agent has its own stream
    assert pnl_sha256(one["a"].pnl) != pnl_sha256(one["b"].pnl)


def _agents_after(sc: Scenario, market: Any = None) -> list[NoisyDelta]:
    c = build_components(sc)
    pipelines = [Pipeline(n, c.managers[n], list(c.agents[n])) for n in sc.configs]
    run_protocol(LocalRuntime(), c.market if market is None else market, pipelines, sc.n_steps)
    return [a for n in sc.configs for _, a in c.agents[n]]  # type: ignore[misc]


def test_every_agent_receives_the_end_of_the_run_after_its_last_fills(tmp_path: Path) -> None:
    sc = _scenario(64)
    for agent in _agents_after(sc):
        assert agent.ended == [EndOfRun(step=sc.n_steps, sender="market", time=sc.n_steps * sc.dt)]
        assert agent.last_fill_step == sc.n_steps - 1
    # and in a replay of the run's recorded market
    from market.replay import LogReplayMarket

    log = tmp_path / "noisy.grlog"
    with RecordWriter(log, sc) as writer:
        run_local(sc, record=writer.write)
    for agent in _agents_after(sc, LogReplayMarket(log)):
        assert [e.step for e in agent.ended] == [sc.n_steps]


@pytest.mark.slow
@pytest.mark.usefixtures("ray_session")
def test_on_ray_the_bits_the_end_and_the_log_context_hold(tmp_path: Path) -> None:
    import ray

    from orchestration.ray_runtime import RayRun

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    log = tmp_path / "workers.jsonl"
    sc = _scenario(1100, configs=("a",), log_path=str(log))
    run = RayRun(sc, "per-agent", shards=2)
    remote = run.run()
    assert pnl_sha256(remote["a"].pnl) == pnl_sha256(run_local(_scenario(1100, ("a",)))["a"].pnl)
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    seen = {(x["event"], x["shard"]) for x in lines}
    assert seen == {("agent.step", 0), ("agent.step", 1024), ("agent.end", 0), ("agent.end", 1024)}
    for x in lines:
        assert x["run_id"] == run.run_id and x["role"] == "a/noisy"
        assert x["component"] == "NoisyDelta" and x["level"] == "info"
    ends = [x for x in lines if x["event"] == "agent.end"]
    assert all(x["step"] == sc.n_steps and x["last_fill_step"] == sc.n_steps - 1 for x in ends)
