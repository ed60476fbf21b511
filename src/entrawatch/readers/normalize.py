"""Run the generated SQL over one chunk and store the result: canonical rows or quarantine rows.

With a :class:`DuckDBWarehouse` the SQL runs on the warehouse's own connection and rows go
straight from the staging temp tables into the target table with an anti-join on ``Id`` (no
Arrow round trip, no second JSON validation). Any other warehouse (Spark) gets Arrow batches
through ``Warehouse.append`` from a private in-memory DuckDB, so the normalizer is the same.
"""

from __future__ import annotations

from collections import Counter
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import pyarrow as pa
from sqlglot import exp

from entrawatch import schema
from entrawatch.readers import framing, mapping, sqlgen
from entrawatch.readers.framing import Chunk, Reject
from entrawatch.warehouse.base import Warehouse
from entrawatch.warehouse.duckdb_warehouse import DuckDBWarehouse

#: DuckDB memory limit while ingesting: keeps peak RSS flat whatever the input size.
INGEST_MEMORY_LIMIT = "768MB"
_REJECTS = "_ew_rejects"
_ARROW = "_ew_arrow"

#: Parameters: quarantined-at, source file, shape, source file (hash), offset added to ``idx``.
_QUARANTINE_SELECT = """
SELECT CAST(? AS TIMESTAMPTZ) AS "QuarantinedAt", CAST(? AS VARCHAR) AS "SourceFile",
       CAST(? AS VARCHAR) AS "SourceShape", idx AS "RecordIndex", line AS "LineNumber",
       {target} AS "TargetTable", {field} AS "Field", _reason AS "Reason", raw AS "RawText",
       md5(concat_ws(chr(31), CAST(? AS VARCHAR), CAST(line AS VARCHAR), CAST(idx AS VARCHAR), raw)) AS "RecordHash"
FROM (SELECT * REPLACE (idx + CAST(? AS BIGINT) AS idx) FROM {source} WHERE _reason IS NOT NULL)
"""


@dataclass
class ChunkCounts:
    """What one chunk did, per target table."""

    read: Counter = field(default_factory=Counter)
    inserted: Counter = field(default_factory=Counter)
    duplicates: Counter = field(default_factory=Counter)
    quarantined: Counter = field(default_factory=Counter)


def _q(name: str) -> str:
    return sqlgen.ident(name).sql(dialect="duckdb")


def _literal(text: str) -> str:
    return exp.Literal.string(text).sql(dialect="duckdb")


@dataclass
class Prepared:
    """A chunk staged and normalized in one connection's temp tables, not yet stored.

    For a JSON-lines block, ``idx`` in those tables is relative to the block (it may be prepared
    before the blocks ahead of it were counted); :meth:`Normalizer.commit` adds the offset.
    """

    con: duckdb.DuckDBPyConnection
    counts: ChunkCounts
    stage_target: str
    routable: dict[str, int]
    repeats: dict[str, int]
    bad: dict[str, int]
    records: int


