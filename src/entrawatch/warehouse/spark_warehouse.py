"""Spark implementation of the warehouse: Parquet partitioned by day, SQL through PySpark.

Layout: ``<directory>/<Table>/_day=YYYY-MM-DD/part-*.parquet``, ``_day`` being the UTC day of
``TimeGenerated`` (or of the table's first datetime column). Each table is exposed to SQL as a
session temp view holding exactly the canonical columns in canonical order, so ``_day`` never
reaches a query result, and compiled KQL sees the same columns as on DuckDB.

Idempotent appends: repeats inside the incoming Arrow data are dropped with Arrow's vectorised
hash aggregation (the first occurrence wins), then Spark drops the rows whose key is already stored
with a broadcast semi-join/anti-join on the key columns alone, and writes the rest. No Python loop
touches rows. ``DELETE``/``DROP TABLE`` are carried out here because Spark cannot run them on a
view over Parquet (see :mod:`entrawatch.warehouse.spark_statements`).
"""

from __future__ import annotations

import shutil
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc

from entrawatch import schema
from entrawatch.errors import SchemaError, WarehouseError
from entrawatch.warehouse import spark_statements
from entrawatch.warehouse.base import AppendResult, CanonicalTables
from entrawatch.warehouse.spark_session import apply_required_conf, get_session

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

#: Hive-style partition column; the leading underscore keeps it clear of any Log Analytics name.
PARTITION_COLUMN = "_day"
#: Rows handed to Spark per write job: bounds driver memory when a reader streams a large file.
CHUNK_ROWS = 500_000

#: Which warehouse's views are registered in a session right now (temp views are per session,
#: and several warehouses may share one session, e.g. in tests).
_VIEW_OWNERS: dict[int, int] = {}


def _spark_struct(tbl: schema.Table, *, with_partition: bool) -> StructType:
    """The stored Spark schema of ``tbl`` (canonical columns, optionally the partition column)."""
    from pyspark.sql.types import StructField, StructType, _parse_datatype_string

    fields = [StructField(c.name, _parse_datatype_string(c.spark_type), True) for c in tbl.columns]
    if with_partition:
        fields.append(StructField(PARTITION_COLUMN, _parse_datatype_string("STRING"), True))
    return StructType(fields)


def partition_source(tbl: schema.Table) -> str | None:
    """The datetime column whose UTC day partitions ``tbl``: TimeGenerated, else the first one."""
    if tbl.has_column("TimeGenerated"):
        return "TimeGenerated"
    return next((c.name for c in tbl.columns if c.kql_type == "datetime"), None)


