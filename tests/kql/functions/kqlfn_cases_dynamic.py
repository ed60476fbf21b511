"""Cases: dynamic (JSON) functions."""

from __future__ import annotations

from kqlfn_harness import Unordered, f

S, L, R, B, DT, D = "string", "long", "real", "bool", "datetime", "dynamic"

CASES = [
    f("parse_json", ('{"a":1,"b":[1,2]}', S), expected={"a": 1, "b": [1, 2]}),
    f("parse_json", ('{ "a" : "x" }', S), expected={"a": "x"}, label="whitespace"),
    f("parse_json", ("[1,2]", S), expected=[1, 2]),
    f("parse_json", ('"x"', S), expected="x", label="json string"),
    f("parse_json", ("abc", S), expected="abc", label="invalid json stays a string"),
    f("parse_json", ("", S), expected=None, label="empty"),
    f("parse_json", (None, S), expected=None, label="null"),
    f("parse_json", ({"k": 1}, D), expected={"k": 1}, label="already dynamic"),
    f("todynamic", ("123", S), expected=123),
    f("parse_json", (5, L), expected=5, label="long"),
    f("parse_json", (True, B), expected=True, label="bool"),
    f("parse_json", ("2024-01-01T00:00:00Z", DT), expected="2024-01-01T00:00:00Z", label="datetime"),
    # arrays
    f("array_length", ([1, 2, 3], D), expected=3),
    f("array_length", ([], D), expected=0),
    f("array_length", ({"a": 1}, D), expected=None, label="not an array"),
    f("array_length", ("[1,2]", S), expected=2, label="string parsed"),
    f("array_index_of", (["a", "b"], D), ("b", S), expected=1),
    f("array_index_of", (["a", "b"], D), ("z", S), expected=-1),
    f("array_index_of", ([1, 2, 3], D), (2, L), expected=1),
    f("array_index_of", ([1, "2"], D), ("2", S), expected=1, label="typed match"),
    f("array_index_of", ("x", D), ("x", S), expected=None, label="not an array"),
    f("set_has_element", (["a", "b"], D), ("a", S), expected=True),
    f("set_has_element", (["a", "b"], D), ("c", S), expected=False),
    f("set_has_element", ([1, 2], D), (2, L), expected=True, label="number"),
    f("array_concat", ([1, 2], D), ([3], D), expected=[1, 2, 3]),
    f("array_concat", ([1], D), ([], D), (["x", {"a": 1}], D), expected=[1, "x", {"a": 1}]),
    f("array_concat", ([1], D), ({"a": 1}, D), expected=None, label="non-array argument"),
    f("array_slice", ([1, 2, 3, 4, 5], D), (1, L), (3, L), expected=[2, 3, 4]),
    f("array_slice", ([1, 2, 3], D), (1, L), (2, L), expected=[2, 3]),
    f("array_slice", ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], D), (-3, L), (-2, L), expected=[8, 9]),
    f("array_slice", ([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], D), (2, L), (-1, L), expected=[3, 4, 5, 6, 7, 8, 9, 10]),
    f("array_slice", ([1, 2, 3, 4, 5], D), (3, L), (1, L), expected=[], label="end before start"),
    f("array_slice", ([1, 2, 3], D), (1, L), (10, L), expected=[2, 3], label="end clamps"),
    f("array_slice", ([1, 2, 3], D), (-10, L), (0, L), expected=[1], label="start clamps"),
    f("set_union", ([1, 2, 3], D), ([2, 5], D), expected=Unordered(1, 2, 3, 5)),
    f("set_union", (["a"], D), (["a", "b"], D), (["c"], D), expected=Unordered("a", "b", "c")),
    f("set_intersect", ([1, 2, 3], D), ([2, 3, 5], D), expected=Unordered(2, 3)),
    f("set_intersect", ([1, 2], D), ([3], D), expected=[], label="disjoint"),
    f("set_difference", ([1, 2, 3], D), ([2], D), ([3], D), expected=[1]),
    f("set_difference", (["a", "b", "a"], D), (["x"], D), expected=Unordered("a", "b"), label="distinct"),
    f("set_union", ([1], D), ("x", D), expected=None, label="non-array"),
    # packing
    f("pack_array", (1, L), ("a", S), (True, B), expected=[1, "a", True]),
    f("pack_array", (None, L), (2, L), expected=[None, 2], label="null element"),
    f("pack_array", ("2024-01-01T00:00:00Z", DT), expected=["2024-01-01T00:00:00Z"], label="datetime"),
    f("pack_array", ([1], D), ({"a": 1}, D), expected=[[1], {"a": 1}], label="nested"),
    f("bag_pack", ("a", S), (1, L), ("b", S), ("x", S), expected={"a": 1, "b": "x"}),
    f("bag_pack", ("k", S), ([1, 2], D), expected={"k": [1, 2]}, label="nested value"),
    f("bag_pack", ("q", S), ('say "hi"', S), expected={"q": 'say "hi"'}, label="quotes escaped"),
    f("pack", ("a", S), (None, S), expected={"a": ""}, label="null string is empty"),
    f("bag_pack", ("n", S), (1.5, R), expected={"n": 1.5}, label="real"),
    f("bag_keys", ({"a": 1, "b": 2}, D), expected=Unordered("a", "b")),
    f("bag_keys", ([1], D), expected=None, label="not a bag"),
    # gettype
    f("gettype", ("abc", S), expected="string"),
    f("gettype", (1, L), expected="long"),
    f("gettype", ({"a": 1}, D), expected="dictionary"),
    f("gettype", ([1], D), expected="array"),
    f("gettype", (1, D), expected="long", label="dynamic long"),
    f("gettype", (1.5, D), expected="real", label="dynamic real"),
    f("gettype", ("x", D), expected="string", label="dynamic string"),
    f("gettype", (True, D), expected="bool", label="dynamic bool"),
]

CASES += [
    f("extract_json", ("$.hello", S), ('{"hello":"world"}', S), expected="world"),
    f("extract_json", ("$.a.b", S), ('{"a":{"b":[1,2]}}', S), expected="[1,2]", label="array as text"),
    f("extract_json", ("$.n", S), ('{"n":5}', S), ("long", S), expected=5, label="typed"),
    f("extractjson", ("$.missing", S), ('{"a":1}', S), expected="", label="missing path"),
    f("extract_json", ("$.a", S), ("not json", S), expected="", label="invalid json"),
]
