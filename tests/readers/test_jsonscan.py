"""The C scan of a document's top level says what DuckDB's ``json_keys`` and ``json_type`` say.

``jsonscan.top_level`` lets a large ``{"records":[...]}`` document be checked without DuckDB holding
~5-6x its size. DuckDB is the oracle: on generated documents written as text (repeated keys,
escapes, every number form, cut anywhere), whenever the scan answers, its keys (in order, with
repeats) are DuckDB's, and so is its "is an array" for the first ``records``/``value`` key; whenever DuckDB refuses
the text, the scan does not answer. Plain documents must be answered, so a scan that always gave
up would fail.
"""

from __future__ import annotations

import json

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_whole_documents import _text, documents

from entrawatch.readers import framing, jsonscan
from entrawatch.readers.sqlexpr import json_path

_DUCK = duckdb.connect()


def _duckdb_top_level(data: bytes) -> tuple[list[str], dict[str, bool]] | None:
    """DuckDB's top-level keys of ``data`` (in order, with repeats) and, for the keys the ingest
    asks about (``records``, ``value``), whether the first one holds an array; None if refused."""
    try:
        text = data.decode("utf-8")
        if _DUCK.execute("SELECT json_type(?)", [text]).fetchone()[0] != "OBJECT":
            return None
        (keys,) = _DUCK.execute("SELECT json_keys(?)", [text]).fetchone()
        arrays = {key: _DUCK.execute("SELECT json_type(?, ?)", [text, json_path((key,))]).fetchone()[0] == "ARRAY"
                  for key in set(keys) & set(framing.CONTAINER_KEYS)}
    except (duckdb.Error, UnicodeDecodeError):
        return None
    return keys, arrays


def _as_duckdb_says(members: list[tuple[str, bool]]) -> tuple[list[str], dict[str, bool]]:
    keys = [key for key, _ in members]
    first = dict(reversed(members))
    return keys, {key: first[key] for key in set(keys) & set(framing.CONTAINER_KEYS)}


@pytest.fixture(autouse=True)
def _native(monkeypatch):
    monkeypatch.setenv("ENTRAWATCH_NATIVE", "1")
    assert jsonscan.available(), "the C extension is not built (setup.py)"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents, st.booleans(), st.integers(0, 400))
def test_the_scan_agrees_with_duckdb_or_leaves_it(document, indent, cut):
    data = _text(document, indent).encode()
    for text in (data, data[: cut % (len(data) + 1)]):
        scanned = jsonscan.top_level(text)
        expected = _duckdb_top_level(text)
        if expected is None:
            assert scanned is None, text
        elif scanned is not None:
            assert _as_duckdb_says(scanned) == expected, text


_SAFE_KEYS = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters='"\\'), max_size=6)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_SAFE_KEYS, _JSON), max_size=6), st.sampled_from([None, 1]))
def test_plain_documents_are_answered_by_the_scan(members, indent):
    text = "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{json.dumps(v, indent=indent)}"
                          for k, v in members) + "}"
    data = text.encode()
    scanned = jsonscan.top_level(data)
    assert scanned == [(k, isinstance(v, list)) for k, v in members]
    assert _as_duckdb_says(scanned) == _duckdb_top_level(data)


@pytest.mark.parametrize("text", [
    b'{"a":1,}',                 # DuckDB takes a trailing comma; the scan leaves it
    b'{"a":NaN}',
    b'{"a\\u0062":1}',           # an escaped key
    b'{"a":' + b"[" * 300 + b"]" * 300 + b"}",
    b'[{"a":1}]',                # not an object
    b'{"a":"\xff"}',             # not UTF-8: DuckDB refuses it too
])
def test_what_the_scan_leaves(text):
    assert jsonscan.top_level(text) is None


def test_turned_off(monkeypatch):
    monkeypatch.setenv("ENTRAWATCH_NATIVE", "0")
    assert jsonscan.top_level(b'{"records":[]}') is None
