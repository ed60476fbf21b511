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


@pytest.fixture(scope="session")
def spark_session():
    """One local Spark session for the whole run, built the way the library builds its own.

    Starting the JVM takes seconds, so every Spark test (KQL cases, warehouse, rule parity) shares
    it; the test-only tuning is one shuffle partition. PySpark is a dev
    dependency: if it is missing this fails loudly rather than skipping.
    """
    from entrawatch.warehouse.spark_session import get_session

    spark, created = get_session("local[2]", app_name="entrawatch-tests")
    spark.conf.set("spark.sql.shuffle.partitions", "1")
    yield spark
    if created:
        spark.stop()
