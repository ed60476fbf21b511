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
"""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
from sqlglot import exp

from entrawatch.errors import KqlError, WarehouseError

NOW_VARIABLE = "entrawatch_kql_now"
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
