"""Skipping the stored-id look-up (``readers/storedids.py``) must store exactly what the look-up stores.

The store may insert a chunk without looking its ids up in the table only when the table held
nothing but this ingest's ids and none of the chunk's ids hashes like one of them. These tests
compare every road with the look-up done always: repeats across chunks, hash collisions (every
hash equal), tables that were not empty, a rolled-back transaction.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

from entrawatch import schema
from entrawatch.readers import framing, ingest_paths, normalize, storedids
from entrawatch.warehouse import DuckDBWarehouse

_TABLES = [*schema.SIGNIN_TABLES, schema.AUDIT_TABLE, schema.QUARANTINE_TABLE]
_CATEGORIES = ["SignInLogs", "NonInteractiveUserSignInLogs", "ServicePrincipalSignInLogs", "AuditLogs"]


def _lines(count: int, repeat_every: int = 9, offset: int = 0) -> bytes:
    lines = []
    for i in range(offset, offset + count):
        ident = f"id-{i - 8 if i % repeat_every == repeat_every - 1 else i}"  # an earlier id of its table
        lines.append(json.dumps({
            "time": f"2025-03-10T08:{i % 60:02d}:00Z", "category": _CATEGORIES[i % len(_CATEGORIES)],
            "properties": {"id": ident, "createdDateTime": f"2025-03-10T08:{i % 60:02d}:00Z", "n": i},
        }))
    return ("\n".join(lines) + "\n").encode()


def _snapshot(wh: DuckDBWarehouse) -> dict[str, list]:
    wh.ensure_tables(_TABLES)
    out = {}
    for name in _TABLES:
        cols = [c for c in schema.table(name).column_names if c not in ("_IngestedAt", "QuarantinedAt")]
        out[name] = wh.connection.execute(f'SELECT {", ".join(chr(34) + c + chr(34) for c in cols)} '
                                          f'FROM "{name}" ORDER BY ALL').fetchall()
    return out


def _ingest_twice(tmp_path, name: str, files: list[bytes]):
    """Ingest ``files`` in order into a fresh warehouse; returns (reports, snapshot)."""
    (tmp_path / name).mkdir()
    wh = DuckDBWarehouse(tmp_path / name / "w.duckdb")
    reports = []
    for k, data in enumerate(files):
        path = tmp_path / f"PT{k}H.json"  # the same names every time: _SourceFile is compared
        path.write_bytes(data)
        reports.append(ingest_paths([path], wh, workers=2))
    snapshot = _snapshot(wh)
    wh.close()
    return [r.per_table for r in reports], snapshot


@pytest.fixture
def small_blocks(monkeypatch):
    monkeypatch.setattr(framing, "CHUNK_BYTES", 3_000)  # ~10 records a block: repeats cross blocks
    monkeypatch.setattr(framing, "FIRST_BLOCK_BYTES", 3_000)


def _always_look_up(monkeypatch):
    real = normalize.Normalizer._id_check
    monkeypatch.setattr(normalize.Normalizer, "_id_check", lambda self, target, rows: (real(self, target, rows)[0], False))


def test_repeats_across_chunks_are_duplicates_either_way(tmp_path, monkeypatch, small_blocks):
    files = [_lines(300), _lines(300, offset=250)]  # the second overlaps the first by 50 records
    skipped = _ingest_twice(tmp_path, "skip", files)
    _always_look_up(monkeypatch)
    looked_up = _ingest_twice(tmp_path, "look", files)
    assert skipped == looked_up
    reports, _ = skipped
    assert sum(t.duplicates for t in reports[0].values()) > 20  # the repeats inside the first file
    assert sum(t.duplicates for t in reports[1].values()) >= 50  # and the overlap


def test_every_hash_colliding_takes_the_look_up(tmp_path, monkeypatch, small_blocks):
    files = [_lines(200), _lines(200)]
    expected = _ingest_twice(tmp_path, "real", files)
    monkeypatch.setattr(storedids, "id_hashes", lambda ids: np.zeros(len(ids), np.uint64))
    assert _ingest_twice(tmp_path, "collide", files) == expected


def test_a_table_with_rows_before_is_always_looked_up(tmp_path, monkeypatch, small_blocks):
    calls = {"plain": 0}
    real = storedids.StoredIds.proves_new

    def counting(self, table, hashes):
        proven = real(self, table, hashes)
        calls["plain"] += proven
        return proven

    monkeypatch.setattr(storedids.StoredIds, "proves_new", counting)
    reports, _ = _ingest_twice(tmp_path, "again", [_lines(120, repeat_every=10_000)] * 2)
    assert sum(t.inserted for t in reports[1].values()) == 0
    assert sum(t.duplicates for t in reports[1].values()) == 120
    plain_in_first = calls["plain"]
    assert plain_in_first > 0  # the first ingest, into empty tables, skipped look-ups


def test_stored_ids_forget_after_a_rollback():
    ids = storedids.StoredIds()
    ids.track("T", empty=True)
    first = storedids.id_hashes(pa.array(["a", "b"]))
    assert ids.proves_new("T", first)
    ids.add("T", first)
    assert not ids.proves_new("T", storedids.id_hashes(pa.array(["b"])))
    assert ids.proves_new("T", storedids.id_hashes(pa.array(["c"])))
    ids.forget()
    assert ids.checked("T") and not ids.proves_new("T", storedids.id_hashes(pa.array(["c"])))
    ids.track("U", empty=False)
    assert not ids.proves_new("U", first)


def test_runs_are_merged_and_still_found():
    ids = storedids.StoredIds()
    ids.track("T", empty=True)
    rng = np.random.default_rng(3)
    seen = []
    for size in (1000, 10, 10, 500, 3, 3000, 1):
        chunk = rng.integers(0, 2**63, size, dtype=np.uint64)
        ids.add("T", chunk)
        seen.append(chunk)
    assert len(ids._runs["T"]) <= 4
    everything = np.concatenate(seen)
    for value in everything[::97]:
        assert not ids.proves_new("T", np.array([value], np.uint64))
    fresh = rng.integers(0, 2**63, 200, dtype=np.uint64)
    assert ids.proves_new("T", np.setdiff1d(fresh, everything))


def test_hashes_are_deterministic_and_spread():
    values = pa.array([f"{i:08x}-0000-4000-8000-000000000000" for i in range(10_000)])
    first, second = storedids.id_hashes(values), storedids.id_hashes(pa.chunked_array([values.slice(0, 5000),
                                                                                       values.slice(5000)]))
    assert np.array_equal(first, second)
    assert len(np.unique(first)) == len(first)
    assert len(storedids.id_hashes(pa.array([], pa.string()))) == 0


def test_memory_stays_bounded_past_the_limit():
    ids = storedids.StoredIds(limit=100)
    ids.track("T", empty=True)
    ids.add("T", np.arange(60, dtype=np.uint64))
    assert not ids.proves_new("T", np.array([5], np.uint64))
    ids.add("T", np.arange(60, 120, dtype=np.uint64))  # past the limit: forgotten, look-ups resume
    assert not ids.proves_new("T", np.array([1000], np.uint64))
    assert ids._count == 0 and not ids._runs
