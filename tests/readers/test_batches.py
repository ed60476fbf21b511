"""Small JSON-lines files prepared together must store exactly what file-by-file ingestion stores:
same rows, same per-file counts, same quarantine rows (file, line, record index), first Id wins
across files; and a batch is stored whole or not at all."""

from __future__ import annotations

import gzip
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_pipeline import _line, _snapshot

import entrawatch.readers as readers
from entrawatch.readers import ingest_paths
from entrawatch.readers.normalize import Normalizer
from entrawatch.readers.pipeline import Pipeline
from entrawatch.warehouse import DuckDBWarehouse


def _lines(first: int, last: int, utf8: bool = True) -> bytes:
    """Records ``first``..``last`` (malformed ones and repeated ids included); ``utf8=False`` keeps
    the lines that are not UTF-8, whose files are framed line by line, never batched."""
    return b"\n".join(_line(i) for i in range(first, last) if not utf8 or i % 17 != 9) + b"\n"


def _graph_line(i: int) -> bytes:
    return json.dumps({"id": f"g-{i}", "createdDateTime": "2025-03-10T08:00:00Z", "userPrincipalName": "a@b.c",
                       "isInteractive": i % 2 == 0, "status": {"errorCode": 0}}).encode()


def _la_line(i: int) -> bytes:  # a Log Analytics row without Type: the file name names the table
    return json.dumps({"TimeGenerated": "2025-03-10T08:00:00Z", "Id": f"la-{i}", "UserPrincipalName": "a@b.c",
                       "ResultType": "0"}).encode()


def _exports(root) -> None:
    """Files that batch, and files that must not (other family, big, broken UTF-8, truncated gzip)."""
    (root / "a").mkdir(parents=True)
    (root / "a" / "PT1H.json").write_bytes(_lines(0, 40))
    (root / "b").mkdir()
    (root / "b" / "PT1H.json").write_bytes(_lines(30, 70, utf8=False))  # repeats ids of a; not UTF-8
    (root / "c").mkdir()
    (root / "c" / "PT1H.json.gz").write_bytes(gzip.compress(_lines(100, 131)))
    (root / "c" / "PT2H.json").write_bytes(_lines(120, 140))
    (root / "c" / "PT3H.json").write_bytes(b"\xef\xbb\xbf\n  \n" + _lines(140, 150) + b"   \n")
    (root / "d").mkdir()
    (root / "d" / "graph.json").write_bytes(b"\n".join(_graph_line(i) for i in range(12)) + b"\n")
    (root / "e").mkdir()
    (root / "e" / "AADNonInteractiveUserSignInLogs.json").write_bytes(b"\n".join(_la_line(i) for i in range(9)))
    (root / "f").mkdir()
    (root / "f" / "PT1H.json").write_bytes(b"")
    (root / "g").mkdir()
    (root / "g" / "PT1H.json").write_bytes(_lines(200, 260) * 6)  # bigger than a batch: ingested on its own
    (root / "h").mkdir()
    (root / "h" / "PT1H.json.gz").write_bytes(gzip.compress(_lines(300, 340))[:-30])  # truncated
    (root / "h" / "PT2H.json").write_bytes(_lines(330, 345))
    (root / "j").mkdir()  # no repeated id among these files: one INSERT per table for them
    unique = [i for i in range(0, 60) if i % 11 != 10 and i % 17 != 9]
    bad_time = json.dumps({"time": "yesterday", "category": "SignInLogs", "properties": {"id": "bad-time"}}).encode()
    for n, ids in enumerate((unique[:15], unique[15:30], unique[30:])):  # the first ids are stored already (a/)
        (root / "j" / f"PT{n}H.json").write_bytes(b"\n".join([_line(i) for i in ids] + [bad_time] * (n == 1)) + b"\n")
    (root / "k").mkdir()  # documents: records envelopes, a Graph page, a broken one, an LA CSV export
    for n in range(3):
        records = b",".join(_line(i) for i in range(500 + 12 * n, 515 + 12 * n) if i % 13 != 5 and i % 17 != 9)
        (root / "k" / f"PT{n}H.json").write_bytes(b'{"records": [' + records + b"]}")
    (root / "k" / "page.json").write_bytes(b'{"value": [' + b",".join(_graph_line(i) for i in range(20, 26)) + b"]}")
    (root / "k" / "q-broken.json").write_bytes(b'{"records": [' + _line(600) + b", {\"time\": ]}")
    (root / "k" / "r.json").write_bytes(b'{"records": [' + _line(503) + b"]}")  # an id of PT0H.json
    (root / "k" / "SigninLogs.csv").write_bytes(
        b"TimeGenerated,Id,UserPrincipalName,ResultType\n2025-03-10T08:00:00Z,csv-1,a@b.c,0\n"
        b"2025-03-10T08:01:00Z,csv-2,a@b.c,50126\nnot a time,csv-3,a@b.c,0\n")
    for n in range(6):
        (root / "i").mkdir(exist_ok=True)
        (root / "i" / f"PT{n}H.json").write_bytes(_lines(400 + 10 * n, 412 + 10 * n))  # ids overlap their neighbour


