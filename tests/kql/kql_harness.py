"""Runs a KQL case on DuckDB and on Spark and normalises the results for comparison.

A case names shared tables (tests/kql/cases/tables.py) or brings its own; both engines get the
same rows with the same KQL types. Results are normalised to plain Python values (datetimes as
ISO text with Z, timespans as ``str(timedelta)``, dynamic values parsed from JSON, reals rounded)
and compared in order when the query defines an order, as sorted lists otherwise.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from entrawatch.kql import compile_query
from entrawatch.kql.api import conform

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)

ARROW = {
    "string": pa.string(), "guid": pa.string(), "long": pa.int64(), "int": pa.int32(), "real": pa.float64(),
    "decimal": pa.float64(), "bool": pa.bool_(), "datetime": pa.timestamp("us", tz="UTC"),
    "timespan": pa.duration("us"), "dynamic": pa.string(),
}
#: DuckDB column types as the DuckDB warehouse creates them (timespan = INTERVAL).
DUCK = {"string": "VARCHAR", "guid": "VARCHAR", "long": "BIGINT", "int": "INTEGER", "real": "DOUBLE",
        "decimal": "DOUBLE", "bool": "BOOLEAN", "datetime": "TIMESTAMPTZ", "timespan": "INTERVAL", "dynamic": "JSON"}


@dataclass
class Case:
    """One behaviour: a KQL query and either the rows it returns or the error it raises."""

    id: str
    kql: str
    rows: list[tuple] | None = None
    columns: list[str] | None = None
    #: (error class name, message fragment, line, column)
    error: tuple[str, str, int | None, int | None] | None = None
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: engines on which the case runs (a documented engine difference narrows this)
    engines: tuple[str, ...] = ("duckdb", "spark")


def _cell(value: Any, kql_type: str) -> Any:
    if value is None:
        return None
    if kql_type == "datetime" and isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    if kql_type == "dynamic":
        return json.dumps(value, separators=(",", ":"))
    if kql_type == "timespan" and isinstance(value, int):
        return timedelta(microseconds=value)
    return value


def arrow_table(spec: dict[str, Any]) -> pa.Table:
    columns: dict[str, str] = spec["columns"]
    rows: list[tuple] = spec["rows"]
    arrays = []
    for i, (_, kql_type) in enumerate(columns.items()):
        arrays.append(pa.array([_cell(row[i], kql_type) for row in rows], type=ARROW[kql_type]))
    return pa.Table.from_arrays(arrays, names=list(columns))


def normalise_value(value: Any, kql_type: str) -> Any:
    if value is None:
        return None
    if kql_type == "datetime":
        text = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
        return text + "Z"
    if kql_type == "timespan":
        return str(value) if isinstance(value, timedelta) else str(timedelta(microseconds=value))
    if kql_type == "dynamic":
        return json.loads(value)
    if kql_type in ("real", "decimal"):
        if math.isnan(value):
            return "NaN"
        return round(value, 9)
    return value


def normalise(table: pa.Table, columns: dict[str, str]) -> list[tuple]:
    types = list(columns.values())
    return [tuple(normalise_value(v, types[i]) for i, v in enumerate(row.values()))
            for row in table.to_pylist()]


def sort_key(row: tuple) -> str:
    return json.dumps(row, sort_keys=True, default=str)


class Engines:
    """One DuckDB connection and one Spark session holding every shared and per-case table."""

    def __init__(self, spark: Any | None) -> None:
        self.duck = duckdb.connect()
        self.duck.execute("SET TimeZone = 'UTC'").fetchall()
        self.spark = spark
        self.schema: dict[str, dict[str, str]] = {}
        self.cache: dict[tuple[str, str], object] = {}

    def load(self, name: str, spec: dict[str, Any]) -> None:
        table = arrow_table(spec)
        cols = ", ".join(f'"{c}" {DUCK[t]}' for c, t in spec["columns"].items())
        self.duck.execute(f'CREATE OR REPLACE TABLE "{name}" ({cols})').fetchall()
        self.duck.register("_incoming", table)
        self.duck.execute(f'INSERT INTO "{name}" SELECT * FROM _incoming').fetchall()
        self.duck.unregister("_incoming")
        if self.spark is not None:
            if table.num_rows:
                spark_table = pa.Table.from_arrays(
                    [a.cast(pa.int64()) if pa.types.is_duration(a.type) else a for a in table.columns],
                    names=table.column_names)
                frame = self.spark.createDataFrame(spark_table)
            else:
                ddl = ", ".join(f"`{c}` {_spark_type(t)}" for c, t in spec["columns"].items())
                frame = self.spark.createDataFrame([], ddl)
            frame.createOrReplaceTempView(name)
        self.schema[name] = dict(spec["columns"])

    def precompute(self, cases: list[Case], engine: str, threads: int = 4) -> None:
        """Run ``cases`` on ``engine`` concurrently and keep each result or exception."""
        from concurrent.futures import ThreadPoolExecutor

        def attempt(case: Case) -> tuple[str, object]:
            try:
                return case.id, self.run(case, engine)
            except Exception as err:  # kept and re-raised by result() in the case's own test
                return case.id, err

        with ThreadPoolExecutor(threads) as pool:
            for case_id, outcome in pool.map(attempt, cases):
                self.cache[(case_id, engine)] = outcome

    def result(self, case: Case, engine: str) -> tuple[list[tuple], list[str], bool]:
        outcome = self.cache.get((case.id, engine))
        if outcome is None:
            return self.run(case, engine)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome  # type: ignore[return-value]

    def probe(self, engine: str) -> Any:
        """Preliminary queries (bag_unpack key discovery) on the engine, as kql.run() does."""
        if engine == "duckdb":
            return lambda sql: self.duck.sql(sql).fetchall()
        assert self.spark is not None
        return lambda sql: [tuple(row) for row in self.spark.sql(sql).collect()]

    def run(self, case: Case, engine: str) -> tuple[list[tuple], list[str], bool]:
        compiled = compile_query(case.kql, self.schema, engine, NOW, probe=self.probe(engine))
        if engine == "duckdb":
            raw = self.duck.sql(compiled.sql).to_arrow_table()
        else:
            assert self.spark is not None
            raw = self.spark.sql(compiled.sql).toArrow()
        table = conform(raw, compiled.columns)
        return normalise(table, compiled.columns), list(compiled.columns), compiled.ordered


def _spark_type(kql_type: str) -> str:
    return {"string": "string", "guid": "string", "long": "bigint", "int": "int", "real": "double",
            "decimal": "double", "bool": "boolean", "datetime": "timestamp", "timespan": "bigint",
            "dynamic": "string"}[kql_type]


def expected_rows(case: Case) -> list[tuple]:
    return [tuple(_expect(v) for v in row) for row in case.rows or []]


def _expect(value: Any) -> Any:
    if isinstance(value, float) and not math.isnan(value):
        return round(value, 9)
    if isinstance(value, float):
        return "NaN"
    return value
