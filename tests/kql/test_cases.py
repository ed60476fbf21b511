"""The KQL case table, run on DuckDB and on Spark with identical expected results.

Each case is one behaviour (tests/kql/cases/*.py). Rows are compared in order when the query
defines an order (sort/top), otherwise as sorted lists. Error cases check the error class, a
message fragment and the line:column, for both dialects.
"""

from __future__ import annotations

import pytest
from kql_cases import all_cases, shared_tables
from kql_harness import Case, Engines, expected_rows, sort_key

import entrawatch.errors as errors
from entrawatch.kql import compile_query

CASES = all_cases()
ROW_CASES = [c for c in CASES if c.error is None]
ERROR_CASES = [c for c in CASES if c.error is not None]


def _load_case_tables(engines: Engines, case: Case) -> None:
    for name, spec in case.tables.items():
        if engines.schema.get(name) != spec["columns"] or name not in engines.loaded:
            engines.load(name, spec)
            engines.loaded.add(name)


@pytest.fixture(scope="session")
def engines(request: pytest.FixtureRequest) -> Engines:
    spark = request.getfixturevalue("spark_session")
    result = Engines(spark)
    result.loaded = set()  # type: ignore[attr-defined]
    for name, spec in shared_tables().items():
        result.load(name, spec)
    return result


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
@pytest.mark.parametrize("case", ROW_CASES, ids=[c.id for c in ROW_CASES])
def test_case_rows(case: Case, engine: str, engines: Engines) -> None:
    if engine not in case.engines:
        pytest.skip(f"documented engine difference: {case.id} runs on {case.engines} only")
    _load_case_tables(engines, case)
    rows, columns, ordered = engines.run(case, engine)
    if case.columns is not None:
        assert columns == case.columns
    expected = expected_rows(case)
    if not ordered:
        rows, expected = sorted(rows, key=sort_key), sorted(expected, key=sort_key)
    assert rows == expected


@pytest.mark.parametrize("dialect", ["duckdb", "spark"])
@pytest.mark.parametrize("case", ERROR_CASES, ids=[c.id for c in ERROR_CASES])
def test_case_errors(case: Case, dialect: str, engines: Engines) -> None:
    assert case.error is not None
    cls_name, fragment, line, column = case.error
    cls = getattr(errors, cls_name)
    _load_case_tables(engines, case)
    with pytest.raises(cls) as caught:
        compile_query(case.kql, engines.schema, dialect)
    assert fragment in caught.value.reason
    assert (caught.value.line, caught.value.column) == (line, column)
