"""CLI for analytics: ``rules list|validate|test``, ``detect``, ``alerts``, ``incidents``, ``ti import``.

A thin face: arguments are parsed here, the work is done by ``entrawatch.analytics`` and
``entrawatch.ti``, and results are rendered as Rich tables or JSON (``--json``).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text  # cells built from log data are Text, never parsed as Rich markup

from entrawatch.errors import EntrawatchError

DB_HELP = "DuckDB warehouse file."
DEFAULT_DB = "entrawatch.duckdb"
_SEVERITY_STYLE = {"High": "bold red", "Medium": "yellow", "Low": "cyan", "Informational": "dim"}


def _console() -> Console:
    return Console(highlight=False, soft_wrap=False, width=160)


def _echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


def _default_rules() -> Path:
    from entrawatch.analytics import content_dir

    return content_dir() / "rules"


def _parse_when(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError as err:
        raise typer.BadParameter(f"not an ISO-8601 time: {text!r}") from err
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _parse_since(text: str) -> timedelta:
    from entrawatch.analytics.durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err


def _load(path: Path | None, *, require_tests: bool, rule_id: str | None = None):
    from entrawatch.analytics import load_rules

    rules, problems = load_rules(path or _default_rules(), require_tests=require_tests)
    if rule_id:
        rules = [r for r in rules if r.id == rule_id or r.name == rule_id or (r.path and r.path.stem == rule_id)]
        if not rules:
            raise EntrawatchError(f"no valid rule with id or name {rule_id!r}")
    return rules, problems


def _entities_summary(entities: list[dict[str, Any]], limit: int = 3) -> str:
    labels = []
    for entity in entities:
        value = next((entity[k] for k in ("FullName", "Address", "Name", "AppId", "HostName", "Url",
                                          "MailboxPrimaryAddress", "ResourceId", "AadUserId") if entity.get(k)), None)
        if value and value not in labels:
            labels.append(str(value))
    text = ", ".join(labels[:limit])
    return text + (f" +{len(labels) - limit}" if len(labels) > limit else "")


def _short_time(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else str(value or "")


def rules_list(path: Annotated[Path | None, typer.Argument(help="Rule file or folder (default: built-in rules).")] = None,
               as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List rules: id, name, severity, schedule, tactics."""
    from entrawatch.analytics.durations import format_duration

    rules, problems = _load(path, require_tests=False)
    rows = [{"id": r.id, "name": r.name, "kind": r.kind, "severity": r.severity,
             "queryFrequency": None if r.is_hunting else format_duration(r.query_frequency),
             "queryPeriod": None if r.is_hunting else format_duration(r.query_period),
             "tactics": list(r.tactics), "techniques": list(r.techniques), "scenarios": list(r.scenarios),
             "tests": len(r.tests), "path": str(r.path)} for r in rules]
    if as_json:
        _echo_json({"rules": rows, "problems": [str(p) for p in problems]})
        return
    table = Table("Name", "Kind", "Severity", "Every", "Period", "Tactics", "Tests", title=f"{len(rows)} rules")
    for row in rows:
        table.add_row(Text(row["name"]), row["kind"], row["severity"], row["queryFrequency"] or "-", row["queryPeriod"] or "-",
                      ", ".join(row["tactics"]), str(row["tests"]))
    _console().print(table)
    if problems:
        typer.echo(f"{len(problems)} problem(s) left rules out; run `entrawatch rules validate`", err=True)


def rules_validate(path: Annotated[Path | None, typer.Argument(help="Rule file or folder (default: built-in rules).")] = None,
                   as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
                   no_query_check: Annotated[bool, typer.Option("--no-query-check",
                                                       help="Skip compiling queries and checking output columns.")] = False
                   ) -> None:
    """Validate rule files; prints every problem as path:line and exits 1 if there is any."""
    from entrawatch.analytics.validate_queries import validate_path

    checked, problems = validate_path(path or _default_rules(), check_queries=not no_query_check)
    if as_json:
        _echo_json({"files": checked, "problems": [
            {"path": p.path, "line": p.line, "field": p.field, "message": p.reason} for p in problems]})
    else:
        for problem in problems:
            typer.echo(str(problem))
        typer.echo(f"{checked} file(s) checked, {len(problems)} problem(s)")
    if problems:
        raise EntrawatchError(f"{len(problems)} problem(s) in {checked} rule file(s)")


