"""Notebooks are committed without outputs (they are executed by nbmake in `make test`).

Outputs in git would carry stale numbers, bloat the history and, with real data, could leak
child-level information; so every code cell must have no outputs and no execution count, and the
notebook metadata must hold nothing but the kernel and language description.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
EXPECTED = (
    "01_data.ipynb",
    "02_models.ipynb",
    "03_effects.ipynb",
    "04_ni65_validity.ipynb",
    "05_real_la_data.ipynb",
    "06_extending.ipynb",
)
ALLOWED_METADATA = {"kernelspec", "language_info"}


def _notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def test_every_notebook_of_the_compendium_is_there() -> None:
    names = {p.name for p in _notebooks()}
    assert [n for n in EXPECTED if n not in names] == []


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.name)
def test_notebook_outputs_are_stripped(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["nbformat"] == 4
    assert set(nb.get("metadata", {})) <= ALLOWED_METADATA
    dirty = [
        i
        for i, cell in enumerate(nb["cells"])
        if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count"))
    ]
    assert dirty == [], f"{path.name}: cells {dirty} carry outputs; run nbstripout on it"
    assert all(not cell.get("attachments") for cell in nb["cells"])


def test_the_checker_catches_an_unstripped_notebook(tmp_path: Path) -> None:
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            {
                "cell_type": "code",
                "id": "a",
                "metadata": {},
                "source": "1 + 1",
                "execution_count": 1,
                "outputs": [{"output_type": "execute_result", "data": {"text/plain": "2"}}],
            }
        ],
    }
    path = tmp_path / "x.ipynb"
    path.write_text(json.dumps(nb))
    with pytest.raises(AssertionError, match="carry outputs"):
        test_notebook_outputs_are_stripped(path)
