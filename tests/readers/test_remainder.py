"""The C scanner cuts ``_Extra`` to exactly the bytes of DuckDB's ``nullif(json_merge_patch(raw, patch), '{}')``.

DuckDB is the oracle everywhere: table-driven edge cases, Hypothesis records written as text (with the
whitespace, escapes, number forms and repeated keys a dict cannot hold), and every dataset file
ingested both ways. Rows the scanner is unsure of are finished by DuckDB, so equality alone could
hide a scanner that gives up on everything: the tests also check that plain records are cut
natively (``unsure`` stays 0).
"""

from __future__ import annotations

import json
import warnings

import duckdb
import orjson
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from reader_oracle import find_datasets

from entrawatch import schema

# _remainder is imported, not skipped when missing: CI has a compiler, so a broken build fails here.
from entrawatch.readers import _jsonscan, ingest_paths, mapping, remainder, sqlgen
from entrawatch.warehouse import DuckDBWarehouse

_DUCK = duckdb.connect()


def _oracle(raw: str, patch: dict) -> str | None:
    return _DUCK.execute("SELECT nullif(json_merge_patch(?, ?), '{}')::VARCHAR",
                         [raw, orjson.dumps(patch).decode()]).fetchone()[0]


def _scan(texts: list[str], patches: list[dict], selectors: bytes | None = None) -> tuple[list, list[int]]:
    """The scanner alone: (outputs, unsure flags), an unsure row's output being None."""
    array = pa.array(texts, pa.string())
    _, offsets, data = array.buffers()
    validity, out_offsets, out_data, unsure = _jsonscan.remainders(offsets, data, 4, array.offset, len(array),
                                                                     selectors, patches)
    out = pa.Array.from_buffers(pa.string(), len(array), [pa.py_buffer(validity), pa.py_buffer(out_offsets),
                                                          pa.py_buffer(out_data)])
    return out.to_pylist(), list(unsure)


# (record text, patch, the scanner cuts it itself)
CASES = [
    ('{"a":1,"p":{"x":1,"y":2},"b":2}', {"p": {"x": None}, "a": None}, True),  # patched objects move last
    ('{"a":1,"b":2}', {"p": {"x": None}}, True),  # a missing patched object is written empty
    ('{"a":1,"p":"text","b":2}', {"p": {"x": None}}, True),  # ... and so is one that is not an object
    ('{"a":1,"a":2,"p":{"x":1},"p":{"y":3}}', {"p": {"x": None}}, True),  # repeats: all kept / the first merged
    ('{"a":{"b":{"c":1}}}', {"a": {"b": {"c": None}}}, True),
    ('{"a":{"b":{"c":1}}}', {"a": {"b": None}}, True),
    ('{"a":1}', {"a": None}, True),  # nothing left: NULL
    ('{}', {"a": None}, True),
    ('  { "a" : [ 1 , { "b" : null } ] ,\n\t"q": { } }  ', {"q": {"z": None}}, True),  # whitespace goes
    ('{"s":"\\u00e9\\/\\n\\u001f\\u2028\\ud83d\\ude00\\"\\\\\\b\\f\\r\\t\\u0000"}', {"z": None}, True),
    ('{"s":"raw é 😀 \u2028"}', {"z": None}, True),
    ('{"n":[0,-1,12345678901234567890,-9223372036854775809,184467440737095516160]}', {"z": None}, True),
    ('{"r":1.50,"x":1}', {"x": None}, False),  # yyjson rewrites reals: left to DuckDB
    ('{"r":1e2}', {"x": None}, False),
    ('{"r":-0}', {"x": None}, False),  # written as 0
    ('{"r":1.5,"x":1}', {"r": None}, True),  # a removed real is only checked
    ('{"a":1,}', {"x": None}, False),  # a trailing comma, which DuckDB accepts
    ('{"a":[1,]}', {"x": None}, False),
    ('{"a":NaN}', {"x": None}, False),
    ('{"a\\u0062":1}', {"ab": None}, False),  # an escaped key is compared unescaped by yyjson
    ('{"a":' + "[" * 300 + "]" * 300 + "}", {"x": None}, False),  # deeper than the scanner goes
    ('{"p":[1,2],"b":1}', {"p": {"x": None}}, True),  # an array under a patched object: written {}
    ('{"p":{"q":"s"}}', {"p": {"q": {"r": None}}}, True),
    ('{"p":{"x":1},"b":2}', {"p": None}, True),
    ('{"":1,"a":2}', {"": None}, True),  # the empty key
    ('{"é":1,"ü":{"x":1,"y":2}}', {"ü": {"x": None}}, True),  # keys in UTF-8
    ('{"s":"' + "a" * 15 + "\\\\" + "b" * 16 + '\\"' + "c" * 17 + "\\u00e9\"}", {"z": None}, True),  # escapes at 16-byte edges
    ('{"s":"' + "é" * 40 + "\\t" + "😀" * 9 + '"}', {"z": None}, True),  # multi-byte runs across 16-byte edges
]


