"""Default output names (Kusto's ``count_``, ``dcount_<col>``...) and registry completeness."""

from __future__ import annotations

from pathlib import Path

import pytest
from kqlfn_harness import NOW
from sqlglot import exp

import entrawatch.kql.functions  # noqa: F401
from entrawatch.errors import KqlSemanticError
from entrawatch.kql.lowering_api import AGGREGATE_FUNCTIONS, OPERATORS, SCALAR_FUNCTIONS, LowerContext, Typed

CTX = LowerContext(dialect="duckdb", now=NOW, line=3, column=7, query="q")
UPN = Typed(exp.column("UserPrincipalName"), "string", "UserPrincipalName")
OK = Typed(exp.column("Ok"), "bool", "Ok")


@pytest.mark.parametrize(("name", "args", "expected"), [
    ("count", [], "count_"),
    ("countif", [OK], "countif_"),
    ("dcount", [UPN], "dcount_UserPrincipalName"),
    ("dcountif", [UPN, OK], "dcountif_UserPrincipalName"),
    ("make_set", [UPN], "make_set_UserPrincipalName"),
    ("make_list_if", [UPN, OK], "make_list_if_UserPrincipalName"),
    ("min", [UPN], "min_UserPrincipalName"),
    ("max", [UPN], "max_UserPrincipalName"),
    ("take_any", [UPN], "UserPrincipalName"),
])
def test_aggregate_default_names(name: str, args: list[Typed], expected: str) -> None:
    assert AGGREGATE_FUNCTIONS[name](args, CTX).default_name == expected


def test_bin_keeps_the_column_name() -> None:
    when = Typed(exp.column("TimeGenerated"), "datetime", "TimeGenerated")
    hour = Typed(exp.Literal.number(3_600_000_000), "timespan")
    assert SCALAR_FUNCTIONS["bin"]([when, hour], CTX).default_name == "TimeGenerated"


def test_wrong_arity_names_the_call_site() -> None:
    with pytest.raises(KqlSemanticError) as raised:
        SCALAR_FUNCTIONS["strlen"]([], CTX)
    assert (raised.value.line, raised.value.column) == (3, 7)


def test_every_documented_name_is_registered() -> None:
    """docs/kql-functions.md and the registries list the same operators and aggregates."""
    doc = (Path(__file__).parents[3] / "docs" / "kql-functions.md").read_text()
    for op in OPERATORS:
        assert f"`{op}`" in doc, op
    for name in AGGREGATE_FUNCTIONS:
        if name not in ("makeset", "makelist"):
            assert f"`{name}" in doc, name
