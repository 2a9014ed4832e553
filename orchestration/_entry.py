"""The ``gammaray`` console script: ``list`` on a fast path, everything else by the CLI.

``gammaray list`` reads the scenario scripts' source only
(:mod:`orchestration._listing`, standard library), so it answers without
importing numpy, pydantic, the pricing code or a scenario. Every other
command line, ``list`` with flags included, goes to
:func:`orchestration.cli.main` unchanged.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``gammaray`` console script.

    Returns:
        The exit status.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args == ["list"]:
        from orchestration._listing import list_scenarios

        return list_scenarios()
    from orchestration.cli import main as cli_main

    return cli_main(args)
