"""Run reports: PNGs that decode, every configuration present, an offline HTML page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib.image as mpimg
import pytest

from orchestration.cli import main
from orchestration.report import PLOTS

ARGS = ["--paths", "200", "--set", "days=4", "--set", "market.gap.day=2", "--no-progress"]


@pytest.mark.slow
def test_run_writes_report_plots_and_tables(tmp_path: Path, capsys) -> None:
    out = tmp_path / "run"
    assert main(["run", "macro_gap", "--runtime", "local", "--out", str(out), *ARGS]) == 0
    summary = json.loads((out / "summary.json").read_text())
    configs = list(summary["configs"])
    for name in PLOTS:
        png = out / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        img = mpimg.imread(png)
        assert img.shape[0] > 100 and img.shape[1] > 100
    page = (out / "report.html").read_text()
    assert all(c in page for c in configs)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page)
    assert "http://" not in page and "https://" not in page
    assert page.count("data:image/png;base64,") == len(PLOTS)
    import pyarrow.parquet as pq

    paths = pq.read_table(out / "paths.parquet").to_pandas()
    assert set(paths["config"]) == set(configs) and len(paths) == 200 * len(configs)
    series = pq.read_table(out / "series.parquet").to_pandas()
    assert {"delta_p50", "budget_usage", "scale_gamma"} <= set(series.columns)
    # rebuild from the saved files, and compare two runs
    (out / "report.html").unlink()
    assert main(["report", str(out)]) == 0 and (out / "report.html").exists()
    out2 = tmp_path / "run2"
    assert (
        main(["run", "macro_gap", "--runtime", "local", "--out", str(out2), "--seed", "8", *ARGS])
        == 0
    )
    capsys.readouterr()
    assert main(["compare", str(out), str(out2), "--out", str(tmp_path)]) == 0
    table = capsys.readouterr().out
    assert "A:event_aware" in table and "B:event_aware" in table
    assert (tmp_path / "compare.html").exists()


def test_report_of_a_folder_that_is_not_a_run_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    assert main(["report", str(tmp_path)]) == 2
    assert "no summary.json" in capsys.readouterr().err
