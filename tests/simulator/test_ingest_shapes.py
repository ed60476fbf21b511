"""Everything the simulator writes ingests through the real readers with zero quarantines, in every shape,
and every shape carries the same activity (the same event ids per table)."""

from __future__ import annotations

from pathlib import Path

import pytest

from entrawatch.readers import ingest_paths
from entrawatch.simulator import FORMATS, SimulationConfig, simulate
from entrawatch.warehouse import DuckDBWarehouse

SMALL = dict(users=20, days=1, seed=3)


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple]:
    results = {}
    for fmt in FORMATS:
        root = tmp_path_factory.mktemp(fmt)
        result = simulate(SimulationConfig(format=fmt, **SMALL), root / "out")
        warehouse = DuckDBWarehouse(root / "wh.duckdb")
        report = ingest_paths(result.files, warehouse, progress=False)
        ids = {table: {row["Id"] for row in warehouse.query(f'SELECT "Id" FROM "{table}"').to_pylist()}
               for table in result.counts}
        warehouse.close()
        results[fmt] = (result, report, ids)
    return results


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_event_ingests_without_quarantine(ingested, fmt: str) -> None:
    result, report, _ = ingested[fmt]
    assert all(f.error is None for f in report.files), [f.as_dict() for f in report.files if f.error]
    per_table = report.per_table
    for table, written in result.counts.items():
        counts = per_table[table]
        assert counts.quarantined == 0, (fmt, table, counts.as_dict())
        assert counts.read == written and counts.inserted == written, (fmt, table, counts.as_dict())
    assert report.totals.quarantined == 0


def test_all_shapes_carry_the_same_activity(ingested) -> None:
    reference = ingested["diagnostic"][2]
    for fmt in FORMATS:
        assert ingested[fmt][2] == reference, fmt


def test_sidecar_files_are_not_logs(tmp_path: Path) -> None:
    """truth.json and threat_intel.csv sit beside the logs; result.files lists only the logs."""
    result = simulate(SimulationConfig(format="loganalytics", **SMALL), tmp_path)
    names = {p.name for p in result.files}
    assert "truth.json" not in names and "threat_intel.csv" not in names
    assert names == {f"{t}.json" for t in result.counts}
