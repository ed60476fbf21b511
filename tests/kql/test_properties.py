"""Property tests: the parser round-trips rendered ASTs, and random input only raises KqlError."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from entrawatch.errors import KqlError
from entrawatch.kql import ast, compile_query
from entrawatch.kql.parser import parse
from entrawatch.kql.render import query as render

NAMES = st.sampled_from(["a", "b", "c", "Col1", "UserPrincipalName", "x_y"])
SCHEMA = {"T": {"a": "long", "b": "string", "c": "real", "Col1": "dynamic", "UserPrincipalName": "string",
                "x_y": "datetime"}}

literals = st.one_of(
    st.builds(ast.Literal, st.just("long"), st.integers(min_value=-10**12, max_value=10**12)),
    st.builds(ast.Literal, st.just("real"), st.floats(allow_nan=False, allow_infinity=False, width=64)),
    st.builds(ast.Literal, st.just("string"), st.text(max_size=8)),
    st.builds(ast.Literal, st.just("bool"), st.booleans()),
    st.builds(ast.Literal, st.just("timespan"), st.integers(min_value=-10**12, max_value=10**12)),
    st.builds(ast.Literal, st.just("datetime"),
              st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)).map(
                  lambda d: d.isoformat(timespec="microseconds"))),
    st.builds(ast.Literal, st.sampled_from(["int", "long", "real", "bool", "datetime", "timespan"]), st.none()),
    st.builds(ast.Literal, st.just("dynamic"), st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), st.text(max_size=4)),
        lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=3), kids, max_size=3),
        max_leaves=6)),
)


def _scalar(children: st.SearchStrategy[ast.Node]) -> st.SearchStrategy[ast.Node]:
    ops = st.sampled_from(["+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=", "and", "or", "has",
                           "contains", "=~", "!~", "startswith", "!has", "matches regex"])
    return st.one_of(
        st.builds(ast.Binary, ops, children, children),
        st.builds(ast.Call, st.sampled_from(["tostring", "strlen", "iff", "isnotempty", "now"]),
                  st.lists(children, max_size=3)),
        st.builds(ast.Path, children, NAMES),
        st.builds(ast.Index, children, st.builds(ast.Literal, st.just("long"), st.integers(0, 5))),
        st.builds(ast.InList, st.sampled_from(["in", "!in", "in~", "has_any"]), children,
                  st.lists(children, min_size=1, max_size=3)),
        st.builds(ast.Between, children, children, children, st.booleans()),
        st.builds(ast.Unary, st.just("-"), st.builds(ast.Name, NAMES)),
    )


scalars = st.recursive(st.one_of(literals, st.builds(ast.Name, NAMES)), _scalar, max_leaves=8)
named = st.builds(ast.NamedExpr, st.one_of(st.just([]), st.lists(NAMES, min_size=1, max_size=1)), scalars)
sort_keys = st.builds(ast.SortKey, scalars, st.booleans(), st.one_of(st.none(), st.booleans()))
operators = st.one_of(
    st.builds(ast.Operator, st.just("where"), st.fixed_dictionaries({"predicate": scalars})),
    st.builds(ast.Operator, st.sampled_from(["extend", "project"]),
              st.fixed_dictionaries({"exprs": st.lists(named, min_size=1, max_size=3)})),
    st.builds(ast.Operator, st.just("summarize"), st.fixed_dictionaries({
        "aggs": st.lists(named, min_size=1, max_size=2), "by": st.lists(named, max_size=2)})),
    st.builds(ast.Operator, st.just("take"), st.fixed_dictionaries({
        "count": st.builds(ast.Literal, st.just("long"), st.integers(0, 100))})),
    st.builds(ast.Operator, st.just("sort"), st.fixed_dictionaries({"keys": st.lists(sort_keys, min_size=1,
                                                                                      max_size=2)})),
    st.builds(ast.Operator, st.sampled_from(["project-away", "project-keep"]),
              st.fixed_dictionaries({"columns": st.lists(NAMES, min_size=1, max_size=3)})),
    st.builds(ast.Operator, st.just("count"), st.just({})),
)
queries = st.builds(lambda ops: ast.Query([ast.Pipeline(ast.Name("T"), ops)]), st.lists(operators, min_size=1,
                                                                                          max_size=4))


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(queries)
def test_parser_round_trips_rendered_ast(tree: ast.Query) -> None:
    text = render(tree)
    assert parse(text) == tree, text


KQL_WORDS = ["T", "|", "where", "extend", "project", "summarize", "by", "count()", "a", "b", "==", "(", ")", ",",
             "'x'", "1", "1h", "and", "or", "let", "=", ";", "join", "on", "union", "sort", "take", "dynamic([1])",
             "datetime(2025-01-01)", "mv-expand", "Col1.k", "[", "]", "in", "has", "!", "*", "-", "project-away",
             "top", "distinct", "parse", "with", "iff(a>1,1,2)", "$left.a", "\"", "@'x'", "//c\n", "x_y"]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.one_of(st.text(max_size=40), st.lists(st.sampled_from(KQL_WORDS), max_size=14).map(" ".join)))
def test_random_input_raises_only_kql_errors(text: str) -> None:
    with contextlib.suppress(KqlError):
        compile_query(text, SCHEMA, "duckdb", datetime(2025, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize("value", ["\f", "a\fb", "\x0b", "\x00", "\b", "\u2028", "\x85", "\\f", "'\"", "\t\r\n"])
def test_control_characters_in_strings_round_trip(value: str) -> None:
    """Regression: a "\\f" literal once failed the round trip above (escape and raw forms)."""
    tree = ast.Query([ast.Print([ast.NamedExpr(["x"], ast.Literal("string", value))])])
    assert parse(render(tree)) == tree
