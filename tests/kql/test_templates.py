"""Compiling once per rule: ``now`` as a bind parameter, and tabular lets shared through CTEs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from entrawatch import kql, schema
from entrawatch.analytics.prepared import CachingKqlRunner, prepare
from entrawatch.kql.api import compile_query, conform
from entrawatch.warehouse import DuckDBWarehouse

BASE = datetime(2025, 3, 10, tzinfo=UTC)


@pytest.fixture
def warehouse() -> DuckDBWarehouse:
    wh = DuckDBWarehouse(":memory:")
    table = schema.table("SigninLogs")
    times = [BASE + timedelta(hours=7 * i) for i in range(40)]
    rows = {name: [None] * len(times) for name in table.column_names}
    rows.update({
        "Id": [str(i) for i in range(len(times))],
        "TimeGenerated": times,
        "UserPrincipalName": [f"user{i % 3}@contoso.com" for i in range(len(times))],
        "IPAddress": [f"10.0.0.{i % 5}" for i in range(len(times))],
        "ResultType": ["0" if i % 4 else "50126" for i in range(len(times))],
    })
    wh.append("SigninLogs", [pa.RecordBatch.from_pydict(rows, schema=table.arrow_schema())])
    yield wh
    wh.close()


QUERIES = [
    "SigninLogs | where TimeGenerated > ago(2d) | extend Age = now() - TimeGenerated | project Id, Age",
    "let span = 3d; SigninLogs | where TimeGenerated between (ago(span) .. now()) | summarize count() by UserPrincipalName",
    "SigninLogs | where TimeGenerated > now(-1d) | extend B = bin(now(), 1h), A = ago(1h * 2) | project Id, B, A",
    # a let read twice (a CTE) whose body depends on now
    "let recent = SigninLogs | where TimeGenerated > ago(2d) | project UserPrincipalName, IPAddress;\n"
    "let old = SigninLogs | where TimeGenerated <= ago(2d) and TimeGenerated > ago(8d) | distinct UserPrincipalName, IPAddress;\n"
    "recent | join kind=leftanti old on UserPrincipalName, IPAddress\n"
    "| union (old | where UserPrincipalName == toscalar(recent | summarize max(UserPrincipalName)))\n"
    "| summarize n = count() by UserPrincipalName, IPAddress",
    "SigninLogs | make-series n = count() default = 0 on TimeGenerated from ago(4d) to now() step 1d by UserPrincipalName",
]


def _rows(table: pa.Table) -> list[dict[str, object]]:
    return sorted(table.to_pylist(), key=repr)


@pytest.mark.parametrize("query", QUERIES)
def test_template_bound_per_window_matches_literal_compilation(warehouse: DuckDBWarehouse, query: str) -> None:
    """Both template forms (``$1`` parameter, session variable + PREPARE) give kql.run's answer."""
    param = compile_query(query, warehouse, now_param=True)
    prepared = prepare(query, warehouse)
    assert prepared is not None and prepared.variable is not None and prepared.now_params == 0
    for sql in (param.sql, prepared.sql):
        assert "2025" not in sql and "2026" not in sql  # no instant baked into the SQL
    runner = CachingKqlRunner()
    for days in (3, 6, 9, 12):
        now = BASE + timedelta(days=days, hours=5)
        expected = kql.run(query, warehouse, now=now)
        by_param = conform(warehouse.query(param.sql, [now.isoformat(sep=" ")] * param.now_params),
                           param.columns)
        by_statement = runner(query, warehouse, now)
        for got in (by_param, by_statement):
            assert got.schema == expected.schema
            assert _rows(got) == _rows(expected)
    runner.close()
    assert warehouse.query("SELECT count(*) AS n FROM duckdb_prepared_statements()").column("n").to_pylist() == [0]


def test_prepared_statements_and_now_are_per_cursor(warehouse: DuckDBWarehouse) -> None:
    """Two threads' cursors each keep their own ``now``: interleaved windows do not mix."""
    query = QUERIES[1]
    runner = CachingKqlRunner()
    first, second = warehouse.connection.cursor(), warehouse.connection.cursor()

    class Handle:
        dialect = "duckdb"

        def __init__(self, cursor: object) -> None:
            self.cursor = cursor

        def query(self, sql: str, params: list[object] | None = None) -> pa.Table:
            relation = self.cursor.sql(sql, params=params)
            return relation.to_arrow_table() if relation is not None else pa.table({})

        def catalog(self) -> dict[str, dict[str, str]]:
            return warehouse.catalog()

    a, b = Handle(first), Handle(second)
    early, late = BASE + timedelta(days=2), BASE + timedelta(days=11)
    runner(query, a, early)
    runner(query, b, late)
    assert _rows(runner(query, a, early)) == _rows(kql.run(query, warehouse, now=early))
    assert _rows(runner(query, b, late)) == _rows(kql.run(query, warehouse, now=late))
    runner.close()


def test_template_parameters_per_dialect(warehouse: DuckDBWarehouse) -> None:
    compiled = compile_query("print a = now(), b = ago(1d), c = now()", warehouse, now_param=True)
    assert compiled.now_params == 1 and compiled.sql.count("$1") == 3
    spark = compile_query("print a = now(), b = ago(1d), c = now()", warehouse, "spark", now_param=True)
    assert spark.now_params == 3 == spark.sql.count("?")
    assert compile_query("print a = now()", warehouse).now_params == 0


def test_lets_built_on_each_other_compile_linearly(warehouse: DuckDBWarehouse) -> None:
    """Each let reads the previous one twice: inlined copies would double per level (2^12 scans)."""
    levels = 12
    lets = ["let t0 = SigninLogs | where ResultType == '0' | project Id;"]
    lets += [f"let t{i} = union t{i - 1}, (t{i - 1} | where Id != '');" for i in range(1, levels + 1)]
    query = "\n".join(lets) + f"\nt{levels} | count"
    compiled = compile_query(query, warehouse)
    assert len(compiled.sql) < 4000 + 600 * levels  # the scan once, then a few hundred chars per let
    successes = sum(1 for r in range(40) if r % 4)
    assert kql.run(query, warehouse).column("Count").to_pylist() == [successes * 2 ** levels]


def test_function_local_lets_are_expanded_per_call(warehouse: DuckDBWarehouse) -> None:
    query = ("let f = (u:string) { let mine = SigninLogs | where UserPrincipalName == u; mine | count };\n"
             "union (f('user0@contoso.com') | extend U = 0), (f('user1@contoso.com') | extend U = 1) | order by U asc")
    assert kql.run(query, warehouse).column("Count").to_pylist() == [14, 13]
