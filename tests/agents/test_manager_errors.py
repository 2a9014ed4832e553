"""A policy or manager that cannot be imported, or whose config is wrong: one line
naming the field, exit status 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestration.cli import main

CUSTOM = str(Path(__file__).parents[2] / "scenarios" / "custom_manager.py")


@pytest.mark.parametrize(
    ("scenario", "override", "needle"),
    [
        (
            "macro_gap",
            'configs.delta.manager.policy={"cls": "no_such_desk.Policy"}',
            "configs.delta.manager.policy.cls: unknown policy class 'no_such_desk.Policy'",
        ),
        (
            "macro_gap",
            'configs.delta.manager={"cls": "no_such_desk.Manager"}',
            "configs.delta.manager.cls: unknown manager class 'no_such_desk.Manager'",
        ),
        (
            "macro_gap",
            'configs.delta.manager={"cls": "agents.DeltaHedger"}',
            "configs.delta.manager.cls: manager class 'agents.DeltaHedger' is not a subclass",
        ),
        (
            "macro_gap",
            'configs.delta.manager.policy={"cls": "agents.RiskManager"}',
            "is not a subclass of agents.AllocationPolicy",
        ),
        (
            "macro_gap",
            'configs.delta.manager.policy={"kind": "cost_aware", "power": -1}',
            "configs.delta.manager.policy.power: Input should be greater than or equal to 0",
        ),
        (
            "macro_gap",
            'configs.event_aware.manager.policy.base={"kind": "vol_scaled", "nope": 1}',
            "configs.event_aware.manager.policy.base.nope: Extra inputs are not permitted",
        ),
        (
            "macro_gap",
            'configs.delta.manager.policy={"kind": "learned"}',
            "configs.delta.manager.policy: unknown policy",
        ),
        (
            CUSTOM,
            "configs.desk.manager.config.max_share=5",
            "configs.desk.manager.config: max_share: Input should be less than or equal to 1",
        ),
        (
            CUSTOM,
            "configs.desk.manager.config.policy.config.trigger=5",
            "policy.config: trigger: Input should be less than or equal to 1 "
            "(config of UsageBrake)",
        ),
        (
            CUSTOM,
            "configs.desk.manager.config.no_such_limit=1",
            "configs.desk.manager.config: no_such_limit: Extra inputs are not permitted",
        ),
    ],
)
def test_a_bad_policy_or_manager_exits_2_with_one_line_and_writes_nothing(
    tmp_path: Path, capsys, scenario, override, needle
) -> None:
    out = tmp_path / "never"
    rc = main(
        [
            "run",
            scenario,
            "--runtime",
            "local",
            "--out",
            str(out),
            "--no-progress",
            "--set",
            override,
        ]
    )
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert needle in err and len(err.splitlines()) == 1, err
    assert not out.exists()


def test_a_user_module_whose_import_raises_is_one_line_naming_the_module(
    tmp_path: Path, capsys
) -> None:
    (tmp_path / "broken_desk.py").write_text("raise RuntimeError('no licence file')\n")
    script = tmp_path / "sc.py"
    script.write_text(
        "from orchestration import HedgeConfig, Scenario\n"
        "SCENARIO = Scenario(name='b', book=({'qty': -1.0},),\n"
        "    configs={'desk': HedgeConfig(manager={'cls': 'broken_desk.Desk'})})\n"
    )
    out = tmp_path / "never"
    rc = main(["run", str(script), "--runtime", "local", "--out", str(out), "--no-progress"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1
    assert "importing 'broken_desk' raised RuntimeError: no licence file" in err
    assert not out.exists()