def _to_spark_arrow(tbl: schema.Table, batch: pa.RecordBatch) -> pa.RecordBatch:
    """Cast a canonical batch to the stored representation (timespan -> int64 microseconds)."""
    if batch.schema.names != tbl.column_names:
        raise SchemaError(f"batch for {tbl.name} does not match the canonical column order")
    fields = []
    for col in tbl.columns:
        arrow_type = pa.int64() if col.kql_type == "timespan" else col.arrow_type
        fields.append(pa.field(col.name, arrow_type))
    target = pa.schema(fields)
    if batch.schema == target:
        return batch
    try:
        return pa.RecordBatch.from_arrays(
            [
                arr.cast(pa.duration("us")).cast(pa.int64())
                if pa.types.is_duration(arr.type)
                else arr.cast(field.type)
                for arr, field in zip(batch.columns, target, strict=True)
            ],
            schema=target,
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as err:
        raise SchemaError(f"batch for {tbl.name} has columns of the wrong type: {err}") from err


def _chunks(tbl: schema.Table, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.Table]:
    """Group incoming batches into tables of about :data:`CHUNK_ROWS` rows (one Spark job each)."""
    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        pending.append(_to_spark_arrow(tbl, batch))
        rows += batch.num_rows
        if rows >= CHUNK_ROWS:
            yield pa.Table.from_batches(pending)
            pending, rows = [], 0
    if pending:
        yield pa.Table.from_batches(pending)


def first_occurrences(chunk: pa.Table, key: Sequence[str]) -> pa.Table:
    """The rows of ``chunk`` whose key was not seen earlier in it (null keys are one key).

    Arrow's hash aggregation is vectorised C++: dropping repeats here spares Spark a window over
    every wide row, and keeping the first occurrence makes the kept row deterministic.
    """
    positions = pa.array(range(chunk.num_rows), type=pa.int64())
    numbered = pa.table([*(chunk.column(k) for k in key), positions], names=[*key, "_ew_row"])
    firsts = numbered.group_by(list(key), use_threads=False).aggregate([("_ew_row", "min")])
    keep = pc.sort_indices(firsts.column("_ew_row_min"))
    if len(keep) == chunk.num_rows:
        return chunk
    return chunk.take(pc.take(firsts.column("_ew_row_min"), keep))


def _normalize_result(table: pa.Table) -> pa.Table:
    """Give Spark's Arrow result the shape DuckDB gives for the same SQL.

    Spark marks some result columns NOT NULL and may use large string types; DuckDB does
    neither. Values are untouched, so comparing rule results across engines compares data.
    """
    fields = []
    for field in table.schema:
        typ = field.type
        if pa.types.is_large_string(typ):
            typ = pa.string()
        elif pa.types.is_large_binary(typ):
            typ = pa.binary()
        fields.append(pa.field(field.name, typ, nullable=True))
    target = pa.schema(fields)
    return table if table.schema == target else table.cast(target)


class SparkWarehouse(CanonicalTables):
    """Canonical tables as day-partitioned Parquet under one directory, queried with Spark SQL."""

    dialect = "spark"

    def __init__(self, directory: str | Path, spark: SparkSession | None = None) -> None:
        self.directory = Path(directory)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise WarehouseError(f"cannot create Spark warehouse directory {self.directory}: {err}") from err
        if self.directory.is_file():
            raise WarehouseError(f"{self.directory} is a file; the Spark warehouse needs a directory")
        if spark is None:
            self._spark, self._owns_session = get_session()
        else:
            apply_required_conf(spark)
            self._spark, self._owns_session = spark, False
        self._lock = threading.RLock()
        self._views: set[str] = set()
        self._closed = False
        self._sync_views(force=True)

    @property
    def spark(self) -> SparkSession:
        """The session, for benchmarks and engine-specific tooling only."""
        return self._spark

    # -- layout ------------------------------------------------------------------------------
    def table_path(self, name: str) -> Path:
        return self.directory / name

    def _stored_tables(self) -> list[str]:
        """Known tables that have a folder here (unknown folders are left alone)."""
        known = schema.tables()
        try:
            entries = sorted(p.name for p in self.directory.iterdir() if p.is_dir())
        except OSError as err:
            raise WarehouseError(f"cannot list {self.directory}: {err}") from err
        return [name for name in entries if name in known]

    def _read(self, tbl: schema.Table) -> DataFrame:
        """The stored rows of ``tbl`` (with the partition column), listing files now."""
        path = str(self.table_path(tbl.name))
        return self._spark.read.schema(_spark_struct(tbl, with_partition=True)).parquet(path)

    def _register_view(self, name: str) -> None:
        tbl = schema.table(name)
        self._read(tbl).select(*tbl.column_names).createOrReplaceTempView(name)
        self._views.add(name)

    def _sync_views(self, *, force: bool = False) -> None:
        """(Re)register this warehouse's views when another warehouse took the session over,
        or when a table folder appeared (written elsewhere, or registered after opening)."""
        session_key = id(self._spark)
        if _VIEW_OWNERS.get(session_key) != id(self):
            force = True
            _VIEW_OWNERS[session_key] = id(self)
        for name in self._stored_tables():
            if force or name not in self._views:
                self._register_view(name)

    # -- DDL ---------------------------------------------------------------------------------
    def ensure_table(self, name: str) -> None:
        schema.table(name)  # raises SchemaError naming the known tables
        with self._lock:
            self.table_path(name).mkdir(parents=True, exist_ok=True)
            if name not in self._views or _VIEW_OWNERS.get(id(self._spark)) != id(self):
                self._sync_views()
                self._register_view(name)

    # -- data --------------------------------------------------------------------------------
    def append(self, table: str, batches: Iterable[pa.RecordBatch], *, dedupe: bool = True) -> AppendResult:
        tbl = schema.table(table)
        self.ensure_table(table)
        offered = inserted = 0
        with self._lock:
            for chunk in _chunks(tbl, batches):
                offered += chunk.num_rows
                try:
                    inserted += self._append_chunk(tbl, chunk, dedupe=dedupe and bool(tbl.key))
                except SchemaError:
                    raise
                except Exception as err:  # Py4J/PySpark errors: one typed error at this edge
                    raise WarehouseError(f"append to {table} failed: {err}") from err
            if offered:
                self._sync_views()
                self._register_view(table)  # pick up the files just written
        return AppendResult(offered=offered, inserted=inserted, duplicates=offered - inserted)

    def _has_files(self, name: str) -> bool:
        """Whether any Parquet file is stored for ``name`` (an empty table needs no key lookup)."""
        return next(self.table_path(name).rglob("*.parquet"), None) is not None

    def _append_chunk(self, tbl: schema.Table, chunk: pa.Table, *, dedupe: bool) -> int:
        """Write the new rows of one chunk as one Spark job; return how many were new.

        Only narrow key columns take part in joins: the stored keys that also arrive in this chunk
        are found with a semi-join (reading the key column of the Parquet files, the chunk's keys
        broadcast), and the rows with those keys are dropped with a broadcast anti-join. Wide rows
        are never shuffled, and the number written is observed during the write itself.
        """
        from pyspark.sql import functions as F

        if dedupe:
            chunk = first_occurrences(chunk, tbl.key)
        new_rows = self._spark.createDataFrame(chunk, schema=_spark_struct(tbl, with_partition=False))
        if dedupe and self._has_files(tbl.name):
            incoming_keys = new_rows.select(*[F.col(k).alias(f"_ew_in{i}") for i, k in enumerate(tbl.key)])
            stored_keys = self._read(tbl).select(
                *[F.col(k).alias(f"_ew_key{i}") for i, k in enumerate(tbl.key)]
            )
            existing = stored_keys.join(
                F.broadcast(incoming_keys),
                on=[
                    stored_keys[f"_ew_key{i}"].eqNullSafe(incoming_keys[f"_ew_in{i}"])
                    for i in range(len(tbl.key))
                ],
                how="left_semi",
            )
            matches = [new_rows[k].eqNullSafe(existing[f"_ew_key{i}"]) for i, k in enumerate(tbl.key)]
            new_rows = new_rows.join(F.broadcast(existing), on=matches, how="left_anti")
        return self._write_rows(tbl, new_rows, self.table_path(tbl.name))

    def _write_rows(self, tbl: schema.Table, rows: DataFrame, path: Path) -> int:
        """Append canonical ``rows`` under ``path`` partitioned by day; return how many were written."""
        from pyspark.sql import Observation
        from pyspark.sql import functions as F

        source = partition_source(tbl)
        day = F.date_format(F.col(source), "yyyy-MM-dd") if source else F.lit(None).cast("string")
        # Rows in day then time order inside each file: tight Parquet min/max statistics, and the
        # partitioned writer gets the order it needs without another sort.
        ordering = [PARTITION_COLUMN, source] if source else [PARTITION_COLUMN]
        written = Observation()
        (
            rows.withColumn(PARTITION_COLUMN, day)
            .observe(written, F.count(F.lit(1)).alias("rows"))
            .sortWithinPartitions(*ordering)
            .write.mode("append")
            .partitionBy(PARTITION_COLUMN)
            .parquet(str(path))
        )
        return int(written.get["rows"])

    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> pa.Table:
        """Run Spark SQL; ``?`` markers bind a sequence, ``:name`` markers a mapping."""
        with self._lock:
            self._sync_views()
            try:
                result = self._sql(sql, params).toArrow()
            except Exception as err:
                raise WarehouseError(f"query failed: {_first_line(err)}") from err
        return _normalize_result(result)

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None = None) -> None:
        """Run a statement for its effect.

        Spark cannot ``DELETE`` from or ``DROP`` a temp view over Parquet, yet callers maintain
        small tables that way (content data reloads, incident updates), so those two statements
        on a table stored here are carried out by :mod:`entrawatch.warehouse.spark_statements`.
        Anything else goes to ``spark.sql``, which runs commands eagerly.
        """
        with self._lock:
            self._sync_views()
            try:
                statement = spark_statements.parse(sql)
                if statement is not None and statement.table in self._views:
                    self._run_table_statement(statement, params)
                else:
                    self._sql(sql, params)
            except (SchemaError, WarehouseError):
                raise
            except Exception as err:
                raise WarehouseError(f"statement failed: {_first_line(err)}") from err

    def _run_table_statement(
        self, statement: spark_statements.TableStatement, params: Sequence[Any] | Mapping[str, Any] | None
    ) -> None:
        """DROP TABLE removes the folder; DELETE rewrites the table without the matching rows."""
        name = statement.table
        folder = self.table_path(name)
        if statement.kind == "drop":
            self._spark.catalog.dropTempView(name)
            self._views.discard(name)
            shutil.rmtree(folder, ignore_errors=True)
            return
        if statement.keep_sql is None:  # DELETE without WHERE: empty the table
            shutil.rmtree(folder)
            folder.mkdir()
        else:
            staging = self.directory / f".staging-{name}-{uuid.uuid4().hex}"
            self._write_rows(schema.table(name), self._sql(statement.keep_sql, params), staging)
            retired = self.directory / f".retired-{name}-{uuid.uuid4().hex}"
            folder.rename(retired)
            staging.rename(folder)
            shutil.rmtree(retired, ignore_errors=True)
        self._register_view(name)

    def _sql(self, sql: str, params: Sequence[Any] | Mapping[str, Any] | None) -> DataFrame:
        if params is None or len(params) == 0:
            return self._spark.sql(sql)
        args = dict(params) if isinstance(params, Mapping) else list(params)
        return self._spark.sql(sql, args=args)

    def catalog(self) -> dict[str, dict[str, str]]:
        """``{table: {column: kql_type}}`` for the tables stored here, from the canonical schema."""
        known = schema.tables()
        return {name: known[name].kql_types() for name in self._stored_tables()}

    def count(self, table: str) -> int:
        """Rows stored in ``table`` (0 when it does not exist)."""
        if not self.table_path(table).is_dir():
            return 0
        with self._lock:
            return int(self._read(schema.table(table)).count())

    def close(self) -> None:
        """Drop this warehouse's views and stop the session if this warehouse started it."""
        if self._closed:
            return
        self._closed = True
        with self._lock:
            session_key = id(self._spark)
            if _VIEW_OWNERS.get(session_key) == id(self):
                del _VIEW_OWNERS[session_key]
                for name in self._views:
                    self._spark.catalog.dropTempView(name)
            self._views.clear()
            if self._owns_session:
                self._spark.stop()

    def __enter__(self) -> SparkWarehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _first_line(err: BaseException) -> str:
    """Spark errors carry a JVM stack trace; the first line says what went wrong."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
