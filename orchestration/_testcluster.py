"""Start and stop a throwaway local Ray cluster on this machine (tests and benchmarks).

Every node runs on 127.0.0.2 with one CPU, token authentication and a
private temp folder; :func:`stop_cluster` ends exactly the processes of that
folder (and their children), never another Ray on the machine.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.2"


@dataclass
class Cluster:
    """A running test cluster."""

    address: str
    temp_dir: str
    env: dict[str, str]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _ray() -> str:
    return str(Path(sys.executable).with_name("ray"))


def start_cluster(nodes: int = 2) -> Cluster:
    """Start a head and ``nodes - 1`` worker nodes (one CPU each); how to reach them."""
    temp_dir = tempfile.mkdtemp(prefix="grc")
    env = {
        **os.environ,
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(16),
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    env.pop("RAY_ADDRESS", None)
    port = _free_port()
    common = [f"--node-ip-address={HOST}", "--num-cpus=1", f"--temp-dir={temp_dir}"]
    cluster = Cluster(f"{HOST}:{port}", temp_dir, env)
    try:
        subprocess.run(
            [
                _ray(),
                "start",
                "--head",
                f"--port={port}",
                *common,
                "--include-dashboard=false",
                f"--dashboard-port={_free_port()}",
                f"--ray-client-server-port={_free_port()}",
                "--disable-usage-stats",
            ],
            env=env,
            check=True,
            capture_output=True,
            timeout=180,
        )
        for _ in range(nodes - 1):
            subprocess.run(
                [_ray(), "start", f"--address={cluster.address}", *common, "--disable-usage-stats"],
                env=env,
                check=True,
                capture_output=True,
                timeout=180,
            )
    except BaseException:
        stop_cluster(cluster)
        raise
    return cluster


def _cluster_pids(temp_dir: str) -> set[int]:
    parents: dict[int, int] = {}
    mine: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        parents[pid] = int(stat.rsplit(")", 1)[1].split()[1])
        if temp_dir in cmd:
            mine.add(pid)
    me, pid = set(), os.getpid()
    while pid > 1:  # never this process or its ancestors
        me.add(pid)
        pid = parents.get(pid, 1)
    mine -= me
    grew = True
    while grew:
        kids = {p for p, pp in parents.items() if pp in mine and p not in mine}
        grew = bool(kids)
        mine |= kids - me
    return mine


def stop_cluster(cluster: Cluster) -> None:
    """End every process of this cluster (TERM, then KILL) and remove its folder."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = _cluster_pids(cluster.temp_dir)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.time() + 10
        while pids and time.time() < deadline and _cluster_pids(cluster.temp_dir):
            time.sleep(0.2)
    shutil.rmtree(cluster.temp_dir, ignore_errors=True)
