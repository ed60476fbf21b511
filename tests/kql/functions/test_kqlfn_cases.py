"""Every function-table case, on DuckDB and on Spark (one batched SELECT per engine)."""

from __future__ import annotations

from collections import Counter

import kqlfn_cases_aggregates
import kqlfn_cases_datetime
import kqlfn_cases_dynamic
import kqlfn_cases_misc
import kqlfn_cases_operators
import kqlfn_cases_strings
import pytest
from kqlfn_harness import check, evaluate

ALL_CASES = (kqlfn_cases_operators.CASES + kqlfn_cases_strings.CASES + kqlfn_cases_datetime.CASES
             + kqlfn_cases_dynamic.CASES + kqlfn_cases_misc.CASES + kqlfn_cases_aggregates.CASES)


def test_case_ids_are_unique() -> None:
    duplicates = [name for name, count in Counter(c.id for c in ALL_CASES).items() if count > 1]
    assert not duplicates


@pytest.fixture(scope="session")
def duckdb_outcomes(duckdb_engine):
    return evaluate(ALL_CASES, duckdb_engine)


@pytest.fixture(scope="session")
def spark_outcomes(spark_engine):
    return evaluate(ALL_CASES, spark_engine)


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.id for c in ALL_CASES])
def test_duckdb(case, duckdb_outcomes) -> None:
    check(case, duckdb_outcomes[case.id])


@pytest.mark.spark
@pytest.mark.parametrize("case", ALL_CASES, ids=[c.id for c in ALL_CASES])
def test_spark(case, spark_outcomes) -> None:
    check(case, spark_outcomes[case.id])
