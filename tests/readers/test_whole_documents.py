"""Small JSON documents are parsed whole (orjson) instead of streamed (ijson): same records, same text.

The whole-document path (``framing._small_document``) is only a faster way to frame; the streamed path
is the reference. Documents are generated as text so that they can hold what a Python dict cannot:
repeated keys (at the top level, where the streaming parser reads a repeated container twice, and
inside records), integers beyond 64 bits, numbers written every JSON way, and strings holding
``e+`` (orjson's exponent marker). Every framed chunk and reject must be identical both ways.
"""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from entrawatch.readers import framing, jsonscan
from entrawatch.readers.sources import iter_sources

NUMBER = r"-?(0|[1-9][0-9]{0,24})(\.[0-9]{1,18})?([eE][+-]?[0-9]{1,3})?"
numbers = st.from_regex(NUMBER, fullmatch=True)
strings = st.one_of(st.text(max_size=8), st.sampled_from(["e+", "1e+30", "records", "value", "\u00e9\u2028", "a\"b\\"]))
scalars = st.one_of(st.none(), st.booleans(), numbers.map(lambda n: ("num", n)), strings)
keys = st.one_of(st.text(max_size=5), st.sampled_from(["id", "records", "value", "category", "properties"]))


def _objects(inner: st.SearchStrategy) -> st.SearchStrategy:
    """An object as a list of (key, value) pairs: keys may repeat."""
    return st.lists(st.tuples(keys, inner), max_size=4).map(lambda pairs: ("obj", pairs))


values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | _objects(inner), max_leaves=8)
records = _objects(values)
#: Top-level shapes: a records/value container (maybe repeated, maybe not an array), an array, a bare object.
containers = st.lists(st.tuples(st.sampled_from(["records", "value", "@odata.nextLink", "other", "records.item",
                                                 "value.x", ""]),
                                st.one_of(st.lists(records, max_size=4), values)), min_size=1, max_size=3)
documents = st.one_of(containers.map(lambda pairs: ("obj", pairs)), st.lists(records, max_size=4), records, scalars)


