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


@pytest.fixture(scope="session")
def engines(request: pytest.FixtureRequest) -> Engines:
    """Both engines with every table loaded, and the Spark results computed up front.

    Spark spends ~0.3 s planning each tiny query on one thread; running the cases through a
    small thread pool once per session keeps the suite within its time budget.
    """
    spark = request.getfixturevalue("spark_session")
    result = Engines(spark)
    tables = dict(shared_tables())
    for case in CASES:
        for name, spec in case.tables.items():
            if name in tables and tables[name] is not spec and tables[name] != spec:
                raise ValueError(f"case {case.id}: table {name!r} is defined twice with different contents")
            tables[name] = spec
    for name, spec in tables.items():
        result.load(name, spec)
    result.precompute([c for c in ROW_CASES if "spark" in c.engines], "spark")
    return result


_ROW_RUNS = [(case, engine) for case in ROW_CASES for engine in ("duckdb", "spark") if engine in case.engines]
#: Cases limited to some engines: on the others the engine must refuse them, never answer wrongly.
_REFUSALS = [(case, engine) for case in ROW_CASES for engine in ("duckdb", "spark") if engine not in case.engines]


@pytest.mark.parametrize(("case", "engine"), _ROW_RUNS, ids=[f"{c.id}-{e}" for c, e in _ROW_RUNS])
def test_case_rows(case: Case, engine: str, engines: Engines) -> None:
    rows, columns, ordered = engines.result(case, engine)
    if case.columns is not None:
        assert columns == case.columns
    expected = expected_rows(case)
    if not ordered:
        rows, expected = sorted(rows, key=sort_key), sorted(expected, key=sort_key)
    assert rows == expected


@pytest.mark.parametrize(("case", "engine"), _REFUSALS, ids=[f"{c.id}-{e}" for c, e in _REFUSALS])
def test_engine_limited_cases_are_refused_elsewhere(case: Case, engine: str, engines: Engines) -> None:
    with pytest.raises(errors.KqlUnsupportedError):
        compile_query(case.kql, engines.schema, engine)


@pytest.mark.parametrize("dialect", ["duckdb", "spark"])
@pytest.mark.parametrize("case", ERROR_CASES, ids=[c.id for c in ERROR_CASES])
def test_case_errors(case: Case, dialect: str, engines: Engines) -> None:
    assert case.error is not None
    cls_name, fragment, line, column = case.error
    cls = getattr(errors, cls_name)
    with pytest.raises(cls) as caught:
        compile_query(case.kql, engines.schema, dialect)
    assert fragment in caught.value.reason
    assert (caught.value.line, caught.value.column) == (line, column)
