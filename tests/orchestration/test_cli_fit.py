"""``gammaray fit`` and ``gammaray facts``: outputs written whole, bad input one line, exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from market.config import read_world
from orchestration.cli import main


@pytest.mark.slow
def test_fit_writes_a_world_a_scenario_runs_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "world.json"
    rc = main(
        [
            "fit",
            "--data",
            "sp500",
            "--start",
            "2000-01-01",
            "--end",
            "2018-12-31",
            "--out",
            str(out),
        ]
    )
    assert rc == 0 and "wrote" in capsys.readouterr().out
    world = read_world(str(out))
    assert world.start == "2000-01-04" and world.n_obs == 4778
    assert json.loads(out.read_text())["format"] == "gammaray.fitted_world"
    assert [p.name for p in tmp_path.iterdir()] == ["world.json"]  # no temporary left
    run = tmp_path / "run"
    rc = main(
        [
            "run",
            "fitted_spx",
            "--runtime",
            "local",
            "--paths",
            "32",
            "--set",
            "days=3",
            "--set",
            f'market.fitted={{"path": "{out}"}}',
            "--out",
            str(run),
            "--no-report",
            "--no-progress",
        ]
    )
    assert rc == 0
    summary = json.loads((run / "summary.json").read_text())
    assert summary["scenario_config"]["market"]["fitted"]["path"] == str(out)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--data", "nasdaq"], "unknown data 'nasdaq'"),
        (["--start", "2010-01-01", "--end", "2009-01-01"], "is after --end"),
        (["--start", "2018-01-01", "--end", "2018-06-30"], "needs at least 500"),
        (["--start", "1970-01-01", "--end", "1980-01-01"], "no sp500 closes"),
        (["--start", "2000-13-01"], "give an ISO date"),
    ],
)
def test_a_bad_fit_window_is_one_line_exit_2_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], needle: str
) -> None:
    out = tmp_path / "world.json"
    assert main(["fit", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1, err
    assert list(tmp_path.iterdir()) == []


def test_fit_refuses_an_out_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fit", "--out", str(tmp_path)]) == 2
    assert main(["fit", "--out", str(tmp_path / "no" / "w.json")]) == 2
    assert capsys.readouterr().err.count("\n") == 2


@pytest.mark.slow
def test_facts_prints_the_table_and_writes_the_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / "facts.png"
    assert main(["facts", "fitted_spx", "--paths", "400", "--out", str(png)]) == 0
    out = capsys.readouterr().out
    assert "excess kurtosis" in out and "ACF |r| lag 20" in out and "131 windows of 63" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["facts.png"]


def test_facts_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["facts", "macro_gap", "--data", "ftse"]) == 2
    assert main(["facts", "macro_gap", "--start", "2010-01-01", "--end", "2000-01-01"]) == 2
    assert main(["facts", "macro_gap", "--out", str(tmp_path / "x" / "f.png")]) == 2
    assert main(["facts", "macro_gap", "--paths", "0"]) == 2
    assert capsys.readouterr().err.count("\n") == 4
    assert list(tmp_path.iterdir()) == []


def test_facts_of_real_history_windows_match_real_history(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["facts", "oos_macro_gap", "--paths", "8283"]) == 0
    rows = {
        line[:28].strip(): line[28:].split() for line in capsys.readouterr().out.splitlines()[2:]
    }
    for label in ("excess kurtosis", "ACF |r| lag 1", "ACF |r| lag 5", "corr(r_t, |r_t+1|)"):
        real, world = float(rows[label][0]), float(rows[label][1])
        # the same closes in the same windows: the same numbers (to the table's 3 decimals)
        assert world == pytest.approx(real, abs=1.5e-3), (label, real, world)
