"""Run KQL function-table cases on DuckDB and Spark.

A case names a registered builder (scalar function, operator or aggregate), its inputs as
literal values with KQL types (or, for aggregates, a tiny column of values), and the value
Kusto documents. The harness lowers every case through the real builder, batches all cases of a
kind into one SELECT per engine (Spark startup and planning dominate otherwise), and falls back to
one statement per case when a batch fails so a single broken builder names itself.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
from sqlglot import exp

import entrawatch.kql.functions  # noqa: F401  (fills the registries)
from entrawatch.kql.functions import _sql as q
from entrawatch.kql.lowering_api import (
    AGGREGATE_FUNCTIONS,
    OPERATORS,
    SCALAR_FUNCTIONS,
    LowerContext,
    Typed,
)

#: Cases per SELECT: Spark compiles very wide projections slowly (200 columns took 6x longer than 5x40).
CHUNK = 40

NOW = datetime(2025, 3, 10, 12, 0, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Col:
    """An aggregate argument that refers to a column of the case's data."""

    name: str


@dataclass(frozen=True)
class Json:
    """A dynamic argument given as raw JSON text (to spell JSON ``null`` and key order)."""

    text: str


@dataclass(frozen=True)
class Unordered:
    """Expected dynamic array whose order Kusto leaves unspecified."""

    items: tuple

    def __init__(self, *items: Any) -> None:
        object.__setattr__(self, "items", tuple(items))


@dataclass(frozen=True)
class Raises:
    """The builder must refuse the input at lowering time."""

    error: type[Exception]


@dataclass
class Case:
    kind: str  # scalar | operator | aggregate
    name: str
    args: list[Any]
    expected: Any
    columns: dict[str, tuple[str, list[Any]]] = field(default_factory=dict)
    label: str = ""
    approx: float | None = None

    @property
    def id(self) -> str:
        shown = self.label or ", ".join(_show(a) for a in self.args)
        return f"{self.name}({shown})"[:90]


def _show(arg: Any) -> str:
    if isinstance(arg, Col):
        return arg.name
    if isinstance(arg, Json):
        return arg.text
    value, kind = arg
    if value == "tuple" and isinstance(kind, list):
        return "(" + ", ".join(repr(v) for v, _k in kind) + ")"
    return repr(value)


def f(name: str, *args: tuple[Any, str], expected: Any, approx: float | None = None, label: str = "") -> Case:
    """A scalar-function case: f("strlen", ("abc", "string"), expected=3)."""
    return Case("scalar", name, list(args), expected, approx=approx, label=label)


def op(left: tuple[Any, str], name: str, right: Any, expected: Any, label: str = "") -> Case:
    """An operator case; ``right`` is a (value, type) pair or ("tuple", [pairs])."""
    return Case("operator", name, [left, right], expected, label=label)


def agg(name: str, *args: Any, columns: dict[str, tuple[str, list[Any]]], expected: Any,
        approx: float | None = None, label: str = "") -> Case:
    return Case("aggregate", name, list(args), expected, columns=columns, approx=approx, label=label)


def tuple_of(*items: tuple[Any, str]) -> tuple[str, list[tuple[Any, str]]]:
    return ("tuple", list(items))


# --------------------------------------------------------------------------------------------
# lowering
# --------------------------------------------------------------------------------------------


def _arg(arg: Any, dialect: str) -> Typed:
    if isinstance(arg, Col):
        column = exp.column(arg.name, table="t")
        return Typed(column, _COLUMN_TYPES[arg.name], arg.name)
    if isinstance(arg, Json):
        return Typed(q.json_text(q.s(arg.text), dialect), "dynamic")
    value, kind = arg
    if value == "tuple" and isinstance(kind, list):
        items = [q.literal(v, k, dialect) for v, k in kind]
        return Typed(exp.Tuple(expressions=[i.expr for i in items]), items[0].kql_type if items else "string")
    if kind == "column":  # a name bound to a one-row derived table (unused today)
        raise AssertionError("unsupported")
    return q.literal(value, kind, dialect)


_COLUMN_TYPES: dict[str, str] = {}


def lower(case: Case, dialect: str) -> Typed:
    ctx = LowerContext(dialect=dialect, now=NOW, line=1, column=1, query="case")
    _COLUMN_TYPES.clear()
    _COLUMN_TYPES.update({name: kind for name, (kind, _values) in case.columns.items()})
    args = [_arg(a, dialect) for a in case.args]
    if case.kind == "scalar":
        return SCALAR_FUNCTIONS[case.name](args, ctx)
    if case.kind == "operator":
        return OPERATORS[case.name](args[0], args[1], ctx)
    return AGGREGATE_FUNCTIONS[case.name](args, ctx)


