"""DuckDB implementation of the warehouse: one file, embedded, the default.

Idempotent appends use an anti-join on the table key inside DuckDB (no Python loop over rows):
each batch is registered as an Arrow view, de-duplicated within itself with ``QUALIFY``, and
inserted where the key is not stored yet.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from sqlglot import exp

from entrawatch import schema
from entrawatch.errors import SchemaError, WarehouseError
from entrawatch.warehouse import duckdb_files
from entrawatch.warehouse.base import AppendResult, CanonicalTables

DEFAULT_DB = "entrawatch.duckdb"

#: A DuckDB memory size: a number and a unit (``512MB``, ``4GB``, ``1.5GiB``).
_MEMORY_LIMIT = re.compile(r"\d+(\.\d+)?\s*([KMGT]i?B|B)", re.IGNORECASE)

_DUCK_TO_KQL = {
    "VARCHAR": "string",
    "BIGINT": "long",
    "INTEGER": "int",
    "DOUBLE": "real",
    "FLOAT": "real",
    "BOOLEAN": "bool",
    "TIMESTAMP WITH TIME ZONE": "datetime",
    "TIMESTAMP": "datetime",
    "INTERVAL": "timespan",
    "JSON": "dynamic",
}


def _quote(name: str) -> str:
    """Quote an identifier through sqlglot so names never splice raw text into SQL."""
    return exp.to_identifier(name, quoted=True).sql(dialect="duckdb")


class DuckDBWarehouse(CanonicalTables):
    """Canonical tables in one DuckDB database file (``:memory:`` for tests)."""

    dialect = "duckdb"

    def __init__(self, path: str | Path = DEFAULT_DB, *, read_only: bool = False,
                 memory_limit: str | None = None) -> None:
        """``memory_limit`` (e.g. ``"4GB"``) caps DuckDB's buffer pool; beyond it, joins and
        aggregations spill to ``<database>.tmp``. Default: DuckDB's own, 80% of the machine's RAM."""
        self.path = str(path)
        if memory_limit is not None and not _MEMORY_LIMIT.fullmatch(memory_limit.strip()):
            raise WarehouseError(f"invalid memory limit {memory_limit!r}: use a size such as 512MB or 4GB")
        #: The attached file's catalog name (None in memory): every cursor must ``USE`` it.
        self._alias: str | None = None
        if self.path in (":memory:", ""):
            self._con = duckdb.connect(self.path, read_only=read_only)
        else:
            # Attached with small row groups, shared within the process (duckdb_files explains why).
            self._con, self._alias = duckdb_files.connect(self.path, read_only=read_only)
        self._con.execute("SET TimeZone = 'UTC'").fetchall()
        # DuckDB's own progress bar would print over entrawatch's output (and Rich's progress line)
        # for any statement longer than 2 s; cursors of this connection inherit the setting.
        self._con.execute("SET enable_progress_bar = false").fetchall()
        if memory_limit is not None:
            literal = exp.Literal.string(memory_limit.strip()).sql(dialect="duckdb")
            self._con.execute(f"SET memory_limit = {literal}").fetchall()
        self._lock = threading.RLock()
        self._known: set[str] = set()
        self._functions: set[str] = set()

    # -- DDL -------------------------------------------------------------------------------
    def ensure_table(self, name: str) -> None:
        if name in self._known:
            return
        tbl = schema.table(name)
        cols = ", ".join(f"{_quote(c.name)} {c.duckdb_type}" for c in tbl.columns)
        with self._lock:
            self._con.execute(f"CREATE TABLE IF NOT EXISTS {_quote(name)} ({cols})").fetchall()
        self._known.add(name)

    def forget_created_tables(self) -> None:
        """Check the catalog again on the next ``ensure_table``: after a rolled-back transaction
        the tables it created are gone, though this cache still lists them."""
        self._known.clear()

    # -- data ------------------------------------------------------------------------------
    def append(self, table: str, batches: Iterable[pa.RecordBatch], *, dedupe: bool = True) -> AppendResult:
        tbl = schema.table(table)
        self.ensure_table(table)
        target = _quote(table)
        col_list = ", ".join(_quote(c) for c in tbl.column_names)
        offered = inserted = 0
        for batch in batches:
            if batch.num_rows == 0:
                continue
            if batch.schema.names != tbl.column_names:
                raise SchemaError(f"batch for {table} does not match the canonical column order")
            offered += batch.num_rows
            view = "_ew_incoming"
            with self._lock:
                self._con.register(view, batch)
                try:
                    before = self._count(table)
                    if dedupe and tbl.key:
                        key_match = " AND ".join(f"t.{_quote(k)} IS NOT DISTINCT FROM b.{_quote(k)}" for k in tbl.key)
                        partition = ", ".join(_quote(k) for k in tbl.key)
                        self._con.execute(
                            f"INSERT INTO {target} ({col_list}) "
                            f"SELECT {col_list} FROM (SELECT * FROM {view} "
                            f"QUALIFY row_number() OVER (PARTITION BY {partition}) = 1) b "
                            f"WHERE NOT EXISTS (SELECT 1 FROM {target} t WHERE {key_match})"
                        ).fetchall()
                    else:
                        self._con.execute(f"INSERT INTO {target} ({col_list}) SELECT {col_list} FROM {view}").fetchall()
                    inserted += self._count(table) - before
                except duckdb.Error as err:
                    raise WarehouseError(f"append to {table} failed: {err}") from err
                finally:
                    self._con.unregister(view)
        return AppendResult(offered=offered, inserted=inserted, duplicates=offered - inserted)

    def _count(self, table: str) -> int:
        return int(self._con.execute(f"SELECT count(*) FROM {_quote(table)}").fetchall()[0][0])

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        with self._lock:
            try:
                # A relation fetches Arrow directly; a DB-API result would copy the rows again.
                relation = self._con.sql(sql, params=list(params) if params else None)
                return relation.to_arrow_table() if relation is not None else pa.table({})
            except duckdb.Error as err:
                raise WarehouseError(f"query failed: {err}") from err

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        with self._lock:
            try:
                self._con.execute(sql, params or []).fetchall()
            except duckdb.Error as err:
                raise WarehouseError(f"statement failed: {err}") from err

    def catalog(self) -> dict[str, dict[str, str]]:
        rows = self.query(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_catalog = current_database() AND table_schema = 'main' "
            "ORDER BY table_name, ordinal_position"
        ).to_pylist()
        result: dict[str, dict[str, str]] = {}
        known = schema.tables()
        for row in rows:
            name, col = row["table_name"], row["column_name"]
            if name in known and known[name].has_column(col):
                kql_type = known[name].column(col).kql_type
            else:
                kql_type = _DUCK_TO_KQL.get(row["data_type"], "string")
            result.setdefault(name, {})[col] = kql_type
        return result

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The raw connection, for benchmarks and engine-specific tooling only."""
        return self._con

    def ensure_function(self, name: str, register: Callable[[duckdb.DuckDBPyConnection], None]) -> None:
        """Call ``register(connection)`` once per DuckDB instance to add the Python function ``name``,
        which every cursor then sees (see ``duckdb_files.ensure_function`` for why once, and where)."""
        if self._alias is not None:
            duckdb_files.ensure_function(self.path, name, register)
            return
        with self._lock:
            if name not in self._functions:
                register(self._con)  # in memory, this connection is the instance's root
                self._functions.add(name)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """Another connection to the same database (for work on other threads), in UTC.

        Use this, not ``connection.cursor()``: a new connection to an attached file starts in
        DuckDB's ``memory`` database, where the warehouse's tables are not.
        """
        con = self._con.cursor()
        if self._alias is not None:
            duckdb_files.use(con, self._alias)
        con.execute("SET TimeZone = 'UTC'").fetchall()
        return con

    def close(self) -> None:
        if self._con is None:
            return
        self._con.close()
        self._con = None  # type: ignore[assignment]
        if self._alias is not None:
            duckdb_files.release(self.path)

    def __enter__(self) -> DuckDBWarehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
