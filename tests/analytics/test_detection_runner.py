"""Scheduler + runner behaviour with a stand-in KQL engine (see analytics_support.FakeKql)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from analytics_support import T0, FakeKql, add_events, make_rule
from entrawatch.analytics import list_alerts, list_incidents, run_detection
from entrawatch.warehouse import DuckDBWarehouse

H = timedelta(hours=1)


def _run(wh, rules, start, end, lookback=H, **kwargs):
    return run_detection(wh, rules, start, end, query_runner=FakeKql(lookback), load_data=False, **kwargs)


def test_one_alert_with_entities_and_rows(wh):
    add_events(wh, [{"TimeGenerated": T0 + timedelta(minutes=m)} for m in (10, 20, 30)])
    result = _run(wh, [make_rule()], T0, T0 + 3 * H)
    assert (result.windows, result.alerts, result.incidents_created, result.errors) == (3, 1, 1, [])
    (alert,) = list_alerts(wh)
    assert alert["ProviderName"] == "entrawatch" and alert["AlertSeverity"] == "Medium"
    assert alert["WindowStart"] == T0 and alert["WindowEnd"] == T0 + H and alert["TimeGenerated"] == T0 + H
    assert alert["StartTime"] == T0 + timedelta(minutes=10) and alert["EndTime"] == T0 + timedelta(minutes=30)
    assert alert["Tactics"] == "CredentialAccess" and json.loads(alert["Techniques"]) == ["T1110"]
    entities = json.loads(alert["Entities"])
    assert {"Type": "account", "EntityType": "Account", "FullName": "alice@contoso.com", "Name": "alice",
            "UPNSuffix": "contoso.com"} in entities
    assert {"Type": "ip", "EntityType": "IP", "Address": "203.0.113.9"} in entities
    events = json.loads(alert["Events"])
    assert len(events) == 1 and events[0]["Attempts"] == 3 and alert["EventCount"] == 1
    assert alert["CompromisedEntity"] == "alice@contoso.com"


def test_same_rows_in_overlapping_windows_give_one_alert(wh):
    add_events(wh, [{"TimeGenerated": T0 + timedelta(minutes=10)}])
    rule = make_rule(queryPeriod="3h")
    result = run_detection(wh, [rule], T0, T0 + 5 * H, query_runner=FakeKql(3 * H), load_data=False)
    assert (result.windows, result.alerts, result.duplicates) == (5, 1, 2)


def test_changed_rows_in_overlapping_windows_are_new_alerts(wh):
    add_events(wh, [{"TimeGenerated": T0 + timedelta(minutes=10)}, {"TimeGenerated": T0 + timedelta(minutes=70)}])
    rule = make_rule(queryPeriod="3h")
    result = run_detection(wh, [rule], T0, T0 + 5 * H, query_runner=FakeKql(3 * H), load_data=False)
    # window 1: 1 attempt; windows 2-3: 2 attempts (one alert, then duplicate); window 4: 1 attempt again
    # but its window does not overlap window 1's, so it is a new alert.
    assert [len(json.loads(a["Events"])) for a in list_alerts(wh)] == [1, 1, 1]
    assert (result.alerts, result.duplicates) == (3, 1)


def test_same_rows_in_disjoint_windows_are_separate_alerts(wh):
    add_events(wh, [{"TimeGenerated": T0 + timedelta(minutes=10)}, {"TimeGenerated": T0 + timedelta(hours=5, minutes=10)}])
    result = _run(wh, [make_rule()], T0, T0 + 8 * H)
    assert (result.alerts, result.duplicates) == (2, 0)


@pytest.mark.parametrize(("operator", "threshold", "rows", "fires"), [
    ("gt", 2, 2, False), ("gt", 2, 3, True), ("GreaterThan", 2, 3, True), ("lt", 2, 1, True), ("lt", 2, 2, False),
    ("eq", 2, 2, True), ("Equal", 2, 3, False), ("ne", 0, 1, True), ("NotEqual", 1, 1, False),
])
def test_trigger_operator_and_threshold(wh, operator, threshold, rows, fires):
    add_events(wh, [{"TimeGenerated": T0 + timedelta(minutes=5), "user": f"u{i}@contoso.com"} for i in range(rows)])
    rule = make_rule(triggerOperator=operator, triggerThreshold=threshold, eventGroupingSettings={
        "aggregationKind": "SingleAlert"})
    assert _run(wh, [rule], T0, T0 + H).alerts == (1 if fires else 0)


def test_single_alert_holds_all_rows_and_entities(wh):
    add_events(wh, [{"TimeGenerated": T0 + timedelta(minutes=5), "user": f"u{i}@contoso.com"} for i in range(3)])
    rule = make_rule(eventGroupingSettings={"aggregationKind": "SingleAlert"})
    assert _run(wh, [rule], T0, T0 + H).alerts == 1
    (alert,) = list_alerts(wh)
    entities = json.loads(alert["Entities"])
    assert sorted(e.get("FullName") or e["Address"] for e in entities) == [
        "203.0.113.9", "u0@contoso.com", "u1@contoso.com", "u2@contoso.com"]
    assert alert["EventCount"] == 3


def test_alert_per_result_makes_one_alert_per_row(wh):
    add_events(wh, [{"TimeGenerated": T0 + timedelta(minutes=5), "user": f"u{i}@contoso.com"} for i in range(3)])
    assert _run(wh, [make_rule()], T0, T0 + H).alerts == 3


def test_suppression_skips_windows_after_an_alert(wh):
    add_events(wh, [{"TimeGenerated": T0 + timedelta(hours=h, minutes=5), "user": f"u{h}@contoso.com"}
                    for h in range(6)])
    rule = make_rule(suppressionEnabled=True, suppressionDuration="PT3H")
    result = _run(wh, [rule], T0, T0 + 6 * H)
    assert (result.windows, result.windows_suppressed, result.alerts) == (2, 4, 2)
    assert sorted(a["WindowEnd"] for a in list_alerts(wh)) == [T0 + H, T0 + 4 * H]


def test_suppression_is_off_unless_enabled(wh):
    add_events(wh, [{"TimeGenerated": T0 + timedelta(hours=h, minutes=5), "user": f"u{h}@contoso.com"}
                    for h in range(4)])
    rule = make_rule(suppressionEnabled=False, suppressionDuration="PT3H")
    assert _run(wh, [rule], T0, T0 + 4 * H).alerts == 4


def test_rerun_is_idempotent(wh):
    add_events(wh, [{"TimeGenerated": T0 + timedelta(hours=h, minutes=5), "user": f"u{h % 2}@contoso.com"}
                    for h in range(6)])
    rules = [make_rule(suppressionEnabled=True, suppressionDuration="PT2H")]
    first = _run(wh, rules, T0, T0 + 6 * H)
    alerts, incidents = list_alerts(wh), list_incidents(wh)
    second = _run(wh, rules, T0, T0 + 6 * H)
    assert first.alerts > 0 and (second.alerts, second.incidents_created, second.incidents_updated) == (0, 0, 0)
    assert list_alerts(wh) == alerts and list_incidents(wh) == incidents


def _snapshot(warehouse):
    alerts = sorted((a["SystemAlertId"], a["WindowEnd"], a["DedupKey"]) for a in list_alerts(warehouse))
    incidents = [(i["IncidentNumber"], i["AlertCount"], i["AlertIds"], i["Status"]) for i in list_incidents(warehouse)]
    return alerts, incidents


def test_backfill_at_once_equals_day_by_day(tmp_path):
    rows = [{"TimeGenerated": T0 + timedelta(hours=h, minutes=7), "user": f"u{h % 5}@contoso.com",
             "ip": f"198.51.100.{h % 3}"} for h in range(0, 30 * 24, 5)]
    rules = [
        make_rule(queryFrequency="6h", queryPeriod="1d", incidentConfiguration={"groupingConfiguration": {
            "enabled": True, "matchingMethod": "Selected", "groupByEntities": ["IP"], "lookbackDuration": "P1D"}}),
        make_rule(id="aaaaaaaa-0000-0000-0000-000000000002", queryFrequency="1h", queryPeriod="2h",
                  suppressionEnabled=True, suppressionDuration="PT5H"),
    ]
    rules[1].query = "per_entity_2h"
    runner = FakeKql(timedelta(days=1))
    runner.queries["per_entity_2h"] = runner.queries["per_entity"]
    once, daily = DuckDBWarehouse(tmp_path / "once.duckdb"), DuckDBWarehouse(tmp_path / "daily.duckdb")
    try:
        for warehouse in (once, daily):
            add_events(warehouse, rows)

        def run(warehouse, start, end):
            def by_rule(query, wh, now):  # each rule reads its own period
                runner.lookback = timedelta(days=1) if query == "per_entity" else timedelta(hours=2)
                return runner(query, wh, now)
            return run_detection(warehouse, rules, start, end, query_runner=by_rule, load_data=False)

        total = run(once, T0, T0 + timedelta(days=30)).alerts
        daily_total = sum(run(daily, T0 + timedelta(days=d), T0 + timedelta(days=d + 1)).alerts for d in range(30))
        assert total == daily_total > 50
        assert _snapshot(once) == _snapshot(daily)
    finally:
        once.close()
        daily.close()


def test_failing_rule_is_reported_and_others_run(wh):
    add_events(wh, [{"TimeGenerated": T0 + timedelta(minutes=10)}])
    broken = make_rule(id="aaaaaaaa-0000-0000-0000-00000000000b", name="Broken", query="no such table")
    missing = make_rule(id="aaaaaaaa-0000-0000-0000-00000000000c", name="Missing column", query="raw",
                        customDetails={"Attempts": "Attempts"})
    result = _run(wh, [broken, make_rule(), missing], T0, T0 + 3 * H)
    assert result.alerts == 1
    assert sorted(e.rule_name for e in result.errors) == ["Broken", "Missing column"]
    assert any("Attempts" in e.message for e in result.errors)
    assert result.alerts_per_rule["aaaaaaaa-0000-0000-0000-000000000001"] == 1


def test_alert_details_override_and_custom_details(wh):
    add_events(wh, [{"TimeGenerated": T0 + timedelta(minutes=10), "severity": "High"},
                    {"TimeGenerated": T0 + timedelta(minutes=11), "severity": "High"}])
    rule = make_rule(
        customDetails={"Attempts": "Attempts", "App": "AppDisplayName"},
        alertDetailsOverride={"alertDisplayNameFormat": "{{Attempts}} attempts by {{UserPrincipalName}}",
                              "alertDescriptionFormat": "From {{IPAddress}} to {{AppDisplayName}}; {{Missing}}.",
                              "alertSeverityColumnName": "Severity",
                              "alertDynamicProperties": [{"alertProperty": "AlertLink", "value": "IPAddress"}]})
    _run(wh, [rule], T0, T0 + H)
    (alert,) = list_alerts(wh)
    assert alert["DisplayName"] == "2 attempts by alice@contoso.com"
    assert alert["Description"] == "From 203.0.113.9 to Office 365; ."
    assert alert["AlertSeverity"] == "High" and alert["AlertLink"] == "203.0.113.9"
    assert json.loads(alert["CustomDetails"]) == {"Attempts": [2], "App": ["Office 365"]}


def test_attacker_controlled_values_are_data_not_sql(wh):
    nasty = "x'); DROP TABLE \"SecurityAlert\"; --@contoso.com"
    add_events(wh, [{"TimeGenerated": T0 + timedelta(minutes=10), "user": nasty}])
    _run(wh, [make_rule()], T0, T0 + H)
    assert json.loads(list_alerts(wh)[0]["Entities"])[0]["FullName"] == nasty


def test_progress_callback_sees_every_window(wh):
    seen = []
    add_events(wh, [{"TimeGenerated": T0 + timedelta(minutes=10)}])
    _run(wh, [make_rule(), make_rule(id="aaaaaaaa-0000-0000-0000-000000000009", queryFrequency="30m")],
         T0, T0 + 2 * H, progress=lambda done, total, name: seen.append((done, total)))
    assert seen[-1] == (6, 6) and len(seen) == 6


def test_threads_give_the_same_result(tmp_path):
    rows = [{"TimeGenerated": T0 + timedelta(hours=h, minutes=7), "user": f"u{h % 4}@contoso.com"}
            for h in range(0, 72, 3)]
    rules = [make_rule(id=f"aaaaaaaa-0000-0000-0000-00000000001{i}", queryFrequency=freq)
             for i, freq in enumerate(("1h", "2h", "3h"))]
    snapshots = []
    for workers in (1, 2):
        warehouse = DuckDBWarehouse(tmp_path / f"w{workers}.duckdb")
        try:
            add_events(warehouse, rows)
            result = run_detection(warehouse, rules, T0, T0 + timedelta(days=3), query_runner=FakeKql(H),
                                   load_data=False, workers=workers)
            assert result.alerts > 10 and result.errors == []
            snapshots.append(_snapshot(warehouse))
        finally:
            warehouse.close()
    assert snapshots[0] == snapshots[1]


def test_capped_alerts_do_not_depend_on_row_order():
    """An unsorted result arrives in the engine's order (threads, spilling); the 150 alerts kept
    must be the same whatever that order. A query that sorts keeps its own order."""
    import pyarrow as pa

    from entrawatch.analytics.alerts import build_alerts
    from entrawatch.analytics.scheduler import Window

    rows = [{"UserPrincipalName": f"u{i:03d}@contoso.com", "IPAddress": "203.0.113.9", "Attempts": i}
            for i in range(200)]
    window = Window(T0, T0 + H)
    unsorted = make_rule(query="TestEvents | summarize Attempts = count() by UserPrincipalName, IPAddress")
    first = build_alerts(unsorted, window, pa.Table.from_pylist(rows))
    again = build_alerts(unsorted, window, pa.Table.from_pylist(rows[::-1]))
    assert len(first) == len(again) == 150
    assert {a.system_alert_id for a in first} == {a.system_alert_id for a in again}
    ranked = make_rule(query="TestEvents | summarize Attempts = count() by UserPrincipalName, IPAddress "
                             "| sort by Attempts desc")
    kept = build_alerts(ranked, window, pa.Table.from_pylist(rows[::-1]))
    assert [a.events[0]["Attempts"] for a in kept[:3]] == [199, 198, 197]
