"""The operator table, docs/kql.md and the case table must name the same operators."""

from __future__ import annotations

import re
from pathlib import Path

from kql_cases import all_cases

from entrawatch.kql.docgen import render
from entrawatch.kql.operator_table import OPERATOR_LOWERINGS
from entrawatch.kql.parser import OPERATOR_ALIASES, OPERATOR_PARSERS

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "kql.md"


def _doc_operators(text: str) -> set[str]:
    section = text.split("## Tabular operators", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([a-z-]+)`", section, flags=re.M))


def _case_operators() -> set[str]:
    used: set[str] = set()
    spellings = {name: name for name in OPERATOR_PARSERS} | OPERATOR_ALIASES
    for case in all_cases():
        for word in re.findall(r"\|\s*([a-z][a-z-]*)", case.kql):
            if word in spellings:
                used.add(spellings[word])
    return used


def test_every_lowered_operator_is_parsed() -> None:
    assert set(OPERATOR_LOWERINGS) <= set(OPERATOR_PARSERS)


def test_docs_list_exactly_the_operator_table() -> None:
    assert _doc_operators(DOC.read_text("utf-8")) == set(OPERATOR_PARSERS)


def test_docs_are_regenerated() -> None:
    """docs/kql.md is the docgen output (run `python -m entrawatch.kql.docgen > docs/kql.md`)."""
    assert _doc_operators(render(REPO)) == _doc_operators(DOC.read_text("utf-8"))


def test_case_table_covers_every_operator() -> None:
    assert _case_operators() == set(OPERATOR_PARSERS)