@pytest.mark.parametrize(("raw", "patch", "native"), CASES)
def test_edge_cases_match_duckdb(raw: str, patch: dict, native: bool):
    (got,) = remainder.remainders(pa.array([raw]), None, [patch]).to_pylist()
    assert got == _oracle(raw, patch)
    outputs, unsure = _scan([raw], [patch])
    assert unsure == [0 if native else 1]
    if native:
        assert outputs == [got]


def test_selectors_pick_each_rows_patch():
    raws = ['{"a":1,"b":2,"c":3}'] * 4
    patches = [{"a": None}, {"a": None, "b": None}, {"c": None}]
    selectors = pa.array([0, 1, 2, 1], pa.uint8())
    got = remainder.remainders(pa.array(raws), selectors, patches).to_pylist()
    assert got == [_oracle(raw, patches[k]) for raw, k in zip(raws, selectors.to_pylist(), strict=True)]


def test_sliced_and_chunked_input_and_nulls():
    raws = pa.chunked_array([['{"a":1}', None, '{"b":2,"a":3}'], ['{"a":1.5}', '{"c":{"d":1}}', None]])
    got = remainder.remainders(raws.slice(1), None, [{"a": None}]).to_pylist()
    assert got == [None, '{"b":2}', None, '{"c":{"d":1}}', None]
    large = remainder.remainders(pa.array(['{"a":1,"b":2}'], pa.large_string()), None, [{"a": None}])
    assert large.to_pylist() == ['{"b":2}']


def test_text_that_is_not_json_fails_as_in_sql():
    """The normalize statement only sees records the stage parsed; anything else raises as DuckDB does."""
    for bad in ['{"a":', '{"a":1} x', '[1]']:
        _, unsure = _scan([bad], [{"a": None}])
        assert unsure == [1]
    with pytest.raises(duckdb.Error):
        remainder.remainders(pa.array(['{"a":']), None, [{"a": None}])


def test_bad_arguments_are_refused_not_read_out_of_bounds():
    array = pa.array(['{"a":1}', '{"b":2}'])
    _, offsets, data = array.buffers()
    with pytest.raises(ValueError, match="outside the data buffer"):
        _jsonscan.remainders(offsets, b"{}", 4, 0, 2, None, [{}])
    with pytest.raises(ValueError, match="shorter than"):
        _jsonscan.remainders(offsets, data, 4, 0, 5, None, [{}])
    with pytest.raises(ValueError, match="names no patch"):
        _jsonscan.remainders(offsets, data, 4, 0, 2, bytes([0, 3]), [{}])
    with pytest.raises(ValueError, match="row numbers"):
        _jsonscan.remainders(offsets, data, 4, 2**62, 1, None, [{}])
    with pytest.raises(ValueError, match="offset_width"):
        _jsonscan.remainders(offsets, data, 3, 0, 2, None, [{}])
    with pytest.raises(ValueError, match="escapes"):
        _jsonscan.remainders(offsets, data, 4, 0, 2, None, [{'a"b': None}])
    with pytest.raises(TypeError):
        _jsonscan.remainders(offsets, data, 4, 0, 2, None, [{"a": 1}])
    with pytest.raises(ValueError, match="patches"):
        _jsonscan.remainders(offsets, data, 4, 0, 2, None, [])


