"""Shared fixtures: the location of ../shared reference material, skipped with a reason when absent."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` beside the repository; tests that need it skip when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"reference folder {SHARED} is absent")
    return SHARED


@pytest.fixture(scope="session")
def repo_dir() -> Path:
    return REPO