class Normalizer:
    """Stages and normalizes chunks, then stores them in ``warehouse``.

    Two steps per chunk so that JSON-lines blocks can be prepared on several DuckDB connections at
    once (:mod:`entrawatch.readers.pipeline`) while storing stays in file order: :meth:`prepare`
    (stage, then materialise each target table's normalized rows in the connection's temp tables)
    and :meth:`commit` (append valid rows with the ``Id`` anti-join, quarantine the others).
    """

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self.direct = isinstance(warehouse, DuckDBWarehouse)
        self._restore_memory_limit: str | None = None
        self._restore_threads: int | None = None
        self._lock = getattr(warehouse, "_lock", None) or nullcontext()
        if self.direct:
            self.con = warehouse.connection  # type: ignore[attr-defined]
            # Bound DuckDB's buffer pool while ingesting (restored by close()): without it the pool
            # may grow towards 80% of RAM as the database file grows.
            self._restore_memory_limit = _run(self.con, "SELECT current_setting('memory_limit')")[0][0]
            _run(self.con, f"SET memory_limit = {_literal(INGEST_MEMORY_LIMIT)}")
        else:
            self.con = duckdb.connect(":memory:")
            _run(self.con, "SET TimeZone = 'UTC'")
            _run(self.con, f"SET memory_limit = {_literal(INGEST_MEMORY_LIMIT)}")

    def default_workers(self) -> int:
        """Chunks to prepare at once: DuckDB's thread count (its ``threads`` setting), at most 4."""
        return max(1, min(4, int(_run(self.con, "SELECT current_setting('threads')")[0][0])))

    def one_thread_per_statement(self) -> None:
        """Run each statement on one DuckDB thread until :meth:`close` (for parallel workers).

        Why: a chunk's statements cannot use a second core anyway (see pipeline.py), so with one
        worker per core DuckDB's own threads only compete with the workers (measured at 1 GB with
        two workers: 19.6–21.3 s instead of 22.8–23.5 s, and less CPU).
        """
        if self.direct and self._restore_threads is None:
            self._restore_threads = int(_run(self.con, "SELECT current_setting('threads')")[0][0])
            _run(self.con, "SET threads = 1")

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """Another connection to the same database, for preparing chunks in parallel."""
        con = self.con.cursor()
        _run(con, "SET TimeZone = 'UTC'")
        return con

    def close(self) -> None:
        with self._lock:
            for name in (sqlgen.STAGE, *(_norm_table(t) for t in schema.tables())):
                _run(self.con, f"DROP TABLE IF EXISTS {name}")
            if self._restore_memory_limit:
                _run(self.con, f"SET memory_limit = {_literal(self._restore_memory_limit)}")
            if self._restore_threads is not None:
                _run(self.con, f"SET threads = {int(self._restore_threads)}")
            if not self.direct:
                self.con.close()

    def process(self, chunk: Chunk, *, family: str, shape: str, source_file: str, forced_table: str | None,
                name_table: str | None, ingested_at: datetime) -> ChunkCounts:
        """Prepare and commit one chunk on the warehouse's own connection (holding its lock)."""
        ctx = dict(family=family, shape=shape, source_file=source_file, forced_table=forced_table,
                   name_table=name_table, ingested_at=ingested_at)
        with self._lock:
            text = block_text(chunk, family)
            if chunk.block is not None and text is None:
                chunk = framing.frame_lines(chunk.block)
            prepared = self.prepare(self.con, chunk, text, **ctx)
            return self.commit(prepared, chunk, **ctx)

    # -- step 1: stage and normalize ------------------------------------------------------------
    def prepare(self, con: duckdb.DuckDBPyConnection, chunk: Chunk, text: pa.Array | None, *, family: str,
                shape: str, source_file: str, forced_table: str | None, name_table: str | None,
                ingested_at: datetime) -> Prepared | None:
        """Stage ``chunk`` and materialise its normalized rows per target table on ``con``.

        None when nothing reaches SQL (an unknown shape, or only framing rejects). A block comes
        with its ``text`` from :func:`block_text` (the caller needs it to choose the fallback);
        its ``idx`` is left relative to the block.
        """
        if family == "unknown":
            return None
        if chunk.block is not None:
            con.register(sqlgen.BLOCK_LINES, pa.table({"block": text}))
            try:
                _run(con, f"CREATE OR REPLACE TEMP TABLE {sqlgen.STAGE} AS {sqlgen.stage_block_sql(family)}",
                     [0, chunk.block.first_line, forced_table, name_table])
            finally:
                con.unregister(sqlgen.BLOCK_LINES)
        elif chunk.table.num_rows:
            self._stage(con, chunk.table, family, forced_table, name_table)
        else:
            return None
        counts = ChunkCounts()
        stage_target = f"coalesce(_target, {_literal(forced_table or mapping.UNKNOWN_TABLE)})"
        prepared = Prepared(con, counts, stage_target, {}, {}, {}, 0)
        for target, total, bad, ids in _run(
            con,
            f"SELECT {stage_target}, count(*), count(_reason), count(DISTINCT _rid) FILTER (WHERE _reason IS NULL) "
            f"FROM {sqlgen.STAGE} GROUP BY ALL",
        ):
            counts.read[target] += total
            counts.quarantined[target] += bad
            prepared.records += total
            if total > bad:
                prepared.routable[target] = total - bad
                prepared.repeats[target] = total - bad - ids  # > 0: the chunk repeats an id (or lacks one)
        params = [source_file, shape, ingested_at]
        for target in sorted(prepared.routable):
            norm = _norm_table(target)
            _run(con, f"CREATE OR REPLACE TEMP TABLE {norm} AS {sqlgen.normalize_sql(family, target)}", params)
            prepared.bad[target] = _run(con, f"SELECT count(_reason) FROM {norm}")[0][0]
        return prepared

    def _stage(self, con: duckdb.DuckDBPyConnection, table: pa.Table, family: str, forced_table: str | None,
               name_table: str | None) -> None:
        # Copy the Arrow chunk into a DuckDB temp table first: the JSON functions of the stage ran
        # ~1.8x slower straight over the Arrow scan (measured), and the copy costs ~10% of that.
        con.register(_ARROW, table)
        try:
            _run(con, f"CREATE OR REPLACE TEMP TABLE {sqlgen.INCOMING} AS SELECT * FROM {_ARROW}")
        finally:
            con.unregister(_ARROW)
        _run(con, f"CREATE OR REPLACE TEMP TABLE {sqlgen.STAGE} AS {sqlgen.stage_sql(family)}",
             [forced_table, name_table])
        _run(con, f"DROP TABLE {sqlgen.INCOMING}")

    # -- step 2: store --------------------------------------------------------------------------
    def commit(self, prepared: Prepared | None, chunk: Chunk, *, family: str, shape: str, source_file: str,
               forced_table: str | None, name_table: str | None, ingested_at: datetime) -> ChunkCounts:
        """Store a prepared chunk (valid rows, quarantine) and count; chunks commit in file order."""
        del name_table  # part of the chunk context; prepare() used it
        counts = prepared.counts if prepared else ChunkCounts()
        offset = 0
        if prepared and chunk.block is not None:
            offset = chunk.block.counter.next_idx
            chunk.block.counter.next_idx += prepared.records
        qparams = [ingested_at, source_file, shape, source_file, offset]
        if prepared:
            self._store_prepared(prepared, qparams)
        rejects = list(chunk.rejects)
        if family == "unknown":
            rejects += _unknown_rejects(chunk)
        if rejects:
            key = forced_table or mapping.UNKNOWN_TABLE
            counts.read[key] += len(rejects)
            counts.quarantined[key] += len(rejects)
            self._quarantine_rejects(rejects, shape, source_file, key, ingested_at)
        return counts

    def _store_prepared(self, prepared: Prepared, qparams: list) -> None:
        """Store one prepared chunk in one transaction.

        Why one transaction: each statement would otherwise commit on its own, and every commit
        writes the write-ahead log and may trigger a checkpoint; five tables plus quarantine made
        ~6 commits per chunk (measured: commits are most of the serial part of an ingest). The
        tables are created first: a transaction does not see tables created after it began.
        """
        con, counts = prepared.con, prepared.counts
        routing_rejects = sum(counts.quarantined.values())  # the normalize rejects are added below
        if self.direct:
            for target in prepared.routable:
                self.warehouse.ensure_table(target)
            if routing_rejects or any(prepared.bad.values()):
                self.warehouse.ensure_table(schema.QUARANTINE_TABLE)
        _run(con, "BEGIN TRANSACTION")
        try:
            if routing_rejects:
                self._store_quarantine(con, _QUARANTINE_SELECT.format(
                    target=prepared.stage_target, field="CAST(NULL AS VARCHAR)", source=sqlgen.STAGE), qparams)
            for target in sorted(prepared.routable):
                routable, bad = prepared.routable[target], prepared.bad[target]
                norm = _norm_table(target)
                inserted = self._store_valid(con, target, norm, prepared.repeats[target] > 0) if routable > bad else 0
                counts.quarantined[target] += bad
                counts.inserted[target] += inserted
                counts.duplicates[target] += routable - bad - inserted
                if bad:
                    self._store_quarantine(con, _QUARANTINE_SELECT.format(
                        target=_literal(target), field="_field", source=norm), qparams)
            _run(con, "COMMIT")
        except BaseException:
            _run(con, "ROLLBACK")
            raise
        finally:
            for name in (sqlgen.STAGE, *(_norm_table(t) for t in prepared.routable)):
                _run(con, f"DROP TABLE IF EXISTS {name}")  # free the chunk's memory now

    def _store_valid(self, con: duckdb.DuckDBPyConnection, target: str, source: str, repeated: bool) -> int:
        """Insert the chunk's valid rows; first occurrence (source order) of an Id wins."""
        tbl = schema.table(target)
        cols = ", ".join(_q(c) for c in tbl.column_names)
        # The window is costly over wide rows: only when the stage saw an id twice (or a missing one).
        dedupe = 'QUALIFY row_number() OVER (PARTITION BY "Id" ORDER BY idx) = 1' if repeated else ""
        if self.direct:  # the table exists: _store_prepared created it before its transaction
            return int(_run(
                con,
                f"INSERT INTO {_q(target)} ({cols}) SELECT {cols} FROM {source} n WHERE _reason IS NULL "
                f"AND NOT EXISTS (SELECT 1 FROM {_q(target)} t WHERE t.\"Id\" = n.\"Id\") {dedupe}",
            )[0][0])
        rows = con.sql(f"SELECT {cols} FROM {source} WHERE _reason IS NULL {dedupe} ORDER BY idx").to_arrow_table()
        return self.warehouse.append(target, _cast(rows, tbl.arrow_schema()).to_batches()).inserted

    def _store_quarantine(self, con: duckdb.DuckDBPyConnection, select_sql: str, params: list) -> None:
        qtable = schema.table(schema.QUARANTINE_TABLE)
        if self.direct:
            self.warehouse.ensure_table(schema.QUARANTINE_TABLE)
            cols = ", ".join(_q(c) for c in qtable.column_names)
            _run(
                con,
                f"INSERT INTO {_q(qtable.name)} ({cols}) SELECT {cols} FROM ({select_sql}) q "
                f"WHERE NOT EXISTS (SELECT 1 FROM {_q(qtable.name)} t WHERE t.\"RecordHash\" = q.\"RecordHash\") "
                f'QUALIFY row_number() OVER (PARTITION BY "RecordHash") = 1',
                params,
            )
            return
        rows = con.sql(select_sql, params=params).to_arrow_table()
        if rows.num_rows:
            self.warehouse.append(qtable.name, _cast(rows, qtable.arrow_schema()).to_batches())

    def _quarantine_rejects(self, rejects: list[Reject], shape: str, source_file: str, target: str,
                            ingested_at: datetime) -> None:
        table = pa.table({
            "line": pa.array([r.line for r in rejects], pa.int64()),
            "idx": pa.array([r.idx for r in rejects], pa.int64()),
            "raw": pa.array([r.raw for r in rejects], pa.string()),
            "_reason": pa.array([r.reason for r in rejects], pa.string()),
            "_field": pa.array([r.field for r in rejects], pa.string()),
        })
        with self._lock:
            self.con.register(_REJECTS, table)
            try:
                self._store_quarantine(self.con, _QUARANTINE_SELECT.format(
                    target=_literal(target), field="_field", source=_REJECTS),
                    [ingested_at, source_file, shape, source_file, 0])
            finally:
                self.con.unregister(_REJECTS)


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list:
    return con.execute(sql, params or []).fetchall()


