"""Public entry points: compile KQL to SQL, and run it on a warehouse.

``now`` binds ``now()``/``ago()`` so that a rule evaluated for a window is deterministic; it
defaults to the current UTC time. The result of :func:`run` is cast to the Arrow types of the
KQL result columns (long -> int64, timespan -> duration[us], dynamic -> JSON text...), so DuckDB
and Spark return identical tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlglot import exp

import entrawatch.kql.functions  # noqa: F401  (populates the function registries)
from entrawatch.kql import ast
from entrawatch.kql.compiler import Compiler
from entrawatch.kql.parser import parse as _parse

_ARROW = {
    "string": pa.string(), "guid": pa.string(), "long": pa.int64(), "int": pa.int32(), "real": pa.float64(),
    "decimal": pa.float64(), "bool": pa.bool_(), "datetime": pa.timestamp("us", tz="UTC"),
    "timespan": pa.duration("us"), "dynamic": pa.string(),
}


@dataclass(frozen=True)
class CompiledQuery:
    """SQL for one dialect plus the KQL result columns (name -> KQL type, in order)."""

    sql: str
    columns: dict[str, str]
    dialect: str
    #: True when the result has a defined row order (sort/top/getschema at the end).
    ordered: bool = False
    #: How many positional parameters to bind, each to ``now`` (``now_param=True``; 0 otherwise).
    now_params: int = 0


def parse(query: str) -> ast.Query:
    """Parse KQL into the AST (raises KqlSyntaxError/KqlUnsupportedError with line:column)."""
    return _parse(query)


def _catalog(schema: Any) -> dict[str, dict[str, str]]:
    if isinstance(schema, dict):
        return schema
    catalog = getattr(schema, "catalog", None)
    if catalog is None:
        raise TypeError("schema must be {table: {column: kql_type}} or a Warehouse")
    return catalog()


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        return now.replace(tzinfo=UTC)
    return now.astimezone(UTC)


def compile_query(query: str, schema: Any, dialect: str = "duckdb", now: datetime | None = None, *,
                  bag_unpack_columns: dict[str, str] | None = None,
                  probe: Callable[[str], list[tuple[Any, ...]]] | None = None,
                  now_param: bool = False, now_variable: str | None = None) -> CompiledQuery:
    """Compile and keep the result columns (what :func:`run` needs to type the output).

    ``bag_unpack_columns`` (bag key -> KQL type) fixes the columns of ``evaluate bag_unpack()``;
    ``probe`` (SQL -> rows) lets the compiler discover them from the data instead (``run`` does).
    ``now_param=True`` compiles a template: ``now()``/``ago()`` read a bind parameter (bind
    ``now_params`` positional values, all the same instant: 1 on DuckDB, which reads ``$1`` at
    every use, one per ``?`` on Spark) instead of the literal ``now``, so a
    rule compiled once runs every window (DuckDB binds parameters before optimising, so time
    filters still reach the table scan). ``now_variable`` (DuckDB only) reads ``now`` from the
    session variable of that name (``SET VARIABLE name = ...``) instead, with no parameters, so the
    SQL can be ``PREPARE``d once and executed per window without being planned again.
    """
    tree = _parse(query)
    compiler = Compiler(_catalog(schema), dialect, _now(now), query, bag_unpack_columns=bag_unpack_columns,
                        probe=probe, now_param=now_param, now_variable=now_variable)
    sql, columns, ordered = compiler.compile(tree)
    params = 0
    if now_param and now_variable is None:  # DuckDB reads $1 wherever now is used; Spark has one ? per use
        params = min(1, sum(1 for _ in sql.find_all(exp.Parameter))) if dialect == "duckdb" else \
            sum(1 for _ in sql.find_all(exp.Placeholder))
    return CompiledQuery(sql.sql(dialect=dialect), columns, dialect, ordered, params)


def compile(query: str, schema: Any, dialect: str = "duckdb", now: datetime | None = None, *,  # noqa: A001
            bag_unpack_columns: dict[str, str] | None = None) -> str:
    """KQL -> SQL text for ``dialect`` ("duckdb" or "spark")."""
    return compile_query(query, schema, dialect, now, bag_unpack_columns=bag_unpack_columns).sql


def conform(table: pa.Table, columns: dict[str, str]) -> pa.Table:
    """Rename to Kusto's column names and cast to the Arrow type of each KQL type."""
    arrays = []
    for i, kql_type in enumerate(columns.values()):
        array = table.column(i)
        target = _ARROW[kql_type]
        if array.type != target:
            if kql_type == "timespan" and pa.types.is_integer(array.type):
                array = pc.cast(array, pa.int64()).cast(target)
            elif kql_type == "datetime" and pa.types.is_timestamp(array.type):
                array = array.cast(pa.timestamp(array.type.unit, tz="UTC")).cast(target)
            else:
                array = array.cast(target)
        arrays.append(array)
    return pa.Table.from_arrays(arrays, names=list(columns))


def warehouse_probe(warehouse: Any) -> Callable[[str], list[tuple[Any, ...]]]:
    """A probe running preliminary queries (``bag_unpack`` key discovery) on ``warehouse``."""
    def probe(sql: str) -> list[tuple[Any, ...]]:
        table = warehouse.query(sql)
        return [tuple(row.values()) for row in table.to_pylist()]
    return probe


def run(query: str, warehouse: Any, now: datetime | None = None, *,
        bag_unpack_columns: dict[str, str] | None = None) -> pa.Table:
    """Compile for the warehouse's dialect, execute, and return Kusto-named, KQL-typed columns.

    ``evaluate bag_unpack()`` costs one extra query here, which finds the bag keys in the data.
    """
    compiled = compile_query(query, warehouse, getattr(warehouse, "dialect", "duckdb"), now,
                             bag_unpack_columns=bag_unpack_columns, probe=warehouse_probe(warehouse))
    return conform(warehouse.query(compiled.sql), compiled.columns)
