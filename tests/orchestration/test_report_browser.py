"""report.html in a real browser: headless Chromium loads every image, logs no error.

Skips (with the reason) where Chromium is not installed; ``.ci/run`` installs
Debian's ``chromium`` where apt is available. The screenshot is kept in the
run folder (``report_screenshot.png``; under ``$GAMMARAY_ARTIFACTS`` when set).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from orchestration._report_browser import check_report, find_chromium
from orchestration.cli import main
from orchestration.report import PLOTS

CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
)
ARGS = ["--paths", "100", "--set", "days=4", "--set", "market.gap.day=2", "--no-progress"]


def _run_dir(tmp_path: Path) -> Path:
    root = os.environ.get("GAMMARAY_ARTIFACTS")
    out = (Path(root) if root else tmp_path) / "report_browser_run"
    if out.exists():
        shutil.rmtree(out)
    return out


@pytest.mark.slow
@needs_chromium
def test_chromium_loads_every_plot_with_no_console_error(tmp_path: Path) -> None:
    out = _run_dir(tmp_path)
    assert main(["run", "macro_gap", "--runtime", "local", "--out", str(out), *ARGS]) == 0
    assert CHROMIUM is not None
    shot = out / "report_screenshot.png"
    seen = check_report(out / "report.html", CHROMIUM, shot)
    assert seen.problems() == []
    assert len(seen.images) == len(PLOTS)
    for img in seen.images:
        assert img["nw"] > 300 and img["nh"] > 150, img  # decoded, not a broken-image icon
        assert img["w"] > 0.5 * 1400 * 0.8 or img["nw"] < 700, img  # fills the window
    assert seen.height > 3000  # every section laid out
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000


@pytest.mark.slow
@needs_chromium
def test_the_check_fails_on_a_broken_image_and_a_script_error(tmp_path: Path) -> None:
    page = tmp_path / "bad.html"
    page.write_text(
        "<!doctype html><html><head><meta charset='utf-8'></head><body>"
        "<img alt='ok' src='data:image/gif;base64,"
        "R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7'>"
        "<img alt='broken' src='data:image/png;base64,AAAA'>"
        "<script>undefined_function()</script></body></html>"
    )
    assert CHROMIUM is not None
    seen = check_report(page, CHROMIUM)
    problems = seen.problems()
    assert any("'broken'" in p for p in problems), problems
    assert not any("'ok'" in p for p in problems), problems
    assert any("undefined_function" in p for p in problems), problems
