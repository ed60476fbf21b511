"""Run the generated SQL over one chunk: stage, route, normalize, split valid rows from quarantine.

A private in-memory DuckDB connection does the work, whatever the warehouse engine is: the
result is Arrow shaped like the canonical tables, handed to ``Warehouse.append`` (which dedupes
by key inside the engine). So the same normalizer feeds DuckDB and Spark warehouses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import duckdb
import pyarrow as pa

from entrawatch import schema
from entrawatch.readers import mapping, sqlgen
from entrawatch.readers.framing import Chunk, Reject

_QUARANTINE_SELECT = """
SELECT CAST(? AS TIMESTAMPTZ) AS "QuarantinedAt", CAST(? AS VARCHAR) AS "SourceFile",
       CAST(? AS VARCHAR) AS "SourceShape", idx AS "RecordIndex", line AS "LineNumber",
       {target} AS "TargetTable", {field} AS "Field", _reason AS "Reason", raw AS "RawText",
       md5(concat_ws(chr(31), CAST(? AS VARCHAR), CAST(line AS VARCHAR), CAST(idx AS VARCHAR), raw)) AS "RecordHash"
FROM {source} WHERE _reason IS NOT NULL
"""


@dataclass
class ChunkResult:
    """Valid canonical rows per table, quarantine rows, and records read per target table."""

    valid: dict[str, pa.Table] = field(default_factory=dict)
    quarantine: list[pa.Table] = field(default_factory=list)
    read: dict[str, int] = field(default_factory=dict)
    quarantined: dict[str, int] = field(default_factory=dict)
    #: Valid rows dropped because an earlier record of the same chunk had the same Id.
    repeated: dict[str, int] = field(default_factory=dict)


class Normalizer:
    """One DuckDB connection reused across chunks (DuckDB parallelises each statement)."""

    def __init__(self, *, threads: int | None = None, memory_limit: str = "1GB") -> None:
        self.con = duckdb.connect(":memory:")
        self._run("SET TimeZone = 'UTC'")
        self._run(f"SET memory_limit = {_literal(memory_limit)}")
        if threads:
            self._run(f"SET threads = {int(threads)}")

    def _run(self, sql: str, params: list | None = None) -> list:
        return self.con.execute(sql, params or []).fetchall()

    def close(self) -> None:
        self.con.close()

    def process(self, chunk: Chunk, *, family: str, shape: str, source_file: str, forced_table: str | None,
                name_table: str | None, ingested_at: datetime) -> ChunkResult:
        result = ChunkResult()
        qschema = schema.table(schema.QUARANTINE_TABLE).arrow_schema()
        if chunk.rejects:
            result.quarantine.append(self._rejects(chunk.rejects, shape, source_file, forced_table, ingested_at))
            key = forced_table or mapping.UNKNOWN_TABLE
            result.read[key] = result.read.get(key, 0) + len(chunk.rejects)
            result.quarantined[key] = result.quarantined.get(key, 0) + len(chunk.rejects)
        if chunk.table.num_rows == 0:
            return result
        if family == "unknown":
            rejects = [Reject(line, idx, raw, "unknown shape: not a diagnostic record, Graph object or Log Analytics row")
                       for line, idx, raw in zip(chunk.table.column("line").to_pylist(), chunk.table.column("idx").to_pylist(),
                                                 chunk.table.column("raw").to_pylist(), strict=True)]
            return self._merge(result, self.process(Chunk(chunk.table.slice(0, 0), rejects), family=family, shape=shape,
                                                    source_file=source_file, forced_table=forced_table,
                                                    name_table=name_table, ingested_at=ingested_at))
        self.con.register(sqlgen.INCOMING, chunk.table)
        try:
            self._run(f"CREATE OR REPLACE TEMP TABLE {sqlgen.STAGE} AS {sqlgen.stage_sql(family)}",
                      [forced_table, name_table])
        finally:
            self.con.unregister(sqlgen.INCOMING)
        stage_target = f"coalesce(_target, {_literal(forced_table or mapping.UNKNOWN_TABLE)})"
        for target, total, bad in self._run(
            f"SELECT {stage_target}, count(*), count(_reason) FROM {sqlgen.STAGE} GROUP BY ALL"
        ):
            result.read[target] = result.read.get(target, 0) + total
            result.quarantined[target] = result.quarantined.get(target, 0) + bad
        qsql = _QUARANTINE_SELECT.format(target=stage_target, field="CAST(NULL AS VARCHAR)", source=sqlgen.STAGE)
        staged_bad = self.con.execute(qsql, [ingested_at, source_file, shape, source_file]).to_arrow_table()
        if staged_bad.num_rows:
            result.quarantine.append(staged_bad.cast(qschema))
        targets = [row[0] for row in self._run(
            f"SELECT DISTINCT _target FROM {sqlgen.STAGE} WHERE _reason IS NULL ORDER BY 1")]
        for target in targets:
            tbl = schema.table(target)
            self._run(f"CREATE OR REPLACE TEMP TABLE _ew_norm AS {sqlgen.normalize_sql(family, target)}",
                      [source_file, shape, ingested_at])
            cols = ", ".join(sqlgen.ident(c).sql(dialect="duckdb") for c in tbl.column_names)
            # First occurrence in source order wins when a chunk repeats an Id (real exports do).
            valid = self.con.execute(
                f"SELECT {cols} FROM _ew_norm WHERE _reason IS NULL "
                f"QUALIFY row_number() OVER (PARTITION BY \"Id\" ORDER BY idx) = 1 ORDER BY idx"
            ).to_arrow_table()
            total_valid = self._run("SELECT count(*) FROM _ew_norm WHERE _reason IS NULL")[0][0]
            result.repeated[target] = result.repeated.get(target, 0) + total_valid - valid.num_rows
            if valid.num_rows:
                result.valid[target] = _cast(valid, tbl.arrow_schema())
            bad = self.con.execute(
                _QUARANTINE_SELECT.format(target=_literal(target), field="_field", source="_ew_norm"),
                [ingested_at, source_file, shape, source_file],
            ).to_arrow_table()
            if bad.num_rows:
                result.quarantine.append(bad.cast(qschema))
                result.quarantined[target] = result.quarantined.get(target, 0) + bad.num_rows
        return result

    def _rejects(self, rejects: list[Reject], shape: str, source_file: str, forced_table: str | None,
                 ingested_at: datetime) -> pa.Table:
        table = pa.table({
            "line": pa.array([r.line for r in rejects], pa.int64()),
            "idx": pa.array([r.idx for r in rejects], pa.int64()),
            "raw": pa.array([r.raw for r in rejects], pa.string()),
            "_reason": pa.array([r.reason for r in rejects], pa.string()),
            "_field": pa.array([r.field for r in rejects], pa.string()),
        })
        self.con.register("_ew_rejects", table)
        try:
            sql = _QUARANTINE_SELECT.format(target=_literal(forced_table or mapping.UNKNOWN_TABLE), field="_field",
                                            source="_ew_rejects")
            out = self.con.execute(sql, [ingested_at, source_file, shape, source_file]).to_arrow_table()
        finally:
            self.con.unregister("_ew_rejects")
        return out.cast(schema.table(schema.QUARANTINE_TABLE).arrow_schema())

    @staticmethod
    def _merge(into: ChunkResult, other: ChunkResult) -> ChunkResult:
        into.quarantine += other.quarantine
        for key, value in other.read.items():
            into.read[key] = into.read.get(key, 0) + value
        for key, value in other.quarantined.items():
            into.quarantined[key] = into.quarantined.get(key, 0) + value
        for key, value in other.valid.items():
            into.valid[key] = value
        return into


def _literal(text: str) -> str:
    from sqlglot import exp

    return exp.Literal.string(text).sql(dialect="duckdb")


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
        incoming = pa.table({"t": pa.array(texts, pa.string())})
        con.register(sqlgen.INCOMING, incoming)
        return [row[0] for row in con.execute(sqlgen.parse_times_sql()).fetchall()]
    finally:
        con.close()
