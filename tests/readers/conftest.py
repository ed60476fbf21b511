"""Reader fixtures: the whole datasets folder ingested once (twice, for idempotency)."""

from __future__ import annotations

import pytest
from reader_oracle import Ingested, find_datasets

from entrawatch.readers import ingest_paths
from entrawatch.warehouse import DuckDBWarehouse


@pytest.fixture(scope="session")
def ingested_datasets(tmp_path_factory: pytest.TempPathFactory) -> Ingested:
    """Every dataset file ingested once (and a second time, to check idempotency)."""
    datasets = find_datasets()
    wh = DuckDBWarehouse(tmp_path_factory.mktemp("datasets") / "datasets.duckdb")
    report = ingest_paths([datasets], wh)
    again = ingest_paths([datasets], wh)
    yield Ingested(wh, report, again, datasets)
    wh.close()
