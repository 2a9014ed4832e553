"""Ray at scale: shards, placements and crash recovery give the undisturbed bits."""

from __future__ import annotations

import contextlib
import os
import signal
import threading

import pytest
import ray
from conftest import small_gap_scenario

from orchestration import config_metrics, run_local
from orchestration.engine import shard_ranges
from orchestration.ray_runtime import Deadlines, RayRun, RunFailed, run_ray

pytestmark = pytest.mark.usefixtures("ray_session")


def _two_configs(sc):
    """Fewer actors for the crash tests: two configurations, three agents."""
    return sc.model_copy(update={"configs": {k: sc.configs[k] for k in ("delta", "delta_gamma")}})


def _hashes(results) -> dict[str, str]:
    return {k: config_metrics(v, 1.645)["pnl_sha256"] for k, v in results.items()}


@pytest.mark.slow
def test_shard_ranges_are_block_aligned_and_cover_the_paths() -> None:
    assert shard_ranges(5000, 4) == [(0, 1024), (1024, 2048), (2048, 3072), (3072, 5000)]
    assert shard_ranges(100, 4) == [(0, 100)]
    assert shard_ranges(10_240, 3) == [(0, 3072), (3072, 6144), (6144, 10_240)]


@pytest.mark.slow
def test_pnl_hash_is_the_same_for_every_runtime_layout_and_placement() -> None:
    sc = small_gap_scenario(n_paths=4200, days=3.0)
    local = _hashes(run_local(sc))
    assert _hashes(run_local(sc, shards=4)) == local
    assert _hashes(run_ray(sc, shards=4, placement="fused")) == local
    assert _hashes(run_ray(sc, shards=2, placement="per-agent")) == local


@pytest.mark.slow
def test_killing_an_agent_actor_mid_run_still_gives_the_undisturbed_hash() -> None:
    sc = _two_configs(small_gap_scenario(n_paths=300, days=4.0))
    expected = _hashes(run_local(sc))
    run = RayRun(sc, checkpoint_every=3)
    role = "delta_gamma/gamma"

    killed: list[int] = []

    def kill(step: int) -> None:  # once: after the rollback, step 7 runs again
        if step == 7 and not killed:
            killed.append(step)
            os.kill(ray.get(run.units[0].handles[role].pid.remote()), signal.SIGKILL)

    assert _hashes(run.run(kill)) == expected
    assert run.failures == {f"shard 0:{role}": 1}


@pytest.mark.slow
def test_a_component_that_keeps_dying_stops_the_run() -> None:
    sc = _two_configs(small_gap_scenario(n_paths=100, days=4.0))
    run = RayRun(sc, checkpoint_every=2, max_failures=1)

    killed: set[int] = set()

    def kill(step: int) -> None:
        if step in (3, 6) and step not in killed:
            killed.add(step)
            os.kill(ray.get(run.units[0].handles["delta/manager"].pid.remote()), signal.SIGKILL)

    with pytest.raises(RunFailed, match=r"'delta/manager'.*died 2 times"):
        run.run(kill)


def _pid(run: RayRun, role: str) -> int:
    return ray.get(run.units[0].handles[role].pid.remote())


@pytest.mark.slow
def test_a_frozen_actor_misses_its_deadline_and_is_recovered() -> None:
    sc = _two_configs(small_gap_scenario(n_paths=300, days=4.0))
    expected = _hashes(run_local(sc))
    run = RayRun(sc, checkpoint_every=3, deadlines=Deadlines(slack_s=6.0))
    role = "delta_gamma/gamma"
    frozen: list[int] = []

    def freeze(step: int) -> None:  # alive, never answering again (SIGSTOP)
        if step == 4 and not frozen:
            frozen.append(_pid(run, role))
            os.kill(frozen[0], signal.SIGSTOP)

    try:
        assert _hashes(run.run(freeze)) == expected
    finally:
        if frozen:  # Ray ends it once killed; make sure of it
            with contextlib.suppress(ProcessLookupError):
                os.kill(frozen[0], signal.SIGKILL)
    assert role in run.rt.missed
    assert run.failures[f"shard 0:{role}"] == 1


@pytest.mark.slow
@pytest.mark.parametrize(("seed", "second"), [(11, "market"), (12, "delta/manager")])
def test_two_kills_300_ms_apart_recover_with_the_undisturbed_hash(seed: int, second: str) -> None:
    sc = _two_configs(small_gap_scenario(n_paths=200, days=4.0))
    sc = sc.model_copy(update={"seed": seed})
    expected = _hashes(run_local(sc))
    run = RayRun(sc, checkpoint_every=3)
    first = "delta_gamma/gamma"
    timers: list[threading.Timer] = []

    def kill(step: int) -> None:
        if step == 4 and not timers:
            later = _pid(run, second)
            os.kill(_pid(run, first), signal.SIGKILL)
            timers.append(threading.Timer(0.3, os.kill, (later, signal.SIGKILL)))
            timers[0].start()

    try:
        assert _hashes(run.run(kill)) == expected
    finally:
        for t in timers:
            t.join()
    assert run.failures == {f"shard 0:{first}": 1, f"shard 0:{second}": 1}


@pytest.mark.slow
def test_deaths_during_recovery_send_it_round_again() -> None:
    sc = _two_configs(small_gap_scenario(n_paths=200, days=4.0))
    expected = _hashes(run_local(sc))
    run = RayRun(sc, checkpoint_every=3)
    first, bystander = "delta_gamma/gamma", "delta/delta"
    killed: list[int] = []

    def kill(step: int) -> None:
        if step == 4 and not killed:
            killed.append(step)
            os.kill(_pid(run, first), signal.SIGKILL)

    def during_recovery(attempt: int) -> None:
        # Just as the first replacement appeared: it dies, and so does a
        # component that had survived so far.
        if attempt == 1:
            ray.kill(run.units[0].handles[first], no_restart=True)
            os.kill(_pid(run, bystander), signal.SIGKILL)

    run.on_recover = during_recovery
    assert _hashes(run.run(kill)) == expected
    assert run.failures == {f"shard 0:{first}": 2, f"shard 0:{bystander}": 1}
