"""The Ray runtime: same bits as in-process, errors carry the agent's name."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import small_gap_scenario

from agents import AgentError
from orchestration import config_metrics, load_scenario, run_local
from orchestration.ray_runtime import run_ray

pytestmark = pytest.mark.usefixtures("ray_session")


@pytest.mark.slow
def test_ray_and_local_runtimes_give_identical_pnl_hashes() -> None:
    sc = small_gap_scenario(n_paths=300, days=4.0)
    local = run_local(sc)
    remote = run_ray(sc)
    assert set(local) == set(remote) == set(sc.configs)
    for name in sc.configs:
        a = config_metrics(local[name], sc.risk_aversion)
        b = config_metrics(remote[name], sc.risk_aversion)
        assert a == b, name


@pytest.mark.slow
def test_a_custom_agent_from_a_user_file_runs_and_fails_the_same_on_ray(tmp_path: Path) -> None:
    script = tmp_path / "user_agents.py"
    script.write_text(
        "import numpy as np\n"
        "from agents import Agent\n"
        "from orchestration import AgentSpec, HedgeConfig, Scenario\n"
        "class Half(Agent):\n"
        "    def on_market(self, event, view):\n"
        "        if event.step == 3:\n"
        "            raise ValueError('no quote')\n"
        "        return [self.order('underlying', -0.5 * view.delta)]\n"
        "SCENARIO = Scenario(name='user', n_paths=32, days=5, book=(\n"
        "    {'qty': -1.0},),\n"
        "    configs={'half': HedgeConfig(agents=(AgentSpec(cls=Half, name='halfer'),))})\n"
    )
    sc = load_scenario(str(script))
    with pytest.raises(AgentError) as local_err:
        run_local(sc)
    with pytest.raises(AgentError) as ray_err:
        run_ray(sc)
    assert str(local_err.value) == str(ray_err.value)
    assert "'halfer' (Half)" in str(ray_err.value) and "step 3" in str(ray_err.value)


def _user_folder(folder: Path, module: str) -> Path:
    """A scenario script and, beside it, a module (package) holding its agent."""
    pkg = folder / module
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("from .hedgers import HalfDelta\n")
    (pkg / "hedgers.py").write_text(
        "from agents import Agent\n"
        "class HalfDelta(Agent):\n"
        "    def on_market(self, event, view):\n"
        "        return [self.order('underlying', -0.5 * view.delta)]\n"
    )
    script = folder / "scenario.py"
    script.write_text(
        f"from {module} import HalfDelta\n"
        "from orchestration import AgentSpec, HedgeConfig, Scenario\n"
        "SCENARIO = Scenario(name='beside', n_paths=64, days=3, book=({'qty': -1.0},),\n"
        "    configs={'half': HedgeConfig(agents=(AgentSpec(cls=HalfDelta, name='h'),)),\n"
        "             'delta': HedgeConfig(agents=(AgentSpec(cls='delta'),))})\n"
    )
    return script


@pytest.mark.slow
def test_a_scenario_imports_the_modules_beside_it_locally_and_on_ray(tmp_path: Path) -> None:
    import sys

    script = _user_folder(tmp_path / "proj", "beside_hedgers_a")
    sc = load_scenario(str(script))  # no sys.path edit in the script
    assert str(script.parent) not in sys.path  # only while it loaded
    local = {k: config_metrics(v, 1.645)["pnl_sha256"] for k, v in run_local(sc).items()}
    # The session's Ray started before this folder existed: its workers can
    # only import the module because it travels with the actors.
    remote = {k: config_metrics(v, 1.645)["pnl_sha256"] for k, v in run_ray(sc).items()}
    assert remote == local
    assert local["half"] != local["delta"]  # the user's agent really traded


@pytest.mark.slow
@pytest.mark.parametrize(("placement", "component"), [("per-agent", "'far/f'"), (None, "'shard'")])
def test_a_class_no_worker_can_import_is_one_line_with_exit_2(
    placement: str | None,
    component: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import sys

    from orchestration.cli import main

    elsewhere = tmp_path / "elsewhere"  # on the driver's path only, not beside the script
    elsewhere.mkdir()
    (elsewhere / "far_hedgers_b.py").write_text(
        "from agents import Agent\n"
        "class Far(Agent):\n"
        "    def on_market(self, event, view):\n"
        "        return [self.order('underlying', -view.delta)]\n"
    )
    monkeypatch.syspath_prepend(str(elsewhere))
    monkeypatch.delitem(sys.modules, "far_hedgers_b", raising=False)
    script = tmp_path / "proj" / "far.py"
    script.parent.mkdir()
    script.write_text(
        "from far_hedgers_b import Far\n"
        "from orchestration import AgentSpec, HedgeConfig, Scenario\n"
        "SCENARIO = Scenario(name='far', n_paths=32, days=2, book=({'qty': -1.0},),\n"
        "    configs={'far': HedgeConfig(agents=(AgentSpec(cls=Far, name='f'),))})\n"
    )
    out = tmp_path / "run"
    layout = [] if placement is None else ["--placement", placement]  # None: the default
    argv = ["run", str(script), "--runtime", "ray", "--no-progress", "--out", str(out), *layout]
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0, err
    assert "far_hedgers_b.Far cannot be imported on a Ray worker" in err and component in err
    assert "No module named 'far_hedgers_b'" in err
    assert not out.exists()
    sys.modules.pop("far_hedgers_b", None)
