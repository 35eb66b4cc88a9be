"""Runs the example of docs/extending_models.md (subclassing RecurrenceModel) and checks it."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

DOC = Path(__file__).resolve().parents[2] / "docs" / "extending_models.md"


def test_extending_example_runs(tmp_path: Path) -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) == 2
    repo = DOC.parents[1]
    code = "\n".join(blocks).replace('"tests/r/data/', f'"{repo}/tests/r/data/')
    namespace: dict = {}
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(code, str(DOC), "exec"), namespace)
    finally:
        os.chdir(cwd)
    rr, odds = namespace["rr"], namespace["odds"]
    assert rr.scale == "log-risk"
    assert list(rr.tidy()["term"]) == ["(Intercept)", "age", "female", "n_pp"]
    # Risk ratios are closer to 1 than odds ratios for a common outcome.
    assert (np.abs(rr.params[["age", "female", "n_pp"]]) < np.abs(odds.params[["age", "female", "n_pp"]])).all()
    assert (tmp_path / "rr_vs_or.png").stat().st_size > 1000
