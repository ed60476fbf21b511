"""Readers: every Entra ID log shape into the exact Log Analytics tables, losslessly.

``ingest_paths`` walks files, directories, gzip and zip; detects each file's shape (diagnostic
settings, Microsoft Graph, Log Analytics export, Entra portal download) unless told; streams the
records in bounded chunks through the SQL normalizer; appends valid rows to the warehouse (which
dedupes by ``Id``) and everything else to ``_Quarantine``. Counts always reconcile:
``read == inserted + duplicates + quarantined`` per table.
"""

from __future__ import annotations

import os
import sys
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime

from entrawatch import schema
from entrawatch.errors import ReaderError
from entrawatch.readers import mapping
from entrawatch.readers.framing import SHAPES, Chunk, frame
from entrawatch.readers.normalize import ChunkCounts, Normalizer, Part, block_text, chunk_size, parse_times
from entrawatch.readers.pipeline import Pipeline, SubmittedBatch
from entrawatch.readers.prefetch import prefetch
from entrawatch.readers.progress import Progress
from entrawatch.readers.sources import UnreadableSource, iter_sources
from entrawatch.warehouse.base import Warehouse

__all__ = ["SHAPES", "FileReport", "IngestReport", "TableCounts", "ingest_paths", "parse_times"]


@dataclass
class TableCounts:
    """Records of one table: ``read == inserted + duplicates + quarantined``."""

    read: int = 0
    inserted: int = 0
    duplicates: int = 0
    quarantined: int = 0

    def add(self, other: TableCounts) -> None:
        self.read += other.read
        self.inserted += other.inserted
        self.duplicates += other.duplicates
        self.quarantined += other.quarantined

    @property
    def reconciles(self) -> bool:
        return self.read == self.inserted + self.duplicates + self.quarantined

    def as_dict(self) -> dict[str, int]:
        return {"read": self.read, "inserted": self.inserted, "duplicates": self.duplicates,
                "quarantined": self.quarantined}


@dataclass
class FileReport:
    """One input file: its shape, per-table counts, and the error that made it unreadable, if any."""

    path: str
    shape: str | None = None
    per_table: dict[str, TableCounts] = field(default_factory=dict)
    error: str | None = None

    def counts(self, table: str) -> TableCounts:
        return self.per_table.setdefault(table, TableCounts())

    def as_dict(self) -> dict:
        return {"path": self.path, "shape": self.shape, "error": self.error,
                "per_table": {t: c.as_dict() for t, c in sorted(self.per_table.items())}}


@dataclass
class IngestReport:
    """What an ingest did, per table and per file."""

    files: list[FileReport] = field(default_factory=list)
    #: Wall-clock seconds the ingest took.
    seconds: float = 0.0

    @property
    def per_table(self) -> dict[str, TableCounts]:
        result: dict[str, TableCounts] = {}
        for report in self.files:
            for table, counts in report.per_table.items():
                result.setdefault(table, TableCounts()).add(counts)
        return dict(sorted(result.items()))

    @property
    def totals(self) -> TableCounts:
        total = TableCounts()
        for counts in self.per_table.values():
            total.add(counts)
        return total

    @property
    def unreadable(self) -> list[FileReport]:
        return [f for f in self.files if f.error is not None]

    def as_dict(self) -> dict:
        return {"per_table": {t: c.as_dict() for t, c in self.per_table.items()},
                "totals": self.totals.as_dict(), "files": [f.as_dict() for f in self.files],
                "seconds": round(self.seconds, 3)}


#: What reading a file can raise: EOFError and zlib.error mean a truncated or corrupt gzip.
_READ_ERRORS = (OSError, EOFError, zlib.error)


def _check_args(shape: str | None, table: str | None) -> None:
    if shape is not None and shape not in SHAPES:
        raise ReaderError(f"unknown shape {shape!r}; use one of {', '.join(SHAPES)}", field="shape")
    if table is not None and table not in (*schema.SIGNIN_TABLES, schema.AUDIT_TABLE):
        raise ReaderError(
            f"unknown table {table!r}; use one of {', '.join((*schema.SIGNIN_TABLES, schema.AUDIT_TABLE))}",
            field="table",
        )


