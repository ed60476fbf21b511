"""Run the generated SQL over chunks and store the result: canonical rows or quarantine rows.

With a :class:`DuckDBWarehouse`, chunks are *prepared* (staged, normalized, fetched as Arrow) on
cursors of the warehouse's database and *stored* on its own connection, inside the file's (or
batch's) transaction, with an anti-join on ``Id``. Any other warehouse (Spark) gets Arrow batches
through ``Warehouse.append`` from a private in-memory DuckDB, so the normalizer is the same.
Several small files can be prepared together (:class:`Part`, :meth:`Normalizer.commit_batch`).
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

from entrawatch import schema
from entrawatch.readers import framing, mapping, remainder, rowscan, sqlgen, storedids
from entrawatch.readers.framing import Chunk, Reject
from entrawatch.warehouse.base import Warehouse
from entrawatch.warehouse.duckdb_warehouse import DuckDBWarehouse

# DuckDB's Python client warns that Arrow from an ``execute`` result costs a copy and suggests
# ``con.sql``, which plans the statement twice: measured slower here (see _arrow). Only this
# module's own calls are silenced.
warnings.filterwarnings("ignore", message="Arrow output on a DB-API result", category=UserWarning,
                        module=r"entrawatch\.readers\.normalize")

#: DuckDB memory limit while ingesting: keeps peak RSS flat whatever the input size. 640 MB since
#: diagnostic rows no longer pass through DuckDB temp tables: at 1 and 4 GB as fast as 768 MB, and
#: 120 MB less peak RSS at 4 GB (measured, docs/ingest.md, Session 9).
INGEST_MEMORY_LIMIT = "640MB"
_ARROW = "_ew_arrow"
#: Staged records handed to the C pass at once (``Normalizer._native_rows``).
_STAGED_BATCH_ROWS = 16_384
#: The name under which SQL reads an Arrow table of prepared rows (see :func:`_run_over`).
_ROWS = "_ew_rows"

#: Reads the prepared rows (``{rows}``) that carry a ``_reason``. Parameters: quarantined-at, source
#: file, shape, source file (hash), offset added to ``idx``.
_QUARANTINE_SELECT = """
SELECT CAST(? AS TIMESTAMPTZ) AS "QuarantinedAt", CAST(? AS VARCHAR) AS "SourceFile",
       CAST(? AS VARCHAR) AS "SourceShape", idx AS "RecordIndex", line AS "LineNumber",
       {target} AS "TargetTable", {field} AS "Field", _reason AS "Reason", raw AS "RawText",
       md5(concat_ws(chr(31), CAST(? AS VARCHAR), CAST(line AS VARCHAR), CAST(idx AS VARCHAR), raw)) AS "RecordHash"
FROM (SELECT * REPLACE (idx + CAST(? AS BIGINT) AS idx) FROM {rows} WHERE _reason IS NOT NULL)
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


def _quarantine_select(target: str, field_sql: str) -> str:
    """:data:`_QUARANTINE_SELECT` with its target-table and field expressions (our own SQL)."""
    return _QUARANTINE_SELECT.format(target=target, field=field_sql, rows=_ROWS)


@dataclass
class Prepared:
    """A chunk staged and normalized, as Arrow tables ready to store on any connection.

    Why Arrow: chunks are prepared on other connections than the one that stores them, and a
    connection's temp tables are its own; the storing connection keeps one transaction open for a
    whole file (see :meth:`Normalizer.file_transaction`), which would not see tables created after
    it began. For a JSON-lines block, ``idx`` is relative to the block (it may be prepared before
    the blocks ahead of it were counted); :meth:`Normalizer.commit` adds the offset.
    """

    counts: ChunkCounts
    routable: dict[str, int]
    repeats: dict[str, int]
    bad: dict[str, int]
    records: int
    #: Records the stage refused (line, idx, raw, _reason, _tt = their target table), or None.
    stage_rejects: pa.Table | None = None
    #: Per target table: normalized rows plus ``_reason``/``_field``/``line``/``idx``/``raw``.
    rows: dict[str, pa.Table] = field(default_factory=dict)


