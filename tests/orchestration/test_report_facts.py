"""The report's stylized-facts section: this world's returns beside real S&P 500."""

from __future__ import annotations

import numpy as np
import pytest

from market.facts import acf_abs, real_returns, windows
from orchestration._report_facts import MAX_PATHS, REAL, facts_panels
from orchestration.cli import main
from orchestration.report import build_figures

pytestmark = pytest.mark.slow


def _run(tmp_path, *argv: str):
    out = tmp_path / "run"
    assert main(["run", *argv, "--runtime", "local", "--no-progress", "--out", str(out)]) == 0
    return out


def test_a_simulated_world_gets_the_facts_section_with_the_real_history(tmp_path) -> None:
    out = _run(tmp_path, "macro_gap", "--paths", "300")
    data, figs = build_figures(out)
    assert "facts" in figs and (out / "facts.png").stat().st_size > 10_000
    world, real, _ = facts_panels(data)
    assert world.shape == (min(300, MAX_PATHS), 20)
    want = windows(real_returns(*REAL), 20)
    np.testing.assert_array_equal(real, want)  # the shipped closes, cut as the horizon
    acf_ax, _lev_ax, tail_ax = figs["facts"].axes
    assert "trading days" in acf_ax.get_xlabel() and "%" in tail_ax.get_xlabel()
    real_line = next(ln for ln in acf_ax.get_lines() if ln.get_label() == "real S&P 500")
    np.testing.assert_allclose(real_line.get_ydata(), acf_abs(want), rtol=0, atol=0)
    html = (out / "report.html").read_text()
    assert "stylized facts" in html and "windows of real S&amp;P 500" in html


def test_a_one_path_replay_has_no_facts_section(tmp_path) -> None:
    out = _run(tmp_path, "lehman_2008")
    _, figs = build_figures(out)
    assert "facts" not in figs
