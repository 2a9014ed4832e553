"""Checks of ``gammaray train``'s scenario and arguments, before any work is done."""

from __future__ import annotations

import math
import os
from typing import Any

from orchestration.config import Scenario, ScenarioError


def check_supported(scenario: Scenario, instrument: str) -> Any:
    """The hedge instrument's spec, if the trainer supports the scenario.

    Raises:
        ScenarioError: What the scenario would need to be.
    """
    m = scenario.market
    specs = {i.name: i for i in m.instruments}
    spec = specs.get(instrument)
    problems = []
    if m.kind != "gbm" or m.surface.vol_of_vol or m.surface.skew or m.surface.term:
        problems.append("a gbm world with a flat, constant surface")
    if scenario.steps_per_day != 1:
        problems.append("one step a day")
    if scenario.n_steps != scenario.base_steps:
        # The trainer's differentiable P&L assumes the uniform base grid: a release
        # off the grid, a refinement window, a wake-up or a latency adds steps.
        problems.append(
            "the uniform daily grid only (no off-grid release, refinement window, "
            "wake-up schedule or latency)"
        )
    if spec is None or spec.kind != "option" or spec.relist_days != 1.0 or spec.roll:
        problems.append(f"an option {instrument!r} listed daily and held (roll=false)")
    if problems:
        raise ScenarioError(f"train supports scenarios with {', '.join(problems)}")
    return spec


#: Most training paths and epochs ``train`` accepts.
MAX_PATHS = 10_000_000
MAX_EPOCHS = 1_000_000
MAX_HIDDEN = 4096


def _available_bytes() -> int | None:
    """Memory available to a new allocation, bytes (MemAvailable on Linux), or None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return None


def check_train_args(
    scenario: Scenario,
    paths: int,
    epochs: int,
    objective: str,
    level: float | None,
    hidden: int = 32,
    seed: int = 0,
    mode: str = "residual",
) -> float:
    """Refuse training arguments that cannot give a policy, before any work.

    Returns:
        The objective's level (its default when ``level`` is None).

    Raises:
        ScenarioError: One line naming the argument: zero or negative paths,
            epochs or width, a negative seed, a non-finite or out-of-range
            level, an unknown mode or objective, or more paths than memory holds.
    """

    def whole(label: str, v: Any, lo: int, hi: int) -> None:
        if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
            raise ScenarioError(f"{label} must be a whole number in [{lo:,}, {hi:,}], got {v!r}")

    whole("--paths", paths, 1, MAX_PATHS)
    whole("--epochs", epochs, 1, MAX_EPOCHS)
    whole("hidden", hidden, 1, MAX_HIDDEN)
    whole("--seed", seed, 0, 2**63 - 1)
    if mode not in ("residual", "direct"):
        raise ScenarioError(f"mode must be residual or direct, got {mode!r}")
    defaults = {"mean_std": scenario.risk_aversion, "cvar": 0.05, "entropic": 0.1}
    if objective not in defaults:
        raise ScenarioError(f"objective must be mean_std, cvar or entropic, got {objective!r}")
    lvl = defaults[objective] if level is None else level
    if isinstance(lvl, bool) or not isinstance(lvl, int | float) or not math.isfinite(lvl):
        raise ScenarioError(f"--level must be a finite number, got {lvl!r}")
    ranges = {"mean_std": (0.0, 100.0), "cvar": (0.0, 1.0), "entropic": (0.0, 100.0)}
    lo, hi = ranges[objective]
    if not (lo <= lvl <= hi) or (objective != "mean_std" and lvl == 0.0):
        what = {"mean_std": "c in [0, 100]", "cvar": "a tail fraction in (0, 1]"}
        raise ScenarioError(
            f"--level for {objective} must be {what.get(objective, 'an aversion in (0, 100]')}, "
            f"got {lvl!r}"
        )
    # precompute holds two [T, T, n] and five [T, n] float64 arrays (and torch copies).
    t = scenario.n_steps
    need = 2 * (2 * t * t + 5 * t + 1) * paths * 8
    avail = _available_bytes()
    if avail is not None and need > avail:
        raise ScenarioError(
            f"--paths {paths:,} over {t} days needs about {need / 2**30:.1f} GiB, "
            f"{avail / 2**30:.1f} GiB available: use fewer paths"
        )
    return float(lvl)