def _text(value: object, indent: bool) -> str:
    sep = "\n  " if indent else ""
    if isinstance(value, tuple) and value[0] == "num":
        return value[1]
    if isinstance(value, tuple) and value[0] == "obj":
        return "{" + sep + ("," + sep).join(f"{json.dumps(k, ensure_ascii=False)}:{_text(v, indent)}"
                                             for k, v in value[1]) + "}"
    if isinstance(value, list):
        return "[" + sep + ("," + sep).join(_text(v, indent) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _framed(data: bytes, streamed_only: bool, keyed: bool = False) -> tuple:
    """How ``data`` frames: parsed whole where it can be, or (``streamed_only``) streamed through
    Python-level events, or (``keyed`` too) streamed with the C ``items`` of a keyed document."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "message.json"
        path.write_bytes(data)
        (source,) = iter_sources([path])
        with pytest.MonkeyPatch.context() as patch:
            if streamed_only:
                patch.setattr(framing, "WHOLE_DOCUMENT_BYTES", -1)
                if not keyed:
                    patch.setattr(framing, "keyed_document_bytes", lambda: -1)
            framed = framing.frame(source)
            chunks = list(framed.chunks)
    return (framed.shape, framed.family,
            [(c.table.to_pylist(), [vars(r) for r in c.rejects]) for c in chunks])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents, st.booleans())
def test_whole_and_streamed_documents_frame_identically(document, indent):
    data = _text(document, indent).encode()
    if not data.lstrip().startswith((b"{", b"[")):
        data = b"[" + data + b"]"  # a bare scalar file is CSV-detected; wrap it to stay a document
    assert _framed(data, streamed_only=False) == _framed(data, streamed_only=True)


@pytest.fixture(params=["C scan", "DuckDB"])
def top_level_check(request, monkeypatch):
    """Each keyed-document test runs with the top level checked by the C scan and by DuckDB."""
    monkeypatch.setenv("ENTRAWATCH_NATIVE", "1" if request.param == "C scan" else "0")
    if request.param == "C scan":
        assert jsonscan.available(), "the C extension is not built (setup.py)"
    return request.param


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(documents, st.booleans(), st.integers(0, 600))
def test_keyed_documents_frame_as_events_did(top_level_check, document, indent, cut):
    """A ``{...}`` document whose top level was checked is built by ijson's C ``items``: the same
    chunks and rejects as the Python-level events give, whole or cut at any byte."""
    data = _text(document, indent).encode()
    if not data.lstrip().startswith(b"{"):
        data = b'{"records":' + data + b"}"
    for text in (data, data[: cut % (len(data) + 1)]):
        assert _framed(text, streamed_only=True, keyed=True) == _framed(text, streamed_only=True)


@pytest.mark.parametrize("text", [
    '{"records":[{"id":"a"},{"id":"b","n":[1,2.5,{"x":null}]}]}',  # the usual: one container array
    '{"time":"t","records":[{"id":"a"}],"other":{"records":[1]}}',  # other keys are not records
    '{"records":[{"id":"a"}],"records":[{"id":"b"}]}',            # repeated: both, in order
    '{"value":[{"id":"b"}],"records":[{"id":"a"}]}',              # both containers: document order
    '{"records":{"item":{"id":"a"}}}',                            # not an array: the object itself
    '{"records":[{"id":"a"}],"records.item":[{"id":"x"}]}',       # a key that spells the prefix
    '{"records":[{"id":"a"}],"records.x":{"id":"y"}}',
    '{"":{"records":[{"id":"x"}]},"records":[{"id":"a"}]}',         # ijson's prefix there is ".records.item"
    '{"\u0072ecords":[{"id":"a"}],"records":[{"id":"b"}]}',      # repeated through an escape
    '{"records":[{"id":"a"},{"id":"b"},]}',                       # a trailing comma (yyjson accepts it)
    '{"records":[{"id":"a"},{"id":NaN}]}',
    '{"records":[{"id":"a"},{"id":123456789012345678901234567890}]}',
    '{"records":[{"id":"a"}]} trailing',
    '{"records":[{"id":"a"},{"id":"b"}',
    '{"records":[]}',
    '{"value":[{"id":"a","records":[{"id":"inner"}]}]}',
])
def test_keyed_document_edge_cases_frame_as_events_did(top_level_check, text):
    data = text.encode()
    assert _framed(data, streamed_only=True, keyed=True) == _framed(data, streamed_only=True)


def test_a_keyed_document_takes_the_c_items_path_only_when_it_is_exact(top_level_check):
    assert framing._only_container(b'{"time":"t","records":[{"id":"a"}]}') == "records"
    assert framing._only_container(b' {"value": [] } ') == "value"
    for text in ['{"records":[1],"records":[2]}', '{"records":[1],"value":[2]}', '{"records":{"a":1}}',
                 '{"records":[1],"records.item":[2]}', '{"records":[1]', '{"other":[1]}', '{"records":[1]} x']:
        assert framing._only_container(text.encode()) is None, text


def test_a_document_larger_than_the_keyed_limit_streams_through_events(monkeypatch):
    data = json.dumps({"records": [{"category": "SignInLogs", "properties": {"id": str(i)}} for i in range(50)]})
    monkeypatch.setattr(framing, "keyed_document_bytes", lambda: len(data) // 3)
    asked: list[bytes] = []
    monkeypatch.setattr(framing, "_only_container", lambda data: asked.append(data))
    items, error = _drained(framing._document_items(io.BufferedReader(io.BytesIO(data.encode()))))
    assert (len(items), error, asked) == (50, None, [])  # read again from the bytes already taken


@pytest.mark.parametrize("text", [
    '{"records":[{"id":"a"}],"records":[{"id":"b"}]}',           # a repeated container: both are read
    '{"records":[{"id":"a"}],"records":5}',                       # then not an array
    '{"value":[{"id":"a"}],"records":[{"id":"b"}]}',              # two containers, document order
    '[{"id":123456789012345678901234567890}]',                    # beyond 64 bits: exact only streamed
    '[{"id":-9223372036854775809}]',                              # below int64
    '[{"id":18446744073709551615,"n":1E2,"m":-0,"f":2.50}]',
    '[{"ua":"Mozilla e+ 1e+30"}]',                                # "e+" in a string: re-read, same result
    '[{"x":NaN}]',
    '\ufeff[{"id":"bom"}]',
    '[{"id":"a"},]',                                              # trailing comma: quarantined
    '{"records":[{"id":"a"}]} trailing',
    '[{"s":"\\ud800"}]',                                          # lone surrogate
    '{"value":[{"id":"a","id":"b"}],"@odata.nextLink":"x"}',
    '{"records":[{"id":"a"}],"r\\u0065cords":[{"id":"b"}]}',    # repeated, once written with an escape
    '{"records":[{"id":"a","k":"records"}]}',                    # "records" twice in the text, once a key
    '{"records":[{"key":"k","value":"v"}],"value":5}',
    '\n\n   {"records":[{"category":"SignInLogs","properties":{"id":"a"}}]}\n\n',
    '{\n "records": [\n  {"category": "AuditLogs", "properties": {"id": "a"}}\n ]\n}',
    '{"records":[]}',
    '{"value":[]}',
    '[]',
])
def test_edge_documents_frame_identically(text):
    data = text.encode()
    assert _framed(data, streamed_only=False) == _framed(data, streamed_only=True)


def test_an_event_hub_message_is_framed_whole(monkeypatch):
    """Guards the speed-up itself: a plain message must not fall back to streaming."""
    streamed: list[int] = []
    real = framing._streamed_documents

    def spy(*args, **kwargs):
        streamed.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(framing, "_streamed_documents", spy)
    record = {"time": "2025-01-01T00:00:00Z", "category": "SignInLogs",
              "properties": {"id": "x", "location": {"geoCoordinates": {"latitude": 50.1109008789062}}}}
    shape, family, chunks = _framed(json.dumps({"records": [record, record]}).encode(), streamed_only=False)
    assert (shape, streamed) == ("diagnostic", [])
    assert [r["raw"] for r in chunks[0][0]] == [json.dumps(record, separators=(",", ":"))] * 2


def test_a_plus_sign_after_an_e_in_a_string_does_not_send_a_message_to_streaming(monkeypatch):
    streamed: list[int] = []
    real = framing._streamed_documents
    monkeypatch.setattr(framing, "_streamed_documents", lambda *a, **k: streamed.append(1) or real(*a, **k))
    record = {"time": "2025-01-01T00:00:00Z", "category": "AuditLogs", "properties": {"id": "x", "app": "Office+365"}}
    data = json.dumps({"records": [record]}).encode()
    assert _framed(data, streamed_only=False) == _framed(data, streamed_only=True)
    assert streamed == [1]  # only the streamed_only run


def test_a_large_document_still_streams(monkeypatch):
    monkeypatch.setattr(framing, "WHOLE_DOCUMENT_BYTES", 64)
    records = [{"id": str(i), "createdDateTime": "2025-01-01T00:00:00Z"} for i in range(50)]
    data = json.dumps({"value": records}).encode()
    shape, _, chunks = _framed(data, streamed_only=False)
    assert shape == "graph"
    assert [json.loads(r["raw"]) for r in chunks[0][0]] == records


@pytest.mark.parametrize("big", ["18446744073709551615", "123456789012345678901234567890"])
def test_an_array_whose_first_record_holds_a_huge_integer_is_still_read(tmp_path, big):
    """Detection used to sample the first record with yajl only, which refuses integers beyond
    64 bits: a JSON array of sign-ins (a portal download) was an unknown shape, every record quarantined."""
    from entrawatch.readers import ingest_paths
    from entrawatch.warehouse import DuckDBWarehouse

    path = tmp_path / "signins.json"
    path.write_text('[{"id":"a","createdDateTime":"2025-01-01T00:00:00Z","n":' + big + '}]')
    with DuckDBWarehouse(":memory:") as wh:
        report = ingest_paths([path], wh)
        assert report.files[0].shape == "graph"
        assert (report.totals.inserted, report.totals.quarantined) == (1, 0)


def test_whole_documents_are_cut_into_the_same_chunks(monkeypatch):
    monkeypatch.setattr(framing, "CHUNK_RECORDS", 2)
    data = json.dumps({"records": [{"category": "SignInLogs", "properties": {"id": str(i)}} for i in range(5)]})
    whole, streamed = _framed(data.encode(), streamed_only=False), _framed(data.encode(), streamed_only=True)
    assert [len(rows) for rows, _ in whole[2]] == [2, 2, 1]
    assert whole == streamed


def _drained(items) -> tuple[list, str | None]:
    """Every item until the iterator ends or fails, and the error's class name (compared too)."""
    out: list = []
    try:
        for item in items:
            out.append(item)
    except Exception as err:  # noqa: BLE001 - the error class is part of what is compared
        return out, type(err).__name__
    return out, None


def _items_from_events(data: bytes) -> tuple[list, str | None]:
    """The array path as it was: items built from Python-level parse events (the oracle)."""
    import ijson

    return _drained(ijson.items(ijson.parse(io.BytesIO(data), use_float=True), "item"))


def _document_items(data: bytes) -> tuple[list, str | None]:
    return _drained(framing._document_items(io.BufferedReader(io.BytesIO(data))))


@pytest.mark.parametrize("text", [
    '[{"id":"a"},{"id":"b","n":[1,2.5,{"x":null}]}]',
    '[{"id":"a"},{"id":"b"}] trailing',
    '[{"id":"a"},{"id":"b"},',
    '[{"id":"a"},{"id":123456789012345678901234567890}]',
    '[{"id":"a"},{"id":NaN}]',
    '  \n [{"id":"a","id":"b"}]',
    '[1, "two", [3], null]',
    '[]',
])
def test_top_level_arrays_stream_as_items_from_events_did(text):
    data = text.encode()
    assert _document_items(data) == _items_from_events(data)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(records, max_size=6), st.integers(0, 400))
def test_top_level_arrays_cut_anywhere_stream_as_before(items, cut):
    data = _text(items, indent=False).encode()
    data = data[: cut % (len(data) + 1)]
    if data.lstrip().startswith(b"["):
        assert _document_items(data) == _items_from_events(data)
