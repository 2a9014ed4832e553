"""``gammaray bench``: run the benchmark suite and print one table.

Each ``benchmarks/bench_*.py`` exposes ``run(quick) -> rows`` (name, value,
unit, baseline, ratio); every ratio is measured against its baseline in the
same run. ``bench_sweep`` starts real local Ray clusters and is included only
with ``--all``. ``--out FILE`` also writes the table as Markdown.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import platform
from pathlib import Path
from typing import Any

from orchestration._io import atomic_write_text

#: Benchmarks that need a multi-node cluster (run with --all).
CLUSTER_BENCHES = ("bench_sweep",)


def find_benchmarks() -> Path | None:
    """The ``benchmarks/`` folder: under the working directory, else beside the package."""
    for root in (Path.cwd(), Path(__file__).resolve().parents[1]):
        if (root / "benchmarks").is_dir():
            return root / "benchmarks"
    return None


def _load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"_gammaray_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_suite(folder: Path, quick: bool, everything: bool, only: list[str] | None = None) -> list:
    """Run every benchmark module; rows tagged with their module."""
    rows = []
    for path in sorted(folder.glob("bench_*.py")):
        if only and path.stem not in only:
            continue
        if path.stem in CLUSTER_BENCHES and not everything:
            continue
        for row in _load(path).run(quick):
            rows.append({"bench": path.stem, **row})
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table, with the machine and versions."""
    import numpy as np

    try:
        import ray

        ray_version = ray.__version__
    except ImportError:  # pragma: no cover
        ray_version = "-"
    head = (
        f"{dt.date.today()} · {platform.platform()} · {os.cpu_count()} CPUs · Python "
        f"{platform.python_version()} · numpy {np.__version__} · ray {ray_version}\n\n"
        "| bench | figure | value | unit | baseline | ratio |\n|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in rows:
        ratio = "" if r.get("ratio") is None else f"{r['ratio']:.2f}x"
        lines.append(
            f"| {r['bench']} | {r['name']} | {r['value']:,.4g} | {r['unit']} | "
            f"{r.get('baseline') or ''} | {ratio} |\n"
        )
    body = "".join(lines)
    return head + body


def cmd_bench(args: argparse.Namespace) -> int:
    """``gammaray bench``."""
    from orchestration._cli_common import UsageError

    folder = find_benchmarks()
    if folder is None:
        raise UsageError("no benchmarks/ folder here: run from a gammaray checkout")
    rows = run_suite(folder, args.quick, args.all, args.only)
    table = format_table(rows)
    print(table)
    if args.out is not None:
        atomic_write_text(args.out, table)
    wrong = [f"{r['bench']}: {r['name']}" for r in rows if r.get("same_bits") is False]
    if wrong:  # a timing of a wrong result means nothing
        print(f"gammaray: benchmark results differ from their reference: {'; '.join(wrong)}")
        return 1
    return 0


def register(sub: Any) -> dict[str, Any]:
    """Add ``bench`` to the CLI."""
    p = sub.add_parser("bench", help="run the benchmark suite, print one table")
    p.add_argument("--quick", action="store_true", help="small sizes (a minute or two)")
    p.add_argument("--all", action="store_true", help="include the multi-node sweep benchmark")
    p.add_argument(
        "--only",
        nargs="+",
        metavar="BENCH",
        help="run only these, e.g. bench_bsm bench_engine (default: every benchmark)",
    )
    p.add_argument(
        "--out", type=Path, help="also write the table as Markdown to this file (default: none)"
    )
    return {"bench": cmd_bench}
