"""Reading and writing SecurityAlert / SecurityIncident through the Warehouse protocol.

Statements are built from sqlglot-quoted identifiers and ``?`` parameters only; alert content
(attacker-controlled UPNs, user agents) travels as Arrow data or parameters, never as SQL text.
Incidents are one row each: an updated incident is deleted and inserted again by number.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
from sqlglot import exp

from entrawatch.analytics.alerts import PROVIDER, Alert
from entrawatch.analytics.incidents import Incident
from entrawatch.analytics.tables import ALERT, ALERT_TABLE, INCIDENT, INCIDENT_TABLE, register
from entrawatch.warehouse.base import Warehouse


def _q(name: str, dialect: str) -> str:
    return exp.to_identifier(name, quoted=True).sql(dialect=dialect)


def _select(warehouse: Warehouse, table: str, columns: list[str], where: str = "",
            params: list[Any] | None = None, order: str = "") -> list[dict[str, Any]]:
    d = warehouse.dialect
    cols = ", ".join(_q(c, d) for c in columns)
    sql = f"SELECT {cols} FROM {_q(table, d)}"
    if where:
        sql += f" WHERE {where}"
    if order:
        sql += f" ORDER BY {order}"
    return warehouse.query(sql, params or []).to_pylist()


def ensure_tables(warehouse: Warehouse) -> None:
    register()
    warehouse.ensure_table(ALERT_TABLE)
    warehouse.ensure_table(INCIDENT_TABLE)


@dataclass(frozen=True)
class StoredAlert:
    """The part of a stored alert that de-duplication and suppression need."""

    rule_id: str
    dedup_key: str
    window_start: datetime
    window_end: datetime


def load_alert_state(warehouse: Warehouse, since: datetime) -> list[StoredAlert]:
    """Alerts whose window ends after ``since`` (the earliest a new window could overlap)."""
    d = warehouse.dialect
    rows = _select(warehouse, ALERT_TABLE, ["RuleId", "DedupKey", "WindowStart", "WindowEnd"],
                   f"{_q('WindowEnd', d)} > ?", [since])
    return [StoredAlert(r["RuleId"], r["DedupKey"], r["WindowStart"], r["WindowEnd"]) for r in rows]


def alert_record(alert: Alert, tenant_id: str | None = None) -> dict[str, Any]:
    """The SecurityAlert row of an alert."""
    extended = {"Query Period": str(alert.window.end - alert.window.start),
                "Query Start Time UTC": alert.window.start.isoformat(),
                "Query End Time UTC": alert.window.end.isoformat(),
                "Analytic Rule Ids": json.dumps([alert.rule_id]),
                "Analytic Rule Name": alert.rule_name,
                "Event Grouping": "SingleAlert" if alert.event_count != 1 else "AlertPerResult",
                "Custom Details": json.dumps(alert.custom_details, default=str)}
    extra = alert.extra
    return {
        "TenantId": tenant_id,
        "TimeGenerated": alert.window.end,
        "DisplayName": alert.display_name,
        "AlertName": alert.display_name,
        "AlertSeverity": alert.severity,
        "Description": alert.description,
        "ProviderName": extra.get("ProviderName") or PROVIDER,
        "VendorName": "entrawatch",
        "VendorOriginalId": alert.dedup_key,
        "SystemAlertId": alert.system_alert_id,
        "AlertType": f"entrawatch_{alert.rule_id}",
        "ConfidenceLevel": extra.get("ConfidenceLevel"),
        "ConfidenceScore": _float(extra.get("ConfidenceScore")),
        "IsIncident": False,
        "StartTime": alert.start_time,
        "EndTime": alert.end_time,
        "ProcessingEndTime": alert.window.end,
        "RemediationSteps": extra.get("RemediationSteps"),
        "ExtendedProperties": json.dumps(extended),
        "Entities": json.dumps(alert.entities, default=str),
        "SourceSystem": "Detection",
        "ExtendedLinks": extra.get("ExtendedLinks"),
        "ProductName": extra.get("ProductName") or "entrawatch",
        "ProductComponentName": extra.get("ProductComponentName") or "Scheduled Alerts",
        "AlertLink": extra.get("AlertLink"),
        "Status": "New",
        "CompromisedEntity": next((e.get("FullName") or e.get("Name") for e in alert.entities
                                   if e.get("EntityType") == "Account"), None),
        "Tactics": ", ".join(alert.tactics),
        "Techniques": extra.get("Techniques") or json.dumps(list(alert.techniques)),
        "SubTechniques": extra.get("SubTechniques"),
        "Type": ALERT_TABLE,
        "RuleId": alert.rule_id,
        "RuleName": alert.rule_name,
        "WindowStart": alert.window.start,
        "WindowEnd": alert.window.end,
        "DedupKey": alert.dedup_key,
        "CustomDetails": json.dumps(alert.custom_details, default=str),
        "Events": json.dumps(alert.events, default=str),
        "EventCount": alert.event_count,
    }


def _float(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def write_alerts(warehouse: Warehouse, alerts: list[Alert]) -> int:
    """Append alerts (idempotent on SystemAlertId); returns how many were new."""
    if not alerts:
        return 0
    batch = pa.RecordBatch.from_pylist([alert_record(a) for a in alerts], schema=ALERT.arrow_schema())
    return warehouse.append(ALERT_TABLE, [batch]).inserted


def load_incidents(warehouse: Warehouse, since: datetime) -> tuple[list[Incident], int]:
    """Incidents created after ``since`` (grouping candidates) and the next free incident number."""
    d = warehouse.dialect
    top = warehouse.query(f"SELECT max({_q('IncidentNumber', d)}) AS n FROM {_q(INCIDENT_TABLE, d)}").to_pylist()
    next_number = int(top[0]["n"] or 0) + 1 if top else 1
    rows = _select(warehouse, INCIDENT_TABLE, INCIDENT.column_names, f"{_q('CreatedTime', d)} >= ?", [since],
                   order=_q("IncidentNumber", d))
    incidents = []
    for r in rows:
        incidents.append(Incident(
            number=int(r["IncidentNumber"]), name=r["IncidentName"], title=r["Title"],
            description=r["Description"] or "", severity=r["Severity"], status=r["Status"],
            created_time=r["CreatedTime"], first_activity=r["FirstActivityTime"],
            last_activity=r["LastActivityTime"], last_modified=r["LastModifiedTime"],
            rule_ids=json.loads(r["RelatedAnalyticRuleIds"] or "[]"), rule_names=json.loads(r["RuleNames"] or "[]"),
            alert_ids=json.loads(r["AlertIds"] or "[]"), entities=json.loads(r["RelatedEntities"] or "[]"),
            grouping_key=r["GroupingKey"] or "", closed_time=r["ClosedTime"], classification=r["Classification"],
        ))
    return incidents, next_number


def incident_record(incident: Incident) -> dict[str, Any]:
    return {
        "TimeGenerated": incident.last_modified,
        "IncidentName": incident.name,
        "Title": incident.title,
        "Description": incident.description,
        "Severity": incident.severity,
        "Status": incident.status,
        "Classification": incident.classification,
        "ProviderName": PROVIDER,
        "ProviderIncidentId": str(incident.number),
        "FirstActivityTime": incident.first_activity,
        "LastActivityTime": incident.last_activity,
        "FirstModifiedTime": incident.created_time,
        "LastModifiedTime": incident.last_modified,
        "CreatedTime": incident.created_time,
        "ClosedTime": incident.closed_time,
        "IncidentNumber": incident.number,
        "RelatedAnalyticRuleIds": json.dumps(incident.rule_ids),
        "AlertIds": json.dumps(incident.alert_ids),
        "Labels": "[]",
        "SourceSystem": "entrawatch",
        "Type": INCIDENT_TABLE,
        "RelatedEntities": json.dumps(incident.entities, default=str),
        "AlertCount": len(incident.alert_ids),
        "GroupingKey": incident.grouping_key,
        "RuleNames": json.dumps(incident.rule_names),
    }


def write_incidents(warehouse: Warehouse, incidents: list[Incident]) -> None:
    """Insert new incidents and replace updated ones (one row per incident number)."""
    if not incidents:
        return
    d = warehouse.dialect
    numbers = [i.number for i in incidents]
    for start in range(0, len(numbers), 500):
        chunk = numbers[start:start + 500]
        marks = ", ".join("?" for _ in chunk)
        warehouse.execute(f"DELETE FROM {_q(INCIDENT_TABLE, d)} WHERE {_q('IncidentNumber', d)} IN ({marks})", chunk)
    batch = pa.RecordBatch.from_pylist([incident_record(i) for i in incidents], schema=INCIDENT.arrow_schema())
    warehouse.append(INCIDENT_TABLE, [batch], dedupe=False)


def list_alerts(warehouse: Warehouse, since: datetime | None = None) -> list[dict[str, Any]]:
    """Stored alerts, newest first (for the CLI and the web console)."""
    ensure_tables(warehouse)
    d = warehouse.dialect
    where, params = ("", []) if since is None else (f"{_q('TimeGenerated', d)} >= ?", [since])
    return _select(warehouse, ALERT_TABLE, ALERT.column_names, where, params,
                   order=f"{_q('TimeGenerated', d)} DESC, {_q('SystemAlertId', d)}")


def list_incidents(warehouse: Warehouse) -> list[dict[str, Any]]:
    """Stored incidents, by number."""
    ensure_tables(warehouse)
    return _select(warehouse, INCIDENT_TABLE, INCIDENT.column_names, order=_q("IncidentNumber", warehouse.dialect))


def data_span(warehouse: Warehouse, tables: tuple[str, ...]) -> tuple[datetime | None, datetime | None]:
    """Earliest and latest ``TimeGenerated`` over the given tables that exist (None when empty)."""
    d = warehouse.dialect
    present = [t for t in tables if t in warehouse.catalog()]
    if not present:
        return None, None
    parts = " UNION ALL ".join(
        f"SELECT min({_q('TimeGenerated', d)}) AS lo, max({_q('TimeGenerated', d)}) AS hi FROM {_q(t, d)}"
        for t in present
    )
    row = warehouse.query(f"SELECT min(lo) AS lo, max(hi) AS hi FROM ({parts}) AS spans").to_pylist()[0]
    return row["lo"], row["hi"]
