"""Throughput of the most-used KQL function builders on DuckDB (rows per second).

Builds N synthetic sign-in-like rows in an in-memory DuckDB (UPN, user agent, IP, timestamp,
result code) and times one aggregate query per builder, so the figure is the cost of the
expression over the column, not of Python. Usage: python benchmarks/kql_functions.py [rows]
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta

import duckdb
from sqlglot import exp

import entrawatch.kql.functions  # noqa: F401
from entrawatch.kql.functions import _sql as q
from entrawatch.kql.lowering_api import AGGREGATE_FUNCTIONS, OPERATORS, SCALAR_FUNCTIONS, LowerContext, Typed

NOW = datetime(2025, 3, 10, tzinfo=UTC)


def col(name: str, kind: str) -> Typed:
    return Typed(exp.column(name), kind, name)


def main(rows: int) -> None:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'").fetchall()
    con.execute(f"""
        CREATE TABLE t AS SELECT
          'user' || (i % 5000) || '@contoso.com' AS upn,
          CASE WHEN i % 7 = 0 THEN 'Mozilla/5.0 (Windows NT 10.0) BAV2ROPC' ELSE 'Mozilla/5.0 (Macintosh)' END AS ua,
          '10.' || (i % 250) || '.' || (i % 199) || '.' || (i % 97) AS ip,
          TIMESTAMPTZ '2025-03-01 00:00:00+00' + to_microseconds(i * 997 * 1000) AS ts,
          CASE WHEN i % 3 = 0 THEN '50126' ELSE '0' END AS rc
        FROM range({rows}) r(i)""").fetchall()
    ctx = LowerContext("duckdb", NOW)
    upn, ua, ip, ts, rc = (col("upn", "string"), col("ua", "string"), col("ip", "string"),
                           col("ts", "datetime"), col("rc", "string"))
    s = lambda v: Typed(q.s(v), "string")  # noqa: E731
    cases = {
        "has": OPERATORS["has"](ua, s("bav2ropc"), ctx),
        "contains": OPERATORS["contains"](ua, s("bav2ropc"), ctx),
        "=~": OPERATORS["=~"](upn, s("USER42@CONTOSO.COM"), ctx),
        "in~": OPERATORS["in~"](rc, Typed(exp.Tuple(expressions=[q.n(50126), q.n(50053)]), "long"), ctx),
        "has_any": OPERATORS["has_any"](ua, Typed(exp.Tuple(expressions=[q.s("bav2ropc"), q.s("imap")]), "string"),
                                        ctx),
        "startswith": OPERATORS["startswith"](upn, s("USER1"), ctx),
        "bin(ts, 1h)": SCALAR_FUNCTIONS["bin"]([ts, Typed(q.n(3_600_000_000), "timespan")], ctx),
        "datetime_diff(day)": SCALAR_FUNCTIONS["datetime_diff"]([s("day"), ts, Typed(q.datetime_literal(NOW, "duckdb"),
                                                                                       "datetime")], ctx),
        "tostring(ts)": SCALAR_FUNCTIONS["tostring"]([ts], ctx),
        "ipv4_is_private": SCALAR_FUNCTIONS["ipv4_is_private"]([ip], ctx),
        "toint(rc)": SCALAR_FUNCTIONS["toint"]([rc], ctx),
    }
    aggregates = {
        "dcount(upn)": AGGREGATE_FUNCTIONS["dcount"]([upn], ctx),
        "make_set(ip, 100)": AGGREGATE_FUNCTIONS["make_set"]([ip, Typed(q.n(100), "long")], ctx),
    }
    print(f"rows: {rows:,}")
    for name, typed in cases.items():
        probe = exp.select(exp.Count(this=exp.Star())).from_("t").where(typed.expr) if typed.kql_type == "bool" \
            else exp.select(exp.Max(this=typed.expr)).from_("t")
        _time(con, name, probe.sql("duckdb"), rows)
    for name, typed in aggregates.items():
        _time(con, name, exp.select(typed.expr).from_("t").sql("duckdb"), rows)


def _time(con: duckdb.DuckDBPyConnection, name: str, sql: str, rows: int) -> None:
    best = timedelta.max
    for _ in range(3):
        start = time.perf_counter()
        con.execute(sql).fetchall()
        best = min(best, timedelta(seconds=time.perf_counter() - start))
    seconds = best.total_seconds()
    print(f"{name:22s} {seconds * 1000:8.1f} ms  {rows / seconds / 1e6:8.1f} M rows/s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2_000_000)
