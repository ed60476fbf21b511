"""One engine per dialect for the whole function-table run (results are computed in batches)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def duckdb_engine():
    from kqlfn_harness import Engine

    return Engine("duckdb")


@pytest.fixture(scope="session")
def spark_engine(spark_session):
    from kqlfn_harness import Engine

    return Engine("spark", spark_session)
