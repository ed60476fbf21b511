"""The C pass of ``readers/rowscan.py`` computes a table's rows exactly as the normalize statement does.

The statement (``sqlgen.normalize_sql``, with DuckDB's own ``json_merge_patch`` for ``_Extra``) is
the oracle: table-driven edge cases, Hypothesis records written as text (escapes, whitespace,
repeated and case-variant keys, number forms, every time and type the columns take), and whole
line blocks, compared row by row. Unsure rows are recomputed by the statement, so equality alone
could hide a pass that gives up on everything: plain records must be *sure*, and the block lane
must take plain blocks. Every dataset file is also ingested with and without the C scans
(``test_remainder.py``), which runs this pass end to end.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import duckdb
import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from entrawatch import schema
from entrawatch.readers import _jsonscan, mapping, rowscan, sqlgen
from entrawatch.readers.normalize import _normalized_sql

TABLES = (*schema.SIGNIN_TABLES, schema.AUDIT_TABLE)
CATEGORY = {t: c for c, t in schema.CATEGORY_TO_TABLE.items() if t in TABLES}
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
FILES, SHAPES = ["a.json", "b.json"], ["diagnostic", "diagnostic"]


def _oracle(records: list[str], table: str) -> pa.Table:
    """The normalize statement (SQL ``_Extra``) over ``records`` staged as ``table``'s rows."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    staged = _staged(records)  # noqa: F841 - read by DuckDB's replacement scan
    con.execute(f"CREATE TEMP TABLE {sqlgen.STAGE} AS SELECT *, CAST(? AS VARCHAR) AS _target, "
                "CAST(NULL AS VARCHAR) AS _reason FROM staged", [table])
    return con.sql(_normalized_sql(mapping.DIAG, table, False), params=[FILES, SHAPES, NOW]).to_arrow_table()


def _staged(records: list[str]) -> pa.Table:
    count = len(records)
    return pa.table({"_file": pa.array([k % 2 for k in range(count)], pa.int32()),
                     "line": pa.array(range(1, count + 1), pa.int64()),
                     "idx": pa.array(range(count), pa.int64()),
                     "raw": pa.array(records, pa.string()),
                     "agg": pa.array([False] * count)})


def _compare(records: list[str], table: str) -> list[bool]:
    """Native rows equal the statement's for every sure row; returns which rows were sure."""
    native, unsure = rowscan.rows(_staged(records), mapping.DIAG, table, FILES, SHAPES, NOW)
    expected = _oracle(records, table)
    assert native.schema == expected.schema
    sure = [not u for u in unsure.to_pylist()]
    got_rows, want_rows = native.to_pylist(), expected.to_pylist()
    for i, ok in enumerate(sure):
        if ok:
            assert want_rows[i]["_reason"] is None, (records[i], want_rows[i]["_reason"])
            assert got_rows[i] == want_rows[i], records[i]
    return sure


def _sign_in(**properties) -> dict:
    base = {"id": "3f1c2a4e-0000-4000-8000-000000000001", "createdDateTime": "2025-03-04T05:06:07.1234567Z",
            "userPrincipalName": "ann@contoso.com", "status": {"errorCode": 0}, "isInteractive": True}
    base.update(properties)
    return {"time": "2025-03-04T05:08:00.0000000Z", "category": "SignInLogs", "operationName": "Sign-in activity",
            "durationMs": 0, "Level": 4, "properties": base}


