"""Lossless: for every stored sample record, the columns plus ``_Extra`` reproduce every source leaf.

A leaf is reproduced when ``_Extra`` holds it at the same path, or a column mapped from a prefix
of its path holds it (inside the column's JSON when the column stores a whole object).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from reader_oracle import Ingested, find_datasets, load_records, readme_counts, table_of

from entrawatch import schema
from entrawatch.readers import mapping

DATASETS = find_datasets()
_MISSING = object()
FAMILY = {"diagnostic": mapping.DIAG, "graph": mapping.GRAPH, "portal": mapping.GRAPH, "loganalytics": mapping.LA}


def leaves(value: object, prefix: tuple = ()) -> list[tuple[tuple, object]]:
    if isinstance(value, dict) and value:
        return [leaf for k, v in value.items() for leaf in leaves(v, (*prefix, k))]
    if isinstance(value, list) and value:
        return [leaf for i, v in enumerate(value) for leaf in leaves(v, (*prefix, i))]
    return [(prefix, value)]


def navigate(value: object, path: tuple) -> object:
    for key in path:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                return _MISSING
        if isinstance(value, dict) and isinstance(key, str) and key in value or isinstance(value, list) and isinstance(key, int) and key < len(value):
            value = value[key]
        else:
            return _MISSING
    return value


def _instant(text: str) -> datetime | None:
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$", text)
    if not match:
        for fmt in ("%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M:%S"):
            try:
                return datetime.strptime(text, fmt).replace(tzinfo=UTC)
            except ValueError:
                continue
        return None
    fraction = (match.group(2) or ".0")[:7]
    parsed = datetime.fromisoformat(match.group(1) + fraction + (match.group(3) or "+00:00").replace("Z", "+00:00"))
    return parsed.astimezone(UTC)


def same(stored: object, source: object, kql_type: str | None) -> bool:
    if stored is _MISSING:
        return False
    if source is None:
        return stored is None
    if isinstance(stored, datetime):
        return isinstance(source, str) and _instant(source) == stored
    if kql_type in ("long", "int", "real") and stored is not None:
        return float(stored) == float(source)
    if kql_type == "bool" and stored is not None:
        return stored == (source if isinstance(source, bool) else str(source).lower() == "true")
    if isinstance(stored, str) and not isinstance(source, str):
        try:
            return json.loads(stored) == source
        except ValueError:
            return False
    if isinstance(stored, str) and isinstance(source, str) and stored != source:
        # a dynamic column parses JSON text (LA exports): the parsed values must agree
        try:
            return json.loads(stored) == json.loads(source)
        except ValueError:
            return False
    return stored == source


def reproduced(row: dict, record: dict, family: str, table: str) -> list[str]:
    """The leaf paths of ``record`` that the stored row does not reproduce."""
    tbl = schema.table(table)
    extra = json.loads(row["_Extra"]) if row["_Extra"] else {}
    sources = [(src.path, col) for col, srcs in mapping.column_sources(family, table).items() for src in srcs]
    if family == mapping.LA:
        sources.append((("Type",), "Type"))  # the Type column is the table name
    lost = []
    for path, value in leaves(record):
        if same(navigate(extra, path), value, None):
            continue
        ok = False
        for src_path, col in sources:
            if path[: len(src_path)] != src_path:
                continue
            rest = path[len(src_path):]
            stored = row[col] if not rest else navigate(row[col], rest)
            if same(stored, value, tbl.column(col).kql_type if not rest else None):
                ok = True
                break
        if not ok:
            lost.append(".".join(map(str, path)))
    return lost


def test_every_stored_sample_record_is_reproduced(ingested_datasets: Ingested):
    checked = 0
    failures: dict[str, list[str]] = {}
    stored: dict[tuple[str, str, str], dict] = {}
    for table in (*schema.SIGNIN_TABLES, schema.AUDIT_TABLE):
        for row in ingested_datasets.warehouse.query(f'SELECT * FROM "{table}"').to_pylist():
            stored[(table, row["_SourceFile"], row["Id"])] = {**row, "_tbl": table}
    for rel, (_, unparseable) in readme_counts(DATASETS).items():
        if unparseable:
            continue
        seen: set[tuple[str, str]] = set()
        for index, record in enumerate(load_records(DATASETS / rel)):
            table, _, record_id = table_of(rel, record)
            row = stored.get((table, str(DATASETS / rel), record_id))
            if row is None:
                continue  # quarantined, or stored from an earlier file
            if (row["_tbl"], row["Id"]) in seen:
                continue  # a later repeat of an id: the first occurrence is the one stored
            seen.add((row["_tbl"], row["Id"]))
            lost = reproduced(row, record, FAMILY[row["_SourceShape"]], row["_tbl"])
            checked += 1
            if lost:
                failures[f"{rel}#{index}"] = lost
    assert not failures, dict(list(failures.items())[:5])
    assert checked >= 180  # 208 rows are stored; a few ids repeat across files
