"""The rule model: plain dataclasses holding a Sentinel analytics-rule YAML as written.

Nothing here validates, schedules or runs anything (pySigma's split: the model is data, the rest
are separate steps). ``Rule.from_dict`` is lenient on purpose: validation (``validate.py``) reports
every problem with its line, and it needs a model it can build even from a broken file. Unknown
Sentinel keys are kept in ``Rule.raw`` so a loaded rule can be written back unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from entrawatch.analytics.durations import parse_duration

#: Sentinel spells trigger operators both ways (YAML: gt; ARM/REST: GreaterThan).
TRIGGER_OPERATORS = {
    "gt": "gt", "greaterthan": "gt",
    "lt": "lt", "lessthan": "lt",
    "eq": "eq", "equal": "eq",
    "ne": "ne", "notequal": "ne",
}


@dataclass(frozen=True)
class FieldMapping:
    """One entity identifier taken from one query output column."""

    identifier: str
    column: str


@dataclass(frozen=True)
class EntityMapping:
    """``entityMappings[]``: an entity type and up to three identifiers."""

    entity_type: str
    fields: tuple[FieldMapping, ...]


@dataclass(frozen=True)
class GroupingConfig:
    """``incidentConfiguration.groupingConfiguration`` (Sentinel defaults when absent)."""

    enabled: bool = False
    reopen_closed_incident: bool = False
    lookback: timedelta = timedelta(hours=5)
    matching_method: str = "AllEntities"
    group_by_entities: tuple[str, ...] = ()
    group_by_alert_details: tuple[str, ...] = ()
    group_by_custom_details: tuple[str, ...] = ()


@dataclass(frozen=True)
class IncidentConfig:
    """``incidentConfiguration``: whether alerts make incidents and how they are grouped."""

    create_incident: bool = True
    grouping: GroupingConfig = field(default_factory=GroupingConfig)


@dataclass(frozen=True)
class AlertDetailsOverride:
    """``alertDetailsOverride``: per-alert name/description/severity/tactics from result columns."""

    display_name_format: str | None = None
    description_format: str | None = None
    severity_column: str | None = None
    tactics_column: str | None = None
    dynamic_properties: tuple[tuple[str, str], ...] = ()  # (alertProperty, column)


@dataclass(frozen=True)
class RuleTest:
    """One entry of the entrawatch ``tests:`` list (see docs/rules.md)."""

    name: str
    now: Any
    expect: dict[str, Any]
    events: dict[str, list[dict[str, Any]]]
    files: tuple[str, ...] = ()
    index: int = 0


def _as_bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1")
    return bool(value)


def _duration(value: Any, default: timedelta) -> timedelta:
    if value in (None, ""):
        return default
    try:
        return parse_duration(value)
    except ValueError:
        return default


def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(v) for v in value if v is not None)
    return ()


@dataclass
class Rule:
    """A scheduled analytics rule (or a hunting query when ``kind == "Hunting"``)."""

    id: str
    name: str
    description: str = ""
    severity: str = "Medium"
    kind: str = "Scheduled"
    query: str = ""
    query_frequency: timedelta = timedelta(hours=1)
    query_period: timedelta = timedelta(hours=1)
    trigger_operator: str = "gt"
    trigger_threshold: int = 0
    tactics: tuple[str, ...] = ()
    techniques: tuple[str, ...] = ()
    entity_mappings: tuple[EntityMapping, ...] = ()
    custom_details: dict[str, str] = field(default_factory=dict)
    details_override: AlertDetailsOverride = field(default_factory=AlertDetailsOverride)
    aggregation_kind: str = "SingleAlert"
    incident: IncidentConfig = field(default_factory=IncidentConfig)
    suppression_enabled: bool = False
    suppression_duration: timedelta = timedelta(hours=5)
    version: str = ""
    streams: tuple[str, ...] = ()
    scenarios: tuple[str, ...] = ()
    tests: tuple[RuleTest, ...] = ()
    path: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def is_hunting(self) -> bool:
        return self.kind.lower() == "hunting"

    @property
    def location(self) -> str:
        return str(self.path) if self.path else self.id

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, path: Path | None = None, kind: str | None = None) -> Rule:
        """Build a rule from a parsed YAML mapping, falling back to Sentinel defaults."""
        extras = data.get("entrawatch") if isinstance(data.get("entrawatch"), dict) else {}
        override = data.get("alertDetailsOverride") if isinstance(data.get("alertDetailsOverride"), dict) else {}
        incident = data.get("incidentConfiguration") if isinstance(data.get("incidentConfiguration"), dict) else {}
        grouping = incident.get("groupingConfiguration") if isinstance(incident.get("groupingConfiguration"), dict) else {}
        events = data.get("eventGroupingSettings") if isinstance(data.get("eventGroupingSettings"), dict) else {}
        operator = str(data.get("triggerOperator") or "gt").strip().lower()
        try:
            threshold = int(data.get("triggerThreshold") or 0)
        except (TypeError, ValueError):
            threshold = 0
        custom = data.get("customDetails") if isinstance(data.get("customDetails"), dict) else {}
        return cls(
            id=str(data.get("id") or ""),
            name=str(data.get("name") or ""),
            description=str(data.get("description") or "").strip(),
            severity=str(data.get("severity") or "Medium"),
            kind=kind or str(data.get("kind") or "Scheduled"),
            query=str(data.get("query") or ""),
            query_frequency=_duration(data.get("queryFrequency"), timedelta(hours=1)),
            query_period=_duration(data.get("queryPeriod"), timedelta(hours=1)),
            trigger_operator=TRIGGER_OPERATORS.get(operator, operator),
            trigger_threshold=threshold,
            tactics=_strings(data.get("tactics")),
            techniques=_strings(data.get("relevantTechniques")),
            entity_mappings=_entity_mappings(data.get("entityMappings")),
            custom_details={str(k): str(v) for k, v in custom.items()},
            details_override=AlertDetailsOverride(
                display_name_format=override.get("alertDisplayNameFormat") or None,
                description_format=override.get("alertDescriptionFormat") or None,
                severity_column=override.get("alertSeverityColumnName") or None,
                tactics_column=override.get("alertTacticsColumnName") or None,
                dynamic_properties=tuple(
                    (str(p.get("alertProperty")), str(p.get("value")))
                    for p in override.get("alertDynamicProperties") or []
                    if isinstance(p, dict)
                ),
            ),
            aggregation_kind=str(events.get("aggregationKind") or "SingleAlert"),
            incident=IncidentConfig(
                create_incident=_as_bool(incident.get("createIncident"), True),
                grouping=GroupingConfig(
                    enabled=_as_bool(grouping.get("enabled"), False),
                    reopen_closed_incident=_as_bool(grouping.get("reopenClosedIncident"), False),
                    lookback=_duration(grouping.get("lookbackDuration"), timedelta(hours=5)),
                    matching_method=str(grouping.get("matchingMethod") or "AllEntities"),
                    group_by_entities=_strings(grouping.get("groupByEntities")),
                    group_by_alert_details=_strings(grouping.get("groupByAlertDetails")),
                    group_by_custom_details=_strings(grouping.get("groupByCustomDetails")),
                ),
            ),
            suppression_enabled=_as_bool(data.get("suppressionEnabled"), False),
            suppression_duration=_duration(data.get("suppressionDuration"), timedelta(hours=5)),
            version=str(data.get("version") or ""),
            streams=_strings(extras.get("streams")),
            scenarios=_strings(extras.get("scenarios")),
            tests=_tests(data.get("tests")),
            path=path,
            raw=data,
        )


def _entity_mappings(value: Any) -> tuple[EntityMapping, ...]:
    result = []
    for item in value or []:
        if not isinstance(item, dict):
            continue
        fields = tuple(
            FieldMapping(str(f.get("identifier")), str(f.get("columnName")))
            for f in item.get("fieldMappings") or []
            if isinstance(f, dict)
        )
        result.append(EntityMapping(str(item.get("entityType")), fields))
    return tuple(result)


def _tests(value: Any) -> tuple[RuleTest, ...]:
    result = []
    for index, item in enumerate(value or []):
        if not isinstance(item, dict):
            continue
        events = item.get("events") if isinstance(item.get("events"), dict) else {}
        result.append(RuleTest(
            name=str(item.get("name") or f"test {index + 1}"),
            now=item.get("now"),
            expect=item.get("expect") if isinstance(item.get("expect"), dict) else {},
            events={str(t): list(rows or []) for t, rows in events.items()},
            files=_strings(item.get("files")),
            index=index,
        ))
    return tuple(result)