# (record text, table, the pass computes it itself)
CASES = [
    (json.dumps(_sign_in()), "SigninLogs", True),
    (json.dumps(_sign_in(location={"city": "Oslo", "geoCoordinates": {"latitude": 59.9, "longitude": 10.75}})),
     "SigninLogs", True),
    (json.dumps(_sign_in(location={"geoCoordinates": {"latitude": 40.643959045410156}})), "SigninLogs", True),
    (json.dumps(_sign_in(location={"geoCoordinates": {"latitude": 40.64395904541016}})), "SigninLogs", True),
    ('{"time":"2025-03-04T05:08:00Z","category":"SignInLogs","properties":{"id":"x","location":{"l":1.50}}}',
     "SigninLogs", False),  # yyjson writes 1.5
    (json.dumps(_sign_in(id="")), "SigninLogs", False),  # quarantined: missing id
    (json.dumps({"category": "SignInLogs", "properties": {"id": "x"}}), "SigninLogs", False),  # missing time
    (json.dumps(_sign_in(createdDateTime="03/04/2025 5:06:07 PM")), "SigninLogs", False),  # US form: SQL parses it
    (json.dumps(_sign_in(createdDateTime="not a time")), "SigninLogs", False),  # quarantined
    (json.dumps(_sign_in(createdDateTime="2025-03-04T05:06:07+02:00")), "SigninLogs", True),
    (json.dumps(_sign_in(createdDateTime="2025-03-04 05:06:07")), "SigninLogs", True),
    (json.dumps(_sign_in(createdDateTime="2024-02-29T23:59:59.999999999Z")), "SigninLogs", True),
    (json.dumps(_sign_in(createdDateTime="2025-02-29T00:00:00Z")), "SigninLogs", False),  # no such day
    (json.dumps(_sign_in(isInteractive="TRUE")), "SigninLogs", True),
    (json.dumps(_sign_in(isInteractive="yes")), "SigninLogs", False),  # quarantined
    (json.dumps(_sign_in(isInteractive=1)), "SigninLogs", True),
    (json.dumps(_sign_in(processingTimeInMilliseconds="0012")), "SigninLogs", True),
    (json.dumps({**_sign_in(), "durationMs": "12.0"}), "SigninLogs", False),  # long through DECIMAL: SQL
    (json.dumps({**_sign_in(), "durationMs": 12345678901234567890}), "SigninLogs", False),
    (json.dumps(_sign_in(userAgent="a \"quoted\" \\ agent \u00e9 \U0001F600 \u2028 <script>")), "SigninLogs", True),
    ('{"time":"2025-03-04T05:08:00Z","category":"SignInLogs","properties":{"id":"x","userAgent":"\\u00e9\\/\\t"}}',
     "SigninLogs", True),
    ('{"time":"2025-03-04T05:08:00Z","category":"SignInLogs","properties":{"id":"x","userAgent":"\\u0000"}}',
     "SigninLogs", False),  # a NUL: DuckDB's
    (json.dumps(_sign_in(deviceDetail='[{"a":1}]')), "SigninLogs", False),  # JSON text in a dynamic string: SQL
    (json.dumps(_sign_in(deviceDetail=' {"a":1}')), "SigninLogs", False),
    (json.dumps(_sign_in(deviceDetail="plain text")), "SigninLogs", True),
    (json.dumps(_sign_in(authenticationDetails='[{"a":1}]')), "SigninLogs", True),  # a string column keeps it
    (json.dumps(_sign_in(authenticationDetails=[{"authenticationMethod": "Password", "succeeded": True}])),
     "SigninLogs", True),
    (json.dumps(_sign_in(deviceDetail={"operatingSystem": "Windows 10", "isCompliant": False})), "SigninLogs", True),
    (json.dumps(_sign_in(status={"errorCode": 50126, "failureReason": "Invalid username or password."})),
     "SigninLogs", True),
    (json.dumps({**_sign_in(), "resultType": "0", "resultDescription": "ok"}), "SigninLogs", True),
    (json.dumps({k: v for k, v in _sign_in().items() if k != "Level"} | {"level": "Informational"}), "SigninLogs", True),
    (json.dumps(_sign_in() | {"level": "Informational"}), "SigninLogs", True),  # Level wins; level stays in _Extra
    (json.dumps(_sign_in() | {"newField": {"x": [1, 2, {"y": None}]}}), "SigninLogs", True),
    ('{"time":"2025-03-04T05:08:00Z","category":"SignInLogs","properties":{"id":"a"},"properties":{"id":"b"}}',
     "SigninLogs", True),  # repeated keys: the first is read, as json_transform reads it
    ('{"time":"2025-03-04T05:08:00Z","category":"SignInLogs","properties":"text"}', "SigninLogs", False),
    ('  {"time" : "2025-03-04T05:08:00Z" ,\t"category":"SignInLogs","properties":{"id":"x" , "appId" : null}}  ',
     "SigninLogs", True),
    ('{"time":"2025-03-04T05:08:00Z","category":"SignInLogs","properties":{"id":"x","appI\\u0064":"y"}}',
     "SigninLogs", False),  # an escaped key
    ('{"time":"2025-03-04T05:08:00Z","category":"SignInLogs","properties":{"id":"x"},}', "SigninLogs", False),
    (json.dumps({"time": "2025-03-04T05:08:00Z", "category": "AuditLogs", "properties": {
        "id": "Directory_1", "activityDateTime": "2025-03-04T05:06:07.12Z", "activityDisplayName": "Add user",
        "targetResources": [{"id": "u", "modifiedProperties": []}], "initiatedBy": {"user": {"id": "v"}},
        "additionalDetails": [{"key": "k", "value": "v"}]}}), "AuditLogs", True),
    (json.dumps({"time": "2025-03-04T05:08:00Z", "category": "ManagedIdentitySignInLogs", "properties": {
        "id": "m", "servicePrincipalName": "mi", "location": {"geoCoordinates": {"latitude": 0.0}}}}),
     "AADManagedIdentitySignInLogs", True),
]


