"""Compile a rule's KQL once and bind ``now()`` per window as a query parameter.

A rule is evaluated over many windows that differ only in ``now``. The KQL compiler renders
``now()``/``ago()`` as a timestamp literal of the bound ``now``; compiling once with an improbable
sentinel instant and turning each occurrence of that literal into a ``?`` parameter gives a
template that runs every window with the real window end bound as a value (never spliced into
SQL text). If the sentinel shows up in any other form (some construct folded ``now`` into another
constant), the template is refused and every window is compiled on its own: correctness first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

_SENTINEL = datetime(2999, 12, 31, 23, 59, 58, 987654, tzinfo=UTC)
_SENTINEL_TEXT = "2999-12-31 23:59:58.987654+00:00"


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
    if dialect != "duckdb":  # only DuckDB binds ``?`` parameters; other engines compile per window
        return None
    compiled = compile_query(query, warehouse, dialect, _SENTINEL)
    quoted = f"'{_SENTINEL_TEXT}'"
    # The compiled SQL has no parameters of its own; a "?" can only sit inside a string literal
    # (a regex), where DuckDB does not read it as a placeholder.
    count = compiled.sql.count(quoted)
    template = compiled.sql.replace(quoted, "?")
    if "2999" in template:
        return None
    return PreparedQuery(template, dict(compiled.columns), count)


def run_prepared(prepared: PreparedQuery, warehouse: Any, now: datetime) -> pa.Table:
    """Run a template with ``now`` bound; columns named and typed as ``kql.run`` returns them."""
    from entrawatch.kql.api import conform

    params = [_literal_text(now)] * prepared.now_params
    return conform(warehouse.query(prepared.sql, params), prepared.columns)


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
