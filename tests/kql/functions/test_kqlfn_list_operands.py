"""``in``-family and ``has_any`` operands the case table cannot spell: sub-queries, per-row arrays.

The core lowers ``x in~ (T | project c)`` to a tuple holding a SELECT and passes a ``let`` dynamic
array as a one-item tuple; these tests build those shapes and run them on both engines.
"""

from __future__ import annotations

import pytest
from kqlfn_harness import NOW
from sqlglot import exp

import entrawatch.kql.functions  # noqa: F401
from entrawatch.errors import KqlUnsupportedError
from entrawatch.kql.functions import _sql as q
from entrawatch.kql.lowering_api import OPERATORS, LowerContext, Typed


def _names(dialect: str) -> exp.Select:
    """SELECT name FROM VALUES ('Alice'), ('bob') AS t(name)."""
    values = exp.Values(expressions=[exp.Tuple(expressions=[q.s("Alice")]), exp.Tuple(expressions=[q.s("bob")])],
                        alias=exp.TableAlias(this=exp.to_identifier("t"), columns=[exp.to_identifier("name")]))
    return exp.select(exp.column("name")).from_(values)


def _per_row_array(dialect: str) -> exp.Expression:
    """A dynamic array computed per row (not a literal the builder could unfold)."""
    return q.json_text(q.fn("concat", q.s('["IMAP",'), q.s('"pop3"]')), dialect)


def _computed(text: str) -> exp.Expression:
    """A string the builder cannot see as a literal (so it escapes it inside SQL)."""
    return q.fn("concat", q.s(text[:1]), q.s(text[1:]))


CASES = [
    ("has", "user@contoso.com", lambda d: _computed("contoso"), "string", True),
    ("has", "user@xcontoso.com", lambda d: _computed("contoso"), "string", False),
    ("has", "a.b(c) d", lambda d: _computed("b(c"), "string", True),
    ("has_cs", "North America", lambda d: _computed("america"), "string", False),
    ("hasprefix", "North America", lambda d: _computed("ame"), "string", True),
    ("contains", "FabriKam", lambda d: _computed("bri"), "string", True),
    ("in~", "ALICE", lambda d: exp.Tuple(expressions=[_names(d)]), "string", True),
    ("in~", "carol", lambda d: exp.Tuple(expressions=[_names(d)]), "string", False),
    ("in", "ALICE", lambda d: exp.Tuple(expressions=[_names(d)]), "string", False),
    ("!in~", "BOB", lambda d: exp.Tuple(expressions=[_names(d)]), "string", False),
    ("in~", "x", lambda d: exp.Tuple(expressions=[q.s("X"), _names(d)]), "string", True),
    ("in", "bob", lambda d: exp.Subquery(this=_names(d)), "string", True),
    ("in~", "imap", lambda d: exp.Tuple(expressions=[_per_row_array(d)]), "dynamic", True),
    ("in", "imap", lambda d: exp.Tuple(expressions=[_per_row_array(d)]), "dynamic", False),
    ("has_any", "legacy IMAP client", lambda d: exp.Tuple(expressions=[_per_row_array(d)]), "dynamic", True),
    ("has_any", "IMAPS client", lambda d: exp.Tuple(expressions=[_per_row_array(d)]), "dynamic", False),
    ("has_all", "pop3 and imap", lambda d: exp.Tuple(expressions=[_per_row_array(d)]), "dynamic", True),
    ("has_all", "pop3 only", lambda d: exp.Tuple(expressions=[_per_row_array(d)]), "dynamic", False),
]


def _run(dialect: str, engine) -> list[object]:
    ctx = LowerContext(dialect=dialect, now=NOW)
    projections = []
    for op, left, right, kind, _expected in CASES:
        typed = OPERATORS[op](Typed(q.s(left), "string"), Typed(right(dialect), kind), ctx)
        projections.append(typed.expr)
    return engine.run(projections)


@pytest.mark.parametrize("dialect", ["duckdb", pytest.param("spark", marks=pytest.mark.spark)])
def test_list_operands(dialect: str, request) -> None:
    engine = request.getfixturevalue(f"{dialect}_engine")
    assert _run(dialect, engine) == [case[-1] for case in CASES]


def test_has_any_with_subquery_is_refused() -> None:
    ctx = LowerContext(dialect="duckdb", now=NOW)
    with pytest.raises(KqlUnsupportedError):
        OPERATORS["has_any"](Typed(q.s("a"), "string"), Typed(exp.Tuple(expressions=[_names("duckdb")]), "string"),
                             ctx)
