"""``gammaray record | replay | inspect``: write, replay and look into event logs.

* ``gammaray record SCENARIO --out FILE`` runs the scenario's market alone
  (its events do not depend on the agents) and writes its event log.
  ``gammaray run SCENARIO --record FILE`` records while it runs the agents.
* ``gammaray replay FILE [--agents SCENARIO]`` runs hedging configurations
  against the recorded market and writes the same ``summary.json`` as
  ``run`` (with ``pnl_sha256``) plus a ``replay`` section. By default the
  agents are the recorded scenario's, provided they are gammaray's built-in
  agents; with ``--agents`` the named scenario's ``configs``, ``book`` and
  ``risk_aversion`` run on the recorded market (or, for a module of agent
  classes, the recorded configurations with its classes). ``--shards`` and
  ``--placement`` lay it out as for ``run``, with the same bits.
* ``gammaray inspect FILE`` prints the header and the event counts by type
  (every frame decoded and checked).

A log is data a user may have been handed: nothing it names is ever
imported. Its recorded configurations run only when every agent class in
them is built in (:func:`builtin_agent_refs`); a log that needs other
classes is refused in one line that names them and asks for ``--agents``,
the user's own scenario script, whose classes are the only user code a
replay runs.

A bad log (truncated, a flipped byte, a wrong format version, an absurd
declared size, nesting too deep, not an event log) is one line and exit
status 2, and nothing is written.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from orchestration._cli_common import (
    UsageError,
    add_run_options,
    execute,
    print_table,
    progress,
    resolve_scenario,
    write_lines,
)
from orchestration._io import atomic_write_text
from orchestration._logging import get_logger
from orchestration._outputs import OutputFolder
from orchestration._replay_scenario import (
    AGENT_FIELDS,
    builtin_agent_refs,
    load_agents,
    replay_scenario,
)
from orchestration._signals import deferrable
from orchestration.config import Scenario, ScenarioError
from orchestration.recorder import RecordError, RecordReader, RecordWriter

__all__ = [
    "AGENT_FIELDS",
    "builtin_agent_refs",
    "cmd_inspect",
    "cmd_record",
    "cmd_replay",
    "inspect_log",
    "load_agents",
    "recording",
    "register",
    "replay_scenario",
]


def register(sub: Any) -> dict[str, Callable[[argparse.Namespace], int]]:
    """Add ``record``, ``replay`` and ``inspect`` to the ``gammaray`` subparsers.

    Args:
        sub: The ``add_subparsers()`` object of the main parser.

    Returns:
        Command name to its handler.
    """
    rec = sub.add_parser("record", help="run a scenario's market and write its event log")
    rec.add_argument("scenario", help="scenario script path or built-in name")
    rec.add_argument("--out", type=Path, required=True, metavar="FILE", help="event log to write")
    rec.add_argument("--paths", type=int, help="number of paths (default: the scenario's n_paths)")
    rec.add_argument("--seed", type=int, help="random seed (default: the scenario's seed)")
    add_run_options(rec)

    rep = sub.add_parser("replay", help="run hedging configurations against a recorded log")
    rep.add_argument("log", type=Path, help="event log (from record or run --record)")
    rep.add_argument(
        "--agents",
        metavar="FILE",
        help="a scenario script or built-in name whose configs, book and risk aversion run, "
        "or a module of your agent classes (my_agents.py) that the recorded configurations "
        "use, with an optional CONFIGS dict (default: the recorded configurations, "
        "built-in agents only)",
    )
    rep.add_argument(
        "--runtime",
        choices=("auto", "local", "ray"),
        default="auto",
        help="auto: Ray on a cluster (--address or RAY_ADDRESS) or for a --placement, "
        "else in-process. "
        "local: in-process. ray: Ray",
    )
    rep.add_argument(
        "--shards",
        type=int,
        metavar="K",
        help="split the paths into K pipelines, each reading the log for its own paths "
        "(same pnl_sha256 for any K; default: 1)",
    )
    rep.add_argument(
        "--placement",
        choices=("per-agent", "fused"),
        help="Ray placement of components (default: per-agent; fused: one actor per shard)",
    )
    rep.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS or local Ray)")
    rep.add_argument(
        "--out", type=Path, help="output folder (default runs/<scenario>-replay-<time>)"
    )
    rep.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    rep.add_argument("--no-report", action="store_true", help="skip report.html, PNGs, Parquet")
    rep.add_argument(
        "--force", action="store_true", help="replace a non-empty --out folder (atomically)"
    )

    ins = sub.add_parser("inspect", help="print an event log's header and event counts")
    ins.add_argument("log", type=Path, help="event log")
    ins.add_argument("--json", action="store_true", help="print one JSON object")
    return {"record": cmd_record, "replay": cmd_replay, "inspect": cmd_inspect}


@contextmanager
def recording(
    path: Path | None, scenario: Scenario, runtime: str = "local"
) -> Iterator[Callable[[tuple[Any, ...]], None] | None]:
    """Open an event log for a run; yields the ``record`` callback (None without a path).

    The log is finished (renamed into place) when the block ends normally
    and discarded when it raises. A recorded run is one shard (on Ray, the
    per-agent placement): the log holds the whole market.

    Args:
        path: The event log to write, or None (no recording).
        scenario: The scenario about to run.
        runtime: ``"local"`` or ``"ray"`` (stored in the header's ``meta``).

    Raises:
        UsageError: The destination cannot be written, or the run is sharded.
    """
    if path is None:
        yield None
        return
    from orchestration.engine import shard_ranges

    shards = len(shard_ranges(scenario.n_paths, getattr(scenario, "shards", 1)))
    fused = runtime == "ray" and getattr(scenario, "placement", "per-agent") == "fused"
    if shards > 1 or fused:
        raise UsageError("--record: a recorded run is one shard (use --shards 1, per-agent)")
    try:
        writer = RecordWriter(path, scenario, {"source": "gammaray run", "runtime": runtime})
    except RecordError as exc:
        raise UsageError(f"--record: {exc}") from None
    with writer:
        yield writer.write


def cmd_record(args: argparse.Namespace) -> int:
    """``gammaray record``: the scenario's market alone, written to an event log."""
    from market.replay import ReplayDataError, check_horizon
    from market.simulator import MarketSimulator

    scenario = resolve_scenario(args)
    try:
        check_horizon(scenario.market, scenario.base_steps / scenario.steps_per_day)
    except ReplayDataError as exc:
        raise ScenarioError(f"invalid scenario: {exc}") from None
    log = get_logger()
    log.info("record.start", scenario=scenario.name, n_paths=scenario.n_paths)
    market = MarketSimulator(
        scenario.market,
        scenario.n_steps,
        scenario.dt,
        scenario.year_days,
        scenario.seed,
        0,
        scenario.n_paths,
        scenario.timeline,
    )
    try:
        writer = RecordWriter(args.out, scenario, {"source": "gammaray record"})
    except RecordError as exc:
        raise UsageError(f"--out: {exc}") from None
    t0 = time.perf_counter()
    with writer, progress(f"record {scenario.name}", scenario.n_steps, not args.no_progress) as p:
        writer.write(market.start())
        for step in range(scenario.n_steps):
            writer.write(market.step())
            if p is not None:
                p(step)
    log.info("record.done", out=str(args.out), elapsed_s=time.perf_counter() - t0)
    size = writer.bytes_written
    print(f"wrote {args.out} ({writer.steps} steps, {writer.events} events, {size:,} bytes)")
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    """``gammaray replay``: hedging configurations against a recorded market."""
    from market.replay import LogReplayMarket

    log = get_logger()
    try:
        with RecordReader(args.log) as reader:
            header = reader.header
            trailer = reader.verify()
        if args.shards is not None and args.shards < 1:
            raise UsageError(f"--shards {args.shards}: give a whole number >= 1")
        shards, placement = args.shards or 1, args.placement or "per-agent"
        scenario = replay_scenario(header, args.agents, shards, placement)
        if args.runtime == "auto":
            cluster = args.address is not None or bool(os.environ.get("RAY_ADDRESS"))
            args.runtime = "ray" if cluster or args.placement is not None else "local"
            log.info("replay.runtime", runtime=args.runtime, chosen="auto")
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        out = args.out if args.out is not None else Path("runs") / f"{scenario.name}-replay-{stamp}"
        market = LogReplayMarket(args.log)
        if market.n_steps != scenario.n_steps or market.n_paths != scenario.n_paths:
            raise UsageError(
                f"{args.log}: the log holds {market.n_steps} steps of {market.n_paths} paths, "
                f"the scenario runs {scenario.n_steps} of {scenario.n_paths}"
            )
        # The outputs appear whole or not at all, as for ``run`` (checked before replaying).
        with deferrable() as hold_signals, OutputFolder(out, force=args.force) as folder:
            log.info(
                "replay.start", log=str(args.log), scenario=scenario.name, runtime=args.runtime
            )
            label = f"replay {scenario.name} [{args.runtime}]"
            kept: dict[str, Any] = {}
            with progress(label, scenario.n_steps, not args.no_progress) as on_step:
                summary = execute(
                    scenario, args.runtime, args.address, on_step, market=market, keep=kept
                )
            summary["replay"] = {
                "log": str(args.log),
                "log_sha256": trailer["sha256"],
                "agents": args.agents or "recorded",
                "recorded_by": header.get("gammaray_version"),
            }
            print_table(summary)
            atomic_write_text(folder.path / "summary.json", json.dumps(summary, indent=2) + "\n")
            if not args.no_report:
                from orchestration.report import write_run_outputs

                write_run_outputs(folder.path, summary, kept["results"])
            hold_signals()
    except RecordError as exc:
        raise UsageError(str(exc)) from None
    log.info("replay.done", out=str(out), elapsed_s=summary["elapsed_s"])
    print(f"wrote {out / 'summary.json'}" + ("" if args.no_report else " and report.html"))
    return 0


def inspect_log(path: Path) -> dict[str, Any]:
    """Header, trailer and event counts of a log, every frame decoded and checked.

    Raises:
        RecordError: The log is not valid.
    """
    with RecordReader(path) as reader:
        header = reader.header
        counts = reader.counts()
        trailer = reader.trailer or {}
    scenario = header.get("scenario")
    if not isinstance(scenario, dict):
        scenario = {}
    return {
        "file": str(path),
        "bytes": path.stat().st_size,
        "format": header.get("format"),
        "format_version": header.get("format_version"),
        "gammaray_version": header.get("gammaray_version"),
        "scenario": header.get("scenario_name"),
        "scenario_version": scenario.get("version"),
        "description": scenario.get("description"),
        "seed": header.get("seed"),
        "n_paths": header.get("n_paths"),
        "n_steps": header.get("n_steps"),
        "dt_years": header.get("dt"),
        "year_days": header.get("year_days"),
        "meta": header.get("meta"),
        "steps": trailer.get("steps"),
        "events": trailer.get("events"),
        "counts": counts,
        "sha256": trailer.get("sha256"),
        "schema": header.get("schema"),
    }


def _printable(value: Any) -> str:
    """A value read from a log as text safe for a terminal (control characters escaped)."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def cmd_inspect(args: argparse.Namespace) -> int:
    """``gammaray inspect``: header and event counts by type."""
    try:
        info = inspect_log(args.log)
    except RecordError as exc:
        raise UsageError(str(exc)) from None
    if args.json:
        return write_lines([json.dumps(info, indent=2)])
    width = 18
    lines = [
        f"{key:{width}s} {_printable(info[key])}"
        for key in (
            "file",
            "bytes",
            "format",
            "format_version",
            "gammaray_version",
            "scenario",
            "scenario_version",
            "description",
            "seed",
            "n_paths",
            "n_steps",
            "dt_years",
            "year_days",
            "meta",
            "steps",
            "events",
            "sha256",
        )
    ]
    lines.append("events by type:")
    lines += [f"  {name:{width - 2}s} {n:,}" for name, n in sorted(info["counts"].items())]
    lines.append("schema:")
    for name, fields in info["schema"].items():
        shown = ", ".join(map(str, fields)) if isinstance(fields, list) else fields
        lines.append(f"  {_printable(name):{width - 2}s} {_printable(shown)}")
    return write_lines(lines)
