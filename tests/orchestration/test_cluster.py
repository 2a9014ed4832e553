"""A real two-node Ray cluster: a scenario's shards land on both nodes, same bits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from orchestration import config_metrics, load_scenario, run_local
from orchestration._testcluster import _cluster_pids, start_cluster, stop_cluster

ARGS = ["--paths", "4200", "--set", "days=12", "--set", "market.gap.day=6"]


@pytest.fixture(scope="module")
def cluster():
    c = start_cluster()
    try:
        yield c
    finally:
        stop_cluster(c)
        assert not _cluster_pids(c.temp_dir), "cluster processes left behind"


def test_a_sharded_run_uses_both_nodes_and_gives_the_local_bits(cluster, tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "orchestration.cli",
        "run",
        "macro_gap",
        "--runtime",
        "ray",
        "--address",
        cluster.address,
        "--shards",
        "4",
        "--placement",
        "fused",
        "--out",
        str(out),
        "--no-progress",
        *ARGS,
    ]
    proc = subprocess.run(cmd, env=cluster.env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["shards"] == 4 and summary["placement"] == "fused"
    assert len(summary["nodes"]) == 2, summary["nodes"]
    sc = load_scenario("macro_gap", ["n_paths=4200", "days=12", "market.gap.day=6"])
    local = run_local(sc)
    for name, res in local.items():
        assert summary["configs"][name]["pnl_sha256"] == config_metrics(res, 1.645)["pnl_sha256"]
