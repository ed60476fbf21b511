"""From a rule's query result in one window to alerts: trigger, entities, details, de-dup key.

Pure functions over the (small) result table of one window; nothing here touches the warehouse.
The de-duplication key is the rule id plus a hash of the fired rows *without their time-bound
columns* (datetime/timespan columns and well-known names such as ``StartTime``): the same finding
seen again by an overlapping window hashes the same even though ``now()`` moved.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa

from entrawatch.analytics import vocabulary as voc
from entrawatch.analytics.model import Rule
from entrawatch.analytics.prepared import sorts_rows
from entrawatch.analytics.scheduler import Window

PROVIDER = "entrawatch"
_NAMESPACE = uuid.UUID("6f1f3c7e-5a0b-4a43-9f0e-2f1d6f9b7a11")
#: Columns treated as time-bound whatever their type (text timestamps produced by strcat etc.).
TIME_BOUND_NAMES = frozenset({
    "TimeGenerated", "StartTime", "EndTime", "FirstSeen", "LastSeen", "StartTimeUtc", "EndTimeUtc",
    "FirstEvent", "LastEvent", "MinTime", "MaxTime", "TimeFirst", "TimeLast", "timestamp", "Timestamp",
})
#: Columns whose values give an alert's activity span (when present in the fired rows).
_ACTIVITY_TIME_NAMES = ("TimeGenerated", "StartTime", "EndTime", "FirstSeen", "LastSeen", "StartTimeUtc",
                        "EndTimeUtc", "FirstEvent", "LastEvent", "MinTime", "MaxTime", "TimeFirst", "TimeLast")
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")
MAX_EVENTS_STORED = 500


@dataclass
class Alert:
    """One alert as it will be written to SecurityAlert (plus what incident grouping needs)."""

    rule_id: str
    rule_name: str
    display_name: str
    description: str
    severity: str
    tactics: tuple[str, ...]
    techniques: tuple[str, ...]
    window: Window
    start_time: datetime
    end_time: datetime
    entities: list[dict[str, Any]]
    custom_details: dict[str, list[Any]]
    events: list[dict[str, Any]]
    event_count: int
    dedup_key: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def system_alert_id(self) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"{self.dedup_key}|{self.window.end.isoformat()}"))

    def entity_keys(self, types: tuple[str, ...] | None = None) -> frozenset[str]:
        """Canonical strings of the alert's entities (optionally of some entity types only)."""
        return frozenset(
            entity_key(e) for e in self.entities if types is None or e.get("EntityType") in types
        )


def entity_key(entity: dict[str, Any]) -> str:
    """A case-insensitive identity of an entity: its type and identifier values."""
    ids = {k: str(v).lower() for k, v in entity.items() if k not in ("$id", "Type", "EntityType")}
    return json.dumps([entity.get("EntityType"), ids], sort_keys=True)


def triggered(rule: Rule, row_count: int) -> bool:
    """Apply triggerOperator/triggerThreshold to the number of result rows."""
    threshold = rule.trigger_threshold
    return {
        "gt": row_count > threshold,
        "lt": row_count < threshold,
        "eq": row_count == threshold,
        "ne": row_count != threshold,
    }.get(rule.trigger_operator, row_count > threshold)


