"""Rule validation that reports every problem at once, each with ``path:line``.

A rule file is checked against Sentinel's format and limits (required keys, durations and their
bounds, enums, entity identifiers, grouping options) and against entrawatch's own demand that it
carries a positive and a negative test. ``check_columns`` additionally checks that every column
the rule maps (entities, custom details, ``{{Column}}`` placeholders) is produced by its query.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable
from datetime import timedelta
from pathlib import Path
from typing import Any

from entrawatch import schema
from entrawatch.analytics import vocabulary as voc
from entrawatch.analytics.durations import parse_duration
from entrawatch.analytics.model import TRIGGER_OPERATORS, Rule
from entrawatch.analytics.yamllines import LocatedDocument
from entrawatch.errors import RuleError

SCHEDULED_REQUIRED = ("id", "name", "description", "severity", "requiredDataConnectors", "queryFrequency",
                      "queryPeriod", "triggerOperator", "triggerThreshold", "tactics", "relevantTechniques",
                      "query")
HUNTING_REQUIRED = ("id", "name", "description", "tactics", "relevantTechniques", "query")
_TECHNIQUE = re.compile(r"^T\d{4}(\.\d{3})?$")
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")
_CUSTOM_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,19}$")
_FIVE_MINUTES = timedelta(minutes=5)
_FOURTEEN_DAYS = timedelta(days=14)


class _Collector:
    """Gathers problems for one file, resolving each key path to its line."""

    def __init__(self, doc: LocatedDocument, path: Path | str) -> None:
        self.doc = doc
        self.path = str(path)
        self.problems: list[RuleError] = []

    def add(self, message: str, *key_path: str | int) -> None:
        field = ".".join(str(p) for p in key_path) or None
        self.problems.append(RuleError(message, path=self.path, line=self.doc.line(*key_path), field=field))

    def section(self, parent: dict[str, Any], *key_path: str, expected: type, message: str | None = None) -> Any:
        """An optional block under ``parent`` (at ``key_path``): its value, or None when absent or mistyped.

        A mistyped block is reported once here, so each check can return early on None without
        repeating the "must be a list / mapping" branch.
        """
        value = parent.get(key_path[-1])
        if value is None:
            return None
        if not isinstance(value, expected):
            shape = "a list" if expected is list else "a mapping"
            self.add(message or f"{key_path[-1]} must be {shape}", *key_path)
            return None
        return value


def validate_document(doc: LocatedDocument, path: Path | str, *, kind: str = "Scheduled",
                      require_tests: bool = True) -> list[RuleError]:
    """Every structural problem of one rule (``kind`` Scheduled) or hunting query (``kind`` Hunting)."""
    out = _Collector(doc, path)
    data = doc.data
    if not isinstance(data, dict):
        out.add("a rule file must be a YAML mapping")
        return out.problems
    hunting = kind.lower() == "hunting"
    for key in HUNTING_REQUIRED if hunting else SCHEDULED_REQUIRED:
        if data.get(key) in (None, ""):
            out.add(f"required field {key!r} is missing or empty", key if key in data else ())
    _check_id(out, data)
    _check_query(out, data)
    _check_tactics(out, data)
    if not hunting:
        _check_schedule(out, data)
        _check_entities(out, data)
        _check_details(out, data)
        _check_incidents(out, data)
    _check_streams(out, data)
    _check_tests(out, data, hunting=hunting, require_tests=require_tests, rule_path=Path(path))
    return out.problems


def _check_id(out: _Collector, data: dict[str, Any]) -> None:
    value = data.get("id")
    if value in (None, ""):
        return
    try:
        uuid.UUID(str(value))
    except ValueError:
        out.add(f"id must be a GUID (Sentinel requires one), got {value!r}", "id")


def _check_query(out: _Collector, data: dict[str, Any]) -> None:
    query = data.get("query")
    if query not in (None, "") and not isinstance(query, str):
        out.add("query must be a string", "query")
    elif isinstance(query, str) and len(query) > voc.MAX_QUERY_LENGTH:
        out.add(f"query is {len(query)} characters; Sentinel allows {voc.MAX_QUERY_LENGTH}", "query")


def _check_tactics(out: _Collector, data: dict[str, Any]) -> None:
    for key in ("tactics", "relevantTechniques"):
        value = data.get(key)
        if value is not None and not isinstance(value, list):
            out.add(f"{key} must be a list", key)
    for index, tactic in enumerate(data.get("tactics") or [] if isinstance(data.get("tactics"), list) else []):
        if tactic not in voc.TACTICS:
            out.add(f"unknown tactic {tactic!r}; expected one of {', '.join(voc.TACTICS)}", "tactics", index)
    techniques = data.get("relevantTechniques") if isinstance(data.get("relevantTechniques"), list) else []
    for index, technique in enumerate(techniques):
        if not _TECHNIQUE.match(str(technique)):
            out.add(f"technique {technique!r} is not a MITRE id such as T1110 or T1110.003",
                    "relevantTechniques", index)


def _duration_of(out: _Collector, data: dict[str, Any], *key_path: str) -> timedelta | None:
    node: Any = data
    for key in key_path:
        node = node.get(key) if isinstance(node, dict) else None
    if node in (None, ""):
        return None
    try:
        return parse_duration(node)
    except ValueError as err:
        out.add(str(err), *key_path)
        return None


def _check_schedule(out: _Collector, data: dict[str, Any]) -> None:
    severity = data.get("severity")
    if severity not in (None, "") and severity not in voc.SEVERITIES:
        out.add(f"severity must be one of {', '.join(voc.SEVERITIES)}, got {severity!r}", "severity")
    kind = data.get("kind")
    if kind not in (None, "Scheduled", "NRT"):
        out.add(f"kind {kind!r} is not supported; entrawatch runs Scheduled rules", "kind")
    frequency = _duration_of(out, data, "queryFrequency")
    period = _duration_of(out, data, "queryPeriod")
    for key, span in (("queryFrequency", frequency), ("queryPeriod", period)):
        if span is not None and not _FIVE_MINUTES <= span <= _FOURTEEN_DAYS:
            out.add(f"{key} must be between 5 minutes and 14 days (Sentinel limit)", key)
    if frequency is not None and period is not None and frequency > period:
        out.add("queryFrequency must not exceed queryPeriod (events between windows would be missed)",
                "queryFrequency")
    operator = data.get("triggerOperator")
    if operator not in (None, "") and str(operator).strip().lower() not in TRIGGER_OPERATORS:
        out.add(f"triggerOperator must be gt/lt/eq/ne (or GreaterThan/LessThan/Equal/NotEqual), got {operator!r}",
                "triggerOperator")
    threshold = data.get("triggerThreshold")
    if threshold not in (None, "") and (not isinstance(threshold, int) or isinstance(threshold, bool)
                                        or not 0 <= threshold <= 10_000):
        out.add(f"triggerThreshold must be an integer between 0 and 10000, got {threshold!r}", "triggerThreshold")
    suppression = _duration_of(out, data, "suppressionDuration")
    if suppression is not None and not _FIVE_MINUTES <= suppression <= timedelta(hours=24):
        out.add("suppressionDuration must be between 5 minutes and 24 hours (Sentinel limit)",
                "suppressionDuration")
    enabled = data.get("suppressionEnabled")
    if enabled is not None and not isinstance(enabled, bool):
        out.add("suppressionEnabled must be true or false", "suppressionEnabled")
    grouping = data.get("eventGroupingSettings")
    if grouping is not None:
        aggregation = grouping.get("aggregationKind") if isinstance(grouping, dict) else None
        if aggregation not in voc.AGGREGATION_KINDS:
            out.add(f"eventGroupingSettings.aggregationKind must be one of {', '.join(voc.AGGREGATION_KINDS)}",
                    "eventGroupingSettings", "aggregationKind")


def _check_entities(out: _Collector, data: dict[str, Any]) -> None:
    mappings = out.section(data, "entityMappings", expected=list)
    if mappings is None:
        return
    if len(mappings) > voc.MAX_ENTITY_MAPPINGS:
        out.add(f"{len(mappings)} entity mappings; Sentinel allows {voc.MAX_ENTITY_MAPPINGS}", "entityMappings")
    for index, mapping in enumerate(mappings):
        where = ("entityMappings", index)
        if not isinstance(mapping, dict):
            out.add("an entity mapping must be a mapping with entityType and fieldMappings", *where)
            continue
        entity_type = mapping.get("entityType")
        allowed = voc.ENTITY_IDENTIFIERS.get(str(entity_type))
        if allowed is None:
            out.add(f"unknown entityType {entity_type!r}; expected one of {', '.join(voc.ENTITY_IDENTIFIERS)}",
                    *where, "entityType")
        fields = mapping.get("fieldMappings")
        if not isinstance(fields, list) or not fields:
            out.add("fieldMappings must list at least one identifier", *where, "fieldMappings")
            continue
        if len(fields) > voc.MAX_IDENTIFIERS_PER_ENTITY:
            out.add(f"{len(fields)} identifiers; Sentinel allows {voc.MAX_IDENTIFIERS_PER_ENTITY} per entity",
                    *where, "fieldMappings")
        for field_index, field_mapping in enumerate(fields):
            field_where = (*where, "fieldMappings", field_index)
            if not isinstance(field_mapping, dict):
                out.add("a field mapping needs identifier and columnName", *field_where)
                continue
            identifier = field_mapping.get("identifier")
            if allowed is not None and identifier not in allowed:
                out.add(f"{entity_type} has no identifier {identifier!r}; expected one of {', '.join(allowed)}",
                        *field_where, "identifier")
            if not field_mapping.get("columnName"):
                out.add("columnName is missing", *field_where)


def _check_details(out: _Collector, data: dict[str, Any]) -> None:
    custom = out.section(data, "customDetails", expected=dict,
                         message="customDetails must map a key to a column name") or {}
    if len(custom) > voc.MAX_CUSTOM_DETAILS:
        out.add(f"{len(custom)} custom details; Sentinel allows {voc.MAX_CUSTOM_DETAILS}", "customDetails")
    for key, column in custom.items():
        if not _CUSTOM_KEY.match(str(key)):
            out.add(f"custom detail key {key!r} must be letters, digits or _ (max 20)", "customDetails", key)
        if not isinstance(column, str) or not column:
            out.add(f"custom detail {key!r} must name a column", "customDetails", key)
    override = out.section(data, "alertDetailsOverride", expected=dict)
    if override is None:
        return
    for index, prop in enumerate(override.get("alertDynamicProperties") or []):
        name = prop.get("alertProperty") if isinstance(prop, dict) else None
        if name not in voc.ALERT_DYNAMIC_PROPERTIES:
            out.add(f"alertProperty {name!r} is not one Sentinel allows: {', '.join(voc.ALERT_DYNAMIC_PROPERTIES)}",
                    "alertDetailsOverride", "alertDynamicProperties", index)


def _check_incidents(out: _Collector, data: dict[str, Any]) -> None:
    config = out.section(data, "incidentConfiguration", expected=dict)
    base = ("incidentConfiguration", "groupingConfiguration")
    grouping = None if config is None else out.section(config, *base, expected=dict)
    if grouping is None:
        return
    lookback = _duration_of(out, data, *base, "lookbackDuration")
    if lookback is not None and not _FIVE_MINUTES <= lookback <= timedelta(days=7):
        out.add("lookbackDuration must be between 5 minutes and 7 days (Sentinel limit)", *base, "lookbackDuration")
    method = grouping.get("matchingMethod")
    if method is not None and method not in voc.MATCHING_METHODS:
        out.add(f"matchingMethod must be one of {', '.join(voc.MATCHING_METHODS)}", *base, "matchingMethod")
    mapped = {m.get("entityType") for m in data.get("entityMappings") or [] if isinstance(m, dict)}
    for index, entity in enumerate(grouping.get("groupByEntities") or []):
        if entity not in mapped:
            out.add(f"groupByEntities names {entity!r}, which entityMappings does not map", *base, "groupByEntities",
                    index)
    for index, detail in enumerate(grouping.get("groupByAlertDetails") or []):
        if detail not in voc.ALERT_DETAILS:
            out.add(f"groupByAlertDetails must be DisplayName or Severity, got {detail!r}", *base,
                    "groupByAlertDetails", index)
    custom = data.get("customDetails") if isinstance(data.get("customDetails"), dict) else {}
    for index, key in enumerate(grouping.get("groupByCustomDetails") or []):
        if key not in custom:
            out.add(f"groupByCustomDetails names {key!r}, which customDetails does not define", *base,
                    "groupByCustomDetails", index)
    if method == "Selected" and not any(grouping.get(k) for k in ("groupByEntities", "groupByAlertDetails",
                                                                    "groupByCustomDetails")):
        out.add("matchingMethod Selected needs groupByEntities, groupByAlertDetails or groupByCustomDetails",
                *base, "matchingMethod")


def _check_streams(out: _Collector, data: dict[str, Any]) -> None:
    extras = out.section(data, "entrawatch", expected=dict, message="the entrawatch section must be a mapping")
    if extras is None:
        return
    known = schema.tables()
    for index, stream in enumerate(extras.get("streams") or []):
        if stream not in known:
            out.add(f"entrawatch.streams names unknown table {stream!r}", "entrawatch", "streams", index)


def _check_tests(out: _Collector, data: dict[str, Any], *, hunting: bool, require_tests: bool,
                 rule_path: Path) -> None:
    if data.get("tests") is None and require_tests:
        out.add("the rule has no tests: add one that expects alerts and one that expects none")
    tests = out.section(data, "tests", expected=list)
    if tests is None:
        return
    known_tables = _test_tables()
    positive = negative = False
    for index, test in enumerate(tests):
        where = ("tests", index)
        if not isinstance(test, dict):
            out.add("a test must be a mapping with name, now, expect and events", *where)
            continue
        if test.get("now") in (None, ""):
            out.add("a test needs now: (the window end it is evaluated at)", *where)
        expect = test.get("expect")
        if not isinstance(expect, dict):
            out.add("a test needs expect: {alerts: N}" if not hunting else "a test needs expect: {rows: N}", *where)
            continue
        keys = ("rows", "rows_min") if hunting else ("alerts",)
        counts = [expect.get(k) for k in keys if k in expect]
        if not counts or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in counts):
            out.add(f"expect must give {' or '.join(keys)} as a non-negative integer", *where, "expect")
            continue
        positive = positive or any(c > 0 for c in counts)
        negative = negative or (expect.get(keys[0]) == 0)
        events = test.get("events")
        if events is not None and not isinstance(events, dict):
            out.add("events must map a table name to a list of rows", *where, "events")
        for table_name in (events or {}) if isinstance(events, dict) else ():
            if table_name not in known_tables:
                out.add(f"events names unknown table {table_name!r}", *where, "events", table_name)
        for file_index, name in enumerate(test.get("files") or []):
            if not (rule_path.parent / str(name)).exists():
                out.add(f"test file {name!r} does not exist next to the rule", *where, "files", file_index)
    if require_tests and not positive:
        out.add("no test expects a result: add a positive test", "tests")
    if require_tests and not negative:
        out.add("no test expects nothing: add a negative test", "tests")


def _test_tables() -> set[str]:
    """Tables test events may fill: the catalog, TI indicators, alerts, and the content data CSVs."""
    from entrawatch import ti  # imported here: ti imports analytics, which imports this module
    from entrawatch.analytics.content_data import content_dir
    from entrawatch.analytics.tables import register

    register()
    names = set(schema.tables()) | {ti.TI_TABLE}
    return names | {p.stem for p in (content_dir() / "data").glob("*.csv")}


def check_columns(rule: Rule, doc: LocatedDocument, output_columns: Iterable[str]) -> list[RuleError]:
    """Problems where the rule uses a column its query does not output."""
    out = _Collector(doc, rule.location)
    columns = set(output_columns)
    data = doc.data if isinstance(doc.data, dict) else {}
    for index, mapping in enumerate(data.get("entityMappings") or []):
        for field_index, field_mapping in enumerate((mapping or {}).get("fieldMappings") or []):
            column = (field_mapping or {}).get("columnName")
            if column and column not in columns:
                out.add(f"entity column {column!r} is not in the query output ({_listed(columns)})",
                        "entityMappings", index, "fieldMappings", field_index, "columnName")
    for key, column in rule.custom_details.items():
        if column not in columns:
            out.add(f"custom detail column {column!r} is not in the query output", "customDetails", key)
    override = rule.details_override
    for key, text in (("alertDisplayNameFormat", override.display_name_format),
                      ("alertDescriptionFormat", override.description_format)):
        for name in _PLACEHOLDER.findall(text or ""):
            if name not in columns:
                out.add(f"placeholder {{{{{name}}}}} names no query output column", "alertDetailsOverride", key)
    for key, column in (("alertSeverityColumnName", override.severity_column),
                        ("alertTacticsColumnName", override.tactics_column)):
        if column and column not in columns:
            out.add(f"column {column!r} is not in the query output", "alertDetailsOverride", key)
    for index, (_prop, column) in enumerate(override.dynamic_properties):
        if column not in columns:
            out.add(f"column {column!r} is not in the query output", "alertDetailsOverride",
                    "alertDynamicProperties", index)
    return out.problems


def query_problem(rule: Rule, doc: LocatedDocument, error: Exception) -> RuleError:
    """A compile error of the rule's query, located at the query line inside the YAML file."""
    line = doc.line("query")
    kql_line = getattr(error, "line", None)
    if isinstance(kql_line, int):
        line += kql_line  # block scalar: query text starts on the line after ``query: |``
    reason = getattr(error, "reason", None) or str(error)
    return RuleError(f"query does not compile: {reason}", path=rule.location, line=line, field="query")


def _listed(columns: set[str]) -> str:
    names = sorted(columns)
    return ", ".join(names[:12]) + (", …" if len(names) > 12 else "")


ColumnProbe = Callable[[Rule], list[str]]