@pytest.mark.parametrize(("record", "table", "native"), CASES)
def test_edge_cases_match_the_statement(record: str, table: str, native: bool):
    assert _compare([record], table) == [native]


def test_every_table_has_a_program_and_other_families_do_not():
    for table in TABLES:
        prog = rowscan.program(mapping.DIAG, table)
        assert prog is not None and prog.table == table
        assert {name for name, *_ in prog.columns} == set(mapping.column_sources(mapping.DIAG, table))
    assert rowscan.program(mapping.GRAPH, "SigninLogs") is None
    assert rowscan.program(mapping.LA, "SigninLogs") is None


# -- Hypothesis: records written as text -----------------------------------------------------------

TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8)
INTEGER = st.from_regex(r"-?(0|[1-9][0-9]{0,20})", fullmatch=True)
REAL = st.from_regex(r"-?(0|[1-9][0-9]{0,16})\.[0-9]{1,17}([eE][+-]?[0-9]{1,2})?", fullmatch=True)
TIMES = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(
        lambda d: d.isoformat(timespec="microseconds")),
    st.from_regex(r"(19|20)[0-9]{2}-(0[1-9]|1[0-2])-([012][0-9]|3[01])[T ]([01][0-9]|2[0-4]):[0-5][0-9]:[0-6][0-9]"
                  r"(\.[0-9]{1,10})?(Z|[+-][01][0-9]:[0-5][0-9])?", fullmatch=True),
    st.sampled_from(["", " 2025-01-01T00:00:00Z", "2025-1-1T00:00:00Z", "1/2/2025 3:04 PM", "x"]),
)
SPACE = st.sampled_from(["", "", "", " ", "\n ", "\t"])


def _text(value: str, escape: bool) -> str:
    return json.dumps(value, ensure_ascii=escape)


