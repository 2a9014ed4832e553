"""A one-path replay of a real crisis: dates on the time axis, its path, no warning."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from orchestration.cli import main
from orchestration.report import build_figures

TIME_SECTIONS = ("market", "pnl_time", "greeks", "hedges", "budget", "pnl")


@pytest.mark.slow
@pytest.mark.filterwarnings("error")
def test_lehman_replay_report_has_dates_the_path_and_no_warning(tmp_path: Path) -> None:
    import matplotlib.dates as mdates

    pytest.importorskip("arch")
    out = tmp_path / "lehman"
    assert (
        main(["run", "lehman_2008", "--runtime", "local", "--no-progress", "--out", str(out)]) == 0
    )
    data, figs = build_figures(out)
    assert data.one_path and data.dates is not None
    assert str(data.dates[0])[:10] == "2008-09-02"
    assert [e.label for e in data.events] == ["shock: 15 Sep 2008"]
    for key in TIME_SECTIONS:
        for ax in (a for a in figs[key].axes if a.get_visible()):
            assert ax.get_xlabel().startswith("date"), (key, ax.get_xlabel())
            assert isinstance(ax.xaxis.get_major_formatter(), mdates.ConciseDateFormatter)
            (event,) = [ln for ln in ax.lines if (ln.get_gid() or "").startswith("event:")]
            x = event.get_xdata()[0]
            day = str(x)[:10] if isinstance(x, np.datetime64) else f"{mdates.num2date(x):%Y-%m-%d}"
            assert day == "2008-09-15", key
    (ax,) = figs["pnl"].axes
    assert not ax.patches  # no histogram of one number
    assert [ln.get_label() for ln in ax.lines if not ln.get_gid()][
        : len(data.configs)
    ] == data.configs
    for line, name in zip(ax.lines, data.configs, strict=False):
        # the path ends at the run's terminal P&L
        assert line.get_ydata()[-1] == pytest.approx(data.paths[name]["pnl"][0])
    page = (out / "report.html").read_text()
    assert "P&amp;L std" not in page and "loss of the one path" in page
    assert page.count("<h3>shock: 15 Sep 2008") == 1
