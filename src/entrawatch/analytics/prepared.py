"""Compile a rule's KQL once, plan it once per connection, and bind ``now()`` per window.

A rule is evaluated over many windows that differ only in ``now``. Compiling KQL costs tens of
milliseconds to seconds and DuckDB's binder/optimiser about as much as running the query on a
day of data, so neither is repeated per window:

- DuckDB: the rule is compiled with ``now_variable`` (``now`` = ``getvariable('entrawatch_kql_now')``),
  ``PREPARE``d once on each connection that runs it, and each window does ``SET VARIABLE`` (the
  window end bound as a parameter, never spliced into SQL) then ``EXECUTE``. Session variables and
  prepared statements belong to one connection (cursor), so threads with their own cursors do
  not see each other's ``now``.
- Spark (and any warehouse without a DuckDB connection): compiled with ``now_param`` (one ``?`` per
  use of ``now``) and run with the window end bound to each.

A query that cannot be compiled as a template (``evaluate bag_unpack()`` needs a probe query over
the data) is compiled per window with ``kql.run``, which also reports real compile errors.

Backfill (:meth:`CachingKqlRunner.run_windows`, DuckDB): DuckDB plans a statement again at every
``EXECUTE`` once ``now`` changed, and for the built-in rules planning costs more than running on a
day of data, so evaluating windows one by one spends most of its time planning. Instead, the
template's ``getvariable(now)`` is replaced by a column of a list of window ends and the query is
run as ``LATERAL`` sub-query over that list: one statement, planned once, whose result carries the
window end of every row. DuckDB decorrelates the lateral join itself (the window end becomes a key
of every aggregate, join and window function), so each window sees exactly the rows and groups it
would have seen alone. What DuckDB cannot decorrelate fails the statement, and the runner falls
back to one statement per window.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import pyarrow as pa
from sqlglot import exp

from entrawatch.errors import KqlError, WarehouseError

NOW_VARIABLE = "entrawatch_kql_now"
#: Column of a batch result holding the window end of the row (last column, after the KQL columns).
WINDOW_END_COLUMN = "__entrawatch_window_end"
_STATEMENT_NUMBERS = itertools.count(1)  # statement names unique in the process, so runners never collide


def _literal_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") + "+00:00"


def _uses_variable(warehouse: Any) -> bool:
    return getattr(warehouse, "dialect", "duckdb") == "duckdb"


@dataclass(frozen=True)
class PreparedQuery:
    """Compiled SQL, the KQL result columns, and how ``now`` reaches the SQL.

    ``now_params`` positional parameters are each bound to ``now``; with ``variable`` set the SQL
    has none and reads the DuckDB session variable of that name instead.
    """

    sql: str
    columns: dict[str, str]
    now_params: int
    variable: str | None = None


def prepare(query: str, warehouse: Any) -> PreparedQuery | None:
    """Compile ``query`` for ``warehouse`` as a now-independent template (None if not possible)."""
    from entrawatch.kql.api import compile_query

    dialect = getattr(warehouse, "dialect", "duckdb")
    variable = NOW_VARIABLE if _uses_variable(warehouse) else None
    try:
        compiled = compile_query(query, warehouse, dialect, now_param=variable is None, now_variable=variable)
    except KqlError:
        return None  # e.g. bag_unpack without fixed columns; per-window compilation reports real errors
    return PreparedQuery(compiled.sql, dict(compiled.columns), compiled.now_params, variable)


#: KQL aggregates and operators whose result may depend on the order rows reach them (ties in
#: ``arg_max``, which row ``take_any`` of several columns keeps, which rows ``take`` keeps). Such a
#: query is only determined up to that choice, and a batch may choose differently from a window run
#: alone. ``take_any(x)`` of one column is not: it is the group's smallest value (kql/functions).
_ORDER_DEPENDENT_CALLS = frozenset({
    "take_any", "any", "takeany", "arg_max", "arg_min", "argmax", "argmin", "make_list", "make_list_if",
    "makelist", "make_list_with_nulls", "row_number", "prev", "next", "row_cumsum", "row_window_session",
    "row_rank_dense", "row_rank_min",
})
_ORDER_DEPENDENT_OPERATORS = frozenset({
    "take", "limit", "top", "sample", "sample-distinct", "top-nested", "top-hitters", "serialize", "scan",
})


def order_dependent(query: str) -> bool:
    """Whether ``query`` uses an order-dependent aggregate or operator (True if it does not parse)."""
    from entrawatch.kql import ast

    nodes = _syntax_nodes(query)
    if nodes is None:
        return True
    return any((isinstance(item, ast.Call) and item.name.lower() in _ORDER_DEPENDENT_CALLS
                and not _single_value_take_any(item))
               or (isinstance(item, ast.Operator) and item.name.lower() in _ORDER_DEPENDENT_OPERATORS)
               for item in nodes)


def _single_value_take_any(call: Any) -> bool:
    """``take_any(x)``: lowered to the smallest value, the same whatever the order of the rows.
    With several columns or ``*`` it keeps a row, which is arbitrary when all of them are dynamic."""
    from entrawatch.kql import ast

    return (call.name.lower() in ("take_any", "any", "takeany") and len(call.args) == 1
            and not isinstance(call.args[0], ast.Star))


#: Operators that give a result its row order (the rule's author chose which rows come first).
_SORTING_OPERATORS = frozenset({"sort", "order", "top", "top-nested"})


@lru_cache(maxsize=512)
def sorts_rows(query: str) -> bool:
    """Whether ``query`` orders its result (``sort``/``order by``/``top``); True if it does not parse."""
    from entrawatch.kql import ast

    nodes = _syntax_nodes(query)
    return nodes is None or any(isinstance(item, ast.Operator) and item.name.lower() in _SORTING_OPERATORS
                                for item in nodes)


def _syntax_nodes(query: str) -> list[Any] | None:
    """Every node of ``query``'s syntax tree (None when it does not parse)."""
    from dataclasses import fields, is_dataclass

    from entrawatch.kql.api import parse

    try:
        tree = parse(query)
    except KqlError:
        return None
    nodes: list[Any] = []
    stack: list[Any] = [tree]
    while stack:
        item = stack.pop()
        nodes.append(item)
        if is_dataclass(item):
            stack.extend(getattr(item, f.name) for f in fields(item))
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
    return nodes