def _values_table(case: Case, dialect: str) -> exp.Expression:
    names = list(case.columns)
    length = len(next(iter(case.columns.values()))[1]) if names else 0
    rows = []
    for index in range(length):
        rows.append(exp.Tuple(expressions=[
            q.cast(q.literal(case.columns[name][1][index], case.columns[name][0], dialect).expr,
                   q.sql_type(case.columns[name][0], dialect))
            for name in names]))
    return exp.Values(expressions=rows, alias=exp.TableAlias(
        this=exp.to_identifier("t"), columns=[exp.to_identifier(name) for name in names]))


def case_select_expr(case: Case, dialect: str) -> tuple[exp.Expression, str]:
    """The projection computing one case, and its KQL result type."""
    typed = lower(case, dialect)
    return typed.expr, typed.kql_type


# --------------------------------------------------------------------------------------------
# execution
# --------------------------------------------------------------------------------------------


class Engine:
    def __init__(self, dialect: str, spark: Any = None) -> None:
        self.dialect = dialect
        self.spark = spark
        if dialect == "duckdb":
            self.con = duckdb.connect()
            self.con.execute("SET TimeZone = 'UTC'").fetchall()

    def run(self, projections: list[exp.Expression], source: exp.Expression | None = None) -> list[Any]:
        select = exp.select(*[p.as_(f"c{i}") for i, p in enumerate(projections)])
        if source is not None:
            select = select.from_(source)
        sql = select.sql(dialect=self.dialect)
        if self.dialect == "duckdb":
            return list(self.con.execute(sql).fetchall()[0])
        return list(self.spark.sql(sql).collect()[0])


def _batches(cases: list[Case]) -> list[list[Case]]:
    """Scalar cases in chunks; aggregate cases grouped by their data (one SELECT per table)."""
    scalars = [c for c in cases if c.kind != "aggregate"]
    batches = [scalars[i:i + CHUNK] for i in range(0, len(scalars), CHUNK)]
    by_data: dict[str, list[Case]] = {}
    for case in cases:
        if case.kind == "aggregate":
            by_data.setdefault(repr(sorted(case.columns.items())), []).append(case)
    return batches + list(by_data.values())


def evaluate(cases: list[Case], engine: Engine) -> dict[str, Any]:
    """{case id: (value, kql_type) or Exception}, batching cases into few SELECTs."""
    outcomes: dict[str, Any] = {}
    for batch in _batches(cases):
        built: list[tuple[Case, exp.Expression, str]] = []
        for case in batch:
            try:
                expr, kind = case_select_expr(case, engine.dialect)
            except Exception as error:  # noqa: BLE001 - reported per case
                outcomes[case.id] = error
                continue
            built.append((case, expr, kind))
        if not built:
            continue
        source = _values_table(built[0][0], engine.dialect) if built[0][0].kind == "aggregate" else None
        try:
            values = engine.run([expr for _c, expr, _k in built], source)
            for (case, _expr, kind), value in zip(built, values, strict=True):
                outcomes[case.id] = (value, kind)
        except Exception:  # noqa: BLE001 - retry one by one to name the culprit
            for case, expr, kind in built:
                try:
                    outcomes[case.id] = (engine.run([expr], source)[0], kind)
                except Exception as error:  # noqa: BLE001
                    outcomes[case.id] = error
    return outcomes


# --------------------------------------------------------------------------------------------
# comparison
# --------------------------------------------------------------------------------------------


def _as_utc(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def normalise(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "dynamic":
        return json.loads(value) if isinstance(value, str) else value
    if kind == "datetime":
        return _as_utc(value)
    if kind in ("real", "decimal"):
        return float(value)
    if kind == "long" or kind == "int" or kind == "timespan":
        return int(value)
    return value


def expected_value(expected: Any, kind: str) -> Any:
    if kind == "datetime" and isinstance(expected, str):
        return datetime.fromisoformat(expected.replace("Z", "+00:00"))
    if kind == "timespan" and isinstance(expected, timedelta):
        return round(expected.total_seconds() * 1_000_000)
    return expected


def check(case: Case, outcome: Any) -> None:
    if isinstance(case.expected, Raises):
        assert isinstance(outcome, case.expected.error), f"expected {case.expected.error}, got {outcome!r}"
        return
    if isinstance(outcome, Exception):
        raise outcome
    raw, kind = outcome
    actual = normalise(raw, kind)
    expected = expected_value(case.expected, kind)
    if isinstance(expected, Unordered):
        assert isinstance(actual, list), actual
        assert sorted(map(json.dumps, actual)) == sorted(map(json.dumps, expected.items))
        return
    if isinstance(expected, float) and not isinstance(expected, bool):
        assert actual is not None
        tolerance = case.approx if case.approx is not None else 1e-9
        assert math.isclose(actual, expected, rel_tol=tolerance, abs_tol=tolerance), (actual, expected)
        return
    assert actual == expected, f"{actual!r} != {expected!r} (raw {raw!r}, type {kind})"
    assert type(actual) is type(expected) or expected is None or isinstance(expected, (dict, list)), \
        f"type {type(actual).__name__} != {type(expected).__name__}"
