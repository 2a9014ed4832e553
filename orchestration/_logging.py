"""structlog set-up: quiet by default, one event per line, JSON on request."""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog


def configure_logging(json_lines: bool = False, verbose: bool = False) -> None:
    """Configure structlog for this process.

    Args:
        json_lines: Render each event as one JSON line (else key=value text).
        verbose: Log info events; by default only warnings and errors.
    """
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
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(**bound: Any) -> Any:
    """A structlog logger with ``bound`` context (e.g. ``run_id``, ``shard``)."""
    return structlog.get_logger("gammaray").bind(**bound)
