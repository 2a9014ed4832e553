"""structlog set-up: quiet by default, one event per line, JSON on request."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import structlog


def configure_logging(json_lines: bool = False, verbose: bool = False) -> None:
    """Configure structlog for this process.

    Args:
        json_lines: Render each event as one JSON line (else key=value text).
        verbose: Log info events; by default only warnings and errors.
    """
    os.environ["GAMMARAY_LOG_JSON"] = "1" if json_lines else "0"
    os.environ["GAMMARAY_LOG_VERBOSE"] = "1" if verbose else "0"
    level = logging.INFO if verbose else logging.WARNING
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # Resolve sys.stderr when a logger is made, not now: it may be replaced.
        logger_factory=lambda *_: structlog.PrintLogger(sys.stderr),
        cache_logger_on_first_use=False,
    )


def setup_worker() -> None:
    """Ray's worker set-up hook: configure structlog once per worker process.

    Reads ``GAMMARAY_LOG_JSON`` and ``GAMMARAY_LOG_VERBOSE`` (set by the driver
    in the job's runtime environment), so workers log like the driver.
    """
    configure_logging(
        json_lines=os.environ.get("GAMMARAY_LOG_JSON") == "1",
        verbose=os.environ.get("GAMMARAY_LOG_VERBOSE") == "1",
    )


def get_logger(**bound: Any) -> Any:
    """A structlog logger with ``bound`` context (e.g. ``run_id``, ``shard``)."""
    return structlog.get_logger("gammaray").bind(**bound)