@st.composite
def _json_value(draw, depth: int = 0) -> str:
    kinds = ["int", "real", "str", "lit"] + (["obj", "arr"] if depth < 3 else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "int":
        return draw(INTEGER)
    if kind == "real":
        return draw(REAL)
    if kind == "str":
        return _text(draw(TEXT), draw(st.booleans()))
    if kind == "lit":
        return draw(st.sampled_from(["true", "false", "null"]))
    if kind == "arr":
        return "[" + ",".join(draw(st.lists(_json_value(depth + 1), max_size=3))) + "]"
    members = draw(st.lists(st.tuples(st.sampled_from(["a", "b", "geoCoordinates", "latitude"]),
                                      _json_value(depth + 1)), max_size=3))
    return "{" + ",".join(f"{_text(k, False)}:{v}" for k, v in members) + "}"


@st.composite
def _column_value(draw, kql_type: str, plain: bool) -> str:
    """A source value for a column of ``kql_type``: what real exports hold, and what they should not."""
    if kql_type == "datetime":
        if plain:
            return _text(draw(st.datetimes(min_value=datetime(1900, 1, 1))).isoformat() + "Z", False)
        return _text(draw(TIMES), draw(st.booleans()))
    if kql_type == "bool":
        choices = ["true", "false", '"True"', '"0"'] + ([] if plain else ['"yes"', '""', "1", "null", "2"])
        return draw(st.sampled_from(choices))
    if kql_type in ("long", "int"):
        if plain:
            return str(draw(st.integers(-10**16, 10**16)))
        return draw(st.one_of(INTEGER, REAL, st.sampled_from(['"12"', '" 12 "', '"12.0"', '""', "null"])))
    if plain:
        return draw(st.one_of(st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00[{ \\\""),
                                      max_size=8).map(lambda s: _text(s, False)),
                              st.integers(-10**16, 10**16).map(str), st.sampled_from(["true", "false", "null"])))
    return draw(_json_value())


def _set(record: dict, path: tuple[str, ...], value: str) -> None:
    node = record
    for key in path[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            return
    node[path[-1]] = value


def _render(node: dict | str, draw) -> str:
    """A record as text: values already JSON text, members separated by drawn whitespace."""
    if isinstance(node, str):
        return node
    members = [f"{draw(SPACE)}{_text(k, False)}{draw(SPACE)}:{draw(SPACE)}{_render(v, draw)}"
               for k, v in node.items()]
    return "{" + ",".join(members) + draw(SPACE) + "}"


@st.composite
def _record(draw, table: str, plain: bool = False) -> str:
    tbl = schema.table(table)
    sources = mapping.column_sources(mapping.DIAG, table)
    record: dict = {"category": _text(CATEGORY[table], False), "time": _text("2025-03-04T05:08:00.1234567Z", False),
                    "properties": {"id": _text(draw(st.uuids()).hex, False)}}
    columns = draw(st.lists(st.sampled_from(sorted(sources)), max_size=12, unique=True))
    for column in columns:
        path = draw(st.sampled_from([s.path for s in sources[column]]))
        if path in (("category",), ("properties", "id"), ("time",)):
            continue
        _set(record, path, draw(_column_value(tbl.column(column).kql_type, plain)))
    if not plain and draw(st.booleans()):
        record["extra"] = draw(_json_value())
    return draw(SPACE) + _render(record, draw) + draw(SPACE)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), table=st.sampled_from(TABLES))
def test_generated_records_match_the_statement(data: st.DataObject, table: str):
    records = data.draw(st.lists(_record(table), min_size=1, max_size=6))
    _compare(records, table)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), table=st.sampled_from(TABLES))
def test_plain_records_are_computed_natively(data: st.DataObject, table: str):
    """ISO times, plain numbers and strings, canonical literals: never left to the statement."""
    records = data.draw(st.lists(_record(table, plain=True), min_size=1, max_size=6))
    assert _compare(records, table) == [True] * len(records)


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(st.floats(allow_nan=False, allow_infinity=False).map(repr), REAL))
def test_a_real_is_copied_only_when_duckdb_writes_it_as_spelled(value: str):
    """As VARCHAR and as JSON, both ways DuckDB writes a real (the rule in ``canonical_real``)."""
    record = '{"a":' + value + "}"
    array = pa.array([record])
    _, offsets, data = array.buffers()
    (as_text, as_json), unsure, _, _ = _jsonscan.columns(offsets, data, 4, 0, 1, {"a": (0, None)}, 1,
                                                         [(0, 0, [0]), (1, 0, [0])], [])
    expected = duckdb.execute(
        "SELECT json_transform(?, '{\"a\":\"VARCHAR\"}').a, json_transform(?, '{\"a\":\"JSON\"}').a",
        [record, record]).fetchone()
    if unsure[0]:
        return
    got = tuple(pa.Array.from_buffers(pa.string(), 1, [pa.py_buffer(b) for b in buffers])[0].as_py()
                for buffers in (as_text, as_json))
    assert got == expected


# -- line blocks --------------------------------------------------------------------------------------

def _block(lines: list[str]) -> bytes:
    return "\n".join(lines).encode() + b"\n"


def _records_of(lines: list[str]) -> list[tuple[int, str]]:
    """(line number from 0, record) as SQL framing finds them."""
    return [(n, line.strip()) for n, line in enumerate(lines) if line.strip()]


