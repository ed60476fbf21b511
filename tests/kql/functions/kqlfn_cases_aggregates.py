"""Cases: aggregation functions over tiny VALUES tables (column types in each case)."""

from __future__ import annotations

from kqlfn_harness import Col, Unordered, agg

X = {"x": ("string", ["a", "b", "a", None, "c"]), "p": ("bool", [True, False, True, None, True])}
N = {"n": ("long", [1, 2, 3, None]), "p": ("bool", [True, False, True, True])}
V = {"v": ("long", list(range(1, 11)))}
W = {"w": ("real", [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0])}
T = {"t": ("datetime", ["2024-01-02T00:00:00Z", "2024-01-01T00:00:00Z", None])}
BAGS = {"d": ("dynamic", [{"a": 1}, {"b": 2}, None, {}])}

CASES = [
    agg("count", columns=X, expected=5, label="count()"),
    agg("count", Col("x"), columns=X, expected=4, label="count(x) skips nulls"),
    agg("countif", Col("p"), columns=X, expected=3),
    agg("dcount", Col("x"), columns=X, expected=3),
    agg("dcount", Col("x"), columns={"x": ("string", [None])}, expected=0, label="only null"),
    agg("dcountif", Col("x"), Col("p"), columns=X, expected=2),
    agg("count_distinct", Col("n"), columns=N, expected=3),
    agg("sum", Col("n"), columns=N, expected=6),
    agg("sumif", Col("n"), Col("p"), columns=N, expected=4),
    agg("sum", Col("w"), columns=W, expected=40.0, label="real"),
    agg("avg", Col("n"), columns=N, expected=2.0),
    agg("avgif", Col("n"), Col("p"), columns=N, expected=2.0),
    agg("min", Col("n"), columns=N, expected=1),
    agg("max", Col("n"), columns=N, expected=3),
    agg("minif", Col("n"), Col("p"), columns=N, expected=1),
    agg("maxif", Col("n"), Col("p"), columns=N, expected=3),
    agg("min", Col("x"), columns=X, expected="a", label="strings"),
    agg("max", Col("t"), columns=T, expected="2024-01-02T00:00:00Z", label="datetimes"),
    agg("make_set", Col("x"), columns=X, expected=Unordered("a", "b", "c")),
    agg("make_set", Col("x"), ("1", "long"), columns={"x": ("string", ["a", "a", "a"])}, expected=["a"],
        label="max size"),
    agg("make_set", Col("n"), columns=N, expected=Unordered(1, 2, 3), label="numbers keep their type"),
    agg("make_set", Col("t"), columns=T, expected=Unordered("2024-01-02T00:00:00Z", "2024-01-01T00:00:00Z"),
        label="datetimes as ISO text"),
    agg("make_set_if", Col("x"), Col("p"), columns=X, expected=Unordered("a", "c")),
    agg("make_list", Col("n"), columns=N, expected=Unordered(1, 2, 3)),
    agg("make_list", Col("n"), ("2", "long"), columns={"n": ("long", [5, 5, 5])}, expected=[5, 5],
        label="max size"),
    agg("make_list", Col("x"), columns=X, expected=Unordered("a", "b", "a", "c"), label="duplicates kept"),
    agg("make_list_if", Col("n"), Col("p"), columns=N, expected=Unordered(1, 3)),
    agg("make_set", Col("x"), columns={"x": ("string", [None, None])}, expected=[], label="all null"),
    agg("make_bag", Col("d"), columns=BAGS, expected={"a": 1, "b": 2}),
    agg("take_any", Col("x"), columns={"x": ("string", ["z", None, "z"])}, expected="z"),
    # Differing values: the same one on every run and engine (the smallest), so alert ids are stable.
    agg("take_any", Col("x"), columns={"x": ("string", ["b", None, "a", "c"])}, expected="a",
        label="differing values"),
    agg("take_any", Col("n"), columns={"n": ("long", [7, 3, None, 9])}, expected=3,
        label="differing numbers"),
    agg("any", Col("n"), columns={"n": ("long", [None, 7])}, expected=7, label="skips null"),
    agg("percentile", Col("v"), (50, "long"), columns=V, expected=5),
    agg("percentile", Col("v"), (95, "long"), columns=V, expected=10),
    agg("percentile", Col("v"), (25, "long"), columns=V, expected=3),
    agg("percentile", Col("v"), (100, "long"), columns=V, expected=10),
    agg("percentiles", Col("v"), (10, "long"), columns=V, expected=1, label="single value"),
    agg("percentiles_array", Col("v"), (50, "long"), (95, "long"), columns=V, expected=[5, 10]),
    agg("stdev", Col("w"), columns=W, expected=2.138089935299395),
    agg("variance", Col("w"), columns=W, expected=4.571428571428571),
    agg("stdevp", Col("w"), columns=W, expected=2.0),
    agg("variancep", Col("w"), columns=W, expected=4.0),
]

CASES += [
    agg("percentile", Col("v"), (99.5, "real"), columns=V, expected=10, label="fractional percentage"),
]
CASES += [
    agg("make_set", Col("d"), columns=BAGS, expected=Unordered({"a": 1}, {"b": 2}, {}), label="dynamic values"),
    agg("make_list_if", Col("d"), (True, "bool"), columns=BAGS, expected=Unordered({"a": 1}, {"b": 2}, {}),
        label="dynamic, constant predicate"),
    agg("count", columns=BAGS, expected=4, label="count() over bags"),
]
CASES += [
    agg("make_bag", Col("d"), columns={"d": ("dynamic", [{"a": 1}, {"a": 1, "c": [1]}, "text"])},
        expected={"a": 1, "c": [1]}, label="duplicate keys and a non-bag"),
]
CASES += [
    agg("stdevif", Col("w"), Col("q"), columns={"w": W["w"], "q": ("bool", [True] * 8)}, expected=2.138089935299395),
    agg("varianceif", Col("w"), Col("q"), columns={"w": W["w"], "q": ("bool", [True] * 7 + [False])},
        expected=2.2857142857142856, label="last row excluded"),
    agg("makeset", Col("x"), columns=X, expected=Unordered("a", "b", "c"), label="deprecated alias"),
]
