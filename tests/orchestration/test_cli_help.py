"""First contact: help and defaults on every option, --version, -v anywhere, did-you-mean,
a ``list`` that loads nothing, and a table that says what it counts."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration._cli_common import ONE_PATH_COLUMNS, TABLE_COLUMNS, table_rows
from orchestration.cli import _parser, main
from orchestration.config import builtin_scenarios, load_scenario, scenario_listing

ROOT = Path(__file__).resolve().parents[2]


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    p = _parser()
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    return {"gammaray": p, **sub.choices}


@pytest.mark.parametrize("name", list(_subcommands()))
def test_every_option_of_every_subcommand_has_help_and_a_shown_default(name: str) -> None:
    parser = _subcommands()[name]
    formatter = parser._get_formatter()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction | argparse._HelpAction):
            continue
        flag = "/".join(action.option_strings) or action.dest
        assert action.help and action.help != argparse.SUPPRESS, f"{name} {flag}: no help"
        if not action.option_strings or action.nargs == 0 or action.required:
            continue  # positionals, switches and required options have no default to show
        shown = formatter._expand_help(action)
        assert "default" in shown, f"{name} {flag}: the help shows no default: {shown!r}"


def test_help_header_describes_the_program() -> None:
    text = _parser().format_help()
    assert "``" not in text and "the command line." not in text.splitlines()[2]
    assert "options-hedging simulator" in text


def test_version_prints_the_installed_version(capsys) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"gammaray {version('gammaray')}"


@pytest.mark.parametrize(
    "argv",
    [["-v", "run", "macro_gap"], ["run", "macro_gap", "-v"], ["run", "macro_gap", "--verbose"]],
)
def test_verbose_before_or_after_the_subcommand(argv: list[str]) -> None:
    args = _parser().parse_args(argv)
    assert args.verbose is True and args.command == "run"


def test_verbose_and_log_json_work_after_every_subcommand() -> None:
    p = _parser()
    assert p.parse_args(["list", "-v", "--log-json"]).verbose is True
    assert p.parse_args(["list"]).verbose is False and p.parse_args(["list"]).log_json is False
    assert p.parse_args(["inspect", "x.grlog", "-v"]).verbose is True


@pytest.mark.parametrize(
    ("argv", "meant"),
    [
        (["run", "macro_gp"], "did you mean 'macro_gap'?"),
        (["run", "scenarios/macro_gp.py"], "did you mean 'macro_gap.py'?"),
        (["run", "macro_gap", "--set", "markt.kind=gbm"], "did you mean 'market.kind'?"),
        (["run", "macro_gap", "--set", "market.gap.siz_std=0.1"], "'market.gap.size_std'?"),
        (["run", "macro_gap", "--set", "configs.delta.agents.0.cls=detla"], "'delta'?"),
        (
            ["run", "macro_gap", "--set", "configs.delta.agents.0.cls=agents.DeltaHedgr"],
            "'DeltaHedger'?",
        ),
    ],
)
def test_a_typo_gets_a_suggestion(tmp_path: Path, capsys, argv: list[str], meant: str) -> None:
    out = tmp_path / "never"
    rc = main([*argv, "--runtime", "local", "--no-progress", "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and meant in err and len(err.splitlines()) == 1, err
    assert not out.exists()


def test_list_imports_nothing_heavy_and_fits_nothing() -> None:
    code = (
        "import sys\n"
        "from orchestration.cli import main\n"
        "rc = main(['list'])\n"
        "names = ('arch', 'torch', 'ray', 'matplotlib', 'pandas')\n"
        "heavy = sorted(m for m in names if m in sys.modules)\n"
        "print('HEAVY', heavy)\n"
        "sys.exit(rc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "HEAVY []", lines[-1]
    names = [line.split()[0] for line in lines[:-1]]
    assert names == list(builtin_scenarios())
    assert any("lehman_2008" in line and "2008-09-02..2008-10-31" in line for line in lines)


def test_the_console_scripts_list_imports_only_the_standard_library() -> None:
    """``gammaray list`` (the console script's entry) loads none of the product's stack."""
    code = (
        "import sys\n"
        "from orchestration._entry import main\n"
        "rc = main(['list'])\n"
        "roots = {'numpy', 'scipy', 'pydantic', 'structlog', 'rich', 'agents', 'market'}\n"
        "print('LOADED', sorted({m.split('.')[0] for m in sys.modules} & roots))\n"
        "sys.exit(rc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == "LOADED []", lines[-1]
    slow = subprocess.run(
        [sys.executable, "-c", "from orchestration.cli import main; main(['list'])"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert lines[:-1] == slow.stdout.splitlines()  # the fast path lists what the CLI lists


def test_the_packages_lazy_exports_are_its_public_api() -> None:
    import orchestration

    assert set(orchestration.__all__) == set(orchestration._EXPORTS)
    for name in orchestration.__all__:
        assert getattr(orchestration, name) is not None


@pytest.mark.parametrize("name", [n for n in builtin_scenarios() if n != "custom_agent"])
def test_the_listing_read_from_source_is_the_scenarios_own(name: str) -> None:
    path = builtin_scenarios()[name]
    version, listed = scenario_listing(path)
    if "DESCRIPTION" in path.read_text():  # a stress event: the data's numbers are left out
        return  # checked, with the data loaded, in the slow test below
    sc = load_scenario(name)
    assert (version or 1, listed) == (sc.version, sc.description)


@pytest.mark.slow
def test_a_stress_scenarios_listing_is_its_description_without_the_fitted_numbers() -> None:
    import re

    for name, path in builtin_scenarios().items():
        if "DESCRIPTION" not in path.read_text():
            continue
        _, listed = scenario_listing(path)
        full = load_scenario(name).description
        assert re.sub(r" \(\d+ trading days, [^)]*\)", "", full) == listed, name


def _summary(n_paths: int) -> dict:
    metrics = {
        "pnl_mean": -1234.5,
        "pnl_std": 10.0,
        "var_95": 1.0,
        "cvar_95": 2.0,
        "mean_std_objective": 3.0,
        "transaction_cost": 4.0,
        "breach_share": 0.25,
        "paths_breached": 7,
    }
    return {
        "scenario": "s",
        "n_paths": n_paths,
        "n_steps": 40,
        "seed": 1,
        "runtime": "local",
        "currency": "EUR",
        "configs": {"delta": {"metrics": metrics, "pnl_sha256": "0" * 64}},
    }


def test_the_table_says_which_way_is_good_the_currency_and_the_breach_denominator() -> None:
    title, headers, rows, caption = table_rows(_summary(1000))
    assert "(losses positive)" not in title and "money in EUR" in title
    assert headers[1] == "mean P&L ↑" and "CVaR95 loss ↓" in headers
    assert all(h.endswith(("↑", "↓")) for h in headers[1:])
    assert rows[0][headers.index("breached steps ↓")] == "25.00%"
    assert rows[0][headers.index("paths breached ↓")] == "7"
    assert "1,000 × 40" in caption and "profit positive" in caption
    assert len(TABLE_COLUMNS) == len(headers) - 1


def test_a_one_path_table_shows_what_one_path_means() -> None:
    title, headers, rows, caption = table_rows(_summary(1))
    assert "one path" in title
    assert headers == ["config", *(h for _, h, _ in ONE_PATH_COLUMNS)]
    assert headers[1] == "terminal P&L ↑" and rows[0][1] == "-1,234.50"
    assert not any("std" in h or "VaR" in h for h in headers)
    assert "no std, VaR or CVaR" in caption


@pytest.mark.slow
def test_a_one_path_replay_prints_the_one_path_table(tmp_path: Path, capsys) -> None:
    rc = main(
        ["run", "lehman_2008", "--runtime", "local", "--no-progress", "--out", str(tmp_path / "r")]
    )
    out = capsys.readouterr().out
    assert rc == 0 and "lehman_2008: one path" in out and "terminal P&L" in out
    assert "VaR95" not in out and "P&L std" not in out
    s = json.loads((tmp_path / "r/summary.json").read_text())
    assert s["currency"] == "USD" and s["n_paths"] == 1
    assert (tmp_path / "r/report.html").is_file()