def _ingest(tmp_path, name: str, monkeypatch, batch_bytes: int) -> tuple[list[dict], dict]:
    monkeypatch.setattr(readers, "BATCH_BYTES", batch_bytes)
    wh = DuckDBWarehouse(tmp_path / f"{name}.duckdb")
    report = ingest_paths([tmp_path / "exports"], wh, workers=2)
    snapshot = _snapshot(wh)
    wh.close()
    return [f.as_dict() for f in report.files], snapshot


def test_batched_small_files_store_what_file_by_file_ingest_stores(tmp_path, monkeypatch):
    _exports(tmp_path / "exports")
    sizes: list[int] = []
    submit_batch = Pipeline.submit_batch

    documents: list[int] = []

    def spy(self, parts, ctx):
        sizes.append(len(parts))
        if parts[0].chunk.block is None:
            documents.append(len(parts))
        return submit_batch(self, parts, ctx)

    monkeypatch.setattr(Pipeline, "submit_batch", spy)
    roads = {"one insert": 0, "file by file": 0}
    stored_per_file, store_target = Normalizer._stored_per_file, Normalizer._store_target

    def one_insert(self, *args):
        roads["one insert"] += 1
        return stored_per_file(self, *args)

    def file_by_file(self, *args):
        roads["file by file"] += 1
        return store_target(self, *args)

    monkeypatch.setattr(Normalizer, "_stored_per_file", one_insert)
    monkeypatch.setattr(Normalizer, "_store_target", file_by_file)
    alone_files, alone_rows = _ingest(tmp_path, "alone", monkeypatch, batch_bytes=0)
    assert sizes == []  # nothing batched: the oracle is the file-by-file path
    roads.update({"one insert": 0, "file by file": 0})
    batched_files, batched_rows = _ingest(tmp_path, "batched", monkeypatch, batch_bytes=60_000)
    assert max(sizes) >= 6 and sum(sizes) >= 18  # several batches, of several files
    assert max(documents) >= 3 and len(documents) >= 4  # records framed from documents and CSV are batched too
    assert roads["one insert"] >= 3 and roads["file by file"] >= 3  # both roads of a batch's store were taken

    assert batched_files == alone_files
    assert batched_rows == alone_rows
    by_name = {f["path"].split("exports/")[1]: f for f in batched_files}
    assert by_name["h/PT1H.json.gz"]["error"]  # the truncated file is reported, as before
    assert by_name["b/PT1H.json"]["per_table"]["SigninLogs"]["duplicates"] > 0  # ids of a.json: a's rows won
    assert by_name["j/PT0H.json"]["per_table"]["SigninLogs"]["duplicates"] > 0  # stored from a/, in one INSERT
    assert by_name["j/PT1H.json"]["per_table"]["SigninLogs"]["quarantined"] == 1  # the time that is no time
    assert by_name["k/q-broken.json"]["per_table"]  # a broken document: what was read, plus its quarantine row
    assert by_name["k/SigninLogs.csv"]["per_table"]["SigninLogs"] == {"read": 3, "inserted": 2, "duplicates": 0,
                                                                       "quarantined": 1}
    quarantined = sum(c["quarantined"] for f in batched_files for c in f["per_table"].values())
    assert quarantined > 0 and batched_rows["_Quarantine"]
    assert all(c["read"] == c["inserted"] + c["duplicates"] + c["quarantined"]
               for f in batched_files for c in f["per_table"].values())


