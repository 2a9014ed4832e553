"""Configurations share one quote memo per shard: same bits as running each alone."""

from __future__ import annotations

from orchestration import load_scenario, run_local
from orchestration.engine import build_components
from orchestration.metrics import pnl_sha256


def test_each_configuration_alone_has_the_bits_it_has_with_the_others() -> None:
    sc = load_scenario("macro_gap", ["n_paths=1100", "days=4", "market.gap.day=2"])
    together = run_local(sc)
    for name in ("delta_gamma", "event_aware"):
        alone = run_local(sc.model_copy(update={"configs": {name: sc.configs[name]}}))
        a, b = together[name], alone[name]
        assert pnl_sha256(a.pnl) == pnl_sha256(b.pnl)
        for bucket, v in a.attribution.items():
            assert v.tobytes() == b.attribution[bucket].tobytes(), bucket
        assert a.series == b.series


def test_one_memo_per_shard_and_none_shared_between_runs() -> None:
    sc = load_scenario("macro_gap", ["n_paths=50", "days=1", "market.gap.day=0.5"])
    a, b = build_components(sc), build_components(sc)
    memos_a = {id(m.portfolio.memo) for m in a.managers.values()}
    memos_b = {id(m.portfolio.memo) for m in b.managers.values()}
    assert len(memos_a) == 1 and len(memos_b) == 1 and memos_a != memos_b
