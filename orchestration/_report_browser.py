"""Open a report in headless Chromium: every image loaded, no console error, a screenshot.

Chromium's command line only (no driver, no new dependency): a copy of the
page with a small probe script first in its ``<head>`` is loaded with
``--dump-dom``; on the window's ``load`` event the probe writes, into a
``data-probe`` attribute of ``<body>``, every image's load state, natural
and rendered size, every chart element's (``svg``, ``canvas``) rendered size,
and the errors it saw (``window`` errors, resource load failures in the
capture phase, ``console.error`` calls). Chromium's own log of console
messages (``--enable-logging=stderr``) is read too: the report has no script
of its own, so any console line is an error. Then the page itself (without
the probe) is screenshotted at its full height.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Chromium's flags for a quiet, offline, throw-away headless session.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
    "--enable-logging=stderr",
    "--v=0",
    "--virtual-time-budget=5000",
)
#: Window width of the check and the screenshot, CSS pixels (a desk monitor).
WIDTH = 1400
#: Tallest screenshot, pixels.
MAX_HEIGHT = 16000

PROBE = """<script>(function(){
var errs=[];
window.addEventListener('error',function(e){var t=e.target||{};
errs.push(String(e.message||('failed to load '+(t.tagName||'?')+' '+
String(t.src||'').slice(0,60))));},true);
var ce=console.error;console.error=function(){errs.push(Array.prototype.join.call(arguments,' '));
return ce.apply(console,arguments);};
window.addEventListener('load',function(){
function box(el){var r=el.getBoundingClientRect();return {w:r.width,h:r.height};}
var imgs=[].slice.call(document.images).map(function(i){var b=box(i);
return {alt:i.alt,complete:i.complete,nw:i.naturalWidth,nh:i.naturalHeight,w:b.w,h:b.h};});
var charts=[].slice.call(document.querySelectorAll('svg,canvas')).map(function(c){var b=box(c);
return {tag:c.tagName,w:b.w,h:b.h};});
document.body.setAttribute('data-probe',JSON.stringify({imgs:imgs,charts:charts,errors:errs,
height:document.documentElement.scrollHeight,width:document.documentElement.scrollWidth}));
});})();</script>"""


@dataclass
class BrowserCheck:
    """What Chromium saw.

    Attributes:
        images: Per ``<img>``: ``alt``, ``complete``, natural size ``nw``/``nh``
            and rendered size ``w``/``h`` (CSS pixels).
        charts: Per ``svg``/``canvas``: ``tag`` and rendered ``w``/``h``.
        errors: Page errors and console messages.
        height: The page's full height, CSS pixels.
        screenshot: The screenshot written (None when not asked for).
    """

    images: list[dict[str, Any]] = field(default_factory=list)
    charts: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    height: int = 0
    screenshot: Path | None = None

    def problems(self) -> list[str]:
        """Every image not loaded or of zero size, every zero-size chart, every error."""
        out = [
            f"image {i.get('alt')!r} not loaded or empty: {i}"
            for i in self.images
            if not (i["complete"] and i["nw"] > 0 and i["nh"] > 0 and i["w"] > 0 and i["h"] > 0)
        ]
        out += [f"chart {c} has zero size" for c in self.charts if not (c["w"] > 0 and c["h"] > 0)]
        out += [f"console/page error: {e}" for e in self.errors]
        return out


def find_chromium() -> str | None:
    """Chromium's executable on this machine (Debian's ``chromium`` first), or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def _chromium(exe: str, args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="gammaray-chromium-") as profile:
        return subprocess.run(
            [exe, *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def check_report(
    report: Path, exe: str, screenshot: Path | None = None, timeout: float = 120.0
) -> BrowserCheck:
    """Load ``report`` in headless Chromium and report what it saw.

    Args:
        report: An HTML file.
        exe: Chromium's executable (:func:`find_chromium`).
        screenshot: Where to write a full-page PNG screenshot (None = none).
        timeout: Seconds per Chromium invocation.

    Raises:
        RuntimeError: Chromium wrote no probe result (it failed to run the page).
    """
    page = report.read_text()
    probed = page.replace("<head>", "<head>" + PROBE, 1)
    with tempfile.TemporaryDirectory(prefix="gammaray-probe-") as tmp:
        copy = Path(tmp) / report.name
        copy.write_text(probed)
        run = _chromium(exe, [f"--window-size={WIDTH},900", "--dump-dom", copy.as_uri()], timeout)
    m = re.search(r'<body[^>]*\sdata-probe="([^"]*)"', run.stdout)
    if m is None:
        raise RuntimeError(
            f"chromium rendered no probe result (exit {run.returncode}): {run.stderr[-800:]}"
        )
    probe = json.loads(html.unescape(m.group(1)))
    console = [ln for ln in run.stderr.splitlines() if ":CONSOLE" in ln]
    out = BrowserCheck(
        images=probe["imgs"],
        charts=probe["charts"],
        errors=[*probe["errors"], *console],
        height=int(probe["height"]),
    )
    if screenshot is not None:
        height = max(600, min(MAX_HEIGHT, out.height))
        shot = _chromium(
            exe,
            [f"--window-size={WIDTH},{height}", f"--screenshot={screenshot}", report.as_uri()],
            timeout,
        )
        if not screenshot.exists():
            raise RuntimeError(f"chromium wrote no screenshot (exit {shot.returncode})")
        out.screenshot = screenshot
    return out
