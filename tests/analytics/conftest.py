"""Fixtures for the analytics tests (helpers live in ``analytics_support``)."""

from __future__ import annotations

import pytest

from analytics_support import EVENTS
from entrawatch import schema
from entrawatch.warehouse import DuckDBWarehouse


@pytest.fixture(autouse=True)
def _test_events_table():
    """Register TestEvents only while an analytics test runs, so other suites see the real catalog."""
    schema.register_table(EVENTS)
    yield
    schema.tables().pop(EVENTS.name, None)


@pytest.fixture
def wh(tmp_path):
    warehouse = DuckDBWarehouse(tmp_path / "analytics.duckdb")
    yield warehouse
    warehouse.close()
