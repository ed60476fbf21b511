"""Compile a rule's KQL once and bind ``now()`` per window as a query parameter.

A rule is evaluated over many windows that differ only in ``now``. ``kql.compile_query(...,
now_param=True)`` renders every ``now()``/``ago()`` as a ``?`` bind parameter (typed by a CAST)
instead of a timestamp literal, and says how many there are; each window then runs the same SQL
with the window end bound as a value (never spliced into SQL text). DuckDB binds parameters
before optimising, so ``TimeGenerated > ago(1d)`` is still folded to a constant and pushed into
the table scan; Spark binds ``?`` through ``spark.sql(args=...)``. A query that cannot be compiled
as a template (``evaluate bag_unpack()`` needs a probe query over the data, which cannot bind
``now``) is compiled per window instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from entrawatch.errors import KqlError


def _literal_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") + "+00:00"


@dataclass(frozen=True)
class PreparedQuery:
    """SQL with one ``?`` per ``now`` occurrence, and the KQL result columns."""

    sql: str
    columns: dict[str, str]
    now_params: int


def prepare(query: str, warehouse: Any) -> PreparedQuery | None:
    """Compile ``query`` for ``warehouse`` as a now-parameterised template (None if not possible)."""
    from entrawatch.kql.api import compile_query

    dialect = getattr(warehouse, "dialect", "duckdb")
    try:
        compiled = compile_query(query, warehouse, dialect, now_param=True)
    except KqlError:
        return None  # e.g. bag_unpack without fixed columns; per-window compilation reports real errors
    return PreparedQuery(compiled.sql, dict(compiled.columns), compiled.now_params)


def run_prepared(prepared: PreparedQuery, warehouse: Any, now: datetime) -> pa.Table:
    """Run a template with ``now`` bound; columns named and typed as ``kql.run`` returns them."""
    from entrawatch.kql.api import conform

    params = [_literal_text(now)] * prepared.now_params
    return conform(warehouse.query(prepared.sql, params or None), prepared.columns)


class CachingKqlRunner:
    """A query runner (``QueryRunner``) that compiles each distinct query once.

    One instance serves one detection run or one rule's tests, where the catalog does not change.
    """

    def __init__(self) -> None:
        self._cache: dict[str, PreparedQuery | None] = {}

    def __call__(self, query: str, warehouse: Any, now: datetime) -> pa.Table:
        if query not in self._cache:
            self._cache[query] = prepare(query, warehouse)
        prepared = self._cache[query]
        if prepared is None:
            from entrawatch import kql

            return kql.run(query, warehouse, now=now)
        return run_prepared(prepared, warehouse, now)