def test_a_block_is_normalized_as_the_stage_and_statement_do():
    lines = [json.dumps(_sign_in(id=f"s{k}")) for k in range(3)]
    lines += ["", "   ", json.dumps({"time": "2025-03-04T05:08:00Z", "category": "AuditLogs",
                                     "properties": {"id": "a1", "activityDateTime": "2025-03-04T05:06:07Z"}}) + "\r"]
    lines += ["\t" + json.dumps(_sign_in(id="s9")) + "  "]
    found = rowscan.block_rows(_block(lines), mapping.DIAG, 1, 10, FILES, SHAPES, NOW)
    assert found is not None and found.records == 5
    records = _records_of(lines)
    for table, rows in found.tables.items():
        chosen = [(k, n, r) for k, (n, r) in enumerate(records) if json.loads(r)["category"] == CATEGORY[table]]
        expected = _oracle([r for _, _, r in chosen], table).to_pylist()
        got = rows.to_pylist()
        assert [row["idx"] for row in got] == [k for k, _, _ in chosen]
        assert [row["line"] for row in got] == [10 + n for _, n, _ in chosen]
        assert all(row["_file"] == 1 for row in got)
        for mine, theirs in zip(got, expected, strict=True):
            for key in ("_file", "line", "idx", "_SourceFile", "_SourceShape"):
                mine.pop(key), theirs.pop(key)
            assert mine == theirs
    assert sorted(found.tables) == ["AuditLogs", "SigninLogs"]


@pytest.mark.parametrize("lines", [
    [json.dumps(_sign_in()), '{"time":"2025-03-04T05:08:00Z"'],  # malformed
    [json.dumps(_sign_in()), json.dumps({**_sign_in(), "category": "RiskyUsers"})],  # another table
    [json.dumps({k: v for k, v in _sign_in().items() if k != "category"})],  # no category: quarantined
    [json.dumps(_sign_in()), "[1, 2]"],  # not an object
    ["\ufeff" + json.dumps(_sign_in())],  # a BOM: SQL strips it
    ['{"time":"2025-03-04T05:08:00Z",', '"category":"SignInLogs"}'],  # one record over two lines
    [json.dumps(_sign_in(id=""))],  # quarantined: missing id
])
def test_a_block_with_anything_unsure_goes_to_sql(lines: list[str]):
    assert rowscan.block_rows(_block(lines), mapping.DIAG, 0, 1, FILES, SHAPES, NOW) is None


def test_line_records_splits_as_sql_framing():
    data = b'\n {"a":1}\r\n\n\x0b\n{"b":2}'
    starts, lines = _jsonscan.line_records(data)
    assert list(np.frombuffer(starts, np.int64)) == [2, 14, len(data)]
    assert list(np.frombuffer(lines, np.int64)) == [1, 4]
    assert _jsonscan.line_records(b'{"a":1}\nx\n') is None
    assert _jsonscan.line_records(b"") == (np.zeros(1, np.int64).tobytes(), b"")


def test_bad_arguments_are_refused_not_read_out_of_bounds():
    array = pa.array(['{"a":1}', '{"b":2}'])
    _, offsets, data = array.buffers()
    tree, cols = {"a": (0, None)}, [(0, 0, [0])]
    with pytest.raises(ValueError, match="outside the data buffer"):
        _jsonscan.columns(offsets, b"{}", 4, 0, 2, tree, 1, cols, [])
    with pytest.raises(ValueError, match="shorter than"):
        _jsonscan.columns(offsets, data, 4, 0, 5, tree, 1, cols, [])
    with pytest.raises(ValueError, match="names no record"):
        _jsonscan.columns(offsets, data, 4, 0, 2, tree, 1, cols, [], np.array([0, 2], np.int64))
    with pytest.raises(ValueError, match="slot"):
        _jsonscan.columns(offsets, data, 4, 0, 2, {"a": (3, None)}, 1, cols, [])
    with pytest.raises(ValueError, match="slot"):
        _jsonscan.columns(offsets, data, 4, 0, 2, tree, 1, [(0, 0, [5])], [])
    with pytest.raises(ValueError, match="kind"):
        _jsonscan.columns(offsets, data, 4, 0, 2, tree, 1, [(9, 0, [0])], [])
    with pytest.raises(TypeError):
        _jsonscan.columns(offsets, data, 4, 0, 2, {"a": 0}, 1, cols, [])
    with pytest.raises(ValueError, match="names no record"):
        _jsonscan.columns(offsets, data, 4, 0, 2, tree, 1, cols, [], np.array([-1], np.int64))
    with pytest.raises(ValueError, match="offset_width"):
        _jsonscan.top_text(offsets, data, 3, 0, 2, "a")
