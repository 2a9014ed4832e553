"""deep_gamma_heston (Armstrong & Tatlow 2024 stand-in): seeded smoke test of its hedgers."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration import config_metrics, load_scenario, run_local
from orchestration.train import save_checkpoint, train
from scenarios import deep_gamma_heston as dg

#: std(P&L) / premium on 256 paths of the scenario's seed (the scenario's numbers, pinned).
PINNED = {"delta": 0.22955474697490733, "gamma": 0.03941365094118941}
#: Mean transaction cost per path, currency, on the same paths.
COST = {"delta": 2.1723457061293283, "gamma": 7.2198422296426745}


def test_premium_is_the_heston_value_of_the_book() -> None:
    # 100 ATM 30-trading-day calls at ~20% vol: about 0.4 * 0.2 * sqrt(30/252) * 100 * 100.
    assert dg.premium() == pytest.approx(267.2119266663, rel=1e-9)


def test_rule_configurations_are_seeded_and_pinned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no models/ here: only the rule configurations
    sc = load_scenario("deep_gamma_heston", ["n_paths=256"])
    assert set(sc.configs) == {"delta", "gamma"}
    res = run_local(sc)
    for name, want in PINNED.items():
        assert dg.relative_std(res[name].pnl) == pytest.approx(want, rel=1e-9), name
        cost = config_metrics(res[name], sc.risk_aversion)["transaction_cost"]
        assert cost == pytest.approx(COST[name], rel=1e-9), name
    # gamma hedging in the 32-day call removes most of the delta hedger's error
    assert PINNED["gamma"] < 0.2 * PINNED["delta"]
    again = run_local(sc)
    assert again["gamma"].pnl.tobytes() == res["gamma"].pnl.tobytes()


@pytest.mark.slow
def test_learned_configurations_appear_with_their_checkpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for spec, path, base in (
        (dg.LEARNED_1, dg.CHECKPOINT_1, "delta"),
        (dg.LEARNED_2, dg.CHECKPOINT_2, "gamma"),
    ):
        blob, losses = train(
            dg.SCENARIO,
            instruments=tuple(spec["actions"]["instruments"]),
            policy=spec["policy"],
            features=tuple(spec["features"]),
            action=spec["actions"]["kind"],
            base=base,
            paths=64,
            epochs=2,
            seed=3,
        )
        assert len(losses) == 2
        save_checkpoint(blob, path)
    sc = load_scenario("deep_gamma_heston", ["n_paths=32", "days=3"])
    assert set(sc.configs) == {"delta", "gamma", "learned_1", "learned_2"}
    res = run_local(sc)
    assert res["learned_2"].cost.mean() > 0  # it traded the option
