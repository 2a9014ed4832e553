"""Each report section: its figure exists, its axes carry units, every event is marked.

Read from the matplotlib Figure objects the report builds (labels, lines,
bars), not from pixels. One small macro_gap run is shared by the module.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agents.attribution import BUCKETS
from orchestration._report_data import load
from orchestration._report_html import event_steps, greeks_table, metrics_table
from orchestration._report_plot import EVENT_GID
from orchestration.cli import main
from orchestration.report import PLOTS, build_figures, series_rows

# The module's one run and report take several seconds.
pytestmark = pytest.mark.slow

N_PATHS = 200
GAP_DAY = 2.0
ARGS = ["--paths", str(N_PATHS), "--set", "days=4", "--set", f"market.gap.day={GAP_DAY:g}"]
TIME_SECTIONS = ("market", "pnl_time", "greeks", "hedges", "budget")
X_LABEL = "time since start (days, 365/year)"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any, dict[str, Any]]:
    out = tmp_path_factory.mktemp("report") / "run"
    assert (
        main(["run", "macro_gap", "--runtime", "local", "--no-progress", "--out", str(out), *ARGS])
        == 0
    )
    data, figs = build_figures(out)
    return out, data, figs


def _axes(fig: Any) -> list[Any]:
    return [ax for ax in fig.axes if ax.get_visible()]


def _event_lines(ax: Any) -> list[Any]:
    return [ln for ln in ax.lines if (ln.get_gid() or "").startswith(EVENT_GID)]


def test_every_section_has_a_figure(run: tuple[Path, Any, dict[str, Any]]) -> None:
    out, _, figs = run
    assert set(figs) == set(PLOTS)
    for key in PLOTS:
        assert _axes(figs[key]), key
        assert (out / f"{key}.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("key", TIME_SECTIONS)
def test_time_axes_share_one_unit_and_mark_the_release(
    run: tuple[Path, Any, dict[str, Any]], key: str
) -> None:
    _, data, figs = run
    assert data.x_label == X_LABEL
    assert [e.label for e in data.events] == ["CPI release"]
    for ax in _axes(figs[key]):
        assert ax.get_xlabel() == X_LABEL, (key, ax.get_title())
        assert "(" in ax.get_ylabel() and ")" in ax.get_ylabel(), (key, ax.get_ylabel())
        lines = _event_lines(ax)
        assert len(lines) == 1, (key, ax.get_title())
        assert lines[0].get_xdata()[0] == pytest.approx(GAP_DAY)
        assert any(t.get_text().strip() == "CPI release" for t in ax.texts), key


def test_greek_axes_are_in_desk_units(run: tuple[Path, Any, dict[str, Any]]) -> None:
    _, data, figs = run
    axes = _axes(figs["greeks"])
    n = len(data.configs)
    assert len(axes) == 4 * n  # a column per configuration: each its own scale
    labels = [ax.get_ylabel() for ax in axes]
    for unit in (
        "delta (units of underlying)",
        "gamma (Δdelta per 1% spot move, units)",
        "vega (USD per vol point)",
        "theta (USD per day)",
    ):
        assert labels.count(unit) == n, unit
    # vega per vol point is vega / 100: the plotted median equals the series'.
    cols = data.series["unhedged"]
    vega_ax = axes[2 * n]
    assert np.allclose(vega_ax.lines[0].get_ydata(), cols["vega_p50"] / 100.0)
    gamma = cols["gamma_1pct_p50"]
    # short 1,000 ATM calls and 1,000 ATM puts: about -2,000 * phi(d1) / (sigma sqrt(T)) / 100
    assert -200.0 < gamma[0] < -50.0


def test_pnl_panels_have_the_band_and_the_currency(run: tuple[Path, Any, dict[str, Any]]) -> None:
    _, data, figs = run
    axes = _axes(figs["pnl_time"])
    assert [ax.get_title() for ax in axes] == data.configs
    for ax, name in zip(axes, data.configs, strict=True):
        assert ax.get_ylabel() == "P&L (USD, profit +)"
        assert ax.collections, "the 5-95% band"
        mid = ax.lines[0].get_ydata()
        assert np.array_equal(mid, data.series[name]["pnl_p50"])
        assert mid[0] == 0.0  # nothing has happened at the first quote


def test_terminal_distribution_shows_the_full_tail_and_marks_var_cvar(
    run: tuple[Path, Any, dict[str, Any]],
) -> None:
    _, data, figs = run
    axes = _axes(figs["pnl"])
    for ax, name in zip(axes, data.configs, strict=True):
        pnl = data.paths[name]["pnl"]
        lo, hi = ax.get_xlim()
        assert lo <= pnl.min() and hi >= pnl.max(), name  # no clip
        assert sum(p.get_height() for p in ax.patches) == pytest.approx(N_PATHS)
        assert ax.get_yscale() == "log"
        assert ax.get_xlabel().startswith("terminal P&L (USD")
        metrics = data.summary["configs"][name]["metrics"]
        marks = {ln.get_label().split()[0]: ln.get_xdata()[0] for ln in ax.lines}
        for key, label in (("var_95", "VaR95"), ("cvar_95", "CVaR95"), ("cvar_99", "CVaR99")):
            assert marks[label] == pytest.approx(-metrics[key])
        # VaR95 is minus the 5th percentile of the P&L.
        assert marks["VaR95"] == pytest.approx(np.quantile(pnl, 0.05), rel=0.05, abs=1.0)


def test_attribution_overall_and_for_the_worst_one_percent(
    run: tuple[Path, Any, dict[str, Any]],
) -> None:
    _, data, figs = run
    axes = figs["attribution"].axes
    n = len(data.configs)
    assert len(axes) == 2 * n
    k = math.ceil(0.01 * N_PATHS)
    for j, name in enumerate(data.configs):
        p = data.paths[name]
        worst = np.argsort(p["pnl"], kind="stable")[:k]
        overall = [bar.get_width() for bar in axes[j].patches]
        tail = [bar.get_width() for bar in axes[n + j].patches]
        assert overall == pytest.approx([p[f"attr_{b}"].mean() for b in BUCKETS])
        assert tail == pytest.approx([p[f"attr_{b}"][worst].mean() for b in BUCKETS])
        # the buckets add up to the P&L: in the tail too
        assert sum(tail) == pytest.approx(p["pnl"][worst].mean(), abs=1e-6)
        assert axes[n + j].get_title().endswith(f"worst 1% ({k:,} paths)")
        assert axes[j].get_xlabel() == "P&L per path (USD, profit +)"


def test_risk_cost_plots_cost_against_cvar95(run: tuple[Path, Any, dict[str, Any]]) -> None:
    _, data, figs = run
    (ax,) = figs["risk_cost"].axes
    assert ax.get_xlabel() == "transaction cost (USD per path, mean)"
    assert ax.get_ylabel() == "CVaR95 (loss +) (USD)"
    points = np.array([c.get_offsets()[0] for c in ax.collections])
    want = [
        (m["transaction_cost"], m["cvar_95"])
        for m in (data.summary["configs"][c]["metrics"] for c in data.configs)
    ]
    assert np.allclose(points, want)


def test_hedges_show_holdings_and_trades_of_hedged_configurations(
    run: tuple[Path, Any, dict[str, Any]],
) -> None:
    _, data, figs = run
    titles = [ax.get_title() for ax in _axes(figs["hedges"])]
    assert not any(t.startswith("unhedged") for t in titles)
    assert "delta_gamma_vega: vega_opt" in titles
    ax = _axes(figs["hedges"])[titles.index("delta_gamma_vega: vega_opt")]
    cols = data.series["delta_gamma_vega"]
    assert np.array_equal(ax.lines[0].get_ydata(), cols["hold_vega_opt_p50"])
    bars = [b.get_height() for b in ax.patches]
    assert bars == pytest.approx(list(cols["trade_vega_opt_mean"]))
    assert cols["hold_vega_opt_p50"][0] == pytest.approx(bars[0])  # bought at the first step
    assert ax.get_ylabel() == "vega_opt (units)"


def test_budget_legends_sit_outside_and_scales_are_grouped(
    run: tuple[Path, Any, dict[str, Any]],
) -> None:
    _, _, figs = run
    usage, scales = _axes(figs["budget"])
    # identical scale curves are drawn once, naming their configurations
    labels = [ln.get_label() for ln in scales.lines if not _event_lines_has(ln)]
    assert len(labels) == 4  # static (4 configurations) and event_aware, gamma and vega each
    assert any(lbl.startswith("gamma: unhedged, delta") for lbl in labels)
    for ax in (usage, scales):
        legend = ax.get_legend()
        assert legend is not None and legend.get_bbox_to_anchor().x0 > ax.bbox.x1 - 1


def _event_lines_has(ln: Any) -> bool:
    return (ln.get_gid() or "").startswith(EVENT_GID)


def test_greeks_table_reads_the_steps_either_side_of_the_release(
    run: tuple[Path, Any, dict[str, Any]],
) -> None:
    _, data, _ = run
    (event,) = data.events
    before, after = event_steps(data, event.time)
    times = data.times() * 365.0
    assert before is not None and after is not None
    assert times[before] < GAP_DAY <= times[after] and after == before + 1
    table = greeks_table(data)
    vega = data.series["unhedged"]["vega_pt_p50"]
    assert f"{vega[before]:,.2f}" in table and f"{vega[after]:,.2f}" in table
    assert "USD per vol point" in table and "just before" in table


def test_metrics_table_says_units_and_which_way_is_good(
    run: tuple[Path, Any, dict[str, Any]],
) -> None:
    _, data, _ = run
    table = metrics_table(data)
    assert "CVaR95 (loss +) (USD)" in table and "lower is better" in table
    assert "budget breaches (% of path-steps)" in table and "paths with any breach" in table


def test_the_page_describes_the_run_and_embeds_every_plot(
    run: tuple[Path, Any, dict[str, Any]],
) -> None:
    out, data, _ = run
    page = (out / "report.html").read_text()
    assert data.scenario["description"] in page
    for word in ("book", "world", "hedge instruments and costs", "money in USD", "CPI release"):
        assert word in page, word
    assert page.count("data:image/png;base64,") == len(PLOTS)
    assert "http://" not in page and "https://" not in page


def test_sharded_runs_give_the_same_report_data(monkeypatch: pytest.MonkeyPatch) -> None:
    from orchestration import engine
    from orchestration.config import load_scenario
    from orchestration.metrics import pnl_sha256

    # A sample wider than one random block, so that it spans two shards.
    monkeypatch.setattr(engine, "REPORT_SAMPLE_PATHS", 1500)
    sc = load_scenario("macro_gap", ["n_paths=2100", "days=2", "market.gap.day=1"])
    assert engine.shard_ranges(sc.n_paths, 3) == [(0, 1024), (1024, 2048), (2048, 2100)]
    one = engine.run_local(sc)
    three = engine.run_local(sc, shards=3)
    summary = {"scenario_config": {"year_days": sc.year_days}}
    rows1, rows3 = series_rows(summary, one), series_rows(summary, three)
    band = [k for k in rows1[0] if k.endswith(("_p5", "_p50", "_p95", "_abs")) or "trade_" in k]
    assert "pnl_p50" in band and "spot_p95" in band and "hold_vega_opt_p50" in band
    for r1, r3 in zip(rows1, rows3, strict=True):
        assert {k: r1[k] for k in band} == {k: r3[k] for k in band}
    for name in one:
        assert pnl_sha256(one[name].pnl) == pnl_sha256(three[name].pnl)
        assert one[name].sampled["pnl"].shape == (sc.n_steps, 1500)
        assert np.array_equal(one[name].sampled["spot"], three[name].sampled["spot"])
    # the bands are percentiles of the sample: the median P&L of the last step
    last = one["delta"].sampled["pnl"][-1]
    assert rows1[len(one["unhedged"].series) + sc.n_steps - 1]["pnl_p50"] == np.percentile(last, 50)


def test_load_reads_what_the_run_wrote(run: tuple[Path, Any, dict[str, Any]]) -> None:
    out, data, _ = run
    again = load(out)
    assert again.configs == data.configs and again.currency == "USD"
    assert again.sample_paths() == N_PATHS