def test_output_larger_than_the_input_fits():
    """A patch's empty objects can make the output longer than the record: capacity is bounded by them."""
    patch = {f"k{i}": {f"j{j}": {"x": None} for j in range(20)} for i in range(20)}
    raws = ["{}"] * 300
    got = remainder.remainders(pa.array(raws), None, [patch]).to_pylist()
    assert got == [_oracle("{}", patch)] * 300
    assert _scan(raws[:1], [patch])[1] == [0]


# -- Hypothesis: records written as text ----------------------------------------------------------

KEYS = ["a", "b", "p", "id", "properties", "status", "é", "x y"]
INTEGER = r"-?(0|[1-9][0-9]{0,21})"
REAL = r"-?(0|[1-9][0-9]{0,5})(\.[0-9]{1,6})?([eE][+-]?[0-9]{1,2})?"
SPACE = st.sampled_from(["", "", "", " ", "\n", "\t ", "\r\n"])
PLAIN_STRINGS = st.text(st.characters(blacklist_categories=("Cs",)), max_size=6)


def _string_text(value: str, escape_unicode: bool) -> str:
    return json.dumps(value, ensure_ascii=escape_unicode)


@st.composite
def _value(draw, depth: int = 0, plain: bool = False) -> str:
    kinds = ["int", "str", "lit"] + ([] if plain else ["real"]) + (["obj", "arr"] if depth < 3 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "int":
        text = draw(st.from_regex(INTEGER, fullmatch=True))
        return "0" if plain and text == "-0" else text
    if kind == "real":
        return draw(st.from_regex(REAL, fullmatch=True))
    if kind == "str":
        return _string_text(draw(PLAIN_STRINGS), draw(st.booleans()))
    if kind == "lit":
        return draw(st.sampled_from(["true", "false", "null"]))
    if kind == "arr":
        items = draw(st.lists(_value(depth + 1, plain), max_size=3))
        return "[" + ",".join(draw(SPACE) + item + draw(SPACE) for item in items) + "]"
    return _object(draw, depth + 1, plain)


def _object(draw, depth: int, plain: bool) -> str:
    members = draw(st.lists(st.tuples(st.sampled_from(KEYS), _value(depth, plain)), max_size=5))
    return "{" + ",".join(f"{draw(SPACE)}{_string_text(k, False)}{draw(SPACE)}:{draw(SPACE)}{v}{draw(SPACE)}"
                          for k, v in members) + "}"


@st.composite
def _record(draw, plain: bool = False) -> str:
    return draw(SPACE) + _object(draw, 0, plain) + draw(SPACE)


patches = st.recursive(st.none(), lambda inner: st.dictionaries(st.sampled_from(KEYS), inner, max_size=4),
                       max_leaves=10).filter(lambda p: isinstance(p, dict))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=st.lists(_record(), min_size=1, max_size=8), patch_list=st.lists(patches, min_size=1, max_size=3),
       data=st.data())
def test_generated_records_match_duckdb(records: list[str], patch_list: list[dict], data: st.DataObject):
    selectors = data.draw(st.lists(st.integers(0, len(patch_list) - 1), min_size=len(records),
                                   max_size=len(records)))
    got = remainder.remainders(pa.array(records), pa.array(selectors, pa.uint8()), patch_list).to_pylist()
    assert got == [_oracle(raw, patch_list[k]) for raw, k in zip(records, selectors, strict=True)]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=st.lists(_record(plain=True), min_size=1, max_size=8), patch=patches)
def test_plain_records_are_cut_natively(records: list[str], patch: dict):
    """Integers, strings (escaped or not), literals, any whitespace: never left to DuckDB."""
    outputs, unsure = _scan(records, [patch])
    assert unsure == [0] * len(records)
    assert outputs == [_oracle(raw, patch) for raw in records]


# -- the ingest, both ways -------------------------------------------------------------------------

def _tables(wh: DuckDBWarehouse) -> dict[str, list]:
    result = {}
    for table in (*schema.SIGNIN_TABLES, schema.AUDIT_TABLE):
        columns = [c for c in schema.table(table).column_names if c != "_IngestedAt"]
        select = ", ".join(f'"{c}"' for c in columns)
        result[table] = wh.query(f'SELECT {select} FROM "{table}" ORDER BY "Id", "_SourceFile"').to_pylist()
    return result


