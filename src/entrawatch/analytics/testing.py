"""The rule test harness: each rule's ``tests:`` run against a fresh warehouse (Panther-style).

Per test: a new in-memory DuckDB warehouse with the canonical tables and the content data tables;
the test's events resolved (``now-2h`` style times, ``_repeat`` with ``{i}``) and ingested through
the real readers as a Log Analytics JSON export of the given table; fixture ``files:`` ingested in
whatever shape they are; then the rule is evaluated over the single window ending at the test's
``now`` and the alerts (or, for hunting queries, the rows) are compared with ``expect``.
"""

from __future__ import annotations

import json
import re
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from entrawatch import schema
from entrawatch.analytics.alerts import build_alerts
from entrawatch.analytics.content_data import prepare_warehouse
from entrawatch.analytics.durations import parse_duration
from entrawatch.analytics.model import Rule, RuleTest
from entrawatch.analytics.runner import QueryRunner, _default_runner
from entrawatch.analytics.scheduler import Window
from entrawatch.errors import EntrawatchError
from entrawatch.warehouse import DuckDBWarehouse
from entrawatch.warehouse.base import Warehouse

_RELATIVE = re.compile(r"^\s*now\s*(?:(?P<sign>[+-])\s*(?P<span>\S+))?\s*$", re.IGNORECASE)
_NAMESPACE = uuid.UUID("a3d4f0e2-81c4-4a55-9c1d-0f3e5b7c2d19")
_READER_TABLES = (*schema.SIGNIN_TABLES, schema.AUDIT_TABLE)


@dataclass(frozen=True)
class RuleTestOutcome:
    """One test's verdict; ``message`` says what was expected and what happened."""

    name: str
    passed: bool
    message: str


def parse_now(value: Any) -> datetime:
    """The test's ``now`` as an aware UTC datetime (YAML may already have parsed it)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not isinstance(value, str):
        raise EntrawatchError(f"test now must be an ISO-8601 time, got {value!r}")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as err:
        raise EntrawatchError(f"test now is not an ISO-8601 time: {value!r}") from err
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def resolve_time(value: Any, now: datetime) -> Any:
    """``now``, ``now-2h``, ``now+30m`` -> ISO text; datetimes -> ISO text; anything else unchanged."""
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value
        return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, str):
        match = _RELATIVE.match(value)
        if match:
            moment = now
            if match.group("span"):
                span = parse_duration(match.group("span"))
                moment = now + span if match.group("sign") == "+" else now - span
            return moment.isoformat().replace("+00:00", "Z")
    return value


def _substitute(value: Any, index: int) -> Any:
    if isinstance(value, str):
        return value.replace("{i}", str(index))
    if isinstance(value, dict):
        return {k: _substitute(v, index) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, index) for v in value]
    return value


def expand_rows(table: str, rows: list[dict[str, Any]], now: datetime, *, seed: str) -> list[dict[str, Any]]:
    """Apply ``_repeat`` and relative times; give each row a distinct ``Id`` when it has none.

    Distinct ids matter: the readers derive a missing Id from the row content, so two identical
    repeated failures would otherwise collapse into one event.
    """
    try:
        kinds = schema.table(table).kql_types()
    except EntrawatchError:
        kinds = {}
    expanded = []
    for row_index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise EntrawatchError(f"{table} row {row_index + 1} is not a mapping")
        repeat = int(row.get("_repeat", 1) or 1)
        base = {k: v for k, v in row.items() if k != "_repeat"}
        for index in range(repeat):
            item = _substitute(base, index) if repeat > 1 or "{i}" in json.dumps(base, default=str) else dict(base)
            for column, value in item.items():
                if kinds.get(column) == "datetime" or isinstance(value, datetime):
                    item[column] = resolve_time(value, now)
            if "Id" in kinds and not item.get("Id"):
                item["Id"] = str(uuid.uuid5(_NAMESPACE, f"{seed}|{table}|{row_index}|{index}"))
            expanded.append(item)
    return expanded


def _append_direct(warehouse: Warehouse, table: str, rows: list[dict[str, Any]]) -> None:
    """Tables the readers do not take (TI indicators, content data) are appended as typed Arrow."""
    tbl = schema.table(table)
    kinds = tbl.kql_types()
    records = []
    for row in rows:
        record = {}
        for column in tbl.column_names:
            value = row.get(column)
            if value is not None and kinds[column] == "datetime" and isinstance(value, str):
                value = datetime.fromisoformat(value.replace("Z", "+00:00"))
            elif value is not None and kinds[column] == "dynamic" and not isinstance(value, str):
                value = json.dumps(value)
            record[column] = value
        records.append(record)
    warehouse.append(table, [pa.RecordBatch.from_pylist(records, schema=tbl.arrow_schema())], dedupe=False)


def load_test_events(test: RuleTest, rule: Rule, warehouse: Warehouse, now: datetime) -> None:
    """Put a test's events and fixture files into ``warehouse`` through the real readers."""
    from entrawatch.readers import ingest_paths

    with tempfile.TemporaryDirectory(prefix="entrawatch-test-") as scratch:
        exports = []
        for table, rows in test.events.items():
            expanded = expand_rows(table, rows, now, seed=f"{rule.id}|{test.index}")
            if not expanded:
                continue
            if table not in _READER_TABLES:
                _append_direct(warehouse, table, expanded)
                continue
            for row in expanded:
                row["Type"] = table  # Log Analytics exports carry the table in Type
            path = Path(scratch) / f"{table}.json"
            path.write_text(json.dumps(expanded, default=str), "utf-8")
            exports.append(path)
        if exports:  # one reader pass over all tables of the test
            _check_ingest(ingest_paths(exports, warehouse, shape="loganalytics"), "events")
        base = rule.path.parent if rule.path else Path.cwd()
        for name in test.files:
            _check_ingest(ingest_paths([base / name], warehouse), name)


