"""What is in the warehouse: rows per table, time span, sign-ins per stream per day, quarantine reasons.

The computation lives here (the CLI only renders it). Queries are sqlglot trees generated for the
warehouse's dialect, so the same code runs on DuckDB and Spark. Aggregated rows (portal / Graph
summaries, ``_Aggregated``) are counted as rows but never as sign-in events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlglot import exp

from entrawatch import schema
from entrawatch.warehouse.base import Warehouse

EVENT_TABLES = (*schema.SIGNIN_TABLES, schema.AUDIT_TABLE)


@dataclass
class TableStats:
    """One table: rows, aggregated (summary) rows, and the TimeGenerated span."""

    table: str
    rows: int
    aggregated: int = 0
    first: datetime | None = None
    last: datetime | None = None

    def as_dict(self) -> dict:
        return {"table": self.table, "rows": self.rows, "aggregated": self.aggregated,
                "first": self.first.isoformat() if self.first else None,
                "last": self.last.isoformat() if self.last else None}


@dataclass
class WarehouseStats:
    tables: list[TableStats] = field(default_factory=list)
    #: ``{day: {stream: sign-in events}}`` (aggregated rows excluded).
    signins_per_day: dict[date, dict[str, int]] = field(default_factory=dict)
    quarantined: int = 0

    @property
    def first(self) -> datetime | None:
        times = [t.first for t in self.tables if t.first]
        return min(times) if times else None

    @property
    def last(self) -> datetime | None:
        times = [t.last for t in self.tables if t.last]
        return max(times) if times else None

    def as_dict(self) -> dict:
        return {
            "tables": [t.as_dict() for t in self.tables],
            "first": self.first.isoformat() if self.first else None,
            "last": self.last.isoformat() if self.last else None,
            "signins_per_day": {d.isoformat(): counts for d, counts in sorted(self.signins_per_day.items())},
            "quarantined": self.quarantined,
        }


@dataclass
class QuarantineReason:
    reason: str
    count: int
    #: A few ``(file, line, record index, field)`` examples.
    examples: list[tuple[str | None, int | None, int | None, str | None]]

    def as_dict(self) -> dict:
        return {"reason": self.reason, "count": self.count,
                "examples": [{"file": f, "line": ln, "record": r, "field": fl} for f, ln, r, fl in self.examples]}


def _col(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def _table(name: str) -> exp.Table:
    return exp.Table(this=exp.to_identifier(name, quoted=True))


def compute_stats(warehouse: Warehouse) -> WarehouseStats:
    """Rows, aggregated rows and time span per event table, and sign-ins per stream per day."""
    catalog = warehouse.catalog()
    result = WarehouseStats()
    for name in EVENT_TABLES:
        if name not in catalog:
            continue
        query = exp.select(
            exp.alias_(exp.Count(this=exp.Star()), "n"),
            exp.alias_(exp.func("sum", exp.Case().when(_col("_Aggregated"), exp.Literal.number(1))
                                .else_(exp.Literal.number(0))), "agg"),
            exp.alias_(exp.func("min", _col("TimeGenerated")), "first"),
            exp.alias_(exp.func("max", _col("TimeGenerated")), "last"),
        ).from_(_table(name))
        row = warehouse.query(query.sql(dialect=warehouse.dialect)).to_pylist()[0]
        result.tables.append(TableStats(name, int(row["n"]), int(row["agg"] or 0), row["first"], row["last"]))
    for name in schema.SIGNIN_TABLES:
        if name not in catalog:
            continue
        day = exp.alias_(exp.cast(_col("TimeGenerated"), "DATE"), "day")
        query = (
            exp.select(day, exp.alias_(exp.Count(this=exp.Star()), "n"))
            .from_(_table(name))
            .where(exp.or_(exp.Not(this=_col("_Aggregated")), exp.Is(this=_col("_Aggregated"), expression=exp.Null())))
            .group_by(exp.Literal.number(1))
        )
        for row in warehouse.query(query.sql(dialect=warehouse.dialect)).to_pylist():
            if row["day"] is not None:
                result.signins_per_day.setdefault(row["day"], {})[name] = int(row["n"])
    if schema.QUARANTINE_TABLE in catalog:
        query = exp.select(exp.alias_(exp.Count(this=exp.Star()), "n")).from_(_table(schema.QUARANTINE_TABLE))
        result.quarantined = int(warehouse.query(query.sql(dialect=warehouse.dialect)).to_pylist()[0]["n"])
    return result


def quarantine_reasons(warehouse: Warehouse, *, examples: int = 3) -> list[QuarantineReason]:
    """Quarantined records grouped by reason (most frequent first), with a few locations each."""
    if schema.QUARANTINE_TABLE not in warehouse.catalog():
        return []
    query = (
        exp.select(_col("Reason"), _col("SourceFile"), _col("LineNumber"), _col("RecordIndex"), _col("Field"))
        .from_(_table(schema.QUARANTINE_TABLE))
        .order_by(_col("Reason"), _col("SourceFile"), _col("RecordIndex"))
    )
    grouped: dict[str, QuarantineReason] = {}
    for row in warehouse.query(query.sql(dialect=warehouse.dialect)).to_pylist():
        entry = grouped.setdefault(row["Reason"], QuarantineReason(row["Reason"], 0, []))
        entry.count += 1
        if len(entry.examples) < examples:
            entry.examples.append((row["SourceFile"], row["LineNumber"], row["RecordIndex"], row["Field"]))
    return sorted(grouped.values(), key=lambda r: (-r.count, r.reason))
