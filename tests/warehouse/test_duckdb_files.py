"""A warehouse file is attached with small row groups, and shared within a process as
``duckdb.connect`` would share it (:mod:`entrawatch.warehouse.duckdb_files`)."""

from __future__ import annotations

import threading
import time

import pytest

from entrawatch.errors import WarehouseError
from entrawatch.warehouse import DuckDBWarehouse, duckdb_files


def _row_groups(wh: DuckDBWarehouse, table: str) -> list[int]:
    """Rows per row group of ``table``, from DuckDB's storage metadata."""
    rows = wh.query(
        f"SELECT row_group_id, max(count) AS n FROM pragma_storage_info('{table}') GROUP BY ALL ORDER BY 1"
    )
    return rows.column("n").to_pylist()


def test_a_file_is_stored_in_row_groups_of_30720_rows(tmp_path):
    db = tmp_path / "w.duckdb"
    with DuckDBWarehouse(db) as wh:
        wh.ensure_table("SigninLogs")
        wh.execute('INSERT INTO "SigninLogs" ("Id") SELECT CAST(range AS VARCHAR) FROM range(70000)')
    with DuckDBWarehouse(db, read_only=True) as wh:
        assert _row_groups(wh, "SigninLogs") == [duckdb_files.ROW_GROUP_SIZE, duckdb_files.ROW_GROUP_SIZE,
                                                 70000 - 2 * duckdb_files.ROW_GROUP_SIZE]
        assert wh.query('SELECT count(*) AS n FROM "SigninLogs"').column("n").to_pylist() == [70000]


def test_two_warehouses_on_one_file_share_it_until_the_last_closes(tmp_path):
    db = tmp_path / "w.duckdb"
    first = DuckDBWarehouse(db)
    second = DuckDBWarehouse(str(tmp_path / "." / "w.duckdb"))  # the same file, spelled otherwise
    first.ensure_table("AuditLogs")
    first.execute('INSERT INTO "AuditLogs" ("Id") VALUES (\'a\')')
    assert second.query('SELECT "Id" FROM "AuditLogs"').column("Id").to_pylist() == ["a"]
    first.close()
    first.close()  # closing twice is harmless and does not release the file twice
    second.execute('INSERT INTO "AuditLogs" ("Id") VALUES (\'b\')')
    second.close()
    # Both closed: the file is detached (and its lock released), so it opens afresh.
    assert str(db.resolve()) not in duckdb_files._ATTACHED
    with DuckDBWarehouse(db, read_only=True) as again:
        assert sorted(again.query('SELECT "Id" FROM "AuditLogs"').column("Id").to_pylist()) == ["a", "b"]


def test_read_only_and_read_write_do_not_mix_in_one_process(tmp_path):
    db = tmp_path / "w.duckdb"
    with DuckDBWarehouse(db) as wh:
        with pytest.raises(WarehouseError, match="already has it open read-write"):
            DuckDBWarehouse(db, read_only=True)
        wh.ensure_table("AuditLogs")  # the refused open left the open one working
    with DuckDBWarehouse(db, read_only=True), pytest.raises(WarehouseError, match="read-only"):
        DuckDBWarehouse(db)


def test_a_file_that_is_not_a_database_is_a_warehouse_error(tmp_path):
    bad = tmp_path / "not.duckdb"
    bad.write_text("hello, this is not a database file, " * 200)
    with pytest.raises(WarehouseError, match="cannot open DuckDB database"):
        DuckDBWarehouse(bad)
    assert str(bad.resolve()) not in duckdb_files._ATTACHED


