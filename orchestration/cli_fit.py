"""``gammaray fit --data sp500 --start 2000-01-01 --end 2018-12-31 --out world.json``.

Fits the GJR-GARCH(1,1)-t world to a window of real closes
(:func:`market.generators.fitted_fit.fit_world`) and writes it as JSON,
atomically. A scenario names the file with
``market.fitted.path = "world.json"`` (``market.kind = "fitted"``).
An unknown data name, a malformed date, ``start`` after ``end``, a window
with no closes or too few returns, or an ``--out`` that cannot be a file is
one line, exit status 2, and nothing is written.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from orchestration._cli_common import UsageError


def _date(flag: str, text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{flag} {text!r}: give an ISO date (YYYY-MM-DD)") from None


def check_out(out: Path) -> None:
    """Refuse an ``--out`` that is a folder or whose folder does not exist."""
    if out.is_dir():
        raise UsageError(f"--out {str(out)!r} is a directory: give a file name (world.json)")
    if not out.parent.is_dir():
        raise UsageError(f"--out {str(out)!r}: folder {str(out.parent)!r} does not exist")


def cmd_fit(args: argparse.Namespace) -> int:
    """``gammaray fit``."""
    from market._history import HistoryDataError
    from market.generators.fitted_fit import fit_spec, fit_world, write_world

    start, end = _date("--start", args.start), _date("--end", args.end)
    check_out(args.out)
    try:
        world = fit_world(fit_spec(args.data, start, end))
    except HistoryDataError as exc:
        raise UsageError(str(exc)) from None
    write_world(world, args.out)
    ann = (world.unconditional_variance * 252) ** 0.5
    print(
        f"fitted GJR-GARCH(1,1)-t to {world.n_obs:,} {world.data} returns "
        f"{world.start}..{world.end}: alpha {world.alpha:.4f} gamma {world.gamma:.4f} "
        f"beta {world.beta:.4f} nu {world.nu:.2f}, long-run vol {100 * ann:.1f}%; "
        f"log VIX = {world.iv_c0:.3f} + {world.iv_c1:.3f} log s21 (R² {world.iv_r2:.2f}); "
        f"wrote {args.out}"
    )
    return 0


def register(sub: Any) -> dict[str, Any]:
    """Add ``fit`` to the CLI."""
    p = sub.add_parser("fit", help="fit the GJR-GARCH-t world to real index data (world.json)")
    p.add_argument("--data", default="sp500", help="sp500 (arch, 1999-2018) or sp500_skfolio")
    p.add_argument("--start", default="2000-01-01", help="first close (ISO date)")
    p.add_argument("--end", default="2018-12-31", help="last close (ISO date)")
    p.add_argument("--out", type=Path, required=True, help="JSON file to write")
    return {"fit": cmd_fit}