def _check_ingest(report: Any, what: str) -> None:
    problems = [f.error for f in report.files if f.error]
    quarantined = report.totals.quarantined
    if problems or quarantined:
        detail = "; ".join(problems) or f"{quarantined} row(s) quarantined"
        raise EntrawatchError(f"test events for {what} did not ingest cleanly: {detail}")


def _entity_problems(expected: dict[str, Any], alerts: list[Any]) -> list[str]:
    problems = []
    for entity_type, values in (expected or {}).items():
        present = {str(v).lower() for a in alerts for e in a.entities if e.get("EntityType") == entity_type
                   for k, v in e.items() if k not in ("Type", "EntityType")}
        for value in values if isinstance(values, list) else [values]:
            if str(value).lower() not in present:
                problems.append(f"no {entity_type} entity {value!r} (got {sorted(present) or 'none'})")
    return problems


def run_one_test(rule: Rule, test: RuleTest, *, query_runner: QueryRunner | None = None,
                 warehouse_factory: Callable[[], Warehouse] | None = None) -> RuleTestOutcome:
    """Run one test in a fresh warehouse and compare with ``expect``."""
    runner = query_runner or _default_runner()
    warehouse = (warehouse_factory or (lambda: DuckDBWarehouse(":memory:")))()
    try:
        now = parse_now(test.now)
        prepare_warehouse(warehouse)
        load_test_events(test, rule, warehouse, now)
        result = runner(rule.query, warehouse, now)
        if rule.is_hunting:
            return _judge_hunting(test, result.num_rows)
        missing = sorted({fm.column for m in rule.entity_mappings for fm in m.fields} - set(result.column_names))
        if missing:
            return RuleTestOutcome(test.name, False, f"query output lacks mapped column(s): {', '.join(missing)}")
        alerts = build_alerts(rule, Window(now - rule.query_period, now), result)
        expected = test.expect.get("alerts")
        problems = []
        if expected != len(alerts):
            problems.append(f"expected {expected} alert(s), got {len(alerts)} from {result.num_rows} row(s)")
        problems += _entity_problems(test.expect.get("entities") or {}, alerts)
        if problems:
            return RuleTestOutcome(test.name, False, "; ".join(problems))
        return RuleTestOutcome(test.name, True, f"{len(alerts)} alert(s) as expected")
    except EntrawatchError as err:
        return RuleTestOutcome(test.name, False, f"error: {err}")
    finally:
        warehouse.close()


def _judge_hunting(test: RuleTest, rows: int) -> RuleTestOutcome:
    if "rows" in test.expect and rows != test.expect["rows"]:
        return RuleTestOutcome(test.name, False, f"expected {test.expect['rows']} row(s), got {rows}")
    if "rows_min" in test.expect and rows < test.expect["rows_min"]:
        return RuleTestOutcome(test.name, False, f"expected at least {test.expect['rows_min']} row(s), got {rows}")
    return RuleTestOutcome(test.name, True, f"{rows} row(s) as expected")


def run_rule_tests(rule: Rule, *, query_runner: QueryRunner | None = None) -> list[RuleTestOutcome]:
    """Every test of ``rule``; a rule without tests gets one failed outcome saying so."""
    if not rule.tests:
        return [RuleTestOutcome("(no tests)", False, "the rule has no tests")]
    runner = query_runner or _default_runner()  # one compilation shared by the rule's tests
    return [run_one_test(rule, test, query_runner=runner) for test in rule.tests]