def jsonable(value: Any) -> Any:
    """A JSON-safe copy of a result value (datetimes as ISO-8601 UTC, spans as seconds)."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def _canonical(value: Any) -> Any:
    """Order-insensitive form of a value: JSON text parsed, arrays of scalars sorted (make_set order)."""
    if isinstance(value, str) and value[:1] in ("[", "{"):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    if isinstance(value, dict):
        return {k: _canonical(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        items = [_canonical(v) for v in value]
        try:
            return sorted(items, key=lambda v: json.dumps(v, sort_keys=True, default=str))
        except TypeError:
            return items
    return value


def time_bound_columns(result: pa.Table) -> set[str]:
    """Columns excluded from the de-dup hash: temporal types plus well-known time names."""
    names = set()
    for fld in result.schema:
        if (pa.types.is_timestamp(fld.type) or pa.types.is_date(fld.type) or pa.types.is_duration(fld.type)
                or fld.name in TIME_BOUND_NAMES):
            names.add(fld.name)
    return names


def row_hash(row: dict[str, Any], skip: set[str]) -> str:
    payload = {k: _canonical(jsonable(v)) for k, v in row.items() if k not in skip}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _text(value: Any) -> str:
    if value is None:
        return ""
    value = jsonable(value)
    return value if isinstance(value, str) else json.dumps(value)


def render(template: str | None, row: dict[str, Any], fallback: str) -> str:
    """Fill ``{{Column}}`` placeholders from a result row (Sentinel alertDetailsOverride)."""
    if not template:
        return fallback
    return _PLACEHOLDER.sub(lambda m: _text(row.get(m.group(1))), template).strip() or fallback


def row_entities(rule: Rule, row: dict[str, Any]) -> list[dict[str, Any]]:
    """Entities of one result row per entityMappings; empty identifiers are left out."""
    entities = []
    for mapping in rule.entity_mappings:
        entity: dict[str, Any] = {}
        for fm in mapping.fields:
            value = row.get(fm.column)
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            entity[fm.identifier] = _text(value)
        if not entity:
            continue
        if mapping.entity_type == "Account" and "FullName" in entity and "@" in entity["FullName"]:
            name, _, suffix = entity["FullName"].partition("@")
            entity.setdefault("Name", name)
            entity.setdefault("UPNSuffix", suffix)
        entities.append({"Type": voc.ENTITY_KIND.get(mapping.entity_type, mapping.entity_type.lower()),
                         "EntityType": mapping.entity_type, **entity})
    return entities


def _unique_entities(rows_entities: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for entities in rows_entities:
        for entity in entities:
            seen.setdefault(entity_key(entity), entity)
    return list(seen.values())


def _activity_span(rows: list[dict[str, Any]], window: Window) -> tuple[datetime, datetime]:
    moments = [r[c] for r in rows for c in _ACTIVITY_TIME_NAMES if isinstance(r.get(c), datetime)]
    if not moments:
        return window.start, window.end
    return min(moments), max(moments)


def _severity(rule: Rule, row: dict[str, Any]) -> str:
    column = rule.details_override.severity_column
    value = row.get(column) if column else None
    if isinstance(value, str):
        for severity in voc.SEVERITIES:
            if value.strip().lower() == severity.lower():
                return severity
    return rule.severity


def _tactics(rule: Rule, row: dict[str, Any]) -> tuple[str, ...]:
    column = rule.details_override.tactics_column
    value = row.get(column) if column else None
    if isinstance(value, str) and value.strip():
        items = [v.strip() for v in re.split(r"[,;\s]+", value.strip("[]\" ")) if v.strip()]
        valid = tuple(t.strip("\"'") for t in items if t.strip("\"'") in voc.TACTICS)
        if valid:
            return valid
    return rule.tactics


def build_alerts(rule: Rule, window: Window, result: pa.Table) -> list[Alert]:
    """The alerts one window's result produces (empty when the trigger condition is not met).

    ``AlertPerResult`` makes one alert per row (at most 150, as Sentinel); ``SingleAlert`` makes one
    alert holding every row, the union of their entities and the first row's rendered details.
    """
    if not triggered(rule, result.num_rows):
        return []
    skip = time_bound_columns(result)
    hashed = [(row_hash(row, skip), row) for row in result.to_pylist()]
    if len(hashed) > 1 and not sorts_rows(rule.query):
        # An unsorted result comes in the engine's order, which follows threads and spilling; the
        # 150-row cap and a SingleAlert's first row must not, or a re-run would store other alerts.
        hashed.sort(key=lambda pair: pair[0])
    if rule.aggregation_kind == "AlertPerResult" and hashed:
        hashed_groups = [[pair] for pair in hashed[: voc.MAX_ALERTS_PER_RUN]]
    else:
        hashed_groups = [hashed]
    alerts = []
    for hashed_group in hashed_groups:
        group = [row for _, row in hashed_group]
        first = group[0] if group else {}
        hashes = sorted(h for h, _ in hashed_group)
        dedup_key = hashlib.sha256(json.dumps([rule.id, hashes]).encode()).hexdigest()
        custom: dict[str, list[Any]] = {}
        for key, column in rule.custom_details.items():
            values = []
            for row in group:
                value = jsonable(row.get(column))
                if value not in values:
                    values.append(value)
            custom[key] = values
        extra = {prop: _text(first.get(column)) for prop, column in rule.details_override.dynamic_properties}
        start_time, end_time = _activity_span(group, window)
        alerts.append(Alert(
            rule_id=rule.id,
            rule_name=rule.name,
            display_name=render(rule.details_override.display_name_format, first, rule.name),
            description=render(rule.details_override.description_format, first, rule.description),
            severity=_severity(rule, first),
            tactics=_tactics(rule, first),
            techniques=rule.techniques,
            window=window,
            start_time=start_time,
            end_time=end_time,
            entities=_unique_entities([row_entities(rule, row) for row in group]),
            custom_details=custom,
            events=[jsonable(row) for row in group[:MAX_EVENTS_STORED]],
            event_count=len(group),
            dedup_key=dedup_key,
            extra=extra,
        ))
    return alerts
