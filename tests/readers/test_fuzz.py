"""Hypothesis: whatever the input, no crash and no silent loss (stored, duplicate, or quarantined).

Also: the direct DuckDB path and the Arrow path (any other warehouse) store identical rows.
"""

from __future__ import annotations

import json
import string
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reader_oracle import FIXTURES, rows

from entrawatch import schema
from entrawatch.readers import ingest_paths
from entrawatch.warehouse import DuckDBWarehouse

EVENT_TABLES = (*schema.SIGNIN_TABLES, schema.AUDIT_TABLE)

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["2025-01-01T00:00:00Z", "1/9/2007 9:41:00 AM", "0", "50126", "true", "{\"a\":1}", "[1,", ""]),
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
                      max_leaves=6)
signin_keys = st.sampled_from(["id", "createdDateTime", "userPrincipalName", "status", "location", "isInteractive",
                               "processingTimeInMilliseconds", "resourceId", "signInEventTypes", "riskEventTypes_v2",
                               "activityDateTime", "activityDisplayName", "initiatedBy", "weird.key", "@odata.type"])
properties = st.dictionaries(signin_keys, values, max_size=8) | st.fixed_dictionaries(
    {"id": st.text(string.ascii_letters, min_size=1, max_size=6), "createdDateTime": st.just("2025-02-03T04:05:06Z")},
    optional={"status": values, "isInteractive": values, "location": values})
envelopes = st.fixed_dictionaries(
    {"category": st.sampled_from([*schema.CATEGORY_TO_TABLE, "RiskyUsers", "Bogus", ""]), "properties": properties},
    optional={"time": st.sampled_from(["2025-02-03T04:05:07Z", "garbage", "9/19/2023, 1:45:17.287 PM"]),
              "Level": values, "level": values, "durationMs": values, "resultType": values, "correlationId": values},
)
la_rows = st.fixed_dictionaries(
    {"TimeGenerated": st.sampled_from(["2025-02-03T04:05:07Z", "x", "9/19/2023, 1:45:17.287 PM"])},
    optional={"Type": st.sampled_from([*EVENT_TABLES, "Nope"]), "Id": st.text(string.ascii_letters, max_size=5),
              "DurationMs": values, "IsInteractive": values, "LocationDetails": values, "Status": values,
              "Category": st.sampled_from(["SignInLogs", "ApplicationManagement"]), "Other": values},
)
object_lines = st.one_of(envelopes.map(json.dumps), la_rows.map(json.dumps), properties.map(json.dumps))
lines = st.one_of(object_lines, st.text(max_size=30).filter(lambda t: "\n" not in t and "\r" not in t))
#: A JSON-lines file: the first line is an object (detection reads it); any line after may be garbage.
#: (A file whose first line is not an object is framed as a document: test_shapes covers that.)
json_lines_files = st.tuples(object_lines, st.lists(lines, max_size=7)).map(lambda t: [t[0], *t[1]])


def _account_for_everything(path: Path, line_texts: list[str]) -> None:
    with DuckDBWarehouse(":memory:") as wh:
        report = ingest_paths([path], wh)
        assert report.totals.reconciles
        for counts in report.per_table.values():
            assert counts.reconciles
        records = [t for t in line_texts if t.strip()]
        assert report.totals.read == len(records)
        stored = sum(rows(wh, f'SELECT count(*) AS n FROM "{t}"')[0]["n"] for t in EVENT_TABLES if t in wh.catalog())
        assert stored == report.totals.inserted
        if report.totals.quarantined:
            quarantined = rows(wh, 'SELECT count(*) AS n FROM "_Quarantine"')[0]["n"]
            # identical bad lines at different positions are still distinct quarantine rows
            assert quarantined == report.totals.quarantined


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(json_lines_files)
def test_json_lines_never_lose_a_record(line_texts):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.json"
        path.write_text("\n".join(line_texts), encoding="utf-8")
        _account_for_everything(path, line_texts)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(envelopes, properties, la_rows), min_size=1, max_size=6), st.sampled_from(["records", "value", None]))
def test_documents_never_lose_a_record(items, container):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "doc.json"
        path.write_text(json.dumps({container: items} if container else items), encoding="utf-8")
        with DuckDBWarehouse(":memory:") as wh:
            report = ingest_paths([path], wh)
            assert report.totals.reconciles and report.totals.read == len(items)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200))
def test_arbitrary_bytes_do_not_crash_detection(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "blob.bin"
        path.write_bytes(data)
        with DuckDBWarehouse(":memory:") as wh:
            report = ingest_paths([path], wh)
            assert report.totals.reconciles
            assert report.totals.inserted + report.totals.duplicates <= report.totals.read


class _ArrowOnlyWarehouse:
    """Any non-DuckDB warehouse: the readers hand it Arrow batches through ``append``."""

    dialect = "duckdb"

    def __init__(self, inner: DuckDBWarehouse) -> None:
        self._inner = inner

    def ensure_table(self, name):
        return self._inner.ensure_table(name)

    def append(self, table, batches, *, dedupe=True):
        return self._inner.append(table, batches, dedupe=dedupe)

    def query(self, sql, params=None):
        return self._inner.query(sql, params)

    def execute(self, sql, params=None):
        return self._inner.execute(sql, params)

    def catalog(self):
        return self._inner.catalog()

    def close(self):
        self._inner.close()


def _table_rows(wh, table: str) -> list[dict]:
    result = []
    for row in rows(wh, f'SELECT * EXCLUDE ("_IngestedAt") FROM "{table}" ORDER BY "Id"'):
        result.append({k: (json.loads(v) if k == "_Extra" and v else v) for k, v in row.items()})
    return result


def test_direct_and_arrow_paths_store_identical_rows(tmp_path: Path):
    direct = DuckDBWarehouse(tmp_path / "direct.duckdb")
    arrow = _ArrowOnlyWarehouse(DuckDBWarehouse(tmp_path / "arrow.duckdb"))
    first = ingest_paths([FIXTURES], direct)
    second = ingest_paths([FIXTURES], arrow)
    assert {t: c.as_dict() for t, c in first.per_table.items()} == {t: c.as_dict() for t, c in second.per_table.items()}
    for table in (*EVENT_TABLES, schema.QUARANTINE_TABLE):
        order = "RecordHash" if table == schema.QUARANTINE_TABLE else "Id"
        if table == schema.QUARANTINE_TABLE:
            a = rows(direct, f'SELECT * EXCLUDE ("QuarantinedAt") FROM "{table}" ORDER BY "{order}"')
            b = rows(arrow, f'SELECT * EXCLUDE ("QuarantinedAt") FROM "{table}" ORDER BY "{order}"')
        else:
            a, b = _table_rows(direct, table), _table_rows(arrow, table)
        assert a == b, table
        assert a, f"the fixtures put rows in {table}"
    direct.close()
    arrow.close()
