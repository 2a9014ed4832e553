"""``gammaray train SCENARIO --out model.pt``: train a learned hedger (orchestration.train).

Every argument is checked before any work: a scenario the trainer does not
support, zero or negative ``--paths``/``--epochs``, a non-finite or
out-of-range ``--level`` or an ``--out`` that cannot be a file is one line,
exit status 2, and nothing is written. The checkpoint is written atomically
at the end; training that diverges (a non-finite objective) writes nothing
and exits with status 1.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from orchestration._cli_common import add_run_options
from orchestration.config import ScenarioError, load_scenario


def _check_out(out: Path) -> None:
    if out.is_dir():
        raise ScenarioError(f"--out {str(out)!r} is a directory: give the checkpoint's file name")
    parent = out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ScenarioError(f"--out {str(out)!r}: {str(parent)!r} is not a directory")


def cmd_train(args: argparse.Namespace) -> int:
    """``gammaray train``."""
    from orchestration.train import (
        TrainingDiverged,
        check_device,
        check_supported,
        check_train_args,
        save_checkpoint,
        train,
    )

    scenario = load_scenario(args.scenario, args.overrides)
    check_train_args(
        scenario,
        args.paths,
        args.epochs,
        args.objective,
        args.level,
        hidden=args.hidden,
        seed=args.seed,
        mode=args.mode,
    )
    instruments = tuple(args.instruments.split(",")) if args.instruments else (args.instrument,)
    check_supported(scenario, instruments)
    device = check_device(args.device)
    features = tuple(args.features.split(",")) if args.features else None
    _check_out(args.out)

    import torch
    from rich.progress import Progress

    torch.set_num_threads(min(2, torch.get_num_threads()))
    start = time.perf_counter()
    try:
        with Progress(transient=True, disable=args.no_progress) as bar:
            task = bar.add_task("training", total=args.epochs)

            def step(epoch: int, value: float) -> None:
                bar.update(
                    task, completed=epoch + 1, description=f"training: objective {value:.4f}"
                )

            blob, losses = train(
                scenario,
                instrument=args.instrument,
                mode=args.mode,
                paths=args.paths,
                epochs=args.epochs,
                seed=args.seed,
                objective=args.objective,
                level=args.level,
                hidden=args.hidden,
                on_epoch=None if args.no_progress else step,
                instruments=instruments,
                policy=args.policy,
                features=features,
                layers=args.layers,
                base=args.base,
                cost_penalty=args.cost_penalty,
                device=device,
                action=args.action,
                rule=args.rule,
                rules=tuple(args.rules.split(",")) if args.rules else None,
            )
    except TrainingDiverged as exc:
        print(f"gammaray: train failed: {exc}", file=sys.stderr)
        return 1
    try:
        save_checkpoint(blob, args.out)
    except OSError as exc:
        print(f"gammaray: cannot write {str(args.out)!r}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(
        f"trained {args.policy} {args.action or args.mode} policy ({device}) on "
        f"{args.paths:,} paths, "
        f"{args.epochs} epochs in "
        f"{time.perf_counter() - start:.1f} s; objective {losses[0]:.4f} -> {losses[-1]:.4f}; "
        f"wrote {args.out}"
    )
    return 0


def register(sub: Any) -> dict[str, Any]:
    """Add ``train`` to the CLI."""
    p = sub.add_parser("train", help="train a learned hedger on a scenario's simulator")
    p.add_argument("scenario", help="scenario script path or built-in name")
    p.add_argument("--out", type=Path, required=True, help="checkpoint file to write")
    p.add_argument("--instrument", default="hedge_opt", help="the instrument it trades")
    p.add_argument(
        "--instruments",
        help="comma-separated instruments it trades (overrides --instrument; default: none)",
    )
    p.add_argument(
        "--mode",
        choices=("residual", "direct"),
        default="residual",
        help="residual: a fraction of the replaced band rules' trades; direct: target holdings",
    )
    p.add_argument(
        "--action",
        choices=("holdings", "fraction", "trade", "cascade"),
        help="what the outputs do (default: fraction for residual, trade for direct)",
    )
    p.add_argument(
        "--rules",
        help="comma-separated greek per instrument a cascade scales, e.g. vega,gamma,delta "
        "(default: the base's hedgers')",
    )
    p.add_argument(
        "--rule",
        choices=("delta", "gamma", "vega"),
        help="greek a fraction scales (default: gamma)",
    )
    p.add_argument(
        "--policy", choices=("mlp", "gru"), default="mlp", help="policy network (default: mlp)"
    )
    p.add_argument(
        "--features",
        help="comma-separated feature names from agents._features (default: the mode's)",
    )
    p.add_argument(
        "--base",
        help="configuration whose band hedgers it replaces (default: the first with the "
        "fewest agents whose band hedgers trade every instrument of the action)",
    )
    p.add_argument("--hidden", type=int, default=32, help="hidden width")
    p.add_argument("--layers", type=int, default=2, help="hidden layers of the MLP")
    p.add_argument("--cost-penalty", type=float, default=1.0, help="cost weight of cost_penalised")
    p.add_argument(
        "--device",
        default="cpu",
        help="cpu, cuda, or auto (cuda when available)",
    )
    p.add_argument("--paths", type=int, default=10_000, help="training paths (>= 1)")
    p.add_argument("--epochs", type=int, default=150, help="Adam steps (>= 1)")
    p.add_argument("--seed", type=int, default=0, help="seeds the paths and the initial weights")
    p.add_argument(
        "--objective",
        choices=("mean_std", "cvar", "entropic", "cost_penalised"),
        default="mean_std",
        help="what training minimises: mean + c·std of loss, CVaR of loss, entropic risk, "
        "or mean_std plus --cost-penalty times the mean cost",
    )
    p.add_argument(
        "--level",
        type=float,
        help="c for mean_std/cost_penalised, tail fraction for cvar, risk aversion for "
        "entropic (default: the scenario's risk_aversion, 0.05, 0.1)",
    )
    add_run_options(p)
    return {"train": cmd_train}