def test_every_dataset_file_stores_the_same_rows_both_ways(tmp_path, monkeypatch):
    datasets = find_datasets()
    native = DuckDBWarehouse(tmp_path / "native.duckdb")
    report = ingest_paths([datasets], native)
    monkeypatch.setenv("ENTRAWATCH_NATIVE", "0")
    assert not remainder.available()
    sql = DuckDBWarehouse(tmp_path / "sql.duckdb")
    sql_report = ingest_paths([datasets], sql)
    assert report.totals == sql_report.totals
    native_rows, sql_rows = _tables(native), _tables(sql)
    assert sum(len(rows) for rows in native_rows.values()) > 100
    assert sum(1 for rows in native_rows.values() for row in rows if row["_Extra"]) > 100
    for table in native_rows:
        assert native_rows[table] == sql_rows[table], table
    native.close()
    sql.close()


def test_the_function_outlives_the_warehouse_that_registered_it(tmp_path):
    """DuckDB calls a Python function through the connection that registered it: it is registered on
    the instance's root, so closing the first of two warehouses on one file leaves it working."""
    line = json.dumps({"time": "2025-01-01T00:00:00Z", "category": "SignInLogs",
                       "properties": {"id": "x1", "createdDateTime": "2025-01-01T00:00:00Z", "newField": 1}})
    source = tmp_path / "PT1H.json"
    source.write_text(line + "\n")
    first = DuckDBWarehouse(tmp_path / "w.duckdb")
    ingest_paths([source], first)
    second = DuckDBWarehouse(tmp_path / "w.duckdb")
    first.close()
    source.write_text(line.replace("x1", "x2") + "\n")
    assert ingest_paths([source], second).totals.inserted == 1
    extras = second.query('SELECT "_Extra" FROM "SigninLogs" ORDER BY "Id"').column(0).to_pylist()
    assert [json.loads(e)["properties"]["newField"] for e in extras] == [1, 1]
    second.close()


def test_extra_patches_are_those_of_the_sql_path():
    for family in (mapping.DIAG, mapping.GRAPH, mapping.LA):
        for table in (*schema.SIGNIN_TABLES, schema.AUDIT_TABLE):
            sql = sqlgen.normalize_sql(family, table)
            for patch in sqlgen.extra_patches(family, table):
                assert orjson.dumps(patch).decode().replace("'", "''") in sql


def test_the_normalizer_uses_the_scanner_unless_turned_off(tmp_path, monkeypatch):
    from entrawatch.readers.normalize import Normalizer

    wh = DuckDBWarehouse(tmp_path / "w.duckdb")
    for native in (True, False):
        monkeypatch.setenv("ENTRAWATCH_NATIVE", "1" if native else "0")
        normalizer = Normalizer(wh)
        assert normalizer.native_extra is native
        normalizer.close()
    wh.close()


def test_a_refused_registration_falls_back_to_sql_with_a_warning(tmp_path, monkeypatch):
    from entrawatch.readers.normalize import Normalizer

    def refuse(con: duckdb.DuckDBPyConnection) -> None:
        raise duckdb.InvalidInputException("'numpy' is required for this operation")

    monkeypatch.setattr(remainder, "register", refuse)
    wh = DuckDBWarehouse(tmp_path / "w.duckdb")
    with pytest.warns(RuntimeWarning, match="json_merge_patch"):
        normalizer = Normalizer(wh)
    assert not normalizer.native_extra
    normalizer.close()
    source = tmp_path / "PT1H.json"
    source.write_text(json.dumps({"time": "2025-01-01T00:00:00Z", "category": "SignInLogs",
                                  "properties": {"id": "x1", "createdDateTime": "2025-01-01T00:00:00Z", "n": 2}}) + "\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        assert ingest_paths([source], wh).totals.inserted == 1
    assert any(issubclass(w.category, RuntimeWarning) for w in caught)
    (extra,) = wh.query('SELECT "_Extra" FROM "SigninLogs"').column(0).to_pylist()
    assert json.loads(extra)["properties"]["n"] == 2
    wh.close()
