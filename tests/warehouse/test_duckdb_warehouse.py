"""The DuckDB warehouse: DDL from the canonical schema, idempotent appends, catalog types."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from entrawatch import schema
from entrawatch.errors import SchemaError, WarehouseError


def _batch(table: str, ids: list[str]) -> pa.RecordBatch:
    tbl = schema.table(table)
    data = {name: [None] * len(ids) for name in tbl.column_names}
    data["Id"] = ids
    data["Type"] = [table] * len(ids)
    data["TimeGenerated"] = [datetime(2025, 1, 1, tzinfo=UTC)] * len(ids)
    data["_Extra"] = ['{"a": 1}'] * len(ids)
    return pa.RecordBatch.from_pydict(data, schema=tbl.arrow_schema())


def test_append_is_idempotent_and_counts_reconcile(warehouse):
    first = warehouse.append("SigninLogs", [_batch("SigninLogs", ["a", "b", "b"])])
    assert (first.offered, first.inserted, first.duplicates) == (3, 2, 1)
    again = warehouse.append("SigninLogs", [_batch("SigninLogs", ["a", "b", "c"])])
    assert (again.offered, again.inserted, again.duplicates) == (3, 1, 2)
    assert warehouse.query('SELECT count(*) AS n FROM "SigninLogs"').column("n")[0].as_py() == 3


def test_catalog_reports_kql_types(warehouse):
    warehouse.ensure_tables()
    cat = warehouse.catalog()
    assert cat["SigninLogs"]["LocationDetails"] == "dynamic"
    assert cat["AADNonInteractiveUserSignInLogs"]["LocationDetails"] == "string"
    assert cat["SigninLogs"]["TimeGenerated"] == "datetime"
    assert list(cat["AuditLogs"])[-5:] == [c for c, _ in schema.PROVENANCE_COLUMNS]


def test_wrong_batch_shape_is_refused(warehouse):
    bad = pa.RecordBatch.from_pydict({"Id": ["x"]})
    with pytest.raises(SchemaError):
        warehouse.append("SigninLogs", [bad])


def test_bad_sql_raises_warehouse_error(warehouse):
    with pytest.raises(WarehouseError):
        warehouse.query("SELECT * FROM no_such_table")


def test_unknown_table_names_known_ones():
    with pytest.raises(SchemaError, match="SigninLogs"):
        schema.table("SignInLog")


def test_memory_limit_is_applied_and_validated(tmp_path):
    from entrawatch.warehouse import DuckDBWarehouse

    with DuckDBWarehouse(tmp_path / "m.duckdb", memory_limit="256MB") as wh:
        limit = wh.query("SELECT current_setting('memory_limit') AS m").column("m")[0].as_py()
        assert limit.endswith("MiB") and 240 <= float(limit.split()[0]) <= 260  # DuckDB reports 256MB as MiB
    for bad in ("lots", "256", "1GB; DROP TABLE x", ""):
        with pytest.raises(WarehouseError, match="invalid memory limit"):
            DuckDBWarehouse(tmp_path / "m.duckdb", memory_limit=bad)


def test_duckdb_progress_bar_is_off_on_the_connection_and_its_cursors(tmp_path):
    """DuckDB prints its own progress bar for statements over 2 s; it garbled `entrawatch ingest`'s output."""
    from entrawatch.warehouse import DuckDBWarehouse

    wh = DuckDBWarehouse(tmp_path / "w.duckdb")
    setting = "SELECT current_setting('enable_progress_bar')"
    assert wh.connection.execute(setting).fetchone() == (False,)
    assert wh.connection.cursor().execute(setting).fetchone() == (False,)
