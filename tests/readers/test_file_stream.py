"""Files too large for a batch go through one pipeline run across consecutive files (``readers._Files``).

The oracle is the plainest ingest there is: each file in its own ``ingest_paths`` call, in order.
A directory ingest must store exactly what it stores (rows, quarantine, per-file counts and
errors), while the next file's first chunks are prepared before the last of the one before are
stored; an unexpected failure rolls back the files that share its transaction.
"""

from __future__ import annotations

import gzip
import threading
from pathlib import Path

import pytest
from test_pipeline import _TABLES, _line, _snapshot

import entrawatch.readers as readers
from entrawatch.readers import framing, ingest_paths
from entrawatch.readers.normalize import Normalizer
from entrawatch.readers.pipeline import Pipeline
from entrawatch.readers.sources import iter_sources
from entrawatch.warehouse import DuckDBWarehouse


def _lines(first: int, last: int) -> bytes:
    return b"\n".join(_line(i) for i in range(first, last)) + b"\n"


def _exports(root: Path) -> None:
    """Multi-chunk files (CHUNK_BYTES is ~2 KB in these tests) with ids repeated across files,
    a truncated gzip and a small file (batched) between them."""
    root.mkdir()
    (root / "a.json").write_bytes(_lines(0, 60))
    (root / "b.json").write_bytes(_lines(50, 120))  # repeats ids of a.json: a.json's win
    (root / "c.json.gz").write_bytes(gzip.compress(_lines(200, 400))[:-40])  # truncated: read error
    (root / "d.json").write_bytes(_lines(110, 150))
    (root / "e.json").write_bytes(_line(1000) + b"\n")  # one small chunk: joins a batch
    (root / "f.json").write_bytes(_lines(140, 220))
    (root / "g.json").write_bytes(b"")


def _one_call_per_file(root: Path, db: Path) -> tuple[list[dict], dict]:
    wh = DuckDBWarehouse(db)
    reports = []
    for source in iter_sources([root]):
        reports += [f.as_dict() for f in ingest_paths([Path(source.name)], wh, workers=2).files]
    snapshot = _snapshot(wh)
    wh.close()
    return reports, snapshot


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_a_directory_stores_what_one_ingest_per_file_stores(tmp_path, monkeypatch, workers):
    monkeypatch.setattr(framing, "CHUNK_BYTES", 2_000)
    _exports(tmp_path / "exports")
    oracle_files, oracle_rows = _one_call_per_file(tmp_path / "exports", tmp_path / "oracle.duckdb")
    begun = []
    begin = Pipeline.begin
    monkeypatch.setattr(Pipeline, "begin", lambda self: begun.append(1) or begin(self))

    wh = DuckDBWarehouse(tmp_path / "stream.duckdb")
    report = ingest_paths([tmp_path / "exports"], wh, workers=workers)
    assert [f.as_dict() for f in report.files] == oracle_files
    assert _snapshot(wh) == oracle_rows
    assert report.totals.duplicates > 0 and report.totals.quarantined > 0 and report.totals.reconciles
    assert sum(1 for f in report.files if f.error) == 1
    # One run for a.json..d.json, one for f.json after the batched e.json (plus the pipeline's own).
    assert len(begun) == 1 + 2
    wh.close()


def test_the_next_file_is_submitted_before_the_last_chunk_of_the_one_before_is_stored(tmp_path, monkeypatch):
    """The last store of a.json waits (up to 10 s) for b.json's first chunk to be submitted to the
    pipeline (prepared as soon as a connection is free): with a pipeline drained at every file's
    end, that never happens."""
    monkeypatch.setattr(framing, "CHUNK_BYTES", 2_000)
    root = tmp_path / "exports"
    _two_files(root)
    (a_source,) = iter_sources([root / "a.json"])
    a_chunks = len(list(framing.frame(a_source).chunks))
    b_started = threading.Event()
    stores = {"a.json": 0}
    seen: list[bool] = []
    push, commit = Pipeline.push, Normalizer.commit

    def spy_push(self, chunk, ctx, tag):
        if Path(ctx["source_file"]).name == "b.json":
            b_started.set()
        return push(self, chunk, ctx, tag)

    def spy_commit(self, prepared, chunk, **ctx):
        if Path(ctx["source_file"]).name == "a.json":
            stores["a.json"] += 1
            if stores["a.json"] == a_chunks:
                seen.append(b_started.wait(timeout=10))
        return commit(self, prepared, chunk, **ctx)

    monkeypatch.setattr(Pipeline, "push", spy_push)
    monkeypatch.setattr(Normalizer, "commit", spy_commit)
    with DuckDBWarehouse(tmp_path / "w.duckdb") as wh:
        ingest_paths([root], wh, workers=2)
    assert a_chunks > 2 and seen == [True]


def _two_files(root: Path) -> None:
    root.mkdir()
    (root / "a.json").write_bytes(_lines(0, 60))
    (root / "b.json").write_bytes(_lines(60, 120))


def _fail_at_store(monkeypatch: pytest.MonkeyPatch, n: int) -> None:
    """The ``n``-th insert of valid rows fails as something unexpected would."""
    real_store = Normalizer._store_valid
    stores = {"n": 0}

    def failing_store(self, *args, **kwargs):
        stores["n"] += 1
        if stores["n"] == n:
            raise RuntimeError("disk on fire")
        return real_store(self, *args, **kwargs)

    monkeypatch.setattr(Normalizer, "_store_valid", failing_store)


def test_files_sharing_a_transaction_are_rolled_back_together(tmp_path, monkeypatch):
    monkeypatch.setattr(framing, "CHUNK_BYTES", 2_000)
    root = tmp_path / "exports"
    _two_files(root)
    real_store = Normalizer._store_valid
    _fail_at_store(monkeypatch, 40)  # in b.json
    wh = DuckDBWarehouse(tmp_path / "w.duckdb")
    with pytest.raises(RuntimeError, match="disk on fire"):
        ingest_paths([root], wh, workers=2)
    tables = {r[0] for r in wh.connection.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert not tables & set(_TABLES)  # a.json went with b.json

    monkeypatch.setattr(Normalizer, "_store_valid", real_store)
    report = ingest_paths([root], wh, workers=2)
    assert report.totals.inserted > 0 and report.totals.reconciles
    wh.close()


def test_a_commit_every_gigabyte_keeps_what_came_before_a_failure(tmp_path, monkeypatch):
    """The shared transaction commits once BATCH_TRANSACTION_BYTES of input were pushed (here: tiny)."""
    monkeypatch.setattr(framing, "CHUNK_BYTES", 2_000)
    monkeypatch.setattr(readers, "BATCH_TRANSACTION_BYTES", 1)
    root = tmp_path / "exports"
    _two_files(root)
    _fail_at_store(monkeypatch, 40)
    wh = DuckDBWarehouse(tmp_path / "w.duckdb")
    with pytest.raises(RuntimeError, match="disk on fire"):
        ingest_paths([root], wh, workers=2)
    files = {r[0] for r in wh.connection.execute('SELECT DISTINCT "_SourceFile" FROM "SigninLogs"').fetchall()}
    assert {Path(f).name for f in files} == {"a.json"}
    wh.close()
