"""Cost of the data-shaped KQL constructs on DuckDB: row_window_session, bag_unpack, make-series
with series_decompose_anomalies.

    .venv/bin/python benchmarks/kql_windows.py [--rows 200000]

Data is generated inside DuckDB from a fixed formula (identical on every run): ``--rows`` events
over 500 users, one every ~37 s per user stream, with a small JSON bag per row. Prints the
median of 3 runs per query and the rows/s.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime

import duckdb

from entrawatch.kql import compile_query
from entrawatch.kql.api import warehouse_probe

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
SCHEMA = {"E": {"TimeGenerated": "datetime", "User": "string", "Bag": "dynamic"}}

QUERIES = {
    "row_window_session (1h, 5m, restart per user)":
        "E | sort by User asc, TimeGenerated asc "
        "| extend s = row_window_session(TimeGenerated, 1h, 5m, User != prev(User)) "
        "| summarize dcount(s)",
    "bag_unpack (probe + unpack)": "E | evaluate bag_unpack(Bag) | summarize sum(n), dcount(app)",
    "make-series 1h + series_decompose_anomalies per user":
        "E | make-series c = count() on TimeGenerated step 1h by User "
        "| extend a = series_decompose_anomalies(c, 1.5, 0, 'linefit') | count",
}


class _Wh:
    """Just enough of a warehouse for the probe (bag_unpack key discovery)."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def query(self, sql: str) -> object:
        return self.con.sql(sql).to_arrow_table()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    args = parser.parse_args()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'").fetchall()
    con.execute(
        "CREATE TABLE E AS SELECT TIMESTAMPTZ '2025-03-01 00:00:00+00' + to_microseconds((i * 37 * 1000000) // 500"
        " + (i % 7) * 1000000) AS TimeGenerated, 'user' || (i % 500) AS User, "
        "json_object('n', i % 13, 'app', 'app' || (i % 5)) AS Bag FROM range(?) t(i)", [args.rows]).fetchall()
    probe = warehouse_probe(_Wh(con))
    print(f"{args.rows} rows, DuckDB {duckdb.__version__}")
    for label, query in QUERIES.items():
        times = []
        for _ in range(3):
            start = time.perf_counter()
            compiled = compile_query(query, SCHEMA, "duckdb", NOW, probe=probe)
            con.sql(compiled.sql).fetchall()
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        print(f"{label:58s} {median:7.2f} s  {args.rows / median / 1e6:6.2f} M rows/s")


if __name__ == "__main__":
    main()
