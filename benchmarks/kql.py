"""KQL engine benchmark: compile time over the case corpus, and compiled vs hand-written SQL.

    .venv/bin/python benchmarks/kql.py [--rows 1000000] [--repeat 5]

1. Median compile time per query (parse + bind + lower + print) over tests/kql/cases, for each
   dialect. Goal: < 20 ms.
2. Five rule-like queries over a SigninLogs-like table of ``--rows`` rows in DuckDB (the real
   canonical schema, generated inside DuckDB from a fixed formula, so the data is identical on
   every run): median run time of the compiled SQL against hand-written DuckDB SQL returning the
   same rows, measured in the same run. Goal: ratio <= 1.2.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "kql"))

from entrawatch.kql import compile_query  # noqa: E402
from entrawatch.warehouse import DuckDBWarehouse  # noqa: E402

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
NOW_SQL = "TIMESTAMPTZ '2025-03-10 12:00:00+00'"

GENERATE = f"""
INSERT INTO "SigninLogs" ("TimeGenerated", "UserPrincipalName", "IPAddress", "ResultType", "AppDisplayName",
                          "LocationDetails", "SessionId", "Id", "Type")
SELECT {NOW_SQL} - to_seconds(CAST((i * 7919) % (7 * 86400) AS BIGINT)),
       'user' || CAST(i % 5000 AS VARCHAR) || '@contoso.com',
       '10.0.' || CAST((i // 3) % 50 AS VARCHAR) || '.1',
       CASE WHEN i % 20 = 0 THEN '50126' WHEN i % 53 = 1 THEN '50074' ELSE '0' END,
       ['Office 365', 'Azure Portal', 'Teams', 'Exchange', 'SharePoint'][1 + i % 5],
       CAST(json_object('countryOrRegion', ['US', 'DE', 'NL', 'FR', 'GB', 'RU', 'BR'][1 + i % 7],
                        'city', 'c' || CAST(i % 40 AS VARCHAR)) AS JSON),
       's' || CAST(i % 200000 AS VARCHAR), 'id' || CAST(i AS VARCHAR), 'SigninLogs'
FROM range(?) t(i)
"""

CASES = [
    ("password spray",
     "SigninLogs | where TimeGenerated > ago(1d) | where ResultType == '50126' "
     "| summarize FailedUsers = dcount(UserPrincipalName), Attempts = count() by IPAddress, bin(TimeGenerated, 1h) "
     "| where FailedUsers > 2",
     f"""SELECT "IPAddress", time_bucket(INTERVAL 1 HOUR, "TimeGenerated") AS "TimeGenerated",
               count(DISTINCT "UserPrincipalName") AS "FailedUsers", count(*) AS "Attempts"
        FROM "SigninLogs" WHERE "TimeGenerated" > {NOW_SQL} - INTERVAL 1 DAY AND "ResultType" = '50126'
        GROUP BY 1, 2 HAVING count(DISTINCT "UserPrincipalName") > 2"""),
    ("countries per user",
     "SigninLogs | where ResultType == '0' | extend Country = tostring(LocationDetails.countryOrRegion) "
     "| summarize Countries = dcount(Country) by UserPrincipalName | where Countries > 3",
     """SELECT "UserPrincipalName", count(DISTINCT "LocationDetails"->>'$.countryOrRegion') AS "Countries"
        FROM "SigninLogs" WHERE "ResultType" = '0' GROUP BY 1
        HAVING count(DISTINCT "LocationDetails"->>'$.countryOrRegion') > 3"""),
    ("last sign-in per user (arg_max)",
     "SigninLogs | summarize arg_max(TimeGenerated, IPAddress, AppDisplayName) by UserPrincipalName",
     """SELECT "UserPrincipalName", max("TimeGenerated") AS "TimeGenerated",
               arg_max({'ip': "IPAddress", 'app': "AppDisplayName"}, "TimeGenerated") AS s
        FROM "SigninLogs" GROUP BY 1"""),
    ("top failing user/IP pairs",
     "SigninLogs | where ResultType != '0' | summarize Failures = count() by UserPrincipalName, IPAddress "
     "| top 10 by Failures",
     """SELECT "UserPrincipalName", "IPAddress", count(*) AS "Failures" FROM "SigninLogs"
        WHERE "ResultType" <> '0' GROUP BY 1, 2 ORDER BY "Failures" DESC LIMIT 10"""),
    ("failures joined with successes per IP",
     "SigninLogs | where ResultType == '50126' | summarize Fails = count() by IPAddress "
     "| join kind=inner (SigninLogs | where ResultType == '0' | summarize Successes = count() by IPAddress) "
     "on IPAddress | where Fails > 5",
     """SELECT f."IPAddress", f."Fails", s."IPAddress" AS "IPAddress1", s."Successes"
        FROM (SELECT "IPAddress", count(*) AS "Fails" FROM "SigninLogs" WHERE "ResultType" = '50126' GROUP BY 1) f
        JOIN (SELECT "IPAddress", count(*) AS "Successes" FROM "SigninLogs" WHERE "ResultType" = '0' GROUP BY 1) s
        ON f."IPAddress" = s."IPAddress" WHERE f."Fails" > 5"""),
]


def _load_cases() -> tuple[list, dict]:
    def load(name: str):
        spec = importlib.util.spec_from_file_location(name, REPO / "tests" / "kql" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    cases = load("kql_cases")
    schema = {name: spec["columns"] for name, spec in cases.shared_tables().items()}
    # bag_unpack's columns come from the data (kql.run discovers them), so plain compile cannot time it.
    corpus = [c for c in cases.all_cases() if c.error is None and "bag_unpack" not in c.kql]
    for case in corpus:
        for name, spec in case.tables.items():
            schema[name] = spec["columns"]
    return corpus, schema


def bench_compile() -> None:
    corpus, schema = _load_cases()
    for dialect in ("duckdb", "spark"):
        cases = [c for c in corpus if dialect in c.engines]
        for case in cases[:20]:  # warm-up (imports, caches)
            compile_query(case.kql, schema, dialect, NOW)
        times = []
        for case in cases:
            start = time.perf_counter()
            compile_query(case.kql, schema, dialect, NOW)
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        print(f"compile {dialect:6}: {len(times)} queries, median {statistics.median(times):.2f} ms, "
              f"p95 {times[int(len(times) * 0.95)]:.2f} ms, max {times[-1]:.2f} ms (goal: median < 20 ms)")


def _time(con, sql: str, repeat: int) -> tuple[float, int]:
    rows = len(con.sql(sql).fetchall())  # warm-up and row count
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        con.sql(sql).fetchall()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), rows


def bench_run(rows: int, repeat: int) -> None:
    warehouse = DuckDBWarehouse(":memory:")
    warehouse.ensure_table("SigninLogs")
    con = warehouse.connection
    start = time.perf_counter()
    con.execute(GENERATE, [rows]).fetchall()
    print(f"generated {rows:,} SigninLogs rows in {time.perf_counter() - start:.1f} s")
    catalog = warehouse.catalog()
    ratios = []
    for name, kql, hand in CASES:
        compiled = compile_query(kql, catalog, "duckdb", NOW)
        kql_time, kql_rows = _time(con, compiled.sql, repeat)
        hand_time, hand_rows = _time(con, hand, repeat)
        ratio = kql_time / hand_time
        ratios.append(ratio)
        same = "same rows" if kql_rows == hand_rows else f"ROW COUNT DIFFERS ({kql_rows} vs {hand_rows})"
        print(f"{name:40} compiled {kql_time * 1000:8.1f} ms  hand-written {hand_time * 1000:8.1f} ms  "
              f"ratio {ratio:4.2f}  ({kql_rows} rows, {same})")
    print(f"geometric-mean ratio {statistics.geometric_mean(ratios):.2f}, worst {max(ratios):.2f} (goal <= 1.2)")
    warehouse.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    bench_compile()
    bench_run(args.rows, args.repeat)


if __name__ == "__main__":
    main()
