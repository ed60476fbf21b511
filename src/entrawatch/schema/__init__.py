"""The canonical schema: Log Analytics tables with their exact column names and KQL types.

This is the single schema definition. Readers coerce to it, the warehouse creates DDL from it,
the KQL binder resolves columns against it, and the simulator writes fields that map onto it.
The column lists live in ``log_analytics_tables.json`` (derived from the Log Analytics table
reference plus the columns real exports carry); this module adds the provenance columns and the
type mappings to Arrow, DuckDB and Spark.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

import pyarrow as pa

from entrawatch.errors import SchemaError

#: KQL scalar types used by the tables. ``dynamic`` holds JSON.
KQL_TYPES = ("string", "long", "int", "real", "bool", "datetime", "timespan", "dynamic", "guid", "decimal")

#: The four sign-in streams, in the order we present them.
SIGNIN_TABLES = (
    "SigninLogs",
    "AADNonInteractiveUserSignInLogs",
    "AADServicePrincipalSignInLogs",
    "AADManagedIdentitySignInLogs",
)
AUDIT_TABLE = "AuditLogs"
QUARANTINE_TABLE = "_Quarantine"

#: Diagnostic-settings category -> table (reference/entra-logs.md 3.1).
CATEGORY_TO_TABLE = {
    "SignInLogs": "SigninLogs",
    "NonInteractiveUserSignInLogs": "AADNonInteractiveUserSignInLogs",
    "ServicePrincipalSignInLogs": "AADServicePrincipalSignInLogs",
    "ManagedIdentitySignInLogs": "AADManagedIdentitySignInLogs",
    "AuditLogs": "AuditLogs",
}

#: Columns every stored table carries in addition to its Log Analytics columns.
PROVENANCE_COLUMNS = (
    ("_SourceFile", "string"),
    ("_SourceShape", "string"),
    ("_IngestedAt", "datetime"),
    ("_Extra", "dynamic"),
    ("_Aggregated", "bool"),
)

_ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "guid": pa.string(),
    "long": pa.int64(),
    "int": pa.int32(),
    "real": pa.float64(),
    "decimal": pa.float64(),
    "bool": pa.bool_(),
    "datetime": pa.timestamp("us", tz="UTC"),
    "timespan": pa.duration("us"),
    "dynamic": pa.string(),  # JSON text in Arrow; the warehouse types it as JSON
}

_DUCKDB_TYPES = {
    "string": "VARCHAR",
    "guid": "VARCHAR",
    "long": "BIGINT",
    "int": "INTEGER",
    "real": "DOUBLE",
    "decimal": "DOUBLE",
    "bool": "BOOLEAN",
    "datetime": "TIMESTAMPTZ",
    "timespan": "INTERVAL",
    "dynamic": "JSON",
}

_SPARK_TYPES = {
    "string": "STRING",
    "guid": "STRING",
    "long": "BIGINT",
    "int": "INT",
    "real": "DOUBLE",
    "decimal": "DOUBLE",
    "bool": "BOOLEAN",
    "datetime": "TIMESTAMP",
    "timespan": "BIGINT",  # microseconds; Spark has no portable interval column type in Parquet
    "dynamic": "STRING",
}


@dataclass(frozen=True)
class Column:
    """One column: its exact Log Analytics name and KQL type."""

    name: str
    kql_type: str

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW_TYPES[self.kql_type]

    @property
    def duckdb_type(self) -> str:
        return _DUCKDB_TYPES[self.kql_type]

    @property
    def spark_type(self) -> str:
        return _SPARK_TYPES[self.kql_type]


@dataclass(frozen=True)
class Table:
    """A stored table: Log Analytics columns, then the provenance columns."""

    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ("Id",)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise SchemaError(f"table {self.name} has no column {name!r}")

    def has_column(self, name: str) -> bool:
        return any(c.name == name for c in self.columns)

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.arrow_type) for c in self.columns])

    def kql_types(self) -> dict[str, str]:
        return {c.name: c.kql_type for c in self.columns}


def _load_json() -> dict:
    text = resources.files("entrawatch.schema").joinpath("log_analytics_tables.json").read_text("utf-8")
    return json.loads(text)


@cache
def tables() -> dict[str, Table]:
    """All canonical tables by name (Log Analytics tables + ``_Quarantine``)."""
    data = _load_json()
    result: dict[str, Table] = {}
    for name, spec in data["tables"].items():
        cols = [Column(c["name"], c["type"]) for c in spec["columns"]]
        known = {c.name for c in cols}
        cols += [Column(n, t) for n, t in PROVENANCE_COLUMNS if n not in known]
        result[name] = Table(name, tuple(cols))
    result[QUARANTINE_TABLE] = Table(
        QUARANTINE_TABLE,
        (
            Column("QuarantinedAt", "datetime"),
            Column("SourceFile", "string"),
            Column("SourceShape", "string"),
            Column("RecordIndex", "long"),
            Column("LineNumber", "long"),
            Column("TargetTable", "string"),
            Column("Field", "string"),
            Column("Reason", "string"),
            Column("RawText", "string"),
            Column("RecordHash", "string"),
        ),
        key=("RecordHash",),
    )
    return result


def table(name: str) -> Table:
    """Look a table up by its exact name; raises :class:`SchemaError` with the known names."""
    try:
        return tables()[name]
    except KeyError:
        raise SchemaError(f"unknown table {name!r}; known tables: {', '.join(sorted(tables()))}") from None


def register_table(tbl: Table) -> None:
    """Add a table defined elsewhere (alerts, incidents, threat intelligence) to the catalog."""
    tables()[tbl.name] = tbl


def kql_schema() -> dict[str, dict[str, str]]:
    """``{table: {column: kql_type}}`` for the KQL binder."""
    return {name: tbl.kql_types() for name, tbl in tables().items()}