def test_batches_are_stored_whole_or_not_at_all(tmp_path, monkeypatch):
    root = tmp_path / "exports"
    root.mkdir()
    for n in range(7):
        (root / f"PT{n}H.json").write_bytes(_lines(10 * n, 10 * n + 10))
    monkeypatch.setattr(readers, "BATCH_FILES", 2)  # four batches, in one transaction
    store_valid = Normalizer._store_valid
    inserted: list[int] = []

    def failing_store(self, con, target, rows, repeated, *rest):
        if any("PT5H" in name for name in rows.column("_SourceFile").to_pylist()):
            raise RuntimeError("disk on fire")
        inserted.append(store_valid(self, con, target, rows, repeated, *rest))
        return inserted[-1]

    monkeypatch.setattr(Normalizer, "_store_valid", failing_store)
    wh = DuckDBWarehouse(tmp_path / "w.duckdb")
    with pytest.raises(RuntimeError, match="disk on fire"):
        ingest_paths([root], wh, workers=2)
    assert sum(inserted) >= 20  # the first two batches were stored in the transaction before the failure ...
    assert all(not rows for rows in _snapshot(wh).values())  # ... and rolled back with it
    monkeypatch.setattr(Normalizer, "_store_valid", store_valid)
    report = ingest_paths([root], wh, workers=2)
    assert report.totals.reconciles and report.totals.inserted > 0
    assert all(f.per_table for f in report.files)
    wh.close()


def test_a_failed_prepare_rolls_the_batches_back(tmp_path, monkeypatch):
    root = tmp_path / "exports"
    root.mkdir()
    for n in range(7):
        (root / f"PT{n}H.json").write_bytes(_lines(10 * n, 10 * n + 10))
    monkeypatch.setattr(readers, "BATCH_FILES", 2)
    prepare = Normalizer.prepare

    def failing_prepare(self, con, parts, **kwargs):
        if any("PT4H" in part.source_file for part in parts):
            raise RuntimeError("out of memory")
        return prepare(self, con, parts, **kwargs)

    monkeypatch.setattr(Normalizer, "prepare", failing_prepare)
    wh = DuckDBWarehouse(tmp_path / "w.duckdb")
    with pytest.raises(RuntimeError, match="out of memory"):
        ingest_paths([root], wh, workers=2)
    assert all(not rows for rows in _snapshot(wh).values())  # the batches stored before it were rolled back
    wh.close()


_FILE = st.tuples(
    st.lists(st.one_of(st.integers(0, 80).map(_line), st.integers(0, 5).map(_graph_line), st.just(b"")), max_size=8),
    st.booleans(),  # gzip
    st.sampled_from(["lines", "records", "value"]),  # JSON lines, or a document wrapping the non-blank lines
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(files=st.lists(_FILE, min_size=1, max_size=6))
def test_any_small_files_batched_or_not_store_the_same(tmp_path_factory, monkeypatch, files):
    tmp_path = tmp_path_factory.mktemp("fuzz")
    root = tmp_path / "exports"
    root.mkdir()
    for n, (lines, gz, wrap) in enumerate(files):
        data = b"\n".join(lines) + b"\n"
        if wrap != "lines":
            data = b'{"' + wrap.encode() + b'": [' + b",".join(line for line in lines if line) + b"]}"
        (root / f"PT{n}H.json{'.gz' if gz else ''}").write_bytes(gzip.compress(data) if gz else data)
    monkeypatch.setattr(readers, "BATCH_FILES", 3)
    alone = _ingest(tmp_path, "alone", monkeypatch, batch_bytes=0)
    batched = _ingest(tmp_path, "batched", monkeypatch, batch_bytes=64 << 20)
    assert batched == alone
