"""The layout a run on a Ray it starts itself gets by default: fused shards, one per CPU."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration import load_scenario
from orchestration._layout import default_layout, local_cpus


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
    seen: list[tuple[str, int]] = []

    def fake_execute(scenario, runtime, address=None, on_step=None, record=None, **kw):  # type: ignore[no-untyped-def]
        seen.append((scenario.placement, scenario.shards))
        raise SystemExit(0)

    monkeypatch.setattr(cli, "execute", fake_execute)
    monkeypatch.setattr("orchestration._layout.local_cpus", lambda: 2)
    base = ["run", "macro_gap", "--no-progress", "--out", str(tmp_path / "o")]
    for extra, want in (
        ([], ("fused", 2)),
        (["--placement", "per-agent"], ("per-agent", 1)),
        (["--shards", "3"], ("per-agent", 3)),
        (["--runtime", "local"], ("per-agent", 1)),
        (["--address", "auto"], ("per-agent", 1)),
    ):
        with pytest.raises(SystemExit):
            cli.main(base + extra)
        assert seen.pop() == want, extra
    assert not (tmp_path / "o").exists()
