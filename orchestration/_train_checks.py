"""Checks of ``gammaray train``'s scenario and arguments, before any work is done."""

from __future__ import annotations

import math
import os
from typing import Any

from orchestration.config import Scenario, ScenarioError


def check_supported(scenario: Scenario, instruments: str | tuple[str, ...]) -> tuple[str, ...]:
    """The instruments a policy would trade, if the trainer supports the scenario.

    Any world, clock, book and flow trains (the training set is the engine's
    own events; the manager's ``max_order`` and ``hard_limit`` apply in
    training as in the engine; the base configuration's band hedgers run
    with their latency, clock schedule and state trigger, as the engine runs
    them: :mod:`orchestration._train_clock`). Refused: an instrument that is
    not listed, and an option held to expiry that the exchange re-strikes;
    :func:`orchestration.train.rule_cascade` refuses, on the base, an agent
    that is not a built-in BSM band hedger.

    Raises:
        ScenarioError: One line saying what to change.
    """
    from orchestration._trainset import check_trainable

    insts = (instruments,) if isinstance(instruments, str) else tuple(instruments)
    listed = [i.name for i in scenario.market.instruments]
    if not insts:
        raise ScenarioError("--instruments: name at least one listed instrument")
    for i in insts:
        if i not in listed:
            raise ScenarioError(
                f"--instrument {i!r} is not listed in {scenario.name!r} ({', '.join(listed)})"
            )
    if len(set(insts)) != len(insts):
        raise ScenarioError(f"--instruments {', '.join(insts)}: each instrument once")
    check_trainable(scenario)
    return insts


def check_device(device: str) -> str:
    """The torch device to train on: ``cpu``, ``cuda`` (if present) or ``auto``.

    Raises:
        ScenarioError: An unknown device, or ``cuda`` where CUDA is not available.
    """
    if device not in ("cpu", "cuda", "auto"):
        raise ScenarioError(f"--device must be cpu, cuda or auto, got {device!r}")
    if device == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if device == "cuda":
        raise ScenarioError(
            "--device cuda: CUDA is not available here (torch.cuda.is_available() is False); "
            "use --device cpu or auto"
        )
    return "cpu"


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
    defaults = {
        "mean_std": scenario.risk_aversion,
        "cost_penalised": scenario.risk_aversion,
        "cvar": 0.05,
        "entropic": 0.1,
    }
    if objective not in defaults:
        raise ScenarioError(
            f"objective must be mean_std, cvar, entropic or cost_penalised, got {objective!r}"
        )
    lvl = defaults[objective] if level is None else level
    if isinstance(lvl, bool) or not isinstance(lvl, int | float) or not math.isfinite(lvl):
        raise ScenarioError(f"--level must be a finite number, got {lvl!r}")
    ranges = {
        "mean_std": (0.0, 100.0),
        "cost_penalised": (0.0, 100.0),
        "cvar": (0.0, 1.0),
        "entropic": (0.0, 100.0),
    }
    lo, hi = ranges[objective]
    if not (lo <= lvl <= hi) or (objective in ("cvar", "entropic") and lvl == 0.0):
        what = {
            "mean_std": "c in [0, 100]",
            "cost_penalised": "c in [0, 100]",
            "cvar": "a tail fraction in (0, 1]",
        }
        raise ScenarioError(
            f"--level for {objective} must be {what.get(objective, 'an aversion in (0, 100]')}, "
            f"got {lvl!r}"
        )
    # The training set holds about 30 [T + 1, n] float64 arrays plus 8 per
    # instrument and 6 per position slot (one per contract held to expiry);
    # the autograd graph of a rollout about as much again.
    t = scenario.n_steps
    n_inst = len(scenario.market.instruments)
    slots = sum(
        (t * scenario.dt * scenario.year_days / max(i.relist_days, 1e-9) + 1) if not i.roll else 1
        for i in scenario.market.instruments
        if i.kind == "option"
    )
    need = int(2 * (30 + 8 * n_inst + 6 * slots) * (t + 1) * paths * 8)
    avail = _available_bytes()
    if avail is not None and need > avail:
        raise ScenarioError(
            f"--paths {paths:,} over {t} days needs about {need / 2**30:.1f} GiB, "
            f"{avail / 2**30:.1f} GiB available: use fewer paths"
        )
    return float(lvl)
