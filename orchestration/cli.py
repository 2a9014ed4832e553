"""gammaray: an event-driven, multi-agent options-hedging simulator (in-process or on Ray).

The command line. ``gammaray run SCENARIO`` loads a scenario script (or a built-in name), runs
every hedging configuration on identical paths, prints the metrics table and
writes ``summary.json``. ``gammaray list`` shows the built-in scenarios.

Exit status: 0 on success, 2 for bad input (one line naming what to fix,
nothing written), 1 for a run that failed (an agent raised, a worker died,
the disk filled up), 130 on SIGINT, 143 on SIGTERM (129 on SIGHUP). A run's
folder appears whole or not at all (:mod:`orchestration._outputs`,
:mod:`orchestration._signals`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from agents import AgentError
from orchestration._cli_common import (
    TABLE_COLUMNS,
    UsageError,
    add_run_options,
    execute,
    print_table,
    resolve_scenario,
)
from orchestration._io import atomic_write_text
from orchestration._listing import list_scenarios
from orchestration._logging import configure_logging, get_logger
from orchestration._memory import memory_shortfall
from orchestration._outputs import OutputFolder, OutputRefused, WriteFailed, is_write_failure
from orchestration._signals import (
    Interrupted,
    SignalGuard,
    deferrable,
    test_hold,
)
from orchestration.config import (
    Scenario,
    ScenarioError,
    apply_overrides,
)
from orchestration.engine import RunFailed

# Re-exported: they lived here before the subcommand modules shared them.
__all__ = [
    "COMMANDS",
    "TABLE_COLUMNS",
    "UsageError",
    "execute",
    "main",
    "print_table",
    "resolve_scenario",
]


class HelpFormatter(argparse.HelpFormatter):
    """Help that shows every option's default (unless its text already says it).

    Defaults that say nothing (None, False, an empty list) are not shown: the
    text of an option without a fixed default says what it falls back to.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            action.option_strings
            and "default" not in text
            and default is not None
            and default is not False
            and default != argparse.SUPPRESS
            and default != []
        ):
            text += " (default: %(default)s)"
        return text


class Parser(argparse.ArgumentParser):
    """``gammaray``'s argument parser: :class:`HelpFormatter` for it and every subcommand."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def gammaray_version() -> str:
    """The installed gammaray distribution's version (``"unknown"`` if not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gammaray")
    except PackageNotFoundError:
        return "unknown"


def _common_flags(parser: argparse.ArgumentParser, top: bool) -> None:
    """``--log-json`` and ``-v/--verbose``, before the subcommand or after it."""
    given: dict[str, Any] = {} if top else {"default": argparse.SUPPRESS}
    if "--log-json" not in parser._option_string_actions:
        parser.add_argument(
            "--log-json", action="store_true", help="log JSON lines to stderr", **given
        )
    if "--verbose" not in parser._option_string_actions:
        parser.add_argument(
            "-v",
            "--verbose",
            action="store_true",
            help="log info events (progress, the runtime chosen, Ray's start-up)",
            **given,
        )