def _norm_table(target: str) -> str:
    """The temp table holding one target table's normalized rows of the current chunk."""
    return _q(f"_ew_norm_{target}")


def block_text(chunk: Chunk, family: str) -> pa.Array | None:
    """A JSON-lines block as one Arrow string for SQL framing; None when the chunk is no block, or
    the block must be framed line by line in Python: an unknown shape, or not valid UTF-8 as a
    whole (Arrow validates it), so that only the bad lines are refused."""
    if chunk.block is None or family == "unknown":
        return None
    data = chunk.block.data
    # Zero-copy over the bytes, then Arrow's UTF-8 check: ~10x cheaper than building a binary
    # array and casting it, which copies the ~64 MB block first (measured: 0.018 vs 0.17 s).
    offsets = pa.array([0, len(data)], pa.int64()).buffers()[1]
    text = pa.LargeStringArray.from_buffers(1, offsets, pa.py_buffer(data))
    try:
        text.validate(full=True)
    except pa.ArrowInvalid:
        return None
    return text


def _unknown_rejects(chunk: Chunk) -> list[Reject]:
    """Records of an unknown shape: every one is quarantined, never dropped."""
    return [Reject(line, idx, raw, "unknown shape: not a diagnostic record, Graph object or Log Analytics row")
            for line, idx, raw in zip(chunk.table.column("line").to_pylist(), chunk.table.column("idx").to_pylist(),
                                      chunk.table.column("raw").to_pylist(), strict=True)]


def _cast(table: pa.Table, target: pa.Schema) -> pa.Table:
    """DuckDB hands JSON back as an Arrow extension type; the canonical schema says plain string."""
    arrays = []
    for name, fld in zip(target.names, target, strict=True):
        column = table.column(name)
        if isinstance(column.type, pa.ExtensionType):
            column = pa.chunked_array([c.storage for c in column.chunks], type=column.type.storage_type)
        arrays.append(column.cast(fld.type))
    return pa.Table.from_arrays(arrays, schema=target)


def parse_times(texts: list[str | None]) -> list[datetime | None]:
    """Parse timestamps exactly as ingestion does (the SQL time parser), for tests and tooling."""
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'").fetchall()
        con.register(sqlgen.INCOMING, pa.table({"t": pa.array(texts, pa.string())}))
        return [row[0] for row in con.execute(sqlgen.parse_times_sql()).fetchall()]
    finally:
        con.close()
