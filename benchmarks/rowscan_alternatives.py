"""The C pass of ``readers/rowscan.py`` against the normalize statement it stands in for.

Companion to ``ingest_breakdown.py`` (same generated input). For each table, the records of that
table are staged as the ingest stages them, then:

* the normalize statement (``sqlgen.normalize_sql`` with the C ``_Extra``, as the ingest ran it
  before; one DuckDB thread) fetched as Arrow;
* the staged rows fetched and computed by the C pass (``rowscan.rows``);
* the whole JSON-lines block routed and computed by the C pass without DuckDB
  (``rowscan.block_rows``, what the ingest now does);

and prints the CPU seconds of each, how many rows the pass left to the statement (unsure), and
how many of its rows differ from the statement's (column by column, ``_IngestedAt`` aside: both
take the same value here). A non-zero difference is a bug.

    .venv/bin/python benchmarks/rowscan_alternatives.py --size-mb 200
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from ingest import write_input

from entrawatch import schema
from entrawatch.readers import mapping, remainder, rowscan, sqlgen
from entrawatch.readers.normalize import _normalized_sql

_CATEGORY = {t: c for c, t in schema.CATEGORY_TO_TABLE.items()}


def _differing(expected: pa.Table, got: pa.Table, sure: pa.Array) -> int:
    """Rows whose columns differ (sure rows only: the statement computes the others)."""
    expected, got = expected.filter(sure), got.filter(sure)
    mask = pa.array([False] * expected.num_rows)
    for name in expected.column_names:
        a, b = expected.column(name).combine_chunks(), got.column(name).combine_chunks().cast(expected.schema.field(name).type)
        same = pc.fill_null(pc.equal(a, b), False)
        both_null = pc.and_(pc.is_null(a), pc.is_null(b))
        mask = pc.or_(mask, pc.invert(pc.or_(same, both_null)))
    return pc.sum(mask).as_py() or 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=200)
    args = parser.parse_args()
    now = datetime.now(UTC)
    params = [["PT1H.json"], ["diagnostic"], now]
    with tempfile.TemporaryDirectory() as tmp:
        data_path = Path(tmp) / "PT1H.json"
        records = write_input(data_path, args.size_mb)
        data = data_path.read_bytes()
        con = duckdb.connect()
        for setting in ("SET threads = 1", "SET TimeZone = 'UTC'", "SET enable_progress_bar = false"):
            con.execute(setting)
        remainder.register(con)
        lines = pa.table({"raw": pa.array(data.decode().splitlines(), pa.string())})  # noqa: F841 - DuckDB reads it
        con.execute("CREATE TABLE lines AS SELECT * FROM lines")
        print(f"input: {records:,} records, {len(data) / 1e6:,.0f} MB; CPU seconds on one thread")
        print(f"  {'table':34s} {'rows':>7s} {'statement':>10s} {'C pass':>8s} {'unsure':>7s} {'differ':>7s}")
        total_sql = total_c = 0.0
        for table in (*schema.SIGNIN_TABLES, schema.AUDIT_TABLE):
            con.execute(f"CREATE OR REPLACE TEMP TABLE {sqlgen.STAGE} AS SELECT 0::INTEGER AS _file, "
                        "row_number() OVER () AS line, row_number() OVER () - 1 AS idx, raw, FALSE AS agg, "
                        "CAST(? AS VARCHAR) AS _target, CAST(NULL AS VARCHAR) AS _reason FROM lines "
                        "WHERE json_extract_string(raw, '$.category') = ?", [table, _CATEGORY[table]])
            start = time.process_time()
            expected = con.sql(_normalized_sql(mapping.DIAG, table, True), params=params).to_arrow_table()
            sql_seconds = time.process_time() - start
            staged = con.sql(f"SELECT _file, line, idx, raw, agg FROM {sqlgen.STAGE}").to_arrow_table()
            start = time.process_time()
            got, unsure = rowscan.rows(staged, mapping.DIAG, table, *params)
            c_seconds = time.process_time() - start
            total_sql += sql_seconds
            total_c += c_seconds
            differ = _differing(expected.drop_columns(["_IngestedAt"]), got.drop_columns(["_IngestedAt"]),
                                pc.invert(unsure))
            print(f"  {table:34s} {expected.num_rows:7,d} {sql_seconds:9.3f}s {c_seconds:7.3f}s "
                  f"{unsure.true_count:7,d} {differ:7,d}")
        print(f"  {'all five tables':34s} {'':7s} {total_sql:9.3f}s {total_c:7.3f}s")
        start = time.process_time()
        blocks = taken = at = 0
        while at < len(data):
            end = min(at + (64 << 20), len(data))
            end = data.rfind(b"\n", at, end) + 1 if end < len(data) else end
            taken += rowscan.block_rows(memoryview(data)[at:end], mapping.DIAG, 0, 1, *params) is not None
            blocks += 1
            at = end
        print(f"  whole blocks routed and computed (rowscan.block_rows, no DuckDB): {time.process_time() - start:.3f}s "
              f"({taken} of {blocks} blocks of 64 MB taken natively)")


if __name__ == "__main__":
    main()
