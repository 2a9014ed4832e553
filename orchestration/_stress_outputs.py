"""What ``gammaray stress`` writes: the table, the plot, the worst-point script, the summary.

Every file is written with :func:`orchestration._io.atomic_write_bytes` into
the run's :class:`~orchestration._outputs.OutputFolder`, so the folder
appears whole or not at all. No pickle: CSV, Parquet, JSON, PNG and a
Python script that names the scenario and its overrides.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from orchestration._io import atomic_write_bytes, atomic_write_text
from orchestration.stress_search import RESULT_COLUMNS, StressResult

#: File names inside the output folder.
TABLE_CSV = "stress.csv"
TABLE_PARQUET = "stress.parquet"
PLOT = "stress.png"
SCRIPT = "worst.py"
SUMMARY = "stress.json"


def _finite(v: Any) -> Any:
    return None if isinstance(v, float) and not math.isfinite(v) else v


def write_table(result: StressResult, folder: Path) -> list[Path]:
    """``stress.csv`` and ``stress.parquet``: one row per evaluation, proposal order."""
    columns = ["eval", "batch", *(b.field for b in result.bounds), *RESULT_COLUMNS]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for r in result.rows:
        writer.writerow({c: ("" if r.get(c) is None else repr_cell(r.get(c))) for c in columns})
    atomic_write_text(folder / TABLE_CSV, buf.getvalue())
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(
        [{c: _finite(r.get(c)) for c in columns} for r in result.rows],
        schema=pa.schema(
            [
                ("eval", pa.int64()),
                ("batch", pa.int64()),
                *((b.field, pa.int64() if b.integer else pa.float64()) for b in result.bounds),
                ("loss", pa.float64()),
                ("cvar_95", pa.float64()),
                ("var_95", pa.float64()),
                ("mean_loss", pa.float64()),
                ("pnl_std", pa.float64()),
                ("transaction_cost", pa.float64()),
                ("budget_breaches", pa.int64()),
                ("pnl_sha256", pa.string()),
                ("error", pa.string()),
            ]
        ),
    )
    sink = io.BytesIO()
    pq.write_table(table, sink)
    atomic_write_bytes(folder / TABLE_PARQUET, sink.getvalue())
    return [folder / TABLE_CSV, folder / TABLE_PARQUET]


def repr_cell(v: Any) -> str:
    """A CSV cell: floats as their shortest round-tripping repr."""
    return repr(v) if isinstance(v, float) else str(v)


def write_plot(result: StressResult, folder: Path) -> Path:
    """``stress.png``: loss against each searched field, the worst point marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(result.bounds)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 3.6), squeeze=False)
    ok = [r for r in result.rows if r["error"] is None and math.isfinite(r["loss"])]
    worst = result.worst
    for ax, b in zip(axes[0], result.bounds, strict=True):
        sc = ax.scatter(
            [r[b.field] for r in ok],
            [r["loss"] for r in ok],
            c=[r["batch"] for r in ok],
            cmap="viridis",
            s=22,
        )
        ax.scatter([worst[b.field]], [worst["loss"]], marker="*", s=220, c="red", label="worst")
        ax.axvline(b.low, color="grey", lw=0.6, ls=":")
        ax.axvline(b.high, color="grey", lw=0.6, ls=":")
        ax.set_xlabel(b.field)
        ax.set_ylabel(f"{result.objective} of {result.config}")
        ax.legend(loc="best", fontsize=8)
    fig.colorbar(sc, ax=axes[0].tolist(), label="batch")
    fig.suptitle(f"stress: {len(result.rows)} evaluations (loss: larger is worse)")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    atomic_write_bytes(folder / PLOT, buf.getvalue())
    return folder / PLOT


def script_text(ref: str, overrides: list[str], result: StressResult) -> str:
    """A scenario script for ``gammaray run``: the base scenario at the worst point.

    Args:
        ref: The base scenario: a built-in name or a script's absolute path.
        overrides: The base scenario's own ``--set`` overrides and path count,
            before the worst point's.
        result: The search.
    """
    worst = result.worst
    sets = [*overrides, *(f"{k}={json.dumps(v)}" for k, v in result.point().items())]
    lines = "\n".join(f"    {s!r}," for s in sets)
    point = ", ".join(f"{k}={v!r}" for k, v in result.point().items())
    return f'''"""Worst case of {result.config!r} found by ``gammaray stress`` (written by it).

Point: {point}.
{result.objective} of {result.config!r} there: {worst["loss"]!r} (P&L sha256 {worst["pnl_sha256"]}).

Run it: ``gammaray run {{this file}}`` (every configuration of the scenario at this point).
"""

import sys

from orchestration.config import load_scenario

BASE = {ref!r}
OVERRIDES = [
{lines}
]
SCENARIO = load_scenario(BASE, OVERRIDES)

if __name__ == "__main__":
    from orchestration.cli import main

    sys.exit(main(["run", __file__, *sys.argv[1:]]))
'''


def summary(
    result: StressResult,
    comparison: list[dict[str, Any]],
    meta: dict[str, Any],
) -> dict[str, Any]:
    """The JSON summary: the search, the worst point and every configuration there."""
    worst = result.worst
    ranked = [c for c in comparison if c["error"] is None]
    return {
        **meta,
        "config": result.config,
        "objective": result.objective,
        "bounds": [
            {"field": b.field, "low": b.low, "high": b.high, "integer": b.integer}
            for b in result.bounds
        ],
        "evaluations": len(result.rows),
        "failed": sum(1 for r in result.rows if r["error"] is not None),
        "worst": {
            "eval": worst["eval"],
            "point": result.point(),
            "loss": worst["loss"],
            "pnl_sha256": worst["pnl_sha256"],
            "at_bound": [
                b.field for b in result.bounds if worst[b.field] in (b.value(0.0), b.value(1.0))
            ],
        },
        "comparison": [{k: _finite(v) for k, v in c.items()} for c in comparison],
        "breaks_first": ranked[0]["config"] if ranked else None,
        "holds": ranked[-1]["config"] if len(ranked) > 1 else None,
    }


def write_all(
    folder: Path,
    result: StressResult,
    comparison: list[dict[str, Any]],
    ref: str,
    overrides: list[str],
    meta: dict[str, Any],
) -> tuple[list[Path], dict[str, Any]]:
    """Write every output into ``folder``; return the files and the summary."""
    files = write_table(result, folder)
    files.append(write_plot(result, folder))
    atomic_write_text(folder / SCRIPT, script_text(ref, overrides, result))
    files.append(folder / SCRIPT)
    out = summary(result, comparison, {**meta, "script": SCRIPT})
    atomic_write_text(folder / SUMMARY, json.dumps(out, indent=2) + "\n")
    files.append(folder / SUMMARY)
    return files, out