def _is_now_variable(node: exp.Expression) -> bool:
    if not isinstance(node, exp.Anonymous) or node.name.lower() != "getvariable" or len(node.expressions) != 1:
        return False
    argument = node.expressions[0]
    return isinstance(argument, exp.Literal) and argument.is_string and argument.this == NOW_VARIABLE


def batch_sql(prepared: PreparedQuery) -> str | None:
    """The template as one statement over many windows (None if ``now`` is not a session variable).

    The statement takes one parameter, the list of window ends (text, cast to TIMESTAMPTZ[]), and
    returns the KQL columns followed by :data:`WINDOW_END_COLUMN`.
    """
    import sqlglot

    if prepared.variable != NOW_VARIABLE:
        return None
    window = exp.column("now", table="__entrawatch_w", quoted=True)
    replaced = 0

    def swap(node: exp.Expression) -> exp.Expression:
        nonlocal replaced
        if _is_now_variable(node):
            replaced += 1
            return window.copy()
        return node

    try:
        tree = sqlglot.parse_one(prepared.sql, read="duckdb").transform(swap)
    except sqlglot.errors.SqlglotError:
        return None
    inner = tree.sql(dialect="duckdb")
    if not replaced or NOW_VARIABLE in inner:
        return None  # now() unused (nothing to batch on) or reached in a form we did not rewrite
    end = exp.to_identifier(WINDOW_END_COLUMN, quoted=True).sql("duckdb")
    # Only fixed identifiers and the compiler's SQL are put together here; the window ends are a parameter.
    return (f'SELECT "__entrawatch_q".*, "__entrawatch_w"."now" AS {end} '
            f'FROM unnest(CAST(? AS TIMESTAMPTZ[])) AS "__entrawatch_w"("now"), '
            f'LATERAL ({inner}) AS "__entrawatch_q"')


def split_windows(table: pa.Table, ends: Sequence[datetime], columns: dict[str, str]) -> dict[datetime, pa.Table]:
    """One conformed result table per window end (empty tables for windows without rows)."""
    import pyarrow.compute as pc

    from entrawatch.kql.api import conform

    results = conform(table, columns)
    if table.num_rows == 0:
        return {end: results for end in ends}
    marks = table.column(WINDOW_END_COLUMN)
    out = {}
    for end in ends:
        mask = pc.equal(marks, pa.scalar(end.astimezone(UTC), type=marks.type))
        out[end] = results.filter(mask)
    return out


