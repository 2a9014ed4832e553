"""Scenario loading, overrides and one-line errors that name the field."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents import BookFlow, BookPosition, EventAwareAllocation, ManagerConfig, MonitorConfig
from market import InstrumentSpec, MarketConfig, RegimeConfig, SurfaceConfig
from orchestration import (
    AgentSpec,
    HedgeConfig,
    Scenario,
    ScenarioError,
    apply_overrides,
    load_scenario,
)
from orchestration.config import builtin_scenarios, resolve_agent_class, validate_scenario


def test_builtin_name_and_path_load_the_same_scenario() -> None:
    assert "macro_gap" in builtin_scenarios()
    by_name = load_scenario("macro_gap")
    by_path = load_scenario(str(builtin_scenarios()["macro_gap"]))
    assert by_name == by_path


def test_set_overrides_by_dotted_path_and_validates() -> None:
    sc = load_scenario("macro_gap", ["market.gap.size_std=0.04", "n_paths=64"])
    assert sc.market.gap.size_std == 0.04 and sc.n_paths == 64
    sc = apply_overrides(sc, ['configs.delta.agents.0.config={"target": 0.5}'])
    assert sc.configs["delta"].agents[0].config == {"target": 0.5}


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        (["market.surface.atm=-0.2"], "market.surface.atm: Input should be greater than 0"),
        (["n_paths=many"], "n_paths: Input should be a valid integer"),
        (["book.0.qty=lots"], "book.0.qty: Input should be a valid number"),
        (["market.gap.nope=1"], "market.gap.nope: Extra inputs are not permitted"),
        (["market.nothing.x=1"], "unknown field 'market.nothing'"),
        (["configs.delta.agents.0.cls=NoSuchAgent"], "unknown agent class 'NoSuchAgent'"),
        (["configs.delta.agents.0.cls=agents.Nope"], "unknown agent class 'agents.Nope'"),
        (["configs.delta.agents.0.config.target=2"], "target: Input should be less than"),
        (["configs.delta.agents.0.config.instrument=spx"], "'spx' is not listed"),
        (["seed"], "expected FIELD=VALUE"),
    ],
)
def test_bad_overrides_give_one_line_naming_the_field(overrides, needle) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario("macro_gap", overrides)
    msg = str(info.value)
    assert needle in msg and "\n" not in msg


def test_missing_field_and_missing_file(tmp_path: Path) -> None:
    script = tmp_path / "s.py"
    script.write_text("from orchestration import Scenario\nSCENARIO = Scenario(name='x')\n")
    with pytest.raises(ScenarioError, match="configs: missing field"):
        load_scenario(str(script))
    with pytest.raises(ScenarioError, match="does not exist"):
        load_scenario(str(tmp_path / "nope.py"))
    with pytest.raises(ScenarioError, match="neither a file nor a built-in"):
        load_scenario("no_such_scenario")
    (tmp_path / "t.py").write_text("X = 1\n")
    with pytest.raises(ScenarioError, match="must define SCENARIO"):
        load_scenario(str(tmp_path / "t.py"))


def test_agent_classes_resolve_by_short_name_dotted_path_or_class() -> None:
    from agents import GammaHedger

    assert resolve_agent_class("gamma") is GammaHedger
    assert resolve_agent_class("agents.gamma.GammaHedger") is GammaHedger
    assert resolve_agent_class("agents.gamma:GammaHedger") is GammaHedger
    assert resolve_agent_class(GammaHedger) is GammaHedger
    with pytest.raises(ValueError, match="not a subclass"):
        resolve_agent_class("orchestration.config.Scenario")


# ------------------------------------------------------------ non-finite and implausible values
@pytest.mark.parametrize("field", ["market.spot", "book.0.qty", "days"])
@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "NaN", "Infinity", "-Infinity"])
def test_non_finite_set_values_exit_2_in_one_line_and_write_nothing(
    field: str, value: str, tmp_path: Path, capsys
) -> None:
    from orchestration.cli import main

    out = tmp_path / "run"
    argv = ["run", "macro_gap", "--runtime", "local", "--paths", "16", "--no-progress"]
    assert main([*argv, "--no-report", "--set", f"{field}={value}", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gammaray: error: "), err
    assert field in err and "finite number" in err, err
    assert not out.exists()


def test_a_percent_vol_in_the_scenario_is_refused_with_the_decimal_form(tmp_path, capsys) -> None:
    from orchestration.cli import main

    script = tmp_path / "pct.py"
    script.write_text(
        "from market import MarketConfig, SurfaceConfig\n"
        "from orchestration import HedgeConfig, Scenario\n"
        "SCENARIO = Scenario(name='pct', market=MarketConfig(surface=SurfaceConfig(atm=20)),\n"
        "    book=({'qty': -1.0},), configs={'none': HedgeConfig()})\n"
    )
    out = tmp_path / "run"
    assert main(["run", str(script), "--runtime", "local", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err == (
        "gammaray: error: invalid scenario: SurfaceConfig.atm: 20 looks like a percent: vols "
        "are decimals (0.2 = 20%) at most 5 (500%); write 0.2 for 20% (got 20)\n"
    )
    assert not out.exists()
    for field in ("market.regime.calm_vol", "market.merton.vol", "market.surface.long_run_atm"):
        with pytest.raises(ScenarioError, match=rf"{field}: 30 looks like a percent.*write 0.3"):
            load_scenario("macro_gap", [f"{field}=30"])
    with pytest.raises(ScenarioError, match=r"market.heston.v0: 400 is above 25 .*write 0.04"):
        load_scenario("macro_gap", ["market.heston.v0=400"])
    with pytest.raises(ScenarioError, match=r"manager.stress_vol: 10 looks like a percent"):
        load_scenario("macro_gap", ["configs.delta.manager.stress_vol=10"])


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ("market.spot=1e300", "market.spot: Input should be less than or equal to 1000000000"),
        ("days=1e9", "days: Input should be less than or equal to 36525"),
        ("year_days=0.5", "year_days: Input should be greater than or equal to 1"),
        ("days=365 steps_per_day=10000", "is 3,650,000 steps, more than 1,000,000"),
        ("book.0.qty=1e20", "book.0.qty: Input should be less than or equal to 1000000000"),
        ("market.instruments.0.cost.fee_pct=500", "fee_pct: Input should be less than or equal"),
        ("configs.delta.manager.budget=1e400", "'1e400' is not a finite number"),
        ("configs.delta.manager.weights.delta=NaN", "weights.delta: 'NaN' is not a finite"),
        ("configs.delta.agents.0.config.target=-Infinity", "target: '-Infinity' is not a finite"),
        ("market.gap.size_std=nan", "market.gap.size_std: Input should be a finite number"),
    ],
)
def test_implausible_and_non_finite_overrides_name_the_field(override, needle) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario("macro_gap", override.split())
    assert needle in str(info.value) and "\n" not in str(info.value)


#: A scenario with every optional part present, so every float field has a value.
RICH = Scenario(
    name="rich",
    n_paths=8,
    days=5.0,
    option_cost=0.01,
    market=MarketConfig(
        drift=0.05,
        regime=RegimeConfig(stressed_drift=0.1),
        surface=SurfaceConfig(long_run_atm=0.2),
        instruments=(
            InstrumentSpec(name="underlying", kind="underlying"),
            InstrumentSpec(name="opt", recenter=0.1),
        ),
    ),
    book=(BookPosition(qty=-1.0),),
    flow=BookFlow(),
    configs={
        "hedged": HedgeConfig(
            agents=(
                AgentSpec(cls="gamma", config={"instrument": "opt", "target": 0.1}),
                AgentSpec(cls="delta", config={"target": 0.0}),
            ),
            manager=ManagerConfig(
                hard_limit=2.0,
                max_order={"underlying": 10.0},
                policy=EventAwareAllocation(),
                monitor=MonitorConfig(),
            ),
        )
    },
)
DATA = json.loads(RICH.model_dump_json())


def _float_leaves(node: Any, path: str = "") -> list[str]:
    if isinstance(node, float):
        return [path]
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    return [p for k, v in items for p in _float_leaves(v, f"{path}.{k}" if path else str(k))]


FLOAT_PATHS = _float_leaves(DATA)


def _put(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(DATA)
    node: Any = data
    *parents, leaf = path.split(".")
    for p in parents:
        node = node[int(p)] if isinstance(node, list) else node[p]
    node[int(leaf) if isinstance(node, list) else leaf] = value
    return data


def _names_the_field(msg: str, path: str) -> bool:
    if ".config." in path:  # an agent's config: "configs.x.agents.0: config of Cls: field: ..."
        head, _, leaf = path.partition(".config.")
        return f"{head}: config of " in msg and f": {leaf}: " in msg
    return f"{path}: " in msg


def test_the_rich_scenario_has_a_float_in_every_part() -> None:
    assert len(FLOAT_PATHS) >= 70
    for path in (
        "days",
        "market.spot",
        "market.drift",
        "market.instruments.1.recenter",
        "market.instruments.0.cost.impact_bps",
        "book.0.qty",
        "flow.rate_per_day",
        "option_cost",
        "configs.hedged.manager.weights.gamma",
        "configs.hedged.manager.max_order.underlying",
        "configs.hedged.manager.policy.tighten.vega",
        "configs.hedged.manager.monitor.threshold",
        "configs.hedged.agents.1.config.target",
    ):
        assert path in FLOAT_PATHS, path


NON_FINITE = st.sampled_from([math.inf, -math.inf, math.nan])


@settings(max_examples=300, deadline=None)
@given(path=st.sampled_from(FLOAT_PATHS), value=NON_FINITE)
def test_any_non_finite_float_in_any_scenario_field_is_refused_naming_it(path, value) -> None:
    with pytest.raises(ScenarioError) as info:
        validate_scenario(_put(path, value))
    msg = str(info.value)
    assert "finite number" in msg and "\n" not in msg, msg
    assert _names_the_field(msg, path), (path, msg)


@settings(max_examples=300, deadline=None)
@given(
    path=st.sampled_from(FLOAT_PATHS),
    text=st.sampled_from(["NaN", "Infinity", "-Infinity", "inf", "-inf", "+inf", "nan", "NAN"]),
)
def test_any_non_finite_set_value_is_refused_naming_the_field(path, text) -> None:
    with pytest.raises(ScenarioError) as info:
        apply_overrides(RICH, [f"{path}={text}"])
    msg = str(info.value)
    assert "finite number" in msg and "\n" not in msg, msg
    assert f"--set {path}: " in msg or _names_the_field(msg, path), (path, msg)


@settings(max_examples=100, deadline=None)
@given(path=st.sampled_from(FLOAT_PATHS))
def test_the_rich_scenario_round_trips_through_every_float_field(path) -> None:
    # The refusals above are for the value, not the path: a finite one passes.
    node: Any = DATA
    for p in path.split("."):
        node = node[int(p)] if isinstance(node, list) else node[p]
    assert validate_scenario(_put(path, node)) == RICH


def test_an_agents_check_scenario_hook_refuses_in_one_line_naming_the_agent() -> None:
    from agents import Agent, AgentConfig

    seen = []

    class Picky(Agent):
        class Config(AgentConfig):
            book_size: int = 1

        @classmethod
        def check_scenario(cls, config, family):
            seen.append(dict(family))
            if len(family["book"]) != config.book_size:
                raise RuntimeError(
                    f"needs a book of {config.book_size},\nnot {len(family['book'])}"
                )

    hc = HedgeConfig(agents=(AgentSpec(cls=Picky, name="p", config={"book_size": 1}),))
    sc = RICH.model_copy(update={"configs": {"picky": hc}})
    assert validate_scenario(sc).configs["picky"] == hc
    assert seen[-1] == {
        "scenario": "rich",
        "market": "gbm",
        "book": [{"is_call": True, "moneyness": 1.0, "expiry_days": 30.0, "qty": -1.0}],
        "flow": BookFlow().model_dump(mode="json"),
    }
    with pytest.raises(ScenarioError) as info:
        apply_overrides(sc, ["configs.picky.agents.0.config.book_size=2"])
    assert str(info.value) == (
        "invalid scenario: configs.picky.agents.0.config: RuntimeError: needs a book of 2, not 1"
    )


@pytest.mark.parametrize("ref", ["..x.Y", ".x.Y", "x.", "x..Y", "1x.Y", "x y.Z", "x:"])
def test_a_malformed_agent_path_is_one_line_without_import(ref: str, tmp_path, capsys) -> None:
    from orchestration.cli import main

    out = tmp_path / "run"
    argv = ["run", "macro_gap", "--runtime", "local", "--paths", "64", "--no-progress"]
    rc = main([*argv, "--out", str(out), "--set", f"configs.delta.agents.0.cls={ref}"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "unknown agent class" in err[0]
    assert not out.exists()


def test_an_agent_module_that_raises_on_import_is_one_line(tmp_path, monkeypatch) -> None:
    (tmp_path / "broken_agents_mod.py").write_text("raise RuntimeError('boom\\nsecond line')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from orchestration.config import resolve_agent_class

    with pytest.raises(ValueError) as info:
        resolve_agent_class("broken_agents_mod.Agent")
    assert "\n" not in str(info.value) and "RuntimeError: boom second line" in str(info.value)


def test_a_learned_agent_naming_an_unlisted_action_instrument_is_refused_when_loaded(
    tmp_path: Path,
) -> None:
    data = load_scenario("macro_gap").model_dump(mode="python")
    data["configs"]["learned"] = {
        "agents": [
            {
                "cls": "agents.deep.LearnedHedger",
                "config": {
                    "checkpoint": str(tmp_path / "never_read.pt"),
                    "features": ["time_fraction"],
                    "actions": {"kind": "holdings", "instruments": ["underlying", "spx_opt"]},
                },
            }
        ]
    }
    with pytest.raises(ScenarioError) as info:
        validate_scenario(data)
    msg = str(info.value)
    assert "configs.learned.agents.0.config.actions.instruments.1" in msg, msg
    assert "'spx_opt' is not listed" in msg and "\n" not in msg
