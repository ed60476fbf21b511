"""The ``Warehouse`` protocol: the narrow interface between readers/analytics and a storage engine.

Readers hand Arrow record batches to ``append``; the KQL engine and analytics hand SQL (already
compiled for ``dialect``) to ``query``. Nothing above this layer imports an engine library, which
is what lets the Spark implementation replace DuckDB without touching readers or rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import pyarrow as pa

from entrawatch import schema


@dataclass(frozen=True)
class AppendResult:
    """What an append did: ``offered == inserted + duplicates``."""

    offered: int
    inserted: int
    duplicates: int


class CanonicalTables:
    """``ensure_tables`` for any warehouse that has ``ensure_table`` (shared by the implementations)."""

    def ensure_table(self, name: str) -> None:  # pragma: no cover - implemented by each warehouse
        raise NotImplementedError

    def ensure_tables(self, names: Iterable[str] | None = None) -> None:
        """Create the given tables (default: the five log tables and ``_Quarantine``)."""
        for name in names or [*schema.SIGNIN_TABLES, schema.AUDIT_TABLE, schema.QUARANTINE_TABLE]:
            self.ensure_table(name)


@runtime_checkable
class Warehouse(Protocol):
    """A store of canonical tables that runs SQL of one dialect."""

    #: sqlglot dialect name of the SQL this warehouse runs ("duckdb" or "spark").
    dialect: str

    def ensure_table(self, name: str) -> None:
        """Create the canonical table ``name`` if it does not exist."""

    def append(self, table: str, batches: Iterable[pa.RecordBatch], *, dedupe: bool = True) -> AppendResult:
        """Append batches shaped like ``schema.table(table).arrow_schema()``.

        With ``dedupe`` rows whose key (``Table.key``) is already stored, or repeats inside the
        batches, are skipped and counted as duplicates: re-ingesting the same data adds nothing.
        """

    def query(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Run one statement of this warehouse's dialect; parameters bind ``?`` placeholders."""

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        """Run a statement that returns nothing (DDL, DELETE)."""

    def catalog(self) -> dict[str, dict[str, str]]:
        """``{table: {column: kql_type}}`` for every table that exists, in column order."""

    def close(self) -> None:
        """Release the engine."""