def _parser() -> argparse.ArgumentParser:
    p = Parser(
        prog="gammaray",
        description=__doc__.splitlines()[0],
        epilog="`gammaray COMMAND --help` for a command's options.",
    )
    p.add_argument("--version", action="version", version=f"gammaray {gammaray_version()}")
    _common_flags(p, top=True)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="run a scenario and write summary.json")
    run.add_argument("scenario", help="scenario script path or built-in name")
    run.add_argument("--paths", type=int, help="number of paths (default: the scenario's n_paths)")
    run.add_argument("--seed", type=int, help="random seed (default: the scenario's seed)")
    run.add_argument(
        "--runtime",
        choices=("auto", "local", "ray"),
        default="auto",
        help="auto: Ray on a cluster, or when the run is long enough for fused "
        "shards to repay Ray's start-up; else in-process. local: in-process. ray: Ray",
    )
    run.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS or local Ray)")
    run.add_argument(
        "--deadline",
        type=float,
        metavar="SECONDS",
        help="Ray: seconds an actor call may take beyond its expected work before the "
        "actor is treated as dead (default 60)",
    )
    run.add_argument(
        "--shards",
        type=int,
        metavar="K",
        help="split the paths into K shards (default: the scenario's; on a Ray this run "
        "starts itself, one per CPU)",
    )
    run.add_argument(
        "--placement",
        choices=("per-agent", "fused"),
        help="Ray placement of components (default: the scenario's; on a Ray this run "
        "starts itself, fused shards, one per CPU)",
    )
    run.add_argument("--out", type=Path, help="output folder (default runs/<scenario>-<time>)")
    run.add_argument(
        "--force",
        action="store_true",
        help="replace a non-empty --out folder (its old contents go once the new run is complete)",
    )
    add_run_options(run)
    run.add_argument("--no-report", action="store_true", help="skip report.html, PNGs, Parquet")
    run.add_argument(
        "--record", type=Path, metavar="FILE", help="write the run's event log (default: none)"
    )

    COMMANDS.update(importlib.import_module("orchestration.cli_sweep").register(sub))

    rep = sub.add_parser("report", help="rebuild a run's report.html and plots")
    rep.add_argument("run_dir", type=Path, help="a run's output folder (holds summary.json)")
    cmp_ = sub.add_parser("compare", help="two runs side by side")
    cmp_.add_argument("run_a", type=Path, help="the first run's output folder")
    cmp_.add_argument("run_b", type=Path, help="the second run's output folder")
    cmp_.add_argument("--out", type=Path, default=Path("."), help="folder for compare.html")

    sub.add_parser("list", help="list the built-in scenarios")
    for module in COMMAND_MODULES:
        COMMANDS.update(importlib.import_module(module).register(sub))
    for command in sub.choices.values():  # ``gammaray run -v`` as well as ``gammaray -v run``
        _common_flags(command, top=False)
    return p


def cmd_run(args: argparse.Namespace) -> int:
    """``gammaray run``: checks, then the run written into an atomic output folder."""
    log = get_logger()
    if args.deadline is not None and not 0 < args.deadline < float("inf"):
        raise UsageError(f"--deadline {args.deadline}: give a positive number of seconds")
    scenario = resolve_scenario(args)
    if args.runtime == "auto":
        from orchestration._layout import auto_runtime

        given = args.placement is not None or args.shards is not None
        args.runtime = auto_runtime(scenario, args.address, given)
        log.info("run.runtime", runtime=args.runtime, chosen="auto")
    if args.runtime == "ray" and args.placement is None and args.shards is None and not args.record:
        from orchestration._layout import default_layout

        layout = default_layout(scenario, args.address)
        if layout is not None:
            scenario = apply_overrides(scenario, [f"placement={layout[0]}", f"shards={layout[1]}"])
    if args.runtime == "ray":  # an unreachable cluster fails before anything is written
        from orchestration.ray_runtime import probe_address

        probe_address(args.address)
    short = memory_shortfall(scenario, args.runtime, args.address, not args.no_report)
    if short is not None:
        raise UsageError(short)
    out = args.out if args.out is not None else _default_out(scenario.name)
    with deferrable() as hold_signals, OutputFolder(out, force=args.force) as folder:
        log.info(
            "run.start", scenario=scenario.name, n_paths=scenario.n_paths, runtime=args.runtime
        )
        summary = _run_into(args, scenario, folder.path, hold_signals)
    log.info("run.done", out=str(out), elapsed_s=summary["elapsed_s"])
    print(f"wrote {out / 'summary.json'}" + ("" if args.no_report else " and report.html"))
    return 0


