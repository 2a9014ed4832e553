"""Real local Ray clusters: shards on both nodes, user code shipped, a lost node."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestration import config_metrics, load_scenario, run_local
from orchestration._testcluster import _cluster_pids, start_cluster, stop_cluster

#: A line Ray forwarded from a worker or the raylet: "(Name pid=123)" or "(raylet)", maybe coloured.
_FORWARDED = re.compile(r"^(\x1b\[[0-9;]*m)?\([A-Za-z_:.]+( pid=\d+(, ip=[^)]*)?)?\)")

ARGS = ["--paths", "4200", "--set", "days=12", "--set", "market.gap.day=6"]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "orchestration.cli", "run", *args, "--no-progress"]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.mark.slow
def test_losing_the_only_node_is_one_line_exit_1(tmp_path: Path) -> None:
    c = start_cluster(nodes=1)
    try:
        cmd = _cli("macro_gap", "--runtime", "ray", "--address", c.address, "--paths", "500")
        cmd += ["--set", "days=400", "--no-report", "--out", str(tmp_path / "run")]
        proc = subprocess.Popen(cmd, env=c.env, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
        try:
            deadline = time.monotonic() + 300
            while not any("ComponentHost" in _cmdline(p) for p in _cluster_pids(c.temp_dir)):
                assert proc.poll() is None and time.monotonic() < deadline, "the run never started"
                time.sleep(0.5)
            time.sleep(2.0)  # actors up, the run under way
            for pid in _cluster_pids(c.temp_dir):
                if Path(_cmdline(pid).split(" ")[0]).name == "raylet":
                    os.kill(pid, signal.SIGKILL)
            _, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    finally:
        stop_cluster(c)
    assert proc.returncode == 1, err[-2000:]
    # The driver says one line. (Workers on the node die with C++ stack traces
    # that Ray may forward before it, each line tagged "(ComponentHost pid=…)";
    # after it, the driver stops echoing them.)
    mine = [ln for ln in err.splitlines() if ln.strip() and not _FORWARDED.match(ln)]
    assert len(mine) == 1 and mine[0].startswith("gammaray: run failed: lost the Ray cluster"), err
    assert err.strip().splitlines()[-1] == mine[0]
    assert "Traceback" not in err
    assert not (tmp_path / "run").exists()


@pytest.fixture(scope="module")
def cluster():
    c = start_cluster()
    try:
        yield c
    finally:
        stop_cluster(c)
        assert not _cluster_pids(c.temp_dir), "cluster processes left behind"


@pytest.mark.slow
def test_a_sharded_run_uses_both_nodes_and_gives_the_local_bits(cluster, tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = _cli("macro_gap", "--runtime", "ray", "--address", cluster.address, "--shards", "4")
    cmd += ["--placement", "fused", "--out", str(out), *ARGS]
    proc = subprocess.run(cmd, env=cluster.env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["shards"] == 4 and summary["placement"] == "fused"
    assert len(summary["nodes"]) == 2, summary["nodes"]
    sc = load_scenario("macro_gap", ["n_paths=4200", "days=12", "market.gap.day=6"])
    local = run_local(sc)
    for name, res in local.items():
        assert summary["configs"][name]["pnl_sha256"] == config_metrics(res, 1.645)["pnl_sha256"]


SHIPPED_AGENT = """
import sys
from pathlib import Path

from agents import Agent

#: Where the driver's copy lives. A worker must import a shipped copy.
DRIVER_COPY = Path({folder!r})


class Shipped(Agent):
    def on_market(self, event, view):
        here = Path(__file__).resolve().parent
        if "default_worker" in sys.argv[0] and here == DRIVER_COPY:
            raise RuntimeError("imported from the driver's folder: the module was not shipped")
        return [self.order("underlying", -0.75 * view.delta)]
"""

SHIPPED_SCENARIO = """
from driver_only_hedgers import Shipped
from orchestration import AgentSpec, HedgeConfig, Scenario

SCENARIO = Scenario(
    name="shipped", n_paths=2100, days=4, book=({"qty": -1.0},),
    configs={
        "shipped": HedgeConfig(agents=(AgentSpec(cls=Shipped, name="s"),)),
        "delta": HedgeConfig(agents=(AgentSpec(cls="delta"),)),
    },
)
"""


@pytest.mark.slow
def test_an_agent_only_the_drivers_folder_holds_runs_on_both_nodes(cluster, tmp_path: Path) -> None:
    folder = (tmp_path / "mine").resolve()  # not on any cluster process's path
    folder.mkdir()
    (folder / "driver_only_hedgers.py").write_text(SHIPPED_AGENT.format(folder=str(folder)))
    script = folder / "shipped.py"
    script.write_text(SHIPPED_SCENARIO)
    elsewhere = tmp_path / "cwd"  # the driver runs from another folder
    elsewhere.mkdir()
    assert str(folder) not in cluster.env.get("PYTHONPATH", "")
    out = tmp_path / "run"
    cmd = _cli(str(script), "--runtime", "ray", "--address", cluster.address, "--shards", "2")
    cmd += ["--placement", "fused", "--no-report", "--out", str(out)]
    proc = subprocess.run(
        cmd, env=cluster.env, capture_output=True, text=True, timeout=600, cwd=elsewhere
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["nodes"]) == 2, summary["nodes"]
    local = run_local(load_scenario(str(script)))
    for name, res in local.items():
        assert summary["configs"][name]["pnl_sha256"] == config_metrics(res, 1.645)["pnl_sha256"]
    assert summary["configs"]["shipped"]["pnl_sha256"] != summary["configs"]["delta"]["pnl_sha256"]
