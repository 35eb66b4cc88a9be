"""The HTML report opens in headless Chromium without errors (skipped where Chromium is absent)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from recurrence.reproduce.pipeline import run_pipeline

STEP = '''
"""Toy step: a table and a figure, enough to exercise every part of the report template."""
import pandas as pd
TITLE = "Toy step"
NEEDS = ()
USES = ()

def run(ctx):
    import matplotlib.pyplot as plt
    frame = pd.DataFrame({"la_code": ["201", "202"], "children": [42, 3]})
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [3, 1, 2])
    ctx.finding("A finding in words.")
    return [
        ctx.table(frame, "counts", caption="Counts", count_columns=["children"]),
        ctx.figure(fig, "line", caption="A line"),
    ]
'''


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        for candidate in (f"/usr/bin/{name}", shutil.which(name)):
            if candidate and Path(candidate).exists():
                return candidate
    return None


def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("Chromium is not installed (/usr/bin/chromium or chromium-browser)")
    analyses = tmp_path / "analyses"
    analyses.mkdir()
    (analyses / "01_toy.py").write_text(STEP)
    result = run_pipeline(
        tmp_path / "out",
        profile="tiny",
        cache_dir=tmp_path / "cache",
        analyses_dir=analyses,
        dfe=None,
        show_progress=False,
        git_commit="test-commit",
    )
    shot = tmp_path / "shot.png"
    proc = subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1200,1600",
            f"--screenshot={shot}",
            result.report.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    # Page-level problems (script errors, resources that fail to load) are logged as CONSOLE
    # messages or net errors; browser-environment noise (D-Bus, GPU) is not about the page.
    page_errors = [
        line
        for line in proc.stderr.splitlines()
        if "CONSOLE" in line or "net::ERR" in line or "Failed to load resource" in line
    ]
    assert page_errors == []
    assert shot.exists() and shot.stat().st_size > 10_000
    import matplotlib.image as mpimg

    pixels = mpimg.imread(shot)
    assert pixels.shape[:2] == (1600, 1200)
    assert float(np.std(pixels[..., :3])) > 0.02, "the screenshot is blank"
