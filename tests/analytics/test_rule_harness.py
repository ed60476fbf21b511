"""The tests: harness (now-relative times, _repeat, readers, expect) with a stand-in query engine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from analytics_support import FakeKql
from entrawatch.analytics.content_data import load_content_data
from entrawatch.analytics.model import Rule
from entrawatch.analytics.testing import expand_rows, resolve_time, run_rule_tests
from entrawatch.warehouse import DuckDBWarehouse

NOW = datetime(2025, 3, 10, 12, tzinfo=UTC)
SPRAY_SQL = (
    'SELECT "IPAddress", count(DISTINCT "UserPrincipalName") AS Accounts, min("TimeGenerated") AS StartTime '
    'FROM "SigninLogs" WHERE "TimeGenerated" >= ? AND "TimeGenerated" < ? AND "ResultType" = \'50126\' '
    'GROUP BY "IPAddress" HAVING count(DISTINCT "UserPrincipalName") >= 5'
)


def _rule(tests, **extra):
    return Rule.from_dict({
        "id": "bbbbbbbb-0000-0000-0000-000000000001", "name": "spray", "description": "d", "severity": "Medium",
        "queryFrequency": "1h", "queryPeriod": "1h", "triggerOperator": "gt", "triggerThreshold": 0,
        "query": "spray", "tactics": ["CredentialAccess"], "relevantTechniques": ["T1110.003"],
        "entityMappings": [{"entityType": "IP", "fieldMappings": [{"identifier": "Address", "columnName": "IPAddress"}]}],
        "eventGroupingSettings": {"aggregationKind": "AlertPerResult"}, "tests": tests, **extra})


def _spray(ip="203.0.113.9", repeat=12, when="now-40m", code="50126"):
    return {"TimeGenerated": when, "UserPrincipalName": "user{i}@contoso.com", "IPAddress": ip,
            "ResultType": code, "AppDisplayName": "Office 365", "_repeat": repeat}


def _test(name, alerts, rows, **expect):
    return {"name": name, "now": "2025-03-10T12:00:00Z", "expect": {"alerts": alerts, **expect},
            "events": {"SigninLogs": rows}}


FAKE = FakeKql(timedelta(hours=1), {"spray": SPRAY_SQL})


def test_passing_positive_and_negative_tests():
    rule = _rule([
        _test("spray fires", 1, [_spray()], entities={"IP": ["203.0.113.9"]}),
        _test("four accounts do not", 0, [_spray(repeat=4)]),
        _test("old events fall outside the window", 0, [_spray(when="now-2h")]),
        _test("events after now are not seen", 0, [_spray(when="now+5m")]),
    ])
    outcomes = run_rule_tests(rule, query_runner=FAKE)
    assert [(o.name, o.passed) for o in outcomes] == [
        ("spray fires", True), ("four accounts do not", True), ("old events fall outside the window", True),
        ("events after now are not seen", True)], outcomes


def test_failures_say_what_went_wrong():
    rule = _rule([
        _test("wrong count", 2, [_spray()]),
        _test("wrong entity", 1, [_spray()], entities={"IP": ["198.51.100.1"]}),
    ])
    first, second = run_rule_tests(rule, query_runner=FAKE)
    assert not first.passed and "expected 2 alert(s), got 1" in first.message
    assert not second.passed and "198.51.100.1" in second.message


def test_identical_repeated_rows_stay_distinct_events():
    rows = expand_rows("SigninLogs", [{"TimeGenerated": "now-1m", "UserPrincipalName": "a@x.com", "_repeat": 3}],
                       NOW, seed="s")
    assert len({r["Id"] for r in rows}) == 3
    sql = 'SELECT count(*) AS n FROM "SigninLogs" WHERE "TimeGenerated" >= ? AND "TimeGenerated" < ? HAVING count(*) = 3'
    rule = _rule([_test("three rows arrive", 1, [{"TimeGenerated": "now-1m", "UserPrincipalName": "a@x.com",
                                                  "ResultType": "0", "_repeat": 3}])], entityMappings=[])
    rule.query = "count3"
    (outcome,) = run_rule_tests(rule, query_runner=FakeKql(timedelta(hours=1), {"count3": sql}))
    assert outcome.passed, outcome.message


def test_missing_mapped_column_fails_the_test():
    rule = _rule([_test("t", 1, [_spray()])], entityMappings=[
        {"entityType": "Account", "fieldMappings": [{"identifier": "FullName", "columnName": "UserPrincipalName"}]}])
    (outcome,) = run_rule_tests(rule, query_runner=FAKE)
    assert not outcome.passed and "UserPrincipalName" in outcome.message


def test_rule_without_tests_fails():
    (outcome,) = run_rule_tests(_rule([]), query_runner=FAKE)
    assert not outcome.passed


@pytest.mark.parametrize(("value", "expected"), [
    ("now", "2025-03-10T12:00:00Z"), ("now-2h", "2025-03-10T10:00:00Z"), ("now+30m", "2025-03-10T12:30:00Z"),
    ("now - 3d", "2025-03-07T12:00:00Z"), ("NOW-PT1H", "2025-03-10T11:00:00Z"), ("2025-01-01", "2025-01-01"),
    (datetime(2025, 1, 1, 5), "2025-01-01T05:00:00Z"), (42, 42),
])
def test_relative_times(value, expected):
    assert resolve_time(value, NOW) == expected


def test_repeat_substitutes_index_everywhere():
    rows = expand_rows("SigninLogs", [{"UserPrincipalName": "u{i}@x.com", "LocationDetails": {"city": "c{i}"},
                                       "TimeGenerated": "now", "_repeat": 2}], NOW, seed="s")
    assert [(r["UserPrincipalName"], r["LocationDetails"]["city"]) for r in rows] == [("u0@x.com", "c0"),
                                                                                      ("u1@x.com", "c1")]


def test_content_data_csvs_become_tables(tmp_path):
    (tmp_path / "EntrawatchThings.csv").write_text("AppId,Weight,Enabled\nabc,1.5,true\ndef,2,false\n")
    warehouse = DuckDBWarehouse(":memory:")
    try:
        assert load_content_data(warehouse, tmp_path) == ["EntrawatchThings"]
        assert load_content_data(warehouse, tmp_path) == ["EntrawatchThings"]  # reload replaces rows
        assert warehouse.catalog()["EntrawatchThings"] == {"AppId": "string", "Weight": "real", "Enabled": "bool"}
        assert warehouse.query('SELECT * FROM "EntrawatchThings" ORDER BY "AppId"').to_pylist() == [
            {"AppId": "abc", "Weight": 1.5, "Enabled": True}, {"AppId": "def", "Weight": 2.0, "Enabled": False}]
    finally:
        warehouse.close()


def test_builtin_content_data_loads():
    warehouse = DuckDBWarehouse(":memory:")
    try:
        names = load_content_data(warehouse)
        assert "EntrawatchFirstPartyApps" in names
        assert warehouse.query('SELECT count(*) AS n FROM "EntrawatchFirstPartyApps"').to_pylist()[0]["n"] > 0
    finally:
        warehouse.close()
