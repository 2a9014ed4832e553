"""``gammaray train SCENARIO --out model.pt``: train a learned hedger (orchestration.train)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from orchestration.config import load_scenario


def cmd_train(args: argparse.Namespace) -> int:
    """``gammaray train``."""
    import torch
    from rich.progress import Progress

    from orchestration.train import save_checkpoint, train

    torch.set_num_threads(min(2, torch.get_num_threads()))
    scenario = load_scenario(args.scenario, args.overrides)
    start = time.perf_counter()
    with Progress(transient=True) as bar:
        task = bar.add_task("training", total=args.epochs)

        def step(epoch: int, value: float) -> None:
            bar.update(task, completed=epoch + 1, description=f"training: objective {value:.4f}")

        blob, losses = train(
            scenario,
            instrument=args.instrument,
            mode=args.mode,
            paths=args.paths,
            epochs=args.epochs,
            seed=args.seed,
            objective=args.objective,
            level=args.level,
            on_epoch=None if args.no_progress else step,
        )
    save_checkpoint(blob, args.out)
    print(
        f"trained {args.mode} policy on {args.paths:,} paths, {args.epochs} epochs in "
        f"{time.perf_counter() - start:.1f} s; objective {losses[0]:.4f} -> {losses[-1]:.4f}; "
        f"wrote {args.out}"
    )
    return 0


def register(sub: Any) -> dict[str, Any]:
    """Add ``train`` to the CLI."""
    p = sub.add_parser("train", help="train a learned hedger on a scenario's simulator")
    p.add_argument("scenario", help="scenario script path or built-in name")
    p.add_argument("--out", type=Path, required=True, help="checkpoint file to write")
    p.add_argument("--instrument", default="hedge_opt", help="hedge option it trades")
    p.add_argument("--mode", choices=("residual", "direct"), default="residual")
    p.add_argument("--paths", type=int, default=10_000)
    p.add_argument("--epochs", type=int, default=150)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--objective", choices=("mean_std", "cvar", "entropic"), default="mean_std")
    p.add_argument("--level", type=float, help="c for mean_std, tail for cvar, aversion")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE")
    p.add_argument("--no-progress", action="store_true")
    return {"train": cmd_train}