def _default_out(name: str) -> Path:
    """``runs/<name>-<time>``, with ``-2``, ``-3``... if that exists already."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path("runs") / f"{name}-{stamp}"
    out, k = base, 1
    while out.exists() or out.is_symlink():
        k += 1
        out = base.with_name(f"{base.name}-{k}")
    return out


def _run_into(
    args: argparse.Namespace, scenario: Scenario, folder: Path, hold_signals: Callable[[], None]
) -> dict[str, Any]:
    """Simulate (recording if asked) and write every output into ``folder``.

    ``hold_signals()`` is called once everything is written: from then on a
    signal waits until the event log and the folder are both in place.
    """
    from orchestration.cli_replay import recording

    kept: dict[str, Any] = {}

    def hook(step: int) -> None:
        if step == 1:
            test_hold("simulate")

    with recording(args.record, scenario, args.runtime) as record:
        if args.no_progress:
            summary = execute(
                scenario,
                args.runtime,
                args.address,
                on_step=hook,
                record=record,
                keep=kept,
                deadline=args.deadline,
            )
        else:
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                total = scenario.n_steps * _n_shards(scenario)
                task = bar.add_task(f"{scenario.name} [{args.runtime}]", total=total)

                def advance(step: int) -> None:
                    bar.advance(task)
                    hook(step)

                summary = execute(
                    scenario,
                    args.runtime,
                    args.address,
                    advance,
                    record,
                    keep=kept,
                    deadline=args.deadline,
                )
        print_table(summary)
        atomic_write_text(folder / "summary.json", json.dumps(summary, indent=2) + "\n")
        test_hold("summary")
        if not args.no_report:
            from orchestration.report import write_run_outputs

            write_run_outputs(folder, summary, kept["results"])
        test_hold("commit")
        hold_signals()
    return summary


def cmd_report(args: argparse.Namespace) -> int:
    """``gammaray report RUN_DIR``."""
    from orchestration.report import build_report

    for name in ("summary.json", "series.parquet", "paths.parquet"):
        if not (args.run_dir / name).is_file():
            raise UsageError(f"{args.run_dir}: no {name} (is it a gammaray run folder?)")
    print(f"wrote {build_report(args.run_dir)}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """``gammaray compare RUN_A RUN_B``."""
    from orchestration.report import compare

    for run in (args.run_a, args.run_b):
        if not (run / "summary.json").is_file():
            raise UsageError(f"{run}: no summary.json (is it a gammaray run folder?)")
    print(compare(args.run_a, args.run_b, args.out))
    print(f"wrote {args.out / 'compare.html'}")
    return 0


def _n_shards(scenario: Scenario) -> int:
    from orchestration.engine import shard_ranges

    return len(shard_ranges(scenario.n_paths, scenario.shards))


def cmd_list(args: argparse.Namespace) -> int:
    """``gammaray list``: built-in scenarios, version and one line each.

    Read from the scripts' source (:func:`~orchestration._listing.list_scenarios`),
    not by running them: nothing is fitted or built to list.
    """
    return list_scenarios()


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": cmd_run,
    "report": cmd_report,
    "compare": cmd_compare,
    "list": cmd_list,
}

#: Modules adding subcommands; each has ``register(subparsers) -> {name: handler}``.
COMMAND_MODULES: tuple[str, ...] = (
    "orchestration.cli_replay",
    "orchestration.cli_bench",
    "orchestration.cli_train",
    "orchestration.cli_fit",
    "orchestration.cli_facts",
    "orchestration.cli_stress",
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gammaray`` console script.

    Returns:
        The exit status.
    """
    args = _parser().parse_args(argv)
    configure_logging(json_lines=getattr(args, "log_json", False), verbose=args.verbose)
    try:
        with SignalGuard():
            return COMMANDS[args.command](args)
    except (ScenarioError, UsageError, OutputRefused) as exc:
        print(f"gammaray: error: {exc}", file=sys.stderr)
        return 2
    except (AgentError, RunFailed) as exc:
        print(f"gammaray: run failed: {exc}", file=sys.stderr)
        return 1
    except WriteFailed as exc:
        print(f"gammaray: {exc}", file=sys.stderr)
        return 1
    except MemoryError:
        print("gammaray: out of memory; use fewer --paths or more --shards", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("gammaray: interrupted (SIGINT)", file=sys.stderr)
        return 130
    except Interrupted as exc:
        print(f"gammaray: interrupted ({exc})", file=sys.stderr)
        return exc.exit_status
    except BrokenPipeError:
        # stdout's reader went away (``gammaray inspect LOG | head``): stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except OSError as exc:
        if not is_write_failure(exc):
            raise
        print(
            f"gammaray: cannot write {exc.filename or 'the output'}: {exc.strerror}",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
