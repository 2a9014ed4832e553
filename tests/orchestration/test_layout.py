"""The layout a run on a Ray it starts itself gets by default: fused shards, one per CPU."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration import load_scenario
from orchestration._layout import (
    FUSED_EFFICIENCY,
    LOCAL_PATH_STEP_S,
    RAY_START_S,
    auto_runtime,
    default_layout,
    local_cpus,
)


def test_local_ray_gets_one_fused_shard_per_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    sc = load_scenario("macro_gap")  # 10,000 paths = 10 random blocks
    assert default_layout(sc, None, cpus=2) == ("fused", 2)
    assert default_layout(sc, None, cpus=64) == ("fused", 10)  # no more shards than blocks
    small = load_scenario("macro_gap", ["n_paths=100"])
    assert default_layout(small, None, cpus=8) == ("fused", 1)
    assert default_layout(sc, None) == ("fused", min(local_cpus(), 10))


def test_clusters_and_chosen_layouts_keep_theirs(monkeypatch: pytest.MonkeyPatch) -> None:
    sc = load_scenario("macro_gap")
    assert default_layout(sc, "auto", cpus=2) is None
    assert default_layout(load_scenario("macro_gap", ["placement=fused"]), None, 2) is None
    assert default_layout(load_scenario("macro_gap", ["shards=3"]), None, 2) is None
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6379")
    assert default_layout(sc, None, cpus=2) is None


def test_cli_applies_it_only_without_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The layout reaches RayRun (stubbed: no Ray here); flags win over it."""
    import orchestration.cli as cli

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    seen: list[tuple[str, str, int]] = []

    def fake_execute(scenario, runtime, address=None, on_step=None, record=None, **kw):  # type: ignore[no-untyped-def]
        seen.append((runtime, scenario.placement, scenario.shards))
        raise SystemExit(0)

    monkeypatch.setattr(cli, "execute", fake_execute)
    monkeypatch.setattr("orchestration._layout.local_cpus", lambda: 2)
    base = ["run", "macro_gap", "--no-progress", "--out", str(tmp_path / "o")]
    monkeypatch.setattr("orchestration.ray_runtime.probe_address", lambda address: None)
    for extra, want in (
        ([], ("local", "per-agent", 1)),  # 10,000 paths: Ray's start-up would not pay back
        (["--paths", "2000000"], ("ray", "fused", 2)),  # long enough: fused shards
        (["--runtime", "ray"], ("ray", "fused", 2)),
        (["--placement", "per-agent"], ("ray", "per-agent", 1)),
        (["--shards", "3"], ("ray", "per-agent", 3)),
        (["--runtime", "local"], ("local", "per-agent", 1)),
        (["--address", "auto"], ("ray", "per-agent", 1)),
    ):
        with pytest.raises(SystemExit):
            cli.main(base + extra)
        assert seen.pop() == want, extra
    assert not (tmp_path / "o").exists()


def test_auto_runtime_uses_ray_only_where_it_repays_its_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    small = load_scenario("macro_gap")  # 10,000 paths x 80 steps x 5 configurations
    big = load_scenario("macro_gap", ["n_paths=2000000"])
    assert auto_runtime(small, None, False, cpus=2) == "local"
    assert auto_runtime(big, None, False, cpus=2) == "ray"
    assert auto_runtime(big, None, False, cpus=1) == "local"  # one CPU: no shard to gain
    # the break-even: fused shards save work * (1 - 1/shards) * efficiency; Ray costs RAY_START_S
    per_path = 80 * 5 * LOCAL_PATH_STEP_S
    edge = int(RAY_START_S / (per_path * 0.5 * FUSED_EFFICIENCY))
    below = load_scenario("macro_gap", [f"n_paths={edge - 4096}"])
    above = load_scenario("macro_gap", [f"n_paths={edge + 4096}"])
    assert auto_runtime(below, None, False, 2) == "local"
    assert auto_runtime(above, None, False, 2) == "ray"
    # a cluster, a chosen layout or a scenario's own layout: always Ray
    assert auto_runtime(small, "auto", False, cpus=2) == "ray"
    assert auto_runtime(small, None, True, cpus=2) == "ray"
    assert auto_runtime(load_scenario("macro_gap", ["placement=fused"]), None, False, 2) == "ray"
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:6379")
    assert auto_runtime(small, None, False, cpus=2) == "ray"