#: Small files of one chunk each are prepared together (see :class:`_Batch`) up to this many bytes ...
BATCH_BYTES = 64 << 20
#: ... or this many files, whichever comes first.
BATCH_FILES = 256
#: Consecutive files (batched or not) share one transaction until it holds this many bytes of input.
BATCH_TRANSACTION_BYTES = 1 << 30


def ingest_paths(paths: Iterable[str | os.PathLike[str]], warehouse: Warehouse, shape: str | None = None,
                 table: str | None = None, progress: bool = False, workers: int | None = None) -> IngestReport:
    """Ingest files/directories into ``warehouse``; see the module docstring and docs/ingest.md.

    ``shape`` overrides detection (diagnostic, graph, loganalytics, portal); ``table`` forces the
    target table of every record. Unreadable files are reported in ``report.files`` (``error``),
    not raised, so one bad file does not stop a directory. On a DuckDB warehouse consecutive files
    share a transaction (committed every 1 GB of input, and when batched files give way to larger
    ones or back): each is stored whole, or not at all when an unexpected error is raised, which
    rolls back the open transaction's files. ``workers``: chunks
    prepared at once on a DuckDB warehouse (default: DuckDB's thread count, at most 4; 1 = one
    chunk at a time).
    """
    _check_args(shape, table)
    report = IngestReport()
    started = time.perf_counter()
    ingested_at = datetime.now(UTC)
    normalizer = Normalizer(warehouse)
    workers = normalizer.default_workers() if workers is None else workers
    pipeline = Pipeline(normalizer, workers) if normalizer.direct else None
    bar = Progress(enabled=progress)
    batch = _Batch(normalizer, pipeline, bar) if pipeline is not None else None
    files = _Files(normalizer, pipeline, bar) if pipeline is not None else None
    try:
        _ingest_sources(paths, report, shape, table, ingested_at, normalizer, batch, files, bar)
    except BaseException:
        if files is not None:
            files.abort()
        if batch is not None:
            batch.abort()
        raise
    finally:
        if pipeline is not None:
            pipeline.close()
        normalizer.close()
        bar.close()
    report.seconds = time.perf_counter() - started
    return report


def _ingest_sources(paths: Iterable[str | os.PathLike[str]], report: IngestReport, shape: str | None,
                    table: str | None, ingested_at: datetime, normalizer: Normalizer, batch: _Batch | None,
                    files: _Files | None, bar: Progress) -> None:
    """Every source in order: into the batch when it can join it, otherwise chunk by chunk."""
    for source in iter_sources(paths):
        if isinstance(source, UnreadableSource):
            report.files.append(FileReport(source.name, error=source.error))
            continue
        file_report = FileReport(source.name)
        report.files.append(file_report)
        try:
            framed = frame(source, shape)
        except _READ_ERRORS as err:  # raised while detecting the shape
            file_report.error = f"cannot read: {err}"
            continue
        file_report.shape = framed.shape
        ctx = dict(family=framed.family, shape=framed.shape, source_file=source.name, forced_table=table,
                   name_table=mapping.table_from_name(source.hint), ingested_at=ingested_at)
        chunks: Iterator[Chunk] | None = framed.chunks
        if batch is None or files is None:
            _ingest_file(file_report, chunks, ctx, normalizer, bar)
            continue
        chunks = batch.offer(file_report, chunks, ctx)
        if chunks is None:
            files.close()  # files are stored in order: the chunked files before the batch's
            continue  # joined the batch
        batch.close()  # files are stored in order: the batch before this file
        files.ingest(file_report, chunks, ctx)
    if batch is not None and files is not None:
        files.close()
        batch.close()


def _ingest_file(file_report: FileReport, chunks: Iterator[Chunk], ctx: dict, normalizer: Normalizer,
                 bar: Progress) -> None:
    """A file chunk by chunk on a warehouse other than DuckDB (Spark), in one transaction."""
    with normalizer.file_transaction():
        try:
            for chunk in prefetch(chunks):
                _count(file_report, normalizer.process(chunk, **ctx), bar)
        except _READ_ERRORS as err:
            # What was read before the error is stored (the transaction commits), as before.
            file_report.error = f"cannot read: {err}"


