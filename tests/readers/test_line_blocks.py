"""JSON-lines framing in SQL (line blocks) must number, strip and refuse lines exactly as the
per-line Python framing does; the Python framing stays as the fallback for blocks that are not
valid UTF-8 as a whole."""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reader_oracle import rows

from entrawatch.readers import framing, ingest_paths, mapping, sqlgen
from entrawatch.readers.framing import LineBlock, RecordCounter


def _record(record_id: str, category: str = "SignInLogs", **props: object) -> bytes:
    return json.dumps({
        "time": "2025-03-10T08:00:05Z", "category": category, "resultType": "0",
        "properties": {"id": record_id, "userPrincipalName": "alice@contoso.com", **props},
    }).encode()


def _staged_sql(data: bytes, first_line: int, next_idx: int) -> list[tuple]:
    """(line, idx, raw) as the SQL block framing stages them.

    The block is staged as the second file of a batch, after another file's block, so records
    must be numbered per file.
    """
    con = duckdb.connect()
    other = _record("other-file") + b"\n\n" + _record("other-file-2")
    text = pa.array([other, data], pa.large_binary()).cast(pa.large_string())
    con.register(sqlgen.BLOCK_LINES, pa.table({
        "block": text, "_file": pa.array([0, 1], pa.int32()), "first_line": pa.array([1, first_line], pa.int64()),
        "first_idx": pa.array([5, next_idx], pa.int64()), "name_table": pa.array([None, None], pa.string()),
    }))
    con.execute(f"CREATE TEMP TABLE {sqlgen.STAGE} AS {sqlgen.stage_block_sql(mapping.DIAG)}", [None]).fetchall()
    assert con.execute(f"SELECT line, idx FROM {sqlgen.STAGE} WHERE _file = 0 ORDER BY line").fetchall() == [
        (1, 5), (3, 6)]
    return con.execute(f"SELECT line, idx, raw FROM {sqlgen.STAGE} WHERE _file = 1 ORDER BY line").fetchall()


def _framed_python(data: bytes, first_line: int, next_idx: int) -> list[tuple]:
    chunk = framing.frame_lines(LineBlock(data, first_line, RecordCounter(next_idx)))
    assert not chunk.rejects
    t = chunk.table
    return list(zip(t.column("line").to_pylist(), t.column("idx").to_pylist(), t.column("raw").to_pylist(),
                    strict=True))


def test_strip_characters_are_pythons_whitespace():
    assert "".join(chr(c) for c in range(0x110000) if chr(c).isspace()) == sqlgen.STRIP_CHARS


_PADDING = st.text(alphabet=" \t\r\x0b\x0c\x1c\x85\xa0\u2028\u3000\ufeff", max_size=3)
_LINE = st.one_of(
    st.builds(lambda a, b, c: a + b + c, _PADDING, st.sampled_from(['{"category":"SignInLogs"}', "[1]", "{bad", "x"]),
              _PADDING),
    _PADDING,  # blank or whitespace-only lines
    st.text(alphabet=st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), max_size=12),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines=st.lists(_LINE, max_size=12), trailing_newline=st.booleans(),
       first_line=st.integers(1, 10_000), next_idx=st.integers(0, 10_000))
def test_sql_framing_equals_python_framing(lines, trailing_newline, first_line, next_idx):
    data = "\n".join(lines).encode() + (b"\n" if trailing_newline and lines else b"")
    assert _staged_sql(data, first_line, next_idx) == _framed_python(data, first_line, next_idx)


def test_invalid_utf8_refuses_only_that_line(warehouse, tmp_path):
    path = tmp_path / "PT1H.json"
    path.write_bytes(b"\n".join([
        _record("ok-1"),
        b"",
        b'{"category": "SignInLogs", "bad": "\xff\xfe"}',
        b"\xef\xbb\xbf" + _record("ok-2") + b"\r",
        b"   ",
        _record("ok-3"),
    ]) + b"\n")
    report = ingest_paths([path], warehouse)
    assert report.totals.inserted == 3 and report.totals.quarantined == 1
    assert report.totals.reconciles
    bad = rows(warehouse, 'SELECT "LineNumber", "RecordIndex", "Reason" FROM "_Quarantine"')
    assert bad == [{"LineNumber": 3, "RecordIndex": 1, "Reason": "invalid UTF-8: invalid start byte"}]
    ids = rows(warehouse, 'SELECT "Id" FROM "SigninLogs" ORDER BY "Id"')
    assert [r["Id"] for r in ids] == ["ok-1", "ok-2", "ok-3"]


@pytest.mark.parametrize("block_bytes", [64, 300, 1 << 20])
def test_blocks_number_lines_and_records_across_block_boundaries(warehouse, tmp_path, monkeypatch, block_bytes):
    monkeypatch.setattr(framing, "CHUNK_BYTES", block_bytes)
    lines = []
    for i in range(30):
        lines.append(_record(f"r-{i}") if i % 7 != 3 else b"{malformed")
        if i % 5 == 0:
            lines.append(b"")
    lines.insert(12, b"\xc3\x28 not utf-8")  # the block holding it falls back to Python framing
    path = tmp_path / "PT1H.json"
    path.write_bytes(b"\n".join(lines))
    report = ingest_paths([path], warehouse)
    assert report.totals.reconciles and report.totals.read == 31
    quarantined = rows(warehouse, 'SELECT "LineNumber", "RecordIndex", "Reason" FROM "_Quarantine" ORDER BY 1')
    expected = []
    idx = 0
    for number, line in enumerate(lines, start=1):
        if not line:
            continue
        if line.startswith(b"{malformed"):
            expected.append({"LineNumber": number, "RecordIndex": idx, "Reason": "malformed JSON"})
        elif line.startswith(b"\xc3"):
            expected.append({"LineNumber": number, "RecordIndex": idx, "Reason": "invalid UTF-8: invalid continuation byte"})
        idx += 1
    assert quarantined == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=30),
       st.booleans(), st.integers(1, 90))
def test_line_blocks_cover_the_input_exactly_in_whole_lines(lines, final_newline, block_bytes):
    """Blocks are views of what was read (the cut line's tail read again with the next block):
    together they are the input, each ends at a line end, and each knows its first line number."""
    import io

    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(framing, "CHUNK_BYTES", block_bytes)
        blocks = [c.block for c in framing._json_line_blocks(io.BufferedReader(io.BytesIO(data)))]
    assert b"".join(bytes(b.data) for b in blocks) == data
    seen = b""
    for block in blocks[:-1]:
        assert bytes(block.data).endswith(b"\n")
    for block in blocks:
        assert block.first_line == seen.count(b"\n") + 1
        seen += bytes(block.data)


@pytest.mark.parametrize("size", [0, 1, (4 << 20) - 1, 4 << 20, (4 << 20) + 1, (9 << 20) + 7])
def test_newlines_are_counted_as_bytes_count_does(size: int):
    """The vectorised count works in 4 MB slices: sizes around a slice's edge, bytes and bytearray."""
    pattern = b'{"a":1}\n\n x\r\n'
    data = (pattern * (size // len(pattern) + 1))[:size]
    for end in {0, size // 3, size}:
        assert framing._newlines(data, end) == data.count(b"\n", 0, end)
    assert framing._newlines(bytearray(data), size) == data.count(b"\n")