@pytest.fixture
def new_york(monkeypatch):
    """The process's local time zone is not UTC (DuckDB gives new connections the local zone)."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_cursors_see_the_warehouse_tables_and_work_in_utc(tmp_path, new_york):
    with DuckDBWarehouse(tmp_path / "w.duckdb") as wh:
        wh.ensure_table("SigninLogs")
        cur = wh.cursor()
        assert cur.execute("SELECT current_setting('TimeZone')").fetchall() == [("UTC",)]
        assert cur.execute('SELECT count(*) FROM "SigninLogs"').fetchall() == [(0,)]
        results: list = []
        thread = threading.Thread(target=lambda: results.append(
            wh.cursor().execute('SELECT count(*) FROM "SigninLogs"').fetchall()))
        thread.start()
        thread.join()
        assert results == [[(0,)]]


def test_spills_go_beside_the_database_file(tmp_path):
    db = tmp_path / "w.duckdb"
    with DuckDBWarehouse(db) as wh:
        assert wh.query("SELECT current_setting('temp_directory') AS d").column("d").to_pylist() == [f"{db}.tmp"]


def test_the_catalog_lists_only_the_warehouse_tables(tmp_path):
    with DuckDBWarehouse(tmp_path / "w.duckdb") as wh:
        wh.ensure_table("AuditLogs")
        wh.execute("CREATE TEMP TABLE scratch (i INTEGER)")
        wh.execute("CREATE TABLE memory.main.elsewhere (i INTEGER)")
        assert set(wh.catalog()) == {"AuditLogs"}


@pytest.mark.parametrize(("name", "alias"), [
    ("entrawatch.duckdb", "entrawatch"),
    ("memory.duckdb", "warehouse"),
    ("my data.duckdb", "warehouse"),
    ("w.db", "w"),
])
def test_the_attached_catalog_is_named_after_the_file_when_it_can_be(tmp_path, name, alias):
    with DuckDBWarehouse(tmp_path / name) as wh:
        assert wh.query("SELECT current_database() AS d").column("d").to_pylist() == [alias]
        wh.ensure_table("AuditLogs")
        assert "AuditLogs" in wh.catalog()


def test_a_file_opened_through_a_link_of_another_name_is_the_same_database(tmp_path):
    db = tmp_path / "real.duckdb"
    link = tmp_path / "other name.duckdb"
    with DuckDBWarehouse(db) as wh:
        wh.ensure_table("AuditLogs")
        link.symlink_to(db)
        with DuckDBWarehouse(link) as through_link:
            assert "AuditLogs" in through_link.catalog()
            assert through_link.cursor().execute('SELECT count(*) FROM "AuditLogs"').fetchall() == [(0,)]


def test_rules_on_worker_threads_run_in_utc(tmp_path, new_york):
    """The rule runner's per-thread connections come from DuckDBWarehouse.cursor(): a bare
    ``connection.cursor()`` did not inherit the warehouse's UTC (it took the local zone)."""
    from entrawatch.analytics.runner import _CursorWarehouse

    with DuckDBWarehouse(tmp_path / "w.duckdb") as wh:
        zone = _CursorWarehouse(wh).query("SELECT current_setting('TimeZone') AS z").column("z").to_pylist()
        day = _CursorWarehouse(wh).query(
            "SELECT CAST(date_trunc('day', TIMESTAMPTZ '2025-01-02 01:00:00+00') AS VARCHAR) AS d").column("d")
    assert zone == ["UTC"]
    assert day.to_pylist() == ["2025-01-02 00:00:00+00"]


def test_a_database_written_with_default_row_groups_opens_and_grows(tmp_path):
    """Databases from earlier versions (``duckdb.connect``, 122,880-row groups) stay readable;
    rows appended now come in 30,720-row groups beside the old ones."""
    import duckdb

    db = tmp_path / "old.duckdb"
    with DuckDBWarehouse(":memory:") as memory:
        memory.ensure_table("AuditLogs")
        ddl = memory.query("SELECT sql FROM duckdb_tables() WHERE table_name = 'AuditLogs'").column("sql")[0].as_py()
    old = duckdb.connect(str(db))
    old.execute(ddl)
    old.execute('INSERT INTO "AuditLogs" ("Id") SELECT CAST(range AS VARCHAR) FROM range(130000)')
    old.close()
    with DuckDBWarehouse(db) as wh:
        assert _row_groups(wh, "AuditLogs") == [122880, 130000 - 122880]
        wh.execute('INSERT INTO "AuditLogs" ("Id") SELECT \'new\' || range FROM range(40000)')
        assert wh.query('SELECT count(*) AS n FROM "AuditLogs"').column("n").to_pylist() == [170000]
    with DuckDBWarehouse(db, read_only=True) as wh:
        assert sum(_row_groups(wh, "AuditLogs")) == 170000
        assert max(_row_groups(wh, "AuditLogs")[2:]) <= duckdb_files.ROW_GROUP_SIZE
