"""Fixtures for the warehouse tests; the Spark session itself is ``tests/conftest.py``'s."""

from __future__ import annotations

import pytest


@pytest.fixture
def spark_warehouse(spark_session, tmp_path):
    from entrawatch.warehouse.spark_warehouse import SparkWarehouse

    wh = SparkWarehouse(tmp_path / "spark", spark=spark_session)
    yield wh
    wh.close()
