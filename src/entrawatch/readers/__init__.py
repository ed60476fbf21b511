"""Readers: every Entra ID log shape into the exact Log Analytics tables, losslessly.

``ingest_paths`` walks files, directories, gzip and zip; detects each file's shape (diagnostic
settings, Microsoft Graph, Log Analytics export, Entra portal download) unless told; streams the
records in bounded chunks through the SQL normalizer; appends valid rows to the warehouse (which
dedupes by ``Id``) and everything else to ``_Quarantine``. Counts always reconcile:
``read == inserted + duplicates + quarantined`` per table.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from entrawatch import schema
from entrawatch.errors import ReaderError
from entrawatch.readers import mapping
from entrawatch.readers.framing import SHAPES, frame
from entrawatch.readers.normalize import ChunkCounts, Normalizer, parse_times
from entrawatch.readers.pipeline import Pipeline
from entrawatch.readers.prefetch import prefetch
from entrawatch.readers.progress import Progress
from entrawatch.readers.sources import SourceFile, UnreadableSource, iter_sources
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
                "totals": self.totals.as_dict(), "files": [f.as_dict() for f in self.files]}


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


def ingest_paths(paths: Iterable[str | os.PathLike[str]], warehouse: Warehouse, shape: str | None = None,
                 table: str | None = None, progress: bool = False, workers: int | None = None) -> IngestReport:
    """Ingest files/directories into ``warehouse``; see the module docstring and docs/ingest.md.

    ``shape`` overrides detection (diagnostic, graph, loganalytics, portal); ``table`` forces the
    target table of every record. Unreadable files are reported in ``report.files`` (``error``),
    not raised, so one bad file does not stop a directory. On a DuckDB warehouse each file is one
    transaction: stored whole, or not at all when an unexpected error is raised. ``workers``: chunks prepared at once
    on a DuckDB warehouse (default: DuckDB's thread count, at most 4; 1 = one chunk at a time).
    """
    _check_args(shape, table)
    report = IngestReport()
    ingested_at = datetime.now(UTC)
    normalizer = Normalizer(warehouse)
    workers = normalizer.default_workers() if workers is None else workers
    pipeline = Pipeline(normalizer, workers) if normalizer.direct else None
    bar = Progress(enabled=progress)
    try:
        for source in iter_sources(paths):
            if isinstance(source, UnreadableSource):
                report.files.append(FileReport(source.name, error=source.error))
                continue
            report.files.append(_ingest_file(source, normalizer, pipeline, shape, table, ingested_at, bar))
    finally:
        if pipeline is not None:
            pipeline.close()
        normalizer.close()
        bar.close()
    return report


def _ingest_file(source: SourceFile, normalizer: Normalizer, pipeline: Pipeline | None, shape: str | None,
                 table: str | None, ingested_at: datetime, bar: Progress) -> FileReport:
    file_report = FileReport(source.name)
    try:
        framed = frame(source, shape)
        file_report.shape = framed.shape
        ctx = dict(family=framed.family, shape=framed.shape, source_file=source.name, forced_table=table,
                   name_table=mapping.table_from_name(source.hint), ingested_at=ingested_at)
        chunks = prefetch(framed.chunks)
        results = (pipeline.run(chunks, **ctx) if pipeline is not None
                   else (normalizer.process(chunk, **ctx) for chunk in chunks))
        with normalizer.file_transaction():
            try:
                for result in results:
                    _count(file_report, result)
                    bar.advance(sum(result.read.values()))
            except _READ_ERRORS as err:
                # What was read before the error is stored (the transaction commits), as before.
                file_report.error = f"cannot read: {err}"
    except _READ_ERRORS as err:  # raised while detecting the shape
        file_report.error = f"cannot read: {err}"
    return file_report


def _count(file_report: FileReport, result: ChunkCounts) -> None:
    for target, count in result.read.items():
        file_report.counts(target).read += count
    for target, count in result.quarantined.items():
        file_report.counts(target).quarantined += count
    for target, count in result.inserted.items():
        file_report.counts(target).inserted += count
    for target, count in result.duplicates.items():
        file_report.counts(target).duplicates += count
