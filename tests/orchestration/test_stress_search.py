"""``gammaray stress``: the searcher, the bounds, the worst point, determinism across runtimes."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestration import ScenarioError, parse_bounds, run_stress
from orchestration._stress_searcher import TrustRegionSearcher, latin_hypercube
from orchestration.cli import main
from tests.conftest import small_gap_scenario

#: The cut-down macro-gap scenario as ``gammaray stress`` flags.
SMALL = ["--paths", "128", "--set", "days=6", "--set", "market.gap.day=3"]
SIZE = "market.gap.size_std"
CRUSH = "market.gap.crush"


def _stress(tmp: Path, *extra: str, out: str = "s") -> tuple[int, Path]:
    argv = ["stress", "macro_gap", "--config", "delta", *SMALL, "--no-progress"]
    rc = main([*argv, "--out", str(tmp / out), *extra])
    return rc, tmp / out


def test_latin_hypercube_puts_one_point_in_every_stratum_of_every_axis() -> None:
    x = latin_hypercube(7, 3, np.random.default_rng(0))
    assert x.shape == (7, 3)
    for j in range(3):
        assert sorted(np.floor(x[:, j] * 7).astype(int)) == list(range(7))


def _maximise(
    f: Callable[[np.ndarray], float], seed: int, budget: int = 40, d: int = 3
) -> tuple[np.ndarray, np.ndarray]:
    s = TrustRegionSearcher(d, seed, n_init=6, batch=4)
    xs: list[np.ndarray] = []
    fs: list[np.ndarray] = []
    while sum(len(x) for x in xs) < budget:
        pts = s.propose(min(4 if xs else 6, budget - sum(len(x) for x in xs)))
        vals = np.array([f(p) for p in pts])
        s.tell(pts, vals)
        xs.append(pts)
        fs.append(vals)
    return np.concatenate(xs), np.concatenate(fs)


def test_the_searcher_reaches_the_corner_of_a_monotone_function_and_repeats_given_its_seed() -> (
    None
):
    x, f = _maximise(lambda p: float(p.sum()), seed=3)
    assert x.shape == (40, 3)
    assert f.max() == 3.0  # the corner (1, 1, 1) exactly, by clipping to the box
    again, _ = _maximise(lambda p: float(p.sum()), seed=3)
    assert np.array_equal(x, again)
    other, _ = _maximise(lambda p: float(p.sum()), seed=4)
    assert not np.array_equal(x, other)
    assert len({tuple(p) for p in x}) == len(x)  # no point proposed twice


def test_the_searcher_finds_an_interior_peak() -> None:
    peak = np.array([0.3, 0.7, 0.55])

    def f(p: np.ndarray) -> float:
        return -float(np.sum((p - peak) ** 2))

    for seed in range(3):
        _, found = _maximise(f, seed=seed, budget=60)
        assert found.max() > -5e-3  # within ~0.07 of the peak (chance of 60 uniform draws: ~8%)
        uniform = np.random.default_rng(seed).random((60, 3))
        assert found.max() > max(f(p) for p in uniform)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    d=st.integers(1, 4),
    batch=st.integers(1, 6),
    w=st.lists(st.floats(-1, 1), min_size=4, max_size=4),
)
def test_proposals_stay_in_the_box_never_repeat_and_depend_only_on_the_seed_and_values(
    seed: int, d: int, batch: int, w: list[float]
) -> None:
    def run() -> np.ndarray:
        s = TrustRegionSearcher(d, seed, n_init=batch + 1, batch=batch)
        out = []
        for k in range(5):
            pts = s.propose(batch + 1 if k == 0 else batch)
            s.tell(pts, np.sin(3.0 * pts @ np.asarray(w[:d])))
            out.append(pts)
        return np.concatenate(out)

    x = run()
    assert len(x) == 5 * batch + 1 and ((x >= 0.0) & (x <= 1.0)).all()
    assert len({tuple(p) for p in x}) == len(x)
    assert np.array_equal(x, run())


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ([f"{SIZE}=0.1:0.01"], f"--search {SIZE}: low 0.1 is above high 0.01"),
        (["market.gap.nothing=0:1"], "--search market.gap.nothing: unknown field"),
        ([f"{SIZE}=abc:0.1"], f"--search {SIZE} low: 'abc' is not a number"),
        ([f"{SIZE}=0.01:inf"], f"--search {SIZE} high: 'inf' is not a finite number"),
        (["market.gap.distribution=0:1"], "--search market.gap.distribution: the field holds"),
        ([f"{SIZE}=0.01"], f"--search {SIZE}: expected {SIZE}=LOW:HIGH"),
        ([f"{SIZE}=:0.1"], f"--search {SIZE}: expected {SIZE}=LOW:HIGH"),
        ([], "give at least one --search FIELD=LOW:HIGH"),
        ([f"{CRUSH}=0:1"], f"--search {CRUSH}=1: invalid scenario: market.gap.crush"),
        ([f"{SIZE}=0:0.1", f"{SIZE}=0:0.2"], f"--search {SIZE}: the field is given twice"),
    ],
)
def test_bad_bounds_are_one_line_exit_2_and_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: list[str], needle: str
) -> None:
    search = [a for s in spec for a in ("--search", s)]
    rc, out = _stress(tmp_path, *search, "--runtime", "local")
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and needle in err, err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_an_unknown_config_and_a_zero_budget_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--search", f"{SIZE}=0.01:0.1", "--runtime", "local"]
    assert main(["stress", "macro_gap", "--config", "nope", *args, "--out", str(tmp_path / "a")])
    assert "--config 'nope': the scenario has no such configuration" in capsys.readouterr().err
    rc, _ = _stress(tmp_path, *args, "--budget", "0")
    assert rc == 2 and "--budget 0" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_cluster_fails_fast_with_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--search", f"{SIZE}=0.01:0.1", "--runtime", "ray", "--address", "127.0.0.1:1"]
    rc, _ = _stress(tmp_path, *args)
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "127.0.0.1:1" in err, err
    assert list(tmp_path.iterdir()) == []


def test_a_configuration_that_always_raises_is_exit_1_with_nothing_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.orchestration.test_sweep import SCRIPT

    script = tmp_path / "fragile.py"
    script.write_text(SCRIPT)
    argv = ["stress", str(script), "--config", "hedged", "--search", "n_paths=16:32"]
    argv += ["--set", "configs.hedged.agents.0.config.fail=true", "--budget", "3"]
    rc = main([*argv, "--runtime", "local", "--no-progress", "--out", str(tmp_path / "s")])
    err = capsys.readouterr().err
    assert rc == 1 and "every evaluation of 'hedged' failed" in err and "fragile agent" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fragile.py"]


def test_a_nullable_cost_field_is_searched_as_a_number() -> None:
    sc = small_gap_scenario(64)
    (b,) = parse_bounds(sc, ["option_cost=0:0.05"])
    res = run_stress(sc, "delta_gamma", [b], "mean_loss", budget=6, seed=0)
    assert res.worst["option_cost"] == 0.05  # costs only lose money: the top bound
    with pytest.raises(ScenarioError, match=r"market\.instruments\.1\.roll: the field holds true"):
        parse_bounds(sc, ["market.instruments.1.roll=0:1"])


def test_integer_fields_are_searched_on_integers() -> None:
    sc = small_gap_scenario(64)
    (b,) = parse_bounds(sc, ["n_paths=16:20"])
    assert b.integer
    res = run_stress(sc, "delta", [b], "pnl_std", budget=8, seed=0)
    assert sorted(r["n_paths"] for r in res.rows) == [16, 17, 18, 19, 20]  # then none left
    with pytest.raises(ScenarioError, match="n_paths: an integer field needs integer bounds"):
        parse_bounds(sc, ["n_paths=16:20.5"])


def test_stress_finds_the_known_worst_gap_at_its_bound_and_the_script_reproduces_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The delta hedger's CVaR rises with the gap's size (short gamma): worst at the top bound.
    search = ["--search", f"{SIZE}=0.01:0.08", "--search", f"{CRUSH}=0:0.6"]
    rc, out = _stress(tmp_path, *search, "--budget", "12", "--runtime", "local")
    assert rc == 0
    stdout = capsys.readouterr().out
    summary = json.loads((out / "stress.json").read_text())
    worst = summary["worst"]
    assert worst["point"][SIZE] == 0.08 and SIZE in worst["at_bound"]
    assert summary["evaluations"] == 12 and summary["failed"] == 0
    rows = pq.read_table(out / "stress.parquet").to_pylist()
    assert len(rows) == 12 and [r["eval"] for r in rows] == list(range(12))
    assert worst["loss"] == max(r["loss"] for r in rows)
    assert all(r["loss"] == r["cvar_95"] for r in rows)
    csv_lines = (out / "stress.csv").read_text().splitlines()
    assert len(csv_lines) == 13 and csv_lines[0].startswith(f"eval,batch,{SIZE},{CRUSH},loss")
    assert float(csv_lines[1 + worst["eval"]].split(",")[4]) == worst["loss"]
    assert (out / "stress.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # every configuration compared at the worst point, ranked by its loss there
    comp = summary["comparison"]
    assert {c["config"] for c in comp} == {
        "unhedged",
        "delta",
        "delta_gamma",
        "delta_gamma_vega",
        "event_aware",
    }
    losses = [c["worst_loss"] for c in comp]
    assert losses == sorted(losses, reverse=True) and [c["rank"] for c in comp] == [1, 2, 3, 4, 5]
    assert summary["breaks_first"] == comp[0]["config"] and summary["holds"] == comp[-1]["config"]
    (delta,) = [c for c in comp if c["config"] == "delta"]
    assert delta["worst_loss"] == worst["loss"] and delta["pnl_sha256"] == worst["pnl_sha256"]
    assert "breaks first" in stdout and "holds" in stdout and "worst cvar_95" in stdout
    # the worst-point script runs and gives the reported loss, bit for bit
    assert main(["run", str(out / "worst.py"), "--runtime", "local", "--no-progress",
                 "--no-report", "--out", str(tmp_path / "run")]) == 0  # fmt: skip
    run = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert run["configs"]["delta"]["metrics"]["cvar_95"] == worst["loss"]
    assert run["configs"]["delta"]["pnl_sha256"] == worst["pnl_sha256"]
    for c in comp:
        assert run["configs"][c["config"]]["metrics"]["cvar_95"] == c["worst_loss"]


def test_each_objective_is_the_loss_it_names() -> None:
    sc = small_gap_scenario(64)
    bounds = parse_bounds(sc, [f"{SIZE}=0.01:0.05"])
    for objective, key in (("mean_loss", "mean_loss"), ("pnl_std", "pnl_std")):
        res = run_stress(sc, "unhedged", bounds, objective, budget=4, seed=2)
        assert all(r["loss"] == r[key] and math.isfinite(r["loss"]) for r in res.rows)


@pytest.mark.slow
@pytest.mark.usefixtures("ray_session")
def test_the_same_seed_gives_the_same_table_in_process_and_on_one_and_two_ray_workers(
    tmp_path: Path,
) -> None:
    search = ["--search", f"{SIZE}=0.01:0.08", "--search", "market.surface.vol_of_vol=0.2:1.6"]
    common = [*search, "--budget", "10", "--batch", "4", "--seed", "5"]
    rc, local = _stress(tmp_path, *common, "--runtime", "local", out="local")
    assert rc == 0
    tables = {"local": (local / "stress.csv").read_text()}
    for workers in (1, 2):  # one task in flight at a time, then two at once on two CPUs
        extra = ["--runtime", "ray", "--max-in-flight", str(workers)]
        rc, out = _stress(tmp_path, *common, *extra, out=f"ray{workers}")
        assert rc == 0
        tables[f"ray{workers}"] = (out / "stress.csv").read_text()
        assert pq.read_table(out / "stress.parquet").equals(pq.read_table(local / "stress.parquet"))
        assert (out / "worst.py").read_text() == (local / "worst.py").read_text()
    assert tables["ray1"] == tables["local"] and tables["ray2"] == tables["local"]
    assert tables["local"].count("\n") == 11
    rc, other = _stress(tmp_path, *search, "--budget", "10", "--batch", "4", "--seed", "6",
                        "--runtime", "local", out="other")  # fmt: skip
    assert rc == 0 and (other / "stress.csv").read_text() != tables["local"]
