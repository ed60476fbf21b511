"""Where ingest CPU goes: each step of the SQL normalizer timed in isolation vs DuckDB's ``read_json``.

Companion to ``benchmarks/ingest.py`` (same generated input). Runs every statement on ONE DuckDB
thread and reports CPU seconds (``time.process_time``), which stay comparable on a shared,
loaded machine where wall time does not. Steps, all on the same file:

* reference: ``CREATE TABLE t AS SELECT * FROM read_json(file)`` into a database file, and the same
  read without the write (rows counted, their ``properties`` STRUCT built);
* lines: the file as one VARCHAR column (what framing hands to SQL);
* stage: validate + route (``sqlgen.stage_sql``);
* per table: ``json_transform`` of the table's fields alone; the normalize SELECT materialised
  without ``_Extra``; the full normalize SELECT materialised, with ``_Extra`` by DuckDB's
  ``json_merge_patch`` and by the C scanner (``readers/remainder.py``); the real ``INSERT`` into a
  database table (adds the write; with the C scanner when it is built, as the ingest does);
* the floor: writing the already normalized rows into a fresh database file (``INSERT`` + ``COMMIT``),
  which any design that stores these tables pays after parsing.

    .venv/bin/python benchmarks/ingest_breakdown.py --size-mb 200
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from ingest import write_input

from entrawatch import schema
from entrawatch.readers import mapping, remainder, sqlgen
from entrawatch.readers.extraction import family_extraction
from entrawatch.readers.sqlexpr import ident


def _timed(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> float:
    start = time.process_time()
    con.execute(sql, params or []).fetchall()
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "PT1H.json"
        records = write_input(data, args.size_mb)
        con = duckdb.connect(str(Path(tmp) / "w.duckdb"))
        for setting in ("SET threads = 1", "SET TimeZone = 'UTC'", "SET enable_progress_bar = false"):
            con.execute(setting).fetchall()
        rows: list[tuple[str, float]] = []
        rows.append(("reference read_json CTAS", _timed(
            con, "CREATE TABLE ref AS SELECT * FROM read_json(?, format='newline_delimited')", [str(data)])))
        # The same read without the write: every record parsed and its properties STRUCT built.
        rows.append(("reference read_json, parse + build only", _timed(
            con, "SELECT count(*) FROM read_json(?, format='newline_delimited') WHERE properties IS NOT NULL",
            [str(data)])))
        rows.append(("lines (read_csv, one VARCHAR column)", _timed(
            con, f"CREATE TEMP TABLE {sqlgen.INCOMING} AS SELECT 0 AS _file, CAST(NULL AS VARCHAR) AS name_table, "
                 "row_number() OVER () AS line, row_number() OVER () - 1 AS idx, raw, FALSE AS agg "
                 "FROM read_csv(?, columns={'raw': 'VARCHAR'}, "
                 "delim=chr(1), quote='', escape='', header=false, auto_detect=false)", [str(data)])))
        rows.append(("stage (validate + route)", _timed(
            con, f"CREATE TEMP TABLE {sqlgen.STAGE} AS {sqlgen.stage_sql(mapping.DIAG)}", [None])))
        params = [[str(data)], ["diagnostic"], datetime.now(UTC)]  # per-file lists (see normalize_sql)
        native = remainder.available()
        if native:
            remainder.register(con)
        totals = {"json_transform (table fields)": 0.0, "normalize without _Extra": 0.0,
                  "normalize with _Extra": 0.0, "normalize with _Extra by the C scanner": 0.0,
                  "INSERT (normalize + write)": 0.0}
        stage = ident(sqlgen.STAGE).sql(dialect="duckdb")
        for target in (*schema.SIGNIN_TABLES, schema.AUDIT_TABLE):
            spec = family_extraction(mapping.DIAG, target).struct_spec()
            norm = sqlgen.normalize_sql(mapping.DIAG, target)
            totals["json_transform (table fields)"] += _timed(
                con, f"CREATE OR REPLACE TEMP TABLE x AS SELECT json_transform(raw, ?) FROM {stage} "
                     "WHERE _target = ?", [spec, target])
            totals["normalize without _Extra"] += _timed(
                con, f'CREATE OR REPLACE TEMP TABLE x AS SELECT * EXCLUDE ("_Extra") FROM ({norm})', params)
            totals["normalize with _Extra"] += _timed(
                con, f"CREATE OR REPLACE TEMP TABLE x AS SELECT * FROM ({norm})", params)
            if native:
                norm = sqlgen.normalize_sql(mapping.DIAG, target, native_extra=True)
                totals["normalize with _Extra by the C scanner"] += _timed(
                    con, f"CREATE OR REPLACE TEMP TABLE x AS SELECT * FROM ({norm})", params)
            cols = ", ".join(ident(c).sql(dialect="duckdb") for c in schema.table(target).column_names)
            con.execute(f"CREATE TABLE {ident(target).sql(dialect='duckdb')} AS SELECT {cols} FROM ({norm}) LIMIT 0",
                        params).fetchall()
            totals["INSERT (normalize + write)"] += _timed(
                con, f"INSERT INTO {ident(target).sql(dialect='duckdb')} SELECT {cols} FROM ({norm}) "
                     "WHERE _reason IS NULL", params)
        if not native:
            del totals["normalize with _Extra by the C scanner"]
        rows += list(totals.items())
        rows.append(("write only (INSERT + COMMIT, new file)", _write_floor(con, Path(tmp) / "floor.duckdb", params)))
        size_mb = data.stat().st_size / (1 << 20)
        print(f"input: {records:,} records, {size_mb:,.0f} MB; CPU seconds on one DuckDB thread")
        for name, cpu in rows:
            print(f"  {name:40s} {cpu:7.2f} s")
        cpu_of = dict(rows)
        ew = (cpu_of["lines (read_csv, one VARCHAR column)"] + cpu_of["stage (validate + route)"]
              + totals["INSERT (normalize + write)"])
        print(f"  lines + stage + INSERTs = {ew:.2f} s vs reference {rows[0][1]:.2f} s "
              f"(best ratio this design allows, without Python framing: {rows[0][1] / ew:.2f}x)")
        floor = rows[-1][1]
        print(f"  writing entrawatch's output alone costs {floor / rows[0][1]:.0%} of the reference's whole run: "
              f"at 0.8x, reading, parsing, mapping and _Extra would have {rows[0][1] / 0.8 - floor:.2f} s")


def _write_floor(con: duckdb.DuckDBPyConnection, path: Path, params: list) -> float:
    """CPU seconds to write the already normalized rows of every table into a fresh database file,
    in one transaction: the least any design storing these tables must spend after parsing."""
    con.execute("ATTACH ? AS floor", [str(path)]).fetchall()
    normalized = []
    for target in (*schema.SIGNIN_TABLES, schema.AUDIT_TABLE):
        cols = ", ".join(ident(c).sql(dialect="duckdb") for c in schema.table(target).column_names)
        name = ident(target).sql(dialect="duckdb")
        con.execute(f"CREATE TEMP TABLE {ident('n_' + target).sql(dialect='duckdb')} AS SELECT {cols} "
                    f"FROM ({sqlgen.normalize_sql(mapping.DIAG, target)}) WHERE _reason IS NULL", params).fetchall()
        con.execute(f"CREATE TABLE floor.{name} AS SELECT {cols} FROM {ident('n_' + target).sql(dialect='duckdb')} "
                    "LIMIT 0").fetchall()
        normalized.append((name, ident("n_" + target).sql(dialect="duckdb")))
    start = time.process_time()
    con.execute("BEGIN TRANSACTION").fetchall()
    for name, temp in normalized:
        con.execute(f"INSERT INTO floor.{name} SELECT * FROM {temp}").fetchall()
    con.execute("COMMIT").fetchall()
    return time.process_time() - start


if __name__ == "__main__":
    main()