@dataclass
class Part:
    """One file's chunk in a :meth:`Normalizer.prepare`, with what the SQL must know of its file.

    Several parts are prepared together when small files are batched (see
    ``readers/__init__.py``): one stage and one normalize statement per table for all of them,
    instead of ~12 statements per file whose planning dominated (~25 ms for a normalize statement).
    """

    chunk: Chunk
    #: The block's text from :func:`block_text`, or None for a chunk of records.
    text: pa.Array | None
    source_file: str
    shape: str
    name_table: str | None

    @property
    def size(self) -> int:
        return chunk_size(self.chunk)


def chunk_size(chunk: Chunk) -> int:
    """Bytes of text in a chunk: what a batch is bounded and split by."""
    return len(chunk.block.data) if chunk.block is not None else chunk.table.column("raw").nbytes


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
        #: Whether the normalize statements cut ``_Extra`` with the C scanner (readers/remainder.py).
        self.native_extra = remainder.available()
        #: Whether diagnostic rows are computed by the C pass first (readers/rowscan.py).
        self.native_rows = rowscan.available()
        if self.direct:
            self.con = warehouse.connection  # type: ignore[attr-defined]
            # Bound DuckDB's buffer pool while ingesting (restored by close()): without it the pool
            # may grow towards 80% of RAM as the database file grows.
            self._restore_memory_limit = _run(self.con, "SELECT current_setting('memory_limit')")[0][0]
            _run(self.con, f"SET memory_limit = {_literal(INGEST_MEMORY_LIMIT)}")
        else:
            self.con = duckdb.connect(":memory:")
            _run(self.con, "SET TimeZone = 'UTC'")
            _run(self.con, "SET enable_progress_bar = false")  # entrawatch shows its own progress
            _run(self.con, f"SET memory_limit = {_literal(INGEST_MEMORY_LIMIT)}")
        if self.native_extra:
            try:
                if self.direct:
                    warehouse.ensure_function(sqlgen.EXTRA_FUNCTION, remainder.register)  # type: ignore[attr-defined]
                else:
                    remainder.register(self.con)
            except duckdb.Error as err:  # e.g. numpy missing: DuckDB's Arrow functions need it
                warnings.warn(f"_Extra falls back to DuckDB's json_merge_patch (same rows, slower): {err}",
                              RuntimeWarning, stacklevel=2)
                self.native_extra = False
        self.native_rows = self.native_rows and self.native_extra
        #: Hashes of the ids this ingest stored, to skip the stored-id look-up (readers/storedids.py).
        self._stored_ids = storedids.StoredIds() if self.direct and self.native_rows else None

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
        return self.warehouse.cursor()  # type: ignore[attr-defined]

    @contextmanager
    def file_transaction(self) -> Iterator[None]:
        """Store every chunk of one file (or of several consecutive files) in one transaction on
        the warehouse's connection.

        Why: a small transaction per chunk (or per statement) writes its rows to the write-ahead
        log, and its commits trigger checkpoints that compress them again; in a large transaction
        DuckDB writes full row groups straight to the database file. Measured at 1 GB: the per-chunk commits cost
        10.9 s of a 22.4 s ingest, the one commit 2.1-2.5 s. A file is stored whole or, on an
        unexpected error, not at all; the caller catches read errors inside this block, so what
        was read before a truncation is still committed. Tables created inside the transaction
        vanish with a rollback, so the warehouse's table cache is dropped then.
        """
        if not self.direct:
            yield
            return
        with self._lock:
            _run(self.con, "BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            with self._lock:
                _run(self.con, "ROLLBACK")
                self.warehouse.forget_created_tables()  # type: ignore[attr-defined]
                if self._stored_ids is not None:
                    self._stored_ids.forget()
            raise
        with self._lock:
            _run(self.con, "COMMIT")

    def close(self) -> None:
        with self._lock:
            _run(self.con, f"DROP TABLE IF EXISTS {sqlgen.STAGE}")
            if self._restore_memory_limit:
                _run(self.con, f"SET memory_limit = {_literal(self._restore_memory_limit)}")
            if self._restore_threads is not None:
                _run(self.con, f"SET threads = {int(self._restore_threads)}")
            if not self.direct:
                self.con.close()

    def process(self, chunk: Chunk, *, family: str, shape: str, source_file: str, forced_table: str | None,
                name_table: str | None, ingested_at: datetime) -> ChunkCounts:
        """Prepare and commit one chunk on the normalizer's connection (holding the warehouse's lock):
        the path of warehouses other than DuckDB (a DuckDB ingest goes through the pipeline)."""
        ctx = dict(family=family, shape=shape, source_file=source_file, forced_table=forced_table,
                   name_table=name_table, ingested_at=ingested_at)
        with self._lock:
            text = block_text(chunk, family)
            if chunk.block is not None and text is None:
                chunk = framing.frame_lines(chunk.block)
            (prepared,) = self.prepare(self.con, [Part(chunk, text, source_file, shape, name_table)],
                                       family=family, forced_table=forced_table, ingested_at=ingested_at)
            return self.commit(prepared, chunk, **ctx)

    # -- step 1: stage and normalize ------------------------------------------------------------
    def prepare(self, con: duckdb.DuckDBPyConnection, parts: list[Part], *, family: str, forced_table: str | None,
                ingested_at: datetime) -> list[Prepared | None]:
        """Stage ``parts`` on ``con`` and fetch their normalized rows per target table as Arrow.

        One :class:`Prepared` per part (None when nothing of it reaches SQL: an unknown shape, or
        only framing rejects). Several parts (a batch of small files) are all line blocks or all
        chunks of records; a block's ``idx`` is left relative to the block.
        """
        if family == "unknown":
            return [None] * len(parts)
        if all(p.chunk.block is not None for p in parts):
            native = self._native_blocks(parts, family, forced_table, ingested_at)
            if native is not None:
                return native
            texts = [p.text for p in parts]
            blocks = pa.table({
                # One block: zero-copy over the bytes read (concatenating copies them: +150 MB RSS at 1 GB).
                "block": texts[0] if len(texts) == 1 else pa.concat_arrays(texts),
                "_file": pa.array(range(len(parts)), pa.int32()),
                "first_line": pa.array([p.chunk.block.first_line for p in parts], pa.int64()),
                "first_idx": pa.array([0] * len(parts), pa.int64()),
                "name_table": pa.array([p.name_table for p in parts], pa.string()),
            })
            con.register(sqlgen.BLOCK_LINES, blocks)
            try:
                _run(con, f"CREATE OR REPLACE TEMP TABLE {sqlgen.STAGE} AS {sqlgen.stage_block_sql(family)}",
                     [forced_table])
            finally:
                con.unregister(sqlgen.BLOCK_LINES)
        elif all(p.chunk.block is None for p in parts):
            if not any(p.chunk.table.num_rows for p in parts):
                return [None] * len(parts)
            self._stage(con, parts, family, forced_table)
        else:
            raise ValueError("line blocks and chunks of records are not prepared together")
        try:
            return self._normalize_staged(con, family, forced_table, parts, ingested_at)
        finally:
            _run(con, f"DROP TABLE IF EXISTS {sqlgen.STAGE}")  # free the chunk's memory now

    def _normalize_staged(self, con: duckdb.DuckDBPyConnection, family: str, forced_table: str | None,
                          parts: list[Part], ingested_at: datetime) -> list[Prepared]:
        stage_target = f"coalesce(_target, {_literal(forced_table or mapping.UNKNOWN_TABLE)})"
        prepared = [Prepared(ChunkCounts(), {}, {}, {}, 0) for _ in parts]
        for file, target, total, bad, ids in _run(
            con,
            f"SELECT _file, {stage_target}, count(*), count(_reason), "
            f"count(DISTINCT _rid) FILTER (WHERE _reason IS NULL) FROM {sqlgen.STAGE} GROUP BY ALL",
        ):
            part = prepared[file]
            part.counts.read[target] += total
            part.counts.quarantined[target] += bad
            part.records += total
            if total > bad:
                part.routable[target] = total - bad
                part.repeats[target] = total - bad - ids  # > 0: the file repeats an id (or lacks one)
        if any(sum(p.counts.quarantined.values()) for p in prepared):
            rejects = _arrow(con, f"SELECT _file, line, idx, raw, _reason, {stage_target} AS _tt "
                                  f"FROM {sqlgen.STAGE} WHERE _reason IS NOT NULL")
            for file, piece in _by_file(rejects, len(parts)).items():
                prepared[file].stage_rejects = piece
        params = [[p.source_file for p in parts], [p.shape for p in parts], ingested_at]
        for target in sorted({t for p in prepared for t in p.routable}):
            if self.native_rows and rowscan.program(family, target) is not None:
                rows = self._native_rows(con, family, target, params)
            else:
                rows = _arrow(con, _normalized_sql(family, target, self.native_extra), params)
            for file, piece in _by_file(rows, len(parts)).items():
                prepared[file].rows[target] = piece
                prepared[file].bad[target] = piece.num_rows - piece.column("_reason").null_count
        return prepared

    def _native_blocks(self, parts: list[Part], family: str, forced_table: str | None,
                       ingested_at: datetime) -> list[Prepared | None] | None:
        """Line blocks prepared without DuckDB when every record of every part is sure
        (``rowscan.block_rows``); None sends them all to the stage statement, as before.

        Why: staging a block (split, route, validate into a temp table) and fetching its rows back
        for the C pass cost ~4 s of CPU per GB, ~30 % of an ingest (docs/ingest.md). A batch of
        small files goes one road: their rows are stored together, numbered by ``_file``.
        """
        if not self.native_rows or forced_table is not None or any(p.text is None for p in parts):
            return None
        files, shapes = [p.source_file for p in parts], [p.shape for p in parts]
        prepared: list[Prepared | None] = []
        for number, part in enumerate(parts):
            block = part.chunk.block
            found = rowscan.block_rows(block.data, family, number, block.first_line, files, shapes, ingested_at)
            if found is None:
                return None
            one = Prepared(ChunkCounts(), {}, {}, {}, found.records)
            for target, rows in found.tables.items():
                one.counts.read[target] += rows.num_rows
                one.counts.quarantined[target] += 0  # as the stage's counts list every target
                one.routable[target] = rows.num_rows
                one.repeats[target] = rows.num_rows - pc.count_distinct(rows.column("Id")).as_py()
                one.bad[target] = 0
                one.rows[target] = rows
            prepared.append(one)
        return prepared

    def _native_rows(self, con: duckdb.DuckDBPyConnection, family: str, target: str, params: list) -> pa.Table:
        """``target``'s normalized rows: the C pass (readers/rowscan.py) for the rows it is sure of,
        the normalize statement for the others (rows it would quarantine, or cannot promise).

        Why: the statement was ~45 % of an ingest's CPU; the pass computes the same columns in one
        scan per record (figures in docs/ingest.md). The statement stays the definition: it runs
        for every row the pass leaves, and the tests hold the two to the same rows.
        """
        # Streamed in batches: the records' text is held one batch at a time, not a whole batch of
        # files (a run of small documents is ~128 MB).
        reader = con.execute(f"SELECT _file, line, idx, raw, agg FROM {sqlgen.STAGE} "
                             "WHERE _target = ? AND _reason IS NULL", [target]).to_arrow_reader(_STAGED_BATCH_ROWS)
        pieces: list[pa.Table] = []
        listed: list[pa.Table] = []
        for batch in reader:
            staged = pa.Table.from_batches([batch])
            rows, unsure = rowscan.rows(staged, family, target, params[0], params[1], params[2])
            if unsure.true_count:
                listed.append(staged.filter(unsure).select(["_file", "idx"]))
                rows = rows.filter(pc.invert(unsure))
            pieces.append(rows)
        if not pieces:  # no row (a reader may give no batch): the empty table, typed
            pieces.append(rowscan.rows(reader.schema.empty_table(), family, target, *params)[0])
        if not listed:
            return pa.concat_tables(pieces) if len(pieces) != 1 else pieces[0]
        computed = _arrow_over(con, pa.concat_tables(listed),
                               _normalized_sql(family, target, self.native_extra, listed_only=True), params)
        merged = pa.concat_tables([*pieces, computed])
        # the statement's order (the stage's), so that the rows are stored as they were read
        return merged.take(pc.sort_indices(merged, [("_file", "ascending"), ("idx", "ascending")]))

    def _stage(self, con: duckdb.DuckDBPyConnection, parts: list[Part], family: str, forced_table: str | None) -> None:
        """Stage chunks of records (one per file of a batch), numbered by ``_file``."""
        table = pa.concat_tables([
            p.chunk.table.append_column("_file", pa.array([k] * p.chunk.table.num_rows, pa.int32()))
                         .append_column("name_table", pa.array([p.name_table] * p.chunk.table.num_rows, pa.string()))
            for k, p in enumerate(parts)
        ])
        # Copy the Arrow chunk into a DuckDB temp table first: the JSON functions of the stage ran
        # ~1.8x slower straight over the Arrow scan (measured), and the copy costs ~10% of that.
        con.register(_ARROW, table)
        try:
            _run(con, f"CREATE OR REPLACE TEMP TABLE {sqlgen.INCOMING} AS SELECT * FROM {_ARROW}")
        finally:
            con.unregister(_ARROW)
        _run(con, f"CREATE OR REPLACE TEMP TABLE {sqlgen.STAGE} AS {sqlgen.stage_sql(family)}", [forced_table])
        _run(con, f"DROP TABLE {sqlgen.INCOMING}")

    # -- step 2: store --------------------------------------------------------------------------
    def commit(self, prepared: Prepared | None, chunk: Chunk, *, family: str, shape: str, source_file: str,
               forced_table: str | None, name_table: str | None, ingested_at: datetime) -> ChunkCounts:
        """Store a prepared chunk (valid rows, quarantine) and count; chunks commit in file order."""
        del name_table  # part of the chunk context; prepare() used it
        counts = prepared.counts if prepared else ChunkCounts()
        qparams = _quarantine_params(prepared, chunk, source_file, shape, ingested_at)
        if prepared:
            with self._lock:
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

    def commit_batch(self, prepared: list[Prepared | None], parts: list[Part], *, forced_table: str | None,
                     ingested_at: datetime) -> list[ChunkCounts]:
        """Store the files of a batch (see :class:`Part`) in order, exactly as :meth:`commit` would
        one by one, but with one ``INSERT`` per table for all of them where no ``Id`` repeats
        among their valid rows (a repeat takes the file-by-file road, so the first one still wins).

        Why: a batch of 1 MB files mixing five categories spent ~60 % of its time planning five
        small ``INSERT`` statements per file (~6 ms each). Without repeats, what each file would
        insert is its valid rows minus those whose ``Id`` is already stored, counted per file in
        one query before the ``INSERT``. Only chunks without framing rejects are batched.
        """
        del forced_table  # part of the batch context; prepare() used it
        counts = [p.counts if p else ChunkCounts() for p in prepared]
        qparams = [_quarantine_params(one, part.chunk, part.source_file, part.shape, ingested_at)
                   for one, part in zip(prepared, parts, strict=True)]
        with self._lock:
            for one, params in zip(prepared, qparams, strict=True):
                if one is not None:
                    self._store_stage_rejects(one, params)
            for target in sorted({t for p in prepared if p for t in p.routable}):
                files = [k for k, p in enumerate(prepared) if p and target in p.routable]
                rows = pa.concat_tables([prepared[k].rows[target] for k in files])
                if self._repeats_in(rows, files, prepared, target):
                    for k in files:
                        self._store_target(prepared[k], target, qparams[k])
                    continue
                valid = {k: prepared[k].routable[target] - prepared[k].bad[target] for k in files}
                stored, check = {}, None
                if sum(valid.values()):
                    self.warehouse.ensure_table(target)
                    check = self._id_check(target, rows)
                    stored = {} if check[1] else self._stored_per_file(target, rows)
                expected = sum(valid.values()) - sum(stored.values())
                inserted = self._store_valid(self.con, target, rows, False, check) if sum(valid.values()) else 0
                if inserted != expected:
                    raise RuntimeError(f"batch insert into {target}: {inserted} rows, expected {expected}")
                for k in files:
                    self._tally(prepared[k], target, valid[k] - stored.get(k, 0), qparams[k])
        return counts

    @staticmethod
    def _repeats_in(rows: pa.Table, files: list[int], prepared: list[Prepared | None], target: str) -> bool:
        """Whether an Id repeats (or is missing) among the valid rows of ``files``."""
        if any(prepared[k].repeats[target] for k in files):
            return True
        # Filter the one column, not the ~90-column table (that copy cost ~4% of a batched ingest).
        ids = pc.filter(rows.column("Id"), pc.is_null(rows.column("_reason")))
        return pc.count_distinct(ids).as_py() < len(ids)

    def _stored_per_file(self, target: str, rows: pa.Table) -> dict[int, int]:
        """Per file of a batch: its valid rows whose Id is already in ``target`` (its duplicates).
        The table exists (the caller ensured it)."""
        return dict(_run_over(
            self.con, rows,
            f"SELECT _file, count(*) FROM {_ROWS} WHERE _reason IS NULL AND \"Id\" IN (SELECT t.\"Id\" FROM "
            f"{_q(target)} t WHERE t.\"Id\" IN (SELECT \"Id\" FROM {_ROWS} WHERE _reason IS NULL)) GROUP BY _file",
        ))

    def _id_check(self, target: str, rows: pa.Table) -> tuple[np.ndarray | None, bool]:
        """(the hashes of the valid ids of ``rows``, whether they prove that none is in ``target``
        yet): ``storedids.StoredIds`` knows the table held only this ingest's ids, and none hashes
        alike, so the store needs no look-up. (None, False) without stored-id hashes. Called inside
        the file's transaction, the table existing."""
        if self._stored_ids is None:
            return None, False
        if not self._stored_ids.checked(target):
            (empty,) = _run(self.con, f"SELECT count(*) = 0 FROM (SELECT 1 FROM {_q(target)} LIMIT 1)")[0]
            self._stored_ids.track(target, bool(empty))
        hashes = storedids.id_hashes(_valid_ids(rows))
        return hashes, self._stored_ids.proves_new(target, hashes)

    def _store_prepared(self, prepared: Prepared, qparams: list) -> None:
        """Store one prepared chunk: valid rows, duplicates counted, refused rows quarantined.

        On DuckDB this runs inside the file's transaction (:meth:`file_transaction`), on the
        warehouse's connection, which is also where missing tables are created, so the transaction
        sees them. Elsewhere (Spark) rows go through ``Warehouse.append``.
        """
        self._store_stage_rejects(prepared, qparams)
        for target in sorted(prepared.routable):
            self._store_target(prepared, target, qparams)

    def _store_stage_rejects(self, prepared: Prepared, qparams: list) -> None:
        if prepared.stage_rejects is not None:
            self._store_quarantine(self.con, _quarantine_select("_tt", "CAST(NULL AS VARCHAR)"),
                                   prepared.stage_rejects, qparams)

    def _store_target(self, prepared: Prepared, target: str, qparams: list) -> None:
        """One target table's rows of a prepared chunk: insert, count, quarantine the refused."""
        routable, bad = prepared.routable[target], prepared.bad[target]
        inserted = (self._store_valid(self.con, target, prepared.rows[target], prepared.repeats[target] > 0)
                    if routable > bad else 0)
        self._tally(prepared, target, inserted, qparams)

    def _tally(self, prepared: Prepared, target: str, inserted: int, qparams: list) -> None:
        """Count one target table's rows of a prepared chunk once ``inserted`` of them are stored
        (the other valid ones were duplicates); quarantine the refused ones."""
        counts, bad = prepared.counts, prepared.bad[target]
        counts.quarantined[target] += bad
        counts.inserted[target] += inserted
        counts.duplicates[target] += prepared.routable[target] - bad - inserted
        if bad:
            self._store_quarantine(self.con, _quarantine_select(_literal(target), "_field"),
                                   prepared.rows[target], qparams)

    def _store_valid(self, con: duckdb.DuckDBPyConnection, target: str, rows: pa.Table, repeated: bool,
                     check: tuple[np.ndarray | None, bool] | None = None) -> int:
        """Insert the chunk's valid rows; first occurrence (source order) of an Id wins. ``check``:
        :meth:`_id_check` of these rows, when the caller made it already."""
        tbl = schema.table(target)
        cols = ", ".join(_q(c) for c in tbl.column_names)
        # The window is costly over wide rows: only when the stage saw an id twice (or a missing one).
        dedupe = 'QUALIFY row_number() OVER (PARTITION BY "Id" ORDER BY idx) = 1' if repeated else ""
        if self.direct:
            self.warehouse.ensure_table(target)
            hashes, proven = check if check is not None else self._id_check(target, rows)
            if proven:
                inserted = int(_run_over(con, rows, f"INSERT INTO {_q(target)} ({cols}) SELECT {cols} FROM {_ROWS} n "
                                                    f"WHERE _reason IS NULL {dedupe}")[0][0])
                self._stored_ids.add(target, hashes)  # type: ignore[union-attr]
                return inserted
            # The ids already stored are looked up with the chunk's ids as the small side of a semi
            # join; `NOT EXISTS (… t.Id = n.Id)` hashed the whole table's ids for every chunk, which
            # grew with the table (at 1M rows: 0.16 vs 0.06 s per chunk and table, measured). The
            # subquery never yields NULL (IN drops it), so NOT IN means "not stored yet".
            inserted = int(_run_over(
                con, rows,
                f"INSERT INTO {_q(target)} ({cols}) SELECT {cols} FROM {_ROWS} n WHERE _reason IS NULL "
                f"AND \"Id\" NOT IN (SELECT t.\"Id\" FROM {_q(target)} t "
                f"WHERE t.\"Id\" IN (SELECT \"Id\" FROM {_ROWS} WHERE _reason IS NULL)) {dedupe}",
            )[0][0])
            if hashes is not None:
                self._stored_ids.add(target, hashes)  # type: ignore[union-attr]
            return inserted
        valid = _arrow_over(con, rows, f"SELECT {cols} FROM {_ROWS} WHERE _reason IS NULL {dedupe} ORDER BY idx")
        return self.warehouse.append(target, _cast(valid, tbl.arrow_schema()).to_batches()).inserted

    def _store_quarantine(self, con: duckdb.DuckDBPyConnection, select_sql: str, rows: pa.Table,
                          params: list) -> None:
        """Quarantine the rows of ``rows`` that carry a ``_reason`` (``select_sql`` reads them)."""
        qtable = schema.table(schema.QUARANTINE_TABLE)
        if self.direct:
            self.warehouse.ensure_table(schema.QUARANTINE_TABLE)
            cols = ", ".join(_q(c) for c in qtable.column_names)
            _run_over(
                con, rows,
                f"INSERT INTO {_q(qtable.name)} ({cols}) SELECT {cols} FROM ({select_sql}) q "
                f"WHERE NOT EXISTS (SELECT 1 FROM {_q(qtable.name)} t WHERE t.\"RecordHash\" = q.\"RecordHash\") "
                f'QUALIFY row_number() OVER (PARTITION BY "RecordHash") = 1',
                params,
            )
            return
        quarantined = _arrow_over(con, rows, select_sql, params)
        if quarantined.num_rows:
            self.warehouse.append(qtable.name, _cast(quarantined, qtable.arrow_schema()).to_batches())

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
            self._store_quarantine(self.con, _quarantine_select(_literal(target), "_field"),
                                   table, [ingested_at, source_file, shape, source_file, 0])


def _valid_ids(rows: pa.Table) -> pa.ChunkedArray:
    """The ``Id`` of the rows without a quarantine reason (the ones a store inserts)."""
    reasons = rows.column("_reason")
    ids = rows.column("Id")
    return ids if reasons.null_count == len(reasons) else pc.filter(ids, pc.is_null(reasons))


def _normalized_sql(family: str, target: str, native_extra: bool, listed_only: bool = False) -> str:
    """The normalize statement as prepared rows hold it: the source record is kept only where a
    quarantine row needs it (not copied, 4 KB a row, for every stored row)."""
    return (f"SELECT * REPLACE (CASE WHEN _reason IS NOT NULL THEN raw END AS raw) "
            f"FROM ({sqlgen.normalize_sql(family, target, native_extra, listed_only)})")


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list:
    return con.execute(sql, params or []).fetchall()


def _run_over(con: duckdb.DuckDBPyConnection, rows: pa.Table, sql: str, params: list | None = None) -> list:
    """Run ``sql`` in which ``_ew_rows`` names the Arrow table ``rows``.

    Why not ``con.register``: a registered view is a catalog entry, and inside the open file
    transaction its drop (and with it the registered Arrow table) is kept until the transaction
    ends; measured at 1 GB, every chunk's Arrow stayed in memory (RSS 1.99 instead of 1.3 GB).
    DuckDB's replacement scan finds the local variable below for the statement's duration only.
    """
    _ew_rows = rows  # noqa: F841 - read by DuckDB's replacement scan, by name
    return con.execute(sql, params or []).fetchall()


def _arrow_over(con: duckdb.DuckDBPyConnection, rows: pa.Table, sql: str, params: list | None = None) -> pa.Table:
    """:func:`_run_over` returning Arrow (as :func:`_arrow` does)."""
    _ew_rows = rows  # noqa: F841 - read by DuckDB's replacement scan, by name
    return con.execute(sql, params or []).to_arrow_reader().read_all()


def _arrow(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pa.Table:
    """The result of ``sql`` as Arrow, through a record-batch reader.

    Why not ``con.sql(...).to_arrow_table()``: it plans the ~30 KB normalize statement twice
    (69 vs 40 ms for a small chunk); ``execute(...).to_arrow_table()`` copies the rows once more
    (a 64 MB block: 175 / 144 / 126 ms for the three ways, measured).
    """
    return con.execute(sql, params or []).to_arrow_reader().read_all()


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


def _quarantine_params(prepared: Prepared | None, chunk: Chunk, source_file: str, shape: str,
                       ingested_at: datetime) -> list:
    """Parameters of :data:`_QUARANTINE_SELECT` for a chunk about to be stored, in file order.

    A block's record indexes are relative to it: its offset is the file's running count, which
    this advances. A chunk of records carries absolute indexes (offset 0).
    """
    offset = 0
    if prepared and chunk.block is not None:
        offset = chunk.block.counter.next_idx
        chunk.block.counter.next_idx += prepared.records
    return [ingested_at, source_file, shape, source_file, offset]


def _by_file(rows: pa.Table, files: int) -> dict[int, pa.Table]:
    """The rows of each file of a batch (by ``_file``), as zero-copy slices of ``rows`` sorted once."""
    if files == 1:
        return {0: rows} if rows.num_rows else {}
    file_numbers = rows.column("_file")
    if rows.num_rows > 1 and not pc.all(pc.greater_equal(file_numbers[1:], file_numbers[:-1])).as_py():
        rows = rows.sort_by("_file")  # DuckDB keeps the staged order, so this sort (a copy) seldom runs
    pieces, start = {}, 0
    for entry in pc.value_counts(rows.column("_file")).to_pylist():  # ascending, as sorted
        pieces[entry["values"]] = rows.slice(start, entry["counts"])
        start += entry["counts"]
    return pieces


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
