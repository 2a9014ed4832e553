"""The Ray runtime: same bits as in-process, errors carry the agent's name."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import small_gap_scenario

from agents import AgentError
from orchestration import config_metrics, load_scenario, run_local
from orchestration.ray_runtime import run_ray

pytestmark = pytest.mark.usefixtures("ray_session")


def test_ray_and_local_runtimes_give_identical_pnl_hashes() -> None:
    sc = small_gap_scenario(n_paths=300, days=4.0)
    local = run_local(sc)
    remote = run_ray(sc)
    assert set(local) == set(remote) == set(sc.configs)
    for name in sc.configs:
        a = config_metrics(local[name], sc.risk_aversion)
        b = config_metrics(remote[name], sc.risk_aversion)
        assert a == b, name


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
