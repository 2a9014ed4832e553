"""Scenario loading, overrides and one-line errors that name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration import ScenarioError, apply_overrides, load_scenario
from orchestration.config import builtin_scenarios, resolve_agent_class


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