class _SharedTransaction:
    """One transaction on the warehouse's connection for consecutive files, committed every
    :data:`BATCH_TRANSACTION_BYTES` of their input (:class:`_Batch` and :class:`_Files` keep one each)."""

    def __init__(self, normalizer: Normalizer) -> None:
        self.normalizer = normalizer
        self._stack: ExitStack | None = None
        self._bytes = 0

    @property
    def is_open(self) -> bool:
        return self._stack is not None

    def open(self) -> None:
        """Begin one, unless one is open."""
        if self._stack is None:
            self._stack = ExitStack()
            self._stack.enter_context(self.normalizer.file_transaction())

    def add(self, size: int) -> None:
        """Count ``size`` bytes of input stored (or to be stored) in it."""
        self._bytes += size

    @property
    def full(self) -> bool:
        return self._bytes >= BATCH_TRANSACTION_BYTES

    def commit(self) -> None:
        stack, self._stack = self._stack, None
        self._bytes = 0
        if stack is not None:
            stack.close()

    def rollback(self) -> None:
        """Roll back (an unexpected error is on its way up)."""
        stack, self._stack = self._stack, None
        self._bytes = 0
        if stack is not None:
            stack.__exit__(*sys.exc_info())  # file_transaction rolls back, then lets the error go on


class _Files:
    """Files too large for a batch, chunk by chunk through one pipeline run across consecutive files.

    Why: a run per file drained the pipeline at every file's end and committed alone, its first
    chunk framed and prepared only then; 1 GB in 10 files of ~100 MB (big tenants' hourly
    ``PT1H.json``) took 21.4-21.8 s, 15.9 s now, as long as one 1 GB file (measured). Now the
    next file's first chunks are prepared while the last of the one before are stored, and consecutive files share a
    transaction, committed every :data:`BATCH_TRANSACTION_BYTES` of input (at a file's end) and
    before a batch is stored. Chunks are still stored in file order, so the first occurrence of an
    ``Id`` wins; a read error ends its file (what was read before is stored) and the next goes on;
    an unexpected error rolls the open transaction back.
    """

    def __init__(self, normalizer: Normalizer, pipeline: Pipeline, bar: Progress) -> None:
        self.pipeline, self.bar = pipeline, bar
        self.transaction = _SharedTransaction(normalizer)

    def ingest(self, file_report: FileReport, chunks: Iterator[Chunk], ctx: dict) -> None:
        """Push a file's chunks (its last ones may still be in flight when this returns)."""
        if not self.transaction.is_open:
            self.transaction.open()
            self.pipeline.begin()
        try:
            for chunk in prefetch(chunks):
                self.transaction.add(chunk_size(chunk))
                for report, result in self.pipeline.push(chunk, ctx, file_report):
                    _count(report, result, self.bar)
        except _READ_ERRORS as err:
            file_report.error = f"cannot read: {err}"  # the chunks read before it are stored
        if self.transaction.full:
            self.close()

    def close(self) -> None:
        """Store every pushed chunk, then commit."""
        if not self.transaction.is_open:
            return
        for report, result in self.pipeline.drain():
            _count(report, result, self.bar)
        self.transaction.commit()

    def abort(self) -> None:
        """Roll the open transaction back (an unexpected error is on its way up)."""
        self.pipeline.abort()  # no connection may still be preparing
        self.transaction.rollback()


