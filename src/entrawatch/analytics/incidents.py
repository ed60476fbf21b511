"""Incident grouping, Sentinel style: alerts of one rule join an open incident that matches.

``incidentConfiguration.groupingConfiguration`` decides: disabled -> one incident per alert;
``AnyAlert`` -> every alert of the rule within ``lookbackDuration`` of the incident's creation;
``AllEntities`` -> alerts with exactly the same entities; ``Selected`` -> alerts equal on the chosen
entity types, alert details (DisplayName/Severity) and custom details. A closed incident takes new
alerts only with ``reopenClosedIncident``; otherwise a new incident starts. Incidents hold at most
150 alerts (Sentinel's limit). Alerts are grouped in chronological order, so numbering is the same
whether a period is detected at once or piece by piece.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from entrawatch.analytics import vocabulary as voc
from entrawatch.analytics.alerts import Alert, entity_key
from entrawatch.analytics.model import Rule

_NAMESPACE = uuid.UUID("0c9a1f52-3e4b-4d7e-8a51-7b2f5a1c9e30")
_SEVERITY_RANK = {name: rank for rank, name in enumerate(voc.SEVERITIES)}


@dataclass
class Incident:
    """One SecurityIncident row, kept in memory while alerts are grouped."""

    number: int
    name: str
    title: str
    description: str
    severity: str
    status: str
    created_time: datetime
    first_activity: datetime
    last_activity: datetime
    last_modified: datetime
    rule_ids: list[str]
    rule_names: list[str]
    alert_ids: list[str]
    entities: list[dict[str, Any]]
    grouping_key: str
    closed_time: datetime | None = None
    classification: str | None = None
    changed: bool = field(default=False, compare=False)

    def add(self, alert: Alert) -> None:
        """Attach an alert: widen the activity span, merge entities, raise severity."""
        self.alert_ids.append(alert.system_alert_id)
        self.first_activity = min(self.first_activity, alert.start_time)
        self.last_activity = max(self.last_activity, alert.end_time)
        self.last_modified = max(self.last_modified, alert.window.end)
        if _SEVERITY_RANK.get(alert.severity, 0) > _SEVERITY_RANK.get(self.severity, 0):
            self.severity = alert.severity
        known = {entity_key(e) for e in self.entities}
        for entity in alert.entities:
            if entity_key(entity) not in known:
                self.entities.append(entity)
                known.add(entity_key(entity))
        if alert.rule_id not in self.rule_ids:
            self.rule_ids.append(alert.rule_id)
            self.rule_names.append(alert.rule_name)
        self.changed = True


def grouping_key(rule: Rule, alert: Alert) -> str:
    """What two alerts of ``rule`` must share to land in one incident (JSON text)."""
    grouping = rule.incident.grouping
    if not grouping.enabled:
        return json.dumps(["alert", alert.system_alert_id])
    if grouping.matching_method == "AnyAlert":
        return json.dumps(["any"])
    if grouping.matching_method == "Selected":
        parts: dict[str, Any] = {
            "entities": sorted(alert.entity_keys(tuple(grouping.group_by_entities))),
        }
        if "DisplayName" in grouping.group_by_alert_details:
            parts["DisplayName"] = alert.display_name
        if "Severity" in grouping.group_by_alert_details:
            parts["Severity"] = alert.severity
        parts["custom"] = {k: alert.custom_details.get(k) for k in grouping.group_by_custom_details}
        return json.dumps(["selected", parts], sort_keys=True, default=str)
    return json.dumps(["all", sorted(alert.entity_keys())])


class IncidentBook:
    """The incidents known so far plus the ones this run creates or updates."""

    def __init__(self, existing: list[Incident], next_number: int) -> None:
        self.incidents = existing
        self.next_number = next_number

    def _candidate(self, rule: Rule, alert: Alert, key: str) -> Incident | None:
        grouping = rule.incident.grouping
        if not grouping.enabled:
            return None
        for incident in reversed(self.incidents):
            if (incident.rule_ids[:1] != [rule.id] or incident.grouping_key != key
                    or len(incident.alert_ids) >= voc.MAX_ALERTS_PER_INCIDENT):
                continue
            if not incident.created_time <= alert.window.end <= incident.created_time + grouping.lookback:
                continue
            if incident.status == "Closed":
                if not grouping.reopen_closed_incident:
                    continue
                incident.status = "Active"
                incident.closed_time = None
                incident.classification = None
            return incident
        return None

    def place(self, rule: Rule, alert: Alert) -> Incident | None:
        """Put ``alert`` into a matching incident or a new one; None when the rule makes no incidents."""
        if not rule.incident.create_incident:
            return None
        key = grouping_key(rule, alert)
        incident = self._candidate(rule, alert, key)
        if incident is None:
            incident = Incident(
                number=self.next_number,
                name=str(uuid.uuid5(_NAMESPACE, alert.system_alert_id)),
                title=alert.display_name,
                description=rule.description,
                severity=alert.severity,
                status="New",
                created_time=alert.window.end,
                first_activity=alert.start_time,
                last_activity=alert.end_time,
                last_modified=alert.window.end,
                rule_ids=[],
                rule_names=[],
                alert_ids=[],
                entities=[],
                grouping_key=key,
            )
            self.next_number += 1
            self.incidents.append(incident)
        incident.add(alert)
        return incident

    @property
    def changed(self) -> list[Incident]:
        return [i for i in self.incidents if i.changed]
