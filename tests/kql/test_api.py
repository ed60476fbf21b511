"""The public API: compile/run against a real DuckDBWarehouse, determinism, now binding, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from entrawatch import kql, schema
from entrawatch.errors import KqlSemanticError, KqlSyntaxError, KqlUnsupportedError
from entrawatch.warehouse import DuckDBWarehouse

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def warehouse() -> DuckDBWarehouse:
    wh = DuckDBWarehouse(":memory:")
    table = schema.table("SigninLogs")
    rows = {name: [None] * 3 for name in table.column_names}
    rows.update({
        "Id": ["1", "2", "3"],
        "TimeGenerated": [NOW - timedelta(minutes=30), NOW - timedelta(hours=3), NOW - timedelta(minutes=5)],
        "UserPrincipalName": ["alice@contoso.com", "bob@contoso.com", None],
        "ResultType": ["0", "50126", "50126"],
        "LocationDetails": ['{"countryOrRegion":"US"}', '{"countryOrRegion":"RU"}', None],
    })
    wh.append("SigninLogs", [pa.RecordBatch.from_pydict(rows, schema=table.arrow_schema())])
    yield wh
    wh.close()


def test_run_returns_kusto_names_and_types(warehouse: DuckDBWarehouse) -> None:
    result = kql.run("SigninLogs | where ResultType == 50126 | summarize count() by UserPrincipalName", warehouse,
                     now=NOW)
    assert result.column_names == ["UserPrincipalName", "count_"]
    assert result.schema.field("count_").type == pa.int64()
    assert sorted(result.to_pylist(), key=lambda r: r["UserPrincipalName"]) == [
        {"UserPrincipalName": "", "count_": 1}, {"UserPrincipalName": "bob@contoso.com", "count_": 1}]


def test_now_binds_ago(warehouse: DuckDBWarehouse) -> None:
    query = "SigninLogs | where TimeGenerated > ago(1h) | count"
    assert kql.run(query, warehouse, now=NOW).to_pylist() == [{"Count": 2}]
    assert kql.run(query, warehouse, now=NOW + timedelta(days=1)).to_pylist() == [{"Count": 0}]


def test_compile_accepts_a_warehouse_and_is_deterministic(warehouse: DuckDBWarehouse) -> None:
    first = kql.compile("SigninLogs | take 5 | where ResultType == '0'", warehouse, now=NOW)
    second = kql.compile("SigninLogs | take 5 | where ResultType == '0'", warehouse, now=NOW)
    assert first == second
    assert first.index("LIMIT 5") < first.index("WHERE")  # the filter wraps the limited rows


def test_spark_dialect_prints_backticks() -> None:
    sql = kql.compile("SigninLogs | project IPAddress", schema.kql_schema(), dialect="spark")
    assert "`IPAddress`" in sql and '"IPAddress"' not in sql


def test_unknown_dialect_is_refused() -> None:
    with pytest.raises(ValueError):
        kql.compile("SigninLogs | count", schema.kql_schema(), dialect="postgres")


def test_errors_carry_position_and_caret() -> None:
    with pytest.raises(KqlSyntaxError) as caught:
        kql.compile("SigninLogs\n| where (", schema.kql_schema())
    assert (caught.value.line, caught.value.column) == (2, 10)
    assert "^" in str(caught.value)
    with pytest.raises(KqlSemanticError, match="unknown column or variable 'Nope'"):
        kql.compile("SigninLogs | project Nope", schema.kql_schema())


def test_dynamic_member_and_string_null_semantics(warehouse: DuckDBWarehouse) -> None:
    result = kql.run("SigninLogs | extend C = tostring(LocationDetails.countryOrRegion) | where C != 'US' "
                     "| project Id, C", warehouse, now=NOW)
    assert sorted(result.to_pylist(), key=lambda r: r["Id"]) == [{"Id": "2", "C": "RU"}, {"Id": "3", "C": ""}]


SENTINEL_SHAPED = [
    # aadFunc per-table pattern over the canonical tables (string vs dynamic LocationDetails)
    """let aadFunc = (tableName:string) {
        table(tableName)
        | where ResultType == "50126"
        | extend LocationDetails = todynamic(LocationDetails)
        | extend Country = tostring(LocationDetails.countryOrRegion)
        | summarize Users = dcount(UserPrincipalName), Countries = make_set(Country) by IPAddress, Type
        | where Users > 10 };
    let aadSignin = aadFunc("SigninLogs");
    let aadNonInt = aadFunc("AADNonInteractiveUserSignInLogs");
    union isfuzzy=true aadSignin, aadNonInt""",
    # raw union first, type-conflicted columns, arg_max, join back
    """union isfuzzy=true SigninLogs, AADNonInteractiveUserSignInLogs
    | where TimeGenerated > ago(1d) and ResultType == 0
    | summarize arg_max(TimeGenerated, *) by UserPrincipalName
    | project UserPrincipalName, TimeGenerated, LocationDetails_dynamic, LocationDetails_string
    | join kind=leftouter (AuditLogs | where OperationName has "password" | project UserPrincipalName =
        tostring(TargetResources[0].userPrincipalName), OperationName) on UserPrincipalName""",
    # mv-expand of CA policies, mv-apply, sort/top
    """SigninLogs
    | mv-apply p = ConditionalAccessPolicies on (where tostring(p.result) == "failure")
    | mv-expand Policy = ConditionalAccessPolicies to typeof(string)
    | summarize Failures = count() by UserPrincipalName, AppDisplayName
    | top 10 by Failures""",
]


@pytest.mark.parametrize("query", SENTINEL_SHAPED)
def test_sentinel_shaped_queries_compile_for_both_engines_and_run(query: str, warehouse: DuckDBWarehouse) -> None:
    for table in ("AADNonInteractiveUserSignInLogs", "AuditLogs"):
        warehouse.ensure_table(table)
    assert "`" in kql.compile(query, schema.kql_schema(), dialect="spark", now=NOW)
    result = kql.run(query, warehouse, now=NOW)
    assert result.num_columns > 0


def test_run_discovers_bag_unpack_columns_from_the_data(warehouse: DuckDBWarehouse) -> None:
    result = kql.run("SigninLogs | where isnotempty(UserPrincipalName) | project Id, LocationDetails "
                     "| evaluate bag_unpack(LocationDetails, 'loc_')", warehouse, now=NOW)
    assert result.column_names == ["Id", "loc_countryOrRegion"]
    assert sorted(result.to_pylist(), key=lambda r: r["Id"]) == [
        {"Id": "1", "loc_countryOrRegion": "US"}, {"Id": "2", "loc_countryOrRegion": "RU"}]


def test_bag_unpack_keys_are_quoted_not_spliced(warehouse: DuckDBWarehouse) -> None:
    query = "print s = '{\"a\\\\\"); drop table SigninLogs; --\": 1}' | extend b = parse_json(s) " \
            "| evaluate bag_unpack(b)"
    result = kql.run(query, warehouse, now=NOW)
    assert result.to_pylist() == [{"s": '{"a\\"); drop table SigninLogs; --": 1}', 'a"); drop table SigninLogs; --': 1}]
    assert kql.run("SigninLogs | count", warehouse, now=NOW).to_pylist() == [{"Count": 3}]


def test_compile_bag_unpack_needs_data_or_a_hint(warehouse: DuckDBWarehouse) -> None:
    query = "SigninLogs | project Id, LocationDetails | evaluate bag_unpack(LocationDetails)"
    with pytest.raises(KqlUnsupportedError, match="needs the data"):
        kql.compile(query, warehouse, now=NOW)
    sql = kql.compile(query, warehouse, now=NOW, bag_unpack_columns={"city": "string", "zip": "long"})
    assert '"city"' in sql and '"zip"' in sql
