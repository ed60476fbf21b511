"""Incident grouping per incidentConfiguration, across runs, and closed-incident handling."""

from __future__ import annotations

import json
from datetime import timedelta

from analytics_support import T0, FakeKql, add_events, make_rule
from entrawatch.analytics import list_incidents, run_detection

H = timedelta(hours=1)


def _grouped(method: str | None = None, lookback: str = "PT5H", reopen: bool = False, **grouping):
    config = {"createIncident": True}
    if method is not None:
        config["groupingConfiguration"] = {"enabled": True, "matchingMethod": method, "lookbackDuration": lookback,
                                           "reopenClosedIncident": reopen, **grouping}
    return make_rule(incidentConfiguration=config, customDetails={"App": "AppDisplayName"})


def _events(wh, spec):
    """spec: (hour, user, ip, app) -> one event 5 minutes into that hour."""
    add_events(wh, [{"TimeGenerated": T0 + timedelta(hours=h, minutes=5), "user": u, "ip": ip, "app": app}
                    for h, u, ip, app in spec])


def _run(wh, rule, hours=8, start=0):
    return run_detection(wh, [rule], T0 + start * H, T0 + hours * H, query_runner=FakeKql(H), load_data=False)


def _alert_counts(wh):
    return [i["AlertCount"] for i in list_incidents(wh)]


SPEC = [(0, "a@x.com", "1.1.1.1", "A"), (1, "b@x.com", "1.1.1.1", "A"), (2, "a@x.com", "1.1.1.1", "B"),
        (3, "a@x.com", "2.2.2.2", "A"), (7, "a@x.com", "1.1.1.1", "A")]


def test_without_grouping_each_alert_is_an_incident(wh):
    _events(wh, SPEC)
    result = _run(wh, _grouped(None))
    assert result.incidents_created == 5 and _alert_counts(wh) == [1, 1, 1, 1, 1]
    assert [i["IncidentNumber"] for i in list_incidents(wh)] == [1, 2, 3, 4, 5]


def test_create_incident_false_makes_alerts_only(wh):
    _events(wh, SPEC)
    result = _run(wh, make_rule(incidentConfiguration={"createIncident": False}))
    assert result.alerts == 5 and result.incidents_created == 0 and list_incidents(wh) == []


def test_any_alert_groups_within_lookback(wh):
    _events(wh, SPEC)
    _run(wh, _grouped("AnyAlert"))
    # alerts at window ends 1..4h join the incident created at 1h (lookback 5h); the one at 8h starts anew
    assert _alert_counts(wh) == [4, 1]


def test_all_entities_needs_identical_entities(wh):
    _events(wh, SPEC)
    _run(wh, _grouped("AllEntities"))
    # (a,1.1.1.1) at 1h and 3h group; (b,1.1.1.1); (a,2.2.2.2); (a,1.1.1.1) at 8h is past the lookback
    assert _alert_counts(wh) == [2, 1, 1, 1]


def test_selected_entities(wh):
    _events(wh, SPEC)
    _run(wh, _grouped("Selected", groupByEntities=["IP"]))
    assert _alert_counts(wh) == [3, 1, 1]
    first = list_incidents(wh)[0]
    entities = json.loads(first["RelatedEntities"])
    assert {e.get("FullName") for e in entities if e["EntityType"] == "Account"} == {"a@x.com", "b@x.com"}


def test_selected_custom_details(wh):
    _events(wh, SPEC)
    _run(wh, _grouped("Selected", groupByCustomDetails=["App"]))
    # App A at 1h, 2h, 4h group; App B alone; App A at 8h past the lookback
    assert _alert_counts(wh) == [3, 1, 1]


def test_selected_alert_details(wh):
    _events(wh, SPEC)
    rule = _grouped("Selected", groupByAlertDetails=["DisplayName"])
    rule.details_override = type(rule.details_override)(display_name_format="Activity by {{UserPrincipalName}}")
    _run(wh, rule)
    assert [(i["Title"], i["AlertCount"]) for i in list_incidents(wh)] == [
        ("Activity by a@x.com", 3), ("Activity by b@x.com", 1), ("Activity by a@x.com", 1)]


def test_incident_fields_summarise_the_alerts(wh):
    _events(wh, SPEC[:2])
    _run(wh, _grouped("AnyAlert"))
    (incident,) = list_incidents(wh)
    assert incident["FirstActivityTime"] == T0 + timedelta(minutes=5)
    assert incident["LastActivityTime"] == T0 + timedelta(hours=1, minutes=5)
    assert incident["Status"] == "New" and incident["Severity"] == "Medium" and incident["Title"] == "Test rule"
    assert len(json.loads(incident["AlertIds"])) == 2 and json.loads(incident["RuleNames"]) == ["Test rule"]


def test_grouping_continues_across_runs(wh):
    _events(wh, SPEC)
    _run(wh, _grouped("AnyAlert"), hours=2)
    second = _run(wh, _grouped("AnyAlert"), start=2, hours=8)
    assert second.incidents_updated == 1 and second.incidents_created == 1
    assert _alert_counts(wh) == [4, 1]


def _close_all(wh):
    wh.execute('UPDATE "SecurityIncident" SET "Status" = ?', ["Closed"])


def test_closed_incident_is_not_reopened_by_default(wh):
    _events(wh, SPEC[:2])
    _run(wh, _grouped("AnyAlert"), hours=1)
    _close_all(wh)
    _run(wh, _grouped("AnyAlert"), start=1, hours=2)
    assert [(i["Status"], i["AlertCount"]) for i in list_incidents(wh)] == [("Closed", 1), ("New", 1)]


def test_closed_incident_reopens_when_configured(wh):
    _events(wh, SPEC[:2])
    _run(wh, _grouped("AnyAlert", reopen=True), hours=1)
    _close_all(wh)
    _run(wh, _grouped("AnyAlert", reopen=True), start=1, hours=2)
    assert [(i["Status"], i["AlertCount"]) for i in list_incidents(wh)] == [("Active", 2)]
