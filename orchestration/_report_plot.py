"""Plot helpers of the report: figures without pyplot, the time axis, event marks, bands.

Figures are :class:`matplotlib.figure.Figure` objects built directly (no
pyplot, no global figure registry); the report's tests read their axes
(labels, event lines) and the page embeds them as PNG.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from orchestration._report_data import ReportData

#: ``gid`` prefix of an event's vertical line (tests find events by it).
EVENT_GID = "event:"
#: Colours of the configurations, in order (tab10).
COLORS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)


def color(i: int) -> str:
    """The colour of the ``i``-th configuration."""
    return COLORS[i % len(COLORS)]


def figure(
    rows: int,
    cols: int,
    size: tuple[float, float],
    sharex: bool = False,
    right: float = 0.2,
    top: float = 0.45,
    left: float = 0.8,
    gap: tuple[float, float] = (0.85, 0.85),
) -> tuple[Any, Any]:
    """A new figure and its ``[rows, cols]`` axes (no pyplot state).

    Margins and gaps are fixed in inches (room for a label, its ticks and a
    title) rather than solved by a layout engine, which costs several times
    the drawing on a grid of panels.

    Args:
        rows: Panel rows.
        cols: Panel columns.
        size: Width and height, inches.
        sharex: Share the x-axis between panels.
        right: Right margin, inches (wider for a legend outside the panels).
        top: Top margin, inches.
        left: Left margin, inches.
        gap: Horizontal and vertical space between panels, inches.
    """
    from matplotlib.figure import Figure

    w, h = size
    bottom = 0.6
    fig = Figure(figsize=size)
    axes = fig.subplots(rows, cols, squeeze=False, sharex=sharex)
    ax_w = max(0.5, (w - left - right - (cols - 1) * gap[0]) / cols)
    ax_h = max(0.5, (h - top - bottom - (rows - 1) * gap[1]) / rows)
    fig.subplots_adjust(
        left=left / w,
        right=1.0 - right / w,
        bottom=bottom / h,
        top=1.0 - top / h,
        wspace=gap[0] / ax_w,
        hspace=gap[1] / ax_h,
    )
    return fig, axes


def png(fig: Any, dpi: int = 100) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def time_axis(ax: Any, data: ReportData) -> None:
    """Label the time axis in the report's one unit, dates where the run has them."""
    ax.set_xlabel(data.x_label, fontsize=8)
    if data.dates is not None:
        import matplotlib.dates as mdates

        loc = mdates.AutoDateLocator(minticks=3, maxticks=7)
        ax.xaxis.set_major_locator(loc)
        # The year is in the axis label (no offset text to collide with it).
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(loc, show_offset=False))


def mark_events(ax: Any, data: ReportData) -> None:
    """A labelled vertical line at every scheduled event."""
    for e in data.events:
        x = data.x(np.array([e.time]))[0]
        ax.axvline(x, color="k", linestyle=":", linewidth=1.0, gid=EVENT_GID + e.label)
        ax.text(
            x,
            0.98,
            f" {e.label}",
            transform=ax.get_xaxis_transform(),
            rotation=90,
            va="top",
            ha="right",
            fontsize=7,
            gid=EVENT_GID + e.label,
        )


def band(
    ax: Any,
    x: np.ndarray,
    cols: dict[str, np.ndarray],
    key: str,
    c: str,
    label: str | None = None,
    scale: float = 1.0,
) -> None:
    """Median line and 5–95% band of ``key`` (columns ``key_p5``/``_p50``/``_p95``)."""
    mid = cols[f"{key}_p50"] * scale
    ax.plot(x, mid, color=c, linewidth=1.4, label=label)
    lo, hi = cols[f"{key}_p5"] * scale, cols[f"{key}_p95"] * scale
    if np.any(hi > lo):
        ax.fill_between(x, lo, hi, color=c, alpha=0.2, linewidth=0)


def tidy(ax: Any) -> None:
    """Small and few ticks, a light grid, compact offsets."""
    ax.tick_params(labelsize=7)
    ax.grid(True, alpha=0.3, linewidth=0.5)
    from matplotlib.ticker import MaxNLocator, ScalarFormatter

    # A few ticks per axis: readable small multiples, and fewer labels to draw.
    if isinstance(ax.xaxis.get_major_formatter(), ScalarFormatter) and ax.get_xscale() == "linear":
        ax.xaxis.set_major_locator(MaxNLocator(6))
    if isinstance(ax.yaxis.get_major_formatter(), ScalarFormatter):
        ax.yaxis.set_major_locator(MaxNLocator(5))
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 5), useOffset=False)


def note(ax: Any, text: str) -> None:
    """A panel that says why it is empty."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
