"""Shared fixtures: paths to the third-party samples and a fresh warehouse per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrawatch.warehouse import DuckDBWarehouse

REPO_ROOT = Path(__file__).resolve().parents[1]


def _find_shared() -> Path | None:
    """``../shared`` beside the checkout (dev and CI lay it there)."""
    for base in (REPO_ROOT.parent, REPO_ROOT.parent.parent):
        candidate = base / "shared"
        if (candidate / "datasets").is_dir():
            return candidate
    return None


SHARED = _find_shared()


@pytest.fixture
def shared_dir() -> Path:
    if SHARED is None:
        pytest.fail("../shared/datasets is missing: the reader tests need the third-party samples")
    return SHARED


@pytest.fixture
def datasets_dir(shared_dir: Path) -> Path:
    return shared_dir / "datasets"


@pytest.fixture
def warehouse(tmp_path: Path):
    wh = DuckDBWarehouse(tmp_path / "test.duckdb")
    yield wh
    wh.close()
