"""``summary.json`` of a Ray run: one ``pnl_sha256`` per configuration, the shard -> node map."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import ray

from orchestration.cli import main

pytestmark = [pytest.mark.usefixtures("ray_session"), pytest.mark.slow]

SMALL = ["--paths", "2048", "--set", "days=2", "--set", "market.gap.day=1", "--no-progress"]


def test_a_ray_run_maps_its_shards_to_nodes_with_addresses_and_keeps_the_bits(
    tmp_path: Path,
) -> None:
    local, remote = tmp_path / "local", tmp_path / "ray"
    assert main(["run", "macro_gap", "--runtime", "local", "--out", str(local), *SMALL]) == 0
    argv = ["run", "macro_gap", "--runtime", "ray", "--shards", "2", "--placement", "fused"]
    assert main([*argv, "--out", str(remote), *SMALL]) == 0
    a = json.loads((local / "summary.json").read_text())
    b = json.loads((remote / "summary.json").read_text())
    for s in (a, b):
        for cfg in s["configs"].values():
            assert "pnl_sha256" not in cfg["metrics"] and len(cfg["pnl_sha256"]) == 64
    assert {k: v["pnl_sha256"] for k, v in a["configs"].items()} == {
        k: v["pnl_sha256"] for k, v in b["configs"].items()
    }
    assert "nodes" not in a  # in-process: no nodes
    alive = {n["NodeID"]: n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"]}
    nodes = b["nodes"]
    assert nodes and all(n["node_id"] in alive for n in nodes)
    assert all(n["address"] == alive[n["node_id"]] for n in nodes)
    shards = sorted((s["shard"], tuple(s["paths"])) for n in nodes for s in n["shards"])
    assert shards == [(0, (0, 1024)), (1, (1024, 2048))] and b["shards"] == 2
