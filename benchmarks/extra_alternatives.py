"""``_Extra`` three ways, on one thread: DuckDB's merge patch, a build from ``json_keys``, and the C scanner.

The alternative, measured and rejected in session 7 (docs/ingest.md): read the keys that no
column takes into the same ``json_transform`` STRUCT as the mapped fields. Then ``json_keys``
tells which keys a record has at the top and in ``properties``, and ``_Extra`` is concatenated
from the STRUCT. A record with an unknown or repeated key falls back to the merge patch. This
script gives the alternative its best case: every key of the input is known.

The C scanner (session 8, shipped when built: ``readers/remainder.py``) runs as the ingest runs it,
the scalar function ``ew_extra`` over DuckDB's vectors. It prints:
- CPU per step;
- how many records differ from the merge patch (as JSON and as text), for the alternative and for
  the scanner.

    .venv/bin/python benchmarks/extra_alternatives.py --size-mb 300
"""

from __future__ import annotations

import argparse
import copy
import tempfile
import time
from pathlib import Path

import duckdb
import orjson
from ingest import write_input

from entrawatch import schema
from entrawatch.readers import mapping, remainder
from entrawatch.readers.extraction import family_extraction

TABLE_CATEGORY = {table: category for category, table in schema.CATEGORY_TO_TABLE.items()}


def _lit(text: str) -> str:
    """A SQL string literal of our own constant text (keys of the generated input)."""
    return "'" + text.replace("'", "''") + "'"


def _patch(table: str) -> str:
    patch: dict = {}
    for path, earlier in mapping.removable_paths(mapping.DIAG, table):
        if not earlier:
            node = patch
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = None
    return orjson.dumps(patch).decode()


def _piece(access: str, key: str, keys: str) -> str:
    """``"key":value`` when the record has the key (JSON null included), else NULL."""
    head = _lit(orjson.dumps(key).decode() + ":")
    return (f"CASE WHEN {access} IS NOT NULL THEN {head} || CAST({access} AS VARCHAR) "
            f"WHEN list_contains({keys}, {_lit(key)}) THEN {head} || 'null' END")


def compare(con: duckdb.DuckDBPyConnection, table: str) -> None:
    removed = [p for p, earlier in mapping.removable_paths(mapping.DIAG, table) if not earlier]
    top = [k for (k,) in con.sql("SELECT DISTINCT unnest(json_keys(raw)) FROM l").fetchall()]
    props = [k for (k,) in con.sql("SELECT DISTINCT unnest(json_keys(raw, '$.properties')) FROM l").fetchall()]
    kept_top = [k for k in top if (k,) not in removed and k != "properties"]
    kept_props = [k for k in props if ("properties", k) not in removed]
    struct = copy.deepcopy(family_extraction(mapping.DIAG, table).struct)
    for key in kept_top:
        struct[key] = "JSON"
    for key in kept_props:
        struct.setdefault("properties", {})[key] = "JSON"
    spec = orjson.dumps(struct).decode()
    known_top = "[" + ", ".join(_lit(k) for k in top) + "]"
    known_props = "[" + ", ".join(_lit(k) for k in props) + "]"
    build = ("'{' || concat_ws(',', " + ", ".join(_piece(f't."{k}"', k, "k[1]") for k in kept_top)
             + ", '\"properties\":{' || concat_ws(',', "
             + ", ".join(_piece(f't.properties."{k}"', k, "k[2]") for k in kept_props) + ") || '}') || '}'")
    usable = (f"len(k[1]) > 0 AND len(k[2]) > 0 AND list_has_all({known_top}, k[1]) "
              f"AND list_has_all({known_props}, k[2]) "
              "AND len(list_distinct(k[1])) = len(k[1]) AND len(list_distinct(k[2])) = len(k[2])")
    parsed = "SELECT raw, json_transform(raw, ?) AS t, json_keys(raw, ['$', '$.properties']) AS k FROM l"
    steps = {
        "merge patch (shipped without the C scanner)": ("SELECT sum(length(json_merge_patch(raw, ?))) FROM l", [_patch(table)]),
        "json_transform, mapped fields only": ("SELECT count(json_transform(raw, ?)) FROM l",
                                                [family_extraction(mapping.DIAG, table).struct_spec()]),
        "json_transform, plus the kept keys": ("SELECT count(json_transform(raw, ?)) FROM l", [spec]),
        "json_keys at two levels": ("SELECT sum(len(json_keys(raw, ['$', '$.properties']))) FROM l", []),
        "json_keys + the usable check": (f"SELECT count(*) FILTER (WHERE {usable}) FROM "
                                         "(SELECT json_keys(raw, ['$', '$.properties']) AS k FROM l)", []),
        "alternative, whole": (f"SELECT sum(length(CASE WHEN {usable} THEN {build} "
                               f"ELSE json_merge_patch(raw, ?) END)) FROM ({parsed})", [_patch(table), spec]),
    }
    scanner = f"ew_extra(raw, {_lit(mapping.DIAG + '/' + table)}, CAST(0 AS UTINYINT))"  # patch 0: the constant one
    if remainder.available():
        steps["C scanner (ew_extra; shipped when built)"] = (f"SELECT sum(length({scanner})) FROM l", [])
    rows, megabytes = con.sql("SELECT count(*), sum(length(raw)) / 1e6 FROM l").fetchall()[0]
    print(f"{table}: {rows:,} records, {megabytes:,.0f} MB; kept keys: {len(kept_top)} top, {len(kept_props)} in properties")
    for name, (sql, params) in steps.items():
        best = min(_cpu(con, sql, params) for _ in range(3))
        print(f"  {best:6.3f} s CPU  {name}")
    differ = con.execute(
        f"SELECT count(*) FILTER (WHERE json(a) IS DISTINCT FROM json(b)), count(*) FILTER (WHERE a IS DISTINCT FROM b) "
        f"FROM (SELECT CASE WHEN {usable} THEN {build} END AS a, json_merge_patch(raw, ?) AS b FROM ({parsed}))",
        [_patch(table), spec]).fetchall()[0]
    print(f"  records where the alternative differs from the merge patch: {differ[0]} as JSON, {differ[1]} as text")
    if remainder.available():
        differ = con.execute(f"SELECT count(*) FILTER (WHERE {scanner} IS DISTINCT FROM "
                             "nullif(json_merge_patch(raw, ?), '{}')::VARCHAR) FROM l", [_patch(table)]).fetchall()[0]
        print(f"  records where the C scanner differs from the merge patch, as text: {differ[0]}")


def _cpu(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> float:
    start = time.process_time()
    con.execute(sql, params).fetchall()
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=300)
    parser.add_argument("--tables", nargs="+", default=["AADServicePrincipalSignInLogs", "AADNonInteractiveUserSignInLogs"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "PT1H.json"
        write_input(source, args.size_mb)
        for table in args.tables:
            con = duckdb.connect()
            con.execute("SET threads = 1")
            if remainder.available():
                remainder.register(con)
            con.execute("CREATE TABLE l AS SELECT line AS raw FROM read_csv(?, columns = {'line': 'VARCHAR'}, "
                        "delim = chr(1), quote = '', escape = '', header = false) "
                        "WHERE json_extract_string(line, '$.category') = ?", [str(source), TABLE_CATEGORY[table]])
            compare(con, table)
            con.close()


if __name__ == "__main__":
    main()