def _set_now(warehouse: Any, variable: str, now: datetime) -> None:
    name = exp.to_identifier(variable).sql("duckdb")
    warehouse.query(f"SET VARIABLE {name} = CAST(? AS TIMESTAMPTZ)", [_literal_text(now)])


def run_prepared(prepared: PreparedQuery, warehouse: Any, now: datetime) -> pa.Table:
    """Run a template with ``now`` bound; columns named and typed as ``kql.run`` returns them."""
    from entrawatch.kql.api import conform

    if prepared.variable is not None:
        _set_now(warehouse, prepared.variable, now)
        return conform(warehouse.query(prepared.sql), prepared.columns)
    params = [_literal_text(now)] * prepared.now_params
    return conform(warehouse.query(prepared.sql, params or None), prepared.columns)


class CachingKqlRunner:
    """A query runner (``QueryRunner``) that compiles each distinct query once and, on DuckDB,
    prepares it once per connection.

    One instance serves one detection run or one rule's tests, where the catalog does not change.
    Call :meth:`close` at the end to drop the prepared statements of connections still open.
    """

    def __init__(self) -> None:
        self._cache: dict[str, PreparedQuery | None] = {}
        #: (id of the warehouse handle, query) -> (handle, statement name). The handle is kept so
        #: that its id is not reused while the entry exists.
        self._statements: dict[tuple[int, str], tuple[Any, str]] = {}
        #: query -> batch statement (None: not batchable, or a batch failed once).
        self._batches: dict[str, str | None] = {}

    def __call__(self, query: str, warehouse: Any, now: datetime) -> pa.Table:
        from entrawatch.kql.api import conform

        prepared = self.template(query, warehouse)
        if prepared is None:
            from entrawatch import kql

            return kql.run(query, warehouse, now=now)
        if prepared.variable is None:
            return run_prepared(prepared, warehouse, now)
        name = self._statement(prepared, query, warehouse)
        _set_now(warehouse, prepared.variable, now)
        return conform(warehouse.query(f"EXECUTE {name}"), prepared.columns)

    def run_windows(self, query: str, warehouse: Any, ends: Sequence[datetime]) -> dict[datetime, pa.Table] | None:
        """Results of many windows in one statement (see the module notes), or None when the query
        cannot be batched on this warehouse; then run each window with ``__call__``.

        A batch that fails (a sub-query DuckDB cannot decorrelate, memory) is not retried for the
        query: the caller's per-window run reports real errors at the window where they occur.
        """
        if not ends or not _uses_variable(warehouse):
            return None
        prepared = self.template(query, warehouse)
        if prepared is None or prepared.variable is None:
            return None
        if query not in self._batches:
            self._batches[query] = batch_sql(prepared)
        sql = self._batches[query]
        if sql is None:
            return None
        try:
            table = warehouse.query(sql, [[_literal_text(end) for end in ends]])
        except WarehouseError:
            self._batches[query] = None
            return None
        return split_windows(table, ends, prepared.columns)

    def template(self, query: str, warehouse: Any) -> PreparedQuery | None:
        """The compiled template of ``query`` (compiled on first use; None: compile per window)."""
        if query not in self._cache:
            self._cache[query] = prepare(query, warehouse)
        return self._cache[query]

    def _statement(self, prepared: PreparedQuery, query: str, warehouse: Any) -> str:
        key = (id(warehouse), query)
        entry = self._statements.get(key)
        if entry is None:
            name = exp.to_identifier(f"entrawatch_rule_{next(_STATEMENT_NUMBERS)}").sql("duckdb")
            warehouse.query(f"PREPARE {name} AS {prepared.sql}")
            entry = self._statements[key] = (warehouse, name)
        return entry[1]

    def close(self) -> None:
        """Deallocate prepared statements (those of connections already closed are gone anyway)."""
        statements, self._statements = self._statements, {}
        for handle, name in statements.values():
            with contextlib.suppress(WarehouseError):
                handle.query(f"DEALLOCATE {name}")
