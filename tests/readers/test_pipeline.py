"""Preparing chunks on several connections must store exactly what one-at-a-time ingestion stores:
same rows, same quarantine (line numbers and record indexes), same counts, first Id wins."""

from __future__ import annotations

import gzip
import json

import pytest

from entrawatch import schema
from entrawatch.readers import framing, ingest_paths
from entrawatch.warehouse import DuckDBWarehouse

_TABLES = [*schema.SIGNIN_TABLES, schema.AUDIT_TABLE, schema.QUARANTINE_TABLE]
_CATEGORIES = ["SignInLogs", "NonInteractiveUserSignInLogs", "ServicePrincipalSignInLogs", "AuditLogs"]


def _line(i: int) -> bytes:
    if i % 13 == 5:
        return b'{"category": "SignInLogs", "time": '  # malformed
    if i % 17 == 9:
        return b'{"category": "SignInLogs", "bad": "\xff"}'  # its block falls back to line-by-line framing
    record = {
        "time": f"2025-03-10T08:{i % 60:02d}:00Z", "category": _CATEGORIES[i % len(_CATEGORIES)], "resultType": "0",
        # every 11th record repeats an earlier id with another time: the first occurrence must win
        "properties": {"id": f"id-{i - 4 if i % 11 == 10 else i}", "userPrincipalName": f"u{i}@contoso.com",
                       "activityDisplayName": "Add user", "extra": i},
    }
    return json.dumps(record).encode()


def _snapshot(wh: DuckDBWarehouse) -> dict[str, list]:
    wh.ensure_tables(_TABLES)
    out = {}
    for name in _TABLES:
        cols = [c for c in schema.table(name).column_names if c not in ("_IngestedAt", "QuarantinedAt")]
        select = ", ".join(f'"{c}"' for c in cols)
        out[name] = wh.connection.execute(f'SELECT {select} FROM "{name}" ORDER BY ALL').fetchall()
    return out


def _ingest(tmp_path, name: str, data: bytes, workers: int):
    wh = DuckDBWarehouse(tmp_path / f"{name}-{workers}.duckdb")
    path = tmp_path / name
    path.write_bytes(data)
    report = ingest_paths([path], wh, workers=workers)
    snapshot = _snapshot(wh)
    wh.close()
    return report, snapshot


@pytest.mark.parametrize("workers", [2, 3])
def test_parallel_ingest_stores_what_sequential_ingest_stores(tmp_path, monkeypatch, workers):
    monkeypatch.setattr(framing, "CHUNK_BYTES", 2_000)  # ~8 records per block: many blocks in flight
    data = b"\n".join(_line(i) for i in range(240)) + b"\n"
    seq_report, seq_rows = _ingest(tmp_path, "PT1H.json", data, workers=1)
    par_report, par_rows = _ingest(tmp_path, "PT1H.json", data, workers=workers)
    assert par_report.per_table == seq_report.per_table
    assert par_report.totals.duplicates > 0 and par_report.totals.quarantined > 0
    assert par_report.totals.reconciles
    assert par_rows == seq_rows


def test_parallel_ingest_stores_what_was_read_before_a_read_error(tmp_path, monkeypatch):
    # gzip loses what one read decompressed when it meets the truncation, and reads go 1 MB at a
    # time: the file must decompress to several MB for blocks to be stored before the error.
    monkeypatch.setattr(framing, "CHUNK_BYTES", 300_000)
    packed = gzip.compress(b"\n".join(_line(i) for i in range(16_000) if i % 13 != 5 and i % 17 != 9) + b"\n")
    truncated = packed[: len(packed) * 2 // 3]
    seq_report, seq_rows = _ingest(tmp_path, "PT1H.json.gz", truncated, workers=1)
    par_report, par_rows = _ingest(tmp_path, "PT1H.json.gz", truncated, workers=2)
    assert seq_report.files[0].error and par_report.files[0].error == seq_report.files[0].error
    assert par_report.totals.inserted == seq_report.totals.inserted > 0
    assert par_rows == seq_rows


@pytest.mark.parametrize("workers", [1, 2])
def test_a_file_is_stored_whole_or_not_at_all(tmp_path, monkeypatch, workers):
    """One transaction per file: an unexpected failure in a later chunk leaves none of the file's
    earlier chunks behind (and no table the rollback removed), and the next ingest stores it all."""
    from entrawatch.readers import normalize

    monkeypatch.setattr(framing, "CHUNK_BYTES", 2_000)
    data = b"\n".join(_line(i) for i in range(96) if i % 13 != 5 and i % 17 != 9) + b"\n"
    path = tmp_path / "PT1H.json"
    path.write_bytes(data)
    wh = DuckDBWarehouse(tmp_path / "whole.duckdb")
    real_store = normalize.Normalizer._store_valid
    calls = {"n": 0}

    def failing_store(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 8:  # after the first chunks were stored
            raise RuntimeError("disk on fire")
        return real_store(self, *args, **kwargs)

    monkeypatch.setattr(normalize.Normalizer, "_store_valid", failing_store)
    with pytest.raises(RuntimeError, match="disk on fire"):
        ingest_paths([path], wh, workers=workers)
    assert calls["n"] == 8
    tables = {r[0] for r in wh.connection.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert not tables & set(_TABLES)

    monkeypatch.setattr(normalize.Normalizer, "_store_valid", real_store)
    report = ingest_paths([path], wh, workers=workers)
    assert report.totals.inserted > 0 and report.totals.reconciles
    stored = sum(wh.connection.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0] for t in _TABLES[:-1]
                 if t in {r[0] for r in wh.connection.execute("SELECT table_name FROM duckdb_tables()").fetchall()})
    assert stored == report.totals.inserted
    wh.close()
