"""The unused-column pass (kql/prune.py): narrower SQL, never different rows.

Each hand-written case runs on DuckDB before and after pruning and must return the same rows;
the checks on the pruned text show that the pass did remove (or rightly kept) a projection.
The KQL cases (tests/kql/cases) run every compiled query through the pass on both engines.
"""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from entrawatch.kql import compile_query
from entrawatch.kql.prune import prune_unused_columns

SETUP = """
CREATE TABLE t AS SELECT * FROM (VALUES (1, 'a', [1, 2], 10), (2, 'a', [3], 20), (3, 'b', [], 30), (4, 'b', [4, 5, 6], 40))
    AS v(a, b, l, c);
CREATE TABLE u AS SELECT * FROM (VALUES (1, 'x'), (3, 'y')) AS v(k, name);
"""


def _projections(sql: str, alias_name: str) -> list[str]:
    """Output names of the derived table (or CTE) called ``alias_name`` in ``sql``."""
    tree = sqlglot.parse_one(sql, read="duckdb")
    for node in tree.find_all(exp.Subquery, exp.CTE):
        if node.alias_or_name == alias_name:
            body = node.this
            while isinstance(body, exp.Union):
                body = body.this
            return [p.alias_or_name for p in body.expressions]
    raise AssertionError(f"no {alias_name} in {sql}")


def _prune(sql: str) -> str:
    return prune_unused_columns(sqlglot.parse_one(sql, read="duckdb")).sql("duckdb")


CASES = [
    # (sql, derived table to inspect, its outputs after pruning)
    ("SELECT s.a FROM (SELECT a, b, c + 1 AS d FROM t) AS s", "s", ["a"]),
    ("SELECT x FROM (SELECT a AS x, b FROM t) AS s WHERE x > 1 ORDER BY x", "s", ["x"]),
    ("SELECT * FROM (SELECT a, b, c FROM t) AS s", "s", ["a", "b", "c"]),
    ("SELECT n FROM (SELECT * FROM (SELECT a, b, c AS n FROM t) AS i WHERE b = 'a') AS s", "i", ["b", "n"]),
    # DISTINCT: dropping b would merge rows
    ("SELECT b FROM (SELECT DISTINCT a % 2 AS a, b FROM t) AS s", "s", ["a", "b"]),
    # a set-returning function changes the row count
    ("SELECT a FROM (SELECT a, unnest(l) AS e FROM t) AS s", "s", ["a", "e"]),
    # an aggregate without GROUP BY is one row; a constant alone would be one row per input row
    ("SELECT k FROM (SELECT 1 AS k, count(*) AS n FROM t) AS s", "s", ["k", "n"]),
    ("SELECT n FROM (SELECT 1 AS k, count(*) AS n FROM t) AS s", "s", ["n"]),
    # GROUP BY keeps the rows whatever the projections
    ("SELECT b FROM (SELECT b, sum(c) AS total FROM t GROUP BY b) AS s", "s", ["b"]),
    # ordinals would shift
    ("SELECT b FROM (SELECT a, b FROM t GROUP BY 1, 2) AS s", "s", ["a", "b"]),
    # ORDER BY of the derived table itself reads its alias
    ("SELECT a FROM (SELECT a, c * -1 AS r FROM t ORDER BY r LIMIT 2) AS s", "s", ["a", "r"]),
    # UNION ALL legs by position
    ("SELECT a FROM (SELECT a, b FROM t UNION ALL SELECT k, name FROM u) AS s", "s", ["a"]),
    # UNION (distinct) keeps every column
    ("SELECT a FROM (SELECT a, b FROM t UNION SELECT k, name FROM u) AS s", "s", ["a", "b"]),
    # joins: qualified references reach their own side
    ("SELECT l.a, r.name FROM (SELECT a, b, c FROM t) AS l JOIN (SELECT k, name, 1 AS z FROM u) AS r ON l.a = r.k",
     "r", ["k", "name"]),
    ("SELECT l.a FROM (SELECT a, b, c FROM t) AS l JOIN (SELECT k, name FROM u) AS r USING (a)"
     .replace("USING (a)", "ON l.a = r.k"), "l", ["a"]),
    # a correlated sub-query reads the outer source's column
    ("SELECT s.a FROM (SELECT a, b, c FROM t) AS s WHERE EXISTS (SELECT 1 FROM u WHERE u.k = s.c / 10)", "s",
     ["a", "c"]),
    # a CTE keeps what all of its readers need
    ("WITH w AS (SELECT a, b, c FROM t) SELECT x.a, y.b FROM w AS x JOIN w AS y ON x.a = y.a", "w", ["a", "b"]),
    ("WITH w AS (SELECT a, b, c FROM t) SELECT a FROM w", "w", ["a"]),
]


@pytest.mark.parametrize(("sql", "derived", "expected"), CASES)
def test_prune_keeps_rows_and_drops_only_unread_columns(sql: str, derived: str, expected: list[str]) -> None:
    con = duckdb.connect()
    con.execute(SETUP).fetchall()
    pruned = _prune(sql)
    assert _projections(pruned, derived) == expected
    assert sorted(con.execute(pruned).fetchall()) == sorted(con.execute(sql).fetchall())


SCHEMA = {"SigninLogs": {"TimeGenerated": "datetime", "UserPrincipalName": "string", "IPAddress": "string",
                         "ResultType": "string", "UserAgent": "string", "LocationDetails": "dynamic"}}
NOW = datetime(2025, 3, 10, tzinfo=UTC)


@pytest.mark.parametrize("dialect", ["duckdb", "spark"])
def test_compiled_scan_reads_only_the_columns_the_query_uses(dialect: str) -> None:
    sql = compile_query("SigninLogs | where ResultType == '50126' | summarize n = dcount(UserPrincipalName) "
                        "by IPAddress, bin(TimeGenerated, 1h)", SCHEMA, dialect, NOW).sql
    assert "UserAgent" not in sql and "LocationDetails" not in sql
    assert "UserPrincipalName" in sql and "IPAddress" in sql


def test_union_legs_are_pruned_alike() -> None:
    schema = {**SCHEMA, "Other": dict(SCHEMA["SigninLogs"])}
    sql = compile_query("union SigninLogs, Other | summarize count() by IPAddress", schema, "duckdb", NOW).sql
    assert "UserAgent" not in sql
    assert sql.count('"IPAddress"') >= 4  # both legs still project it


def test_star_union_legs_keep_their_sources() -> None:
    con = duckdb.connect()
    con.execute(SETUP).fetchall()
    sql = ("SELECT a FROM (SELECT * FROM (SELECT a, b FROM t) AS x UNION ALL SELECT * FROM (SELECT k, name FROM u) AS y)"
           " AS s")
    pruned = _prune(sql)
    assert _projections(pruned, "x") == ["a", "b"]
    assert sorted(con.execute(pruned).fetchall()) == sorted(con.execute(sql).fetchall())


def test_a_datatable_of_thousands_of_rows_compiles_and_keeps_every_row():
    # A datatable lowers to a UNION ALL chain as deep as it has rows: beyond the recursion limit.
    rows = ", ".join(f"{i}, 'a{i}'" for i in range(3000))
    compiled = compile_query(f"datatable(x:long, s:string)[{rows}] | summarize n = count(), total = sum(x)", {})
    assert duckdb.sql(compiled.sql).fetchall() == [(3000, sum(range(3000)))]