class _Batch:
    """Small files, prepared together; consecutive batches share a transaction.

    Why: real exports are many small files (a diagnostic-settings storage export writes one
    ``PT1H.json`` per category and hour), and each file paid ~12 statements whose planning, not
    the records, dominated (the ~30 KB normalize statement alone ~25 ms), plus a commit that
    wrote its rows through the log: ``make run``'s 729 files of ~1 MB ingested at ~3,600
    records/s against ~34,000 for one large file. A file joins the batch when it is one chunk of
    the batch's family and kind (a block of valid UTF-8 JSON lines, or records framed from a JSON
    document or CSV, without framing rejects); each file keeps its own counts, record numbers,
    ``Id`` order and quarantine rows, exactly as if ingested alone (``tests/readers/test_batches.py``).
    Batches commit together every :data:`BATCH_TRANSACTION_BYTES` of input and before any file
    that is ingested on its own: a transaction per 64 MB batch cost 0.5 s of commit each. They
    are stored whole, or not at all on an unexpected error. A batch is prepared (on the
    pipeline's connections) while the one before it is stored and the next files are framed.
    """

    def __init__(self, normalizer: Normalizer, pipeline: Pipeline, bar: Progress) -> None:
        self.pipeline, self.bar = pipeline, bar
        self.parts: list[Part] = []
        #: The first file's context: what the batch's files share (family, forced table, ingested-at).
        self.ctx: dict = {}
        self.reports: list[FileReport] = []
        self.size = 0
        self.transaction = _SharedTransaction(normalizer)
        #: The batch submitted last, not stored yet: its files' reports and its size.
        self._pending: tuple[SubmittedBatch, list[FileReport], int] | None = None

    def offer(self, file_report: FileReport, chunks: Iterator[Chunk], ctx: dict) -> Iterator[Chunk] | None:
        """None when the file joined the batch; otherwise its chunks, to ingest on its own."""
        pulled: list[Chunk] = []
        try:
            for chunk in chunks:
                pulled.append(chunk)
                # A file of one chunk (up to ~64 MB) joins; a 40 MB one alone in its batch is still
                # prepared while the file before it is stored (1 GB in 25 files: 26.1 -> 13.5 s).
                if len(pulled) > 1 or chunk.rejects or chunk_size(chunk) > BATCH_BYTES:
                    return _replay(pulled, chunks, None)  # not one clean chunk: on its own
        except _READ_ERRORS as err:
            return _replay(pulled, iter(()), err)
        single = pulled[0] if pulled else None
        if single is None or ctx["family"] == "unknown" or (single.block is None and not single.table.num_rows):
            return _replay(pulled, iter(()), None)
        text = block_text(single, ctx["family"]) if single.block is not None else None
        if single.block is not None and text is None:
            return _replay(pulled, iter(()), None)  # not valid UTF-8: framed line by line, on its own
        part = Part(single, text, ctx["source_file"], ctx["shape"], ctx["name_table"])
        if self.parts and (self.ctx["family"] != ctx["family"]
                           or (self.parts[0].chunk.block is None) != (single.block is None)
                           or self.size + part.size > BATCH_BYTES):
            self.flush()
        if not self.parts:
            self.ctx = ctx
        self.parts.append(part)
        self.reports.append(file_report)
        self.size += part.size
        if len(self.parts) >= BATCH_FILES:
            self.flush()
        return None

    def flush(self) -> None:
        """Start preparing the batch, if any; store the batch before it meanwhile."""
        if not self.parts:
            return
        previous = self._pending
        # Pending from now on, so that abort() waits for it whatever happens below.
        self._pending = (self.pipeline.submit_batch(self.parts, self.ctx), self.reports, self.size)
        self.parts, self.reports, self.size = [], [], 0
        self._store(previous)

    def close(self) -> None:
        """Store every batch, then commit the open transaction."""
        self.flush()
        pending, self._pending = self._pending, None
        self._store(pending)
        self.transaction.commit()

    def abort(self) -> None:
        """Roll the open transaction back (an unexpected error is on its way up)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending[0].wait()  # no connection may still be preparing it
        self.transaction.rollback()

    def _store(self, batch: tuple[SubmittedBatch, list[FileReport], int] | None) -> None:
        """Store a submitted batch (if any) in the open transaction; commit every 1 GB."""
        if batch is None:
            return
        submitted, reports, size = batch
        self.transaction.open()
        for file_report, result in zip(reports, self.pipeline.store_batch(submitted), strict=True):
            _count(file_report, result, self.bar)
        self.transaction.add(size)
        if self.transaction.full:
            self.transaction.commit()


def _replay(pulled: list[Chunk], rest: Iterator[Chunk], error: Exception | None) -> Iterator[Chunk]:
    """The chunks already taken from a file, then the rest (or the read error met taking them)."""
    while pulled:
        yield pulled.pop(0)  # not kept alive by this frame while the rest of the file is read
    if error is not None:
        raise error
    yield from rest


def _count(file_report: FileReport, result: ChunkCounts, bar: Progress) -> None:
    """Add a chunk's (or a batched file's) counts to its file's report and to the progress bar."""
    bar.advance(sum(result.read.values()))
    for target, count in result.read.items():
        file_report.counts(target).read += count
    for target, count in result.quarantined.items():
        file_report.counts(target).quarantined += count
    for target, count in result.inserted.items():
        file_report.counts(target).inserted += count
    for target, count in result.duplicates.items():
        file_report.counts(target).duplicates += count
