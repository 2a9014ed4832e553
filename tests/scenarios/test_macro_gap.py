"""The macro-gap scenario: seeded smoke test and the event-aware manager's edge."""

from __future__ import annotations

from conftest import small_gap_scenario

from orchestration import config_metrics, load_scenario, run_local


def test_smoke_small_run_is_seeded_and_complete() -> None:
    sc = small_gap_scenario(n_paths=128, days=4.0)
    res = run_local(sc)
    again = run_local(sc)
    assert set(res) == {"unhedged", "delta", "delta_gamma", "delta_gamma_vega", "event_aware"}
    for name, r in res.items():
        assert r.pnl.shape == (128,)
        assert r.pnl.tobytes() == again[name].pnl.tobytes()


def test_event_aware_manager_cuts_the_gap_loss_against_static_bands() -> None:
    sc = load_scenario("macro_gap", ["n_paths=3000"])
    res = run_local(sc)
    m = {k: config_metrics(v, sc.risk_aversion) for k, v in res.items()}
    for k, v in m.items():
        print(f"{k:18s} CVaR95 {v['cvar_95']:9.1f}  std {v['pnl_std']:9.1f}")
    assert m["event_aware"]["cvar_95"] < 0.6 * m["delta"]["cvar_95"]
    assert m["event_aware"]["pnl_std"] < m["delta"]["pnl_std"]
    # hedging gamma and vega costs more than hedging delta alone
    assert m["event_aware"]["transaction_cost"] > m["delta"]["transaction_cost"]
    # The policy's own edge: the same agents under static bands (delta_gamma_vega)
    # keep more tail and more spread (seed 7: CVaR95 x0.77, std x0.61; seeds 8-10:
    # x0.78-0.83, x0.62-0.67), and the tightened bands trade more.
    ea, static = m["event_aware"], m["delta_gamma_vega"]
    assert ea["cvar_95"] < 0.85 * static["cvar_95"]
    assert ea["pnl_std"] < 0.7 * static["pnl_std"]
    assert ea["transaction_cost"] > static["transaction_cost"]