def rules_test(path: Annotated[Path | None, typer.Argument(help="Rule file or folder (default: built-in rules).")] = None,
               rule_id: Annotated[str | None, typer.Option("--rule", help="Only this rule (id, name or file stem).")] = None,
               as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Run the rules' own tests (positive and negative events); exits 1 if any fails."""
    from entrawatch.analytics.testing import run_rule_tests

    rules, problems = _load(path, require_tests=False, rule_id=rule_id)
    results = []
    for rule in rules:
        for outcome in run_rule_tests(rule):
            results.append({"rule_id": rule.id, "rule": rule.name, "test": outcome.name,
                            "passed": outcome.passed, "message": outcome.message})
    failed = [r for r in results if not r["passed"]]
    if as_json:
        _echo_json({"results": results, "problems": [str(p) for p in problems]})
    else:
        for r in results:
            mark = "PASS" if r["passed"] else "FAIL"
            typer.echo(f"{mark} {r['rule']} :: {r['test']}" + ("" if r["passed"] else f" -- {r['message']}"))
        for problem in problems:
            typer.echo(f"INVALID {problem}")
        typer.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed, {len(problems)} invalid")
    if failed or problems:
        raise EntrawatchError(f"{len(failed)} rule test(s) failed, {len(problems)} rule file problem(s)")


def detect(db: Annotated[str, typer.Option("--db", help=DB_HELP)] = DEFAULT_DB,
           since: Annotated[str | None, typer.Option("--since", help="Look back this far from now (14d, PT12H).")] = None,
           from_: Annotated[str | None, typer.Option("--from", help="Start (ISO-8601, UTC).")] = None,
           to: Annotated[str | None, typer.Option("--to", help="End (ISO-8601, UTC; default now).")] = None,
           rules_path: Annotated[Path | None, typer.Option("--rules", help="Rule file or folder (default: built-in).")] = None,
           rule_id: Annotated[str | None, typer.Option("--rule", help="Only this rule (id, name or file stem).")] = None,
           memory_limit: Annotated[str | None, typer.Option(
               "--memory-limit", help="Cap DuckDB's memory (e.g. 4GB); it spills to disk beyond. "
                                      "Default: DuckDB's, 80% of RAM.")] = None,
           as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Evaluate rules over their scheduled windows; store alerts and incidents.

    Without --since/--from the period is the span of the stored sign-in and audit data.
    """
    from entrawatch import schema
    from entrawatch.analytics import run_detection
    from entrawatch.analytics.store import data_span
    from entrawatch.warehouse import open_warehouse

    rules, problems = _load(rules_path, require_tests=False, rule_id=rule_id)
    warehouse = open_warehouse(db, memory_limit=memory_limit)
    try:
        if since and from_:
            raise typer.BadParameter("give --since or --from, not both")
        end = _parse_when(to) if to else datetime.now(UTC)
        if since:
            start = end - _parse_since(since)
        elif from_:
            start = _parse_when(from_)
        else:
            lo, hi = data_span(warehouse, (*schema.SIGNIN_TABLES, schema.AUDIT_TABLE))
            if lo is None or hi is None:
                raise EntrawatchError(f"{db} holds no sign-in or audit data; ingest first or give --since/--from")
            step = max((r.query_frequency for r in rules), default=timedelta(hours=1))
            start, end = lo, (_parse_when(to) if to else hi + step)
        result = run_detection(warehouse, rules, start, end, progress=not as_json)
    finally:
        warehouse.close()
    if as_json:
        _echo_json({**result.summary(), "problems": [str(p) for p in problems]})
    else:
        typer.echo(f"{result.rules} rules, {result.windows} windows ({result.windows_suppressed} suppressed) "
                   f"from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}: {result.alerts} new alert(s), "
                   f"{result.duplicates} duplicate(s) dropped, {result.incidents_created} new incident(s), "
                   f"{result.incidents_updated} updated")
        for error in result.errors:
            typer.secho(f"rule failed: {error}", err=True, fg=typer.colors.RED)
        for problem in problems:
            typer.secho(f"rule skipped: {problem}", err=True, fg=typer.colors.YELLOW)


def alerts(db: Annotated[str, typer.Option("--db", help=DB_HELP)] = DEFAULT_DB,
           since: Annotated[str | None, typer.Option("--since", help="Only alerts generated in this period (7d).")] = None,
           as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List stored alerts, newest first."""
    from entrawatch.analytics import list_alerts
    from entrawatch.warehouse import open_warehouse

    warehouse = open_warehouse(db)
    try:
        rows = list_alerts(warehouse, datetime.now(UTC) - _parse_since(since) if since else None)
    finally:
        warehouse.close()
    if as_json:
        for row in rows:
            for key in ("Entities", "ExtendedProperties", "CustomDetails", "Events"):
                row[key] = json.loads(row[key]) if isinstance(row.get(key), str) else row.get(key)
        _echo_json(rows)
        return
    table = Table("Time", "Severity", "Alert", "Entities", "Activity", "Rows", title=f"{len(rows)} alerts")
    for row in rows:
        entities = json.loads(row["Entities"] or "[]")
        table.add_row(_short_time(row["TimeGenerated"]),
                      f"[{_SEVERITY_STYLE.get(row['AlertSeverity'], '')}]{row['AlertSeverity']}[/]",
                      Text(row["DisplayName"] or ""), Text(_entities_summary(entities)),
                      f"{_short_time(row['StartTime'])} → {_short_time(row['EndTime'])}", str(row["EventCount"]))
    _console().print(table)


def incidents(db: Annotated[str, typer.Option("--db", help=DB_HELP)] = DEFAULT_DB,
              as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List incidents: number, severity, title, entities, first/last activity, alerts, rules."""
    from entrawatch.analytics import list_incidents
    from entrawatch.warehouse import open_warehouse

    warehouse = open_warehouse(db)
    try:
        rows = list_incidents(warehouse)
    finally:
        warehouse.close()
    if as_json:
        for row in rows:
            for key in ("RelatedAnalyticRuleIds", "AlertIds", "RelatedEntities", "RuleNames", "Labels", "Owner",
                        "Comments", "Tasks", "AdditionalData", "BookmarkIds"):
                row[key] = json.loads(row[key]) if isinstance(row.get(key), str) else row.get(key)
        _echo_json(rows)
        return
    print_incidents(rows)


def print_incidents(rows: list[dict[str, Any]]) -> None:
    """The analyst's view of incidents (also used by ``make run``)."""
    table = Table("#", "Severity", "Status", "Title", "Entities", "First activity", "Last activity", "Alerts",
                  "Rules", title=f"{len(rows)} incidents")
    for row in rows:
        entities = json.loads(row["RelatedEntities"] or "[]") if isinstance(row["RelatedEntities"], str) \
            else row["RelatedEntities"] or []
        rule_names = json.loads(row["RuleNames"] or "[]") if isinstance(row["RuleNames"], str) else row["RuleNames"]
        table.add_row(str(row["IncidentNumber"]),
                      f"[{_SEVERITY_STYLE.get(row['Severity'], '')}]{row['Severity']}[/]", row["Status"],
                      Text(row["Title"] or ""), Text(_entities_summary(entities)),
                      _short_time(row["FirstActivityTime"]), _short_time(row["LastActivityTime"]),
                      str(row["AlertCount"]), Text(", ".join(rule_names or [])))
    _console().print(table)


def ti_import(file: Annotated[Path, typer.Argument(help="CSV file or STIX 2.1 JSON bundle.")],
              db: Annotated[str, typer.Option("--db", help=DB_HELP)] = DEFAULT_DB,
              as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Import threat-intelligence indicators into ThreatIntelligenceIndicator."""
    from entrawatch.ti import import_indicators
    from entrawatch.warehouse import open_warehouse

    warehouse = open_warehouse(db)
    try:
        report = import_indicators(file, warehouse)
    finally:
        warehouse.close()
    if as_json:
        _echo_json({"read": report.read, "inserted": report.inserted, "duplicates": report.duplicates,
                    "skipped": report.skipped})
        return
    typer.echo(f"{report.read} indicator(s) read, {report.inserted} row(s) inserted, "
               f"{report.duplicates} already present, {len(report.skipped)} skipped")
    for reason in report.skipped:
        typer.echo(f"  skipped {reason}", err=True)


def register(app: typer.Typer) -> None:
    """Add the analytics commands to ``app``."""
    rules_app = typer.Typer(help="List, validate and test analytics rules.", no_args_is_help=True)
    rules_app.command("list")(rules_list)
    rules_app.command("validate")(rules_validate)
    rules_app.command("test")(rules_test)
    app.add_typer(rules_app, name="rules")
    app.command("detect")(detect)
    app.command("alerts")(alerts)
    app.command("incidents")(incidents)
    ti_app = typer.Typer(help="Threat intelligence.", no_args_is_help=True)
    ti_app.command("import")(ti_import)
    app.add_typer(ti_app, name="ti")
