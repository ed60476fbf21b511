"""Loading Sentinel-format rule files and validating them with every problem located."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from entrawatch.analytics import load_rules
from entrawatch.analytics.durations import format_duration, parse_duration
from entrawatch.analytics.loader import load_rule_file
from entrawatch.analytics.yamllines import load_located

FIXTURES = Path(__file__).parent / "fixtures"


def test_sentinel_repository_rule_loads_unchanged():
    rules, problems = load_rules(FIXTURES / "sentinel" / "FailedSigninsFromOneIp.yaml")
    assert problems == []
    (rule,) = rules
    assert rule.id == "3f1a9d5e-7c2b-4e8f-9a1d-2b6c8e4f0a17"
    assert rule.query_frequency == timedelta(days=1) and rule.query_period == timedelta(days=1)
    assert rule.trigger_operator == "gt" and rule.trigger_threshold == 0
    assert rule.tactics == ("CredentialAccess",) and rule.techniques == ("T1110",)
    assert [(m.entity_type, m.fields[0].identifier, m.fields[0].column) for m in rule.entity_mappings] == [
        ("IP", "Address", "IPAddress")]
    assert rule.custom_details == {"Accounts": "Accounts"}
    assert rule.details_override.display_name_format == "Failed sign-ins for {{Accounts}} accounts from {{IPAddress}}"
    assert rule.aggregation_kind == "AlertPerResult"
    grouping = rule.incident.grouping
    assert grouping.enabled and grouping.matching_method == "Selected" and grouping.group_by_entities == ("IP",)
    assert grouping.lookback == timedelta(hours=5)
    assert rule.raw["metadata"]["author"]["name"] == "entrawatch tests"  # unknown keys are kept


def test_arm_style_spellings_load():
    rules, problems = load_rules(FIXTURES / "sentinel" / "GuestInviteThenPowerShell.yaml")
    assert problems == []
    (rule,) = rules
    assert rule.query_frequency == timedelta(hours=1) and rule.query_period == timedelta(days=1)
    assert rule.trigger_operator == "gt"
    assert rule.aggregation_kind == "SingleAlert" and not rule.incident.grouping.enabled
    assert [m.entity_type for m in rule.entity_mappings] == ["Account", "IP", "CloudApplication"]


def test_sentinel_rules_without_tests_fail_only_when_tests_are_required():
    _rules, problems = load_rules(FIXTURES / "sentinel", require_tests=True)
    assert len(problems) == 2
    assert all("no tests" in p.reason for p in problems)


def test_three_broken_rules_give_every_problem_with_path_and_line():
    rules, problems = load_rules(FIXTURES / "broken")
    assert rules == []
    by_file: dict[str, list] = {}
    for problem in problems:
        by_file.setdefault(Path(problem.path).name, []).append(problem)
    assert sorted(by_file) == ["BadDurations.yaml", "BadEntities.yaml", "BadEnums.yaml"]
    enums = {(p.field, p.line) for p in by_file["BadEnums.yaml"]}
    assert enums == {("severity", 4), ("triggerOperator", 8), ("tactics.0", 11)}
    durations = {(p.field, p.line) for p in by_file["BadDurations.yaml"]}
    assert durations == {("queryFrequency", 6), ("suppressionDuration", 12)}
    entities = {(p.field, p.line) for p in by_file["BadEntities.yaml"]}
    assert entities == {("entityMappings.0.fieldMappings.0.identifier", 16), ("entityMappings.1.entityType", 18)}
    assert all(str(p).startswith(f"{p.path}:{p.line}") for p in problems)


def _rule_text(**overrides: str) -> str:
    fields = {
        "id": "44444444-5555-6666-7777-888888888888", "name": "x", "description": "x", "severity": "Low",
        "requiredDataConnectors": "[]", "queryFrequency": "1h", "queryPeriod": "1h", "triggerOperator": "gt",
        "triggerThreshold": "0", "tactics": "[InitialAccess]", "relevantTechniques": "[T1078]",
        "query": "SigninLogs | take 1",
    }
    fields.update(overrides)
    return "\n".join(f"{k}: {v}" for k, v in fields.items() if v is not None) + "\n"


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"id": "not-a-guid"}, "GUID"),
    ({"queryFrequency": "PT1M"}, "between 5 minutes and 14 days"),
    ({"queryPeriod": "P15D"}, "between 5 minutes and 14 days"),
    ({"triggerThreshold": "-1"}, "triggerThreshold"),
    ({"relevantTechniques": "[X1110]"}, "MITRE"),
    ({"severity": None}, "required field 'severity'"),
    ({"eventGroupingSettings": "{aggregationKind: PerRow}"}, "aggregationKind"),
    ({"incidentConfiguration": "{groupingConfiguration: {enabled: true, matchingMethod: Selected}}"},
     "Selected needs"),
    ({"incidentConfiguration": "{groupingConfiguration: {enabled: true, lookbackDuration: P8D}}"}, "7 days"),
    ({"customDetails": "{'bad key': X}"}, "custom detail key"),
    ({"entityMappings": "{Account: x}"}, "entityMappings must be a list"),
    ({"customDetails": "[a, b]"}, "customDetails must map a key to a column name"),
    ({"alertDetailsOverride": "[x]"}, "alertDetailsOverride must be a mapping"),
    ({"incidentConfiguration": "[x]"}, "incidentConfiguration must be a mapping"),
    ({"incidentConfiguration": "{groupingConfiguration: [x]}"}, "groupingConfiguration must be a mapping"),
    ({"entrawatch": "[x]"}, "the entrawatch section must be a mapping"),
    ({"tests": "{name: x}"}, "tests must be a list"),
])
def test_single_problems(tmp_path, overrides, expected):
    path = tmp_path / "rule.yaml"
    path.write_text(_rule_text(**overrides))
    _rule, _doc, problems = load_rule_file(path, require_tests=False)
    assert len(problems) == 1, problems
    assert expected in str(problems[0])
    key = next(iter(overrides))
    if overrides[key] is not None:  # the problem points at the line of the overridden key
        assert problems[0].line == _rule_text(**overrides).splitlines().index(f"{key}: {overrides[key]}") + 1


def test_valid_minimal_rule_has_no_problem(tmp_path):
    path = tmp_path / "rule.yaml"
    path.write_text(_rule_text())
    assert load_rule_file(path, require_tests=False)[2] == []


def test_tests_need_a_positive_and_a_negative(tmp_path):
    path = tmp_path / "rule.yaml"
    path.write_text(_rule_text() + "tests:\n  - name: only positive\n    now: '2025-01-01T00:00:00Z'\n"
                    "    expect: {alerts: 1}\n    events: {}\n")
    problems = load_rule_file(path, require_tests=True)[2]
    assert [p.reason for p in problems] == ["no test expects nothing: add a negative test"]
    assert problems[0].line == 13


def test_yaml_syntax_error_is_located(tmp_path):
    path = tmp_path / "rule.yaml"
    path.write_text("id: x\nname: [unclosed\n")
    problems = load_rule_file(path)[2]
    assert len(problems) == 1 and problems[0].line is not None and "YAML" in problems[0].reason


def test_duplicate_ids_are_reported(tmp_path):
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text(_rule_text())
    rules, problems = load_rules(tmp_path)
    assert len(rules) == 1 and len(problems) == 1 and "duplicate id" in problems[0].reason


def test_line_map_covers_nested_keys():
    doc = load_located("a:\n  b:\n    - c: 1\n      d: 2\n")
    assert doc.line("a", "b", 0, "d") == 4 and doc.line("a", "missing") == 1


@pytest.mark.parametrize(("text", "span"), [
    ("PT1H", timedelta(hours=1)), ("P14D", timedelta(days=14)), ("P1DT2H30M", timedelta(days=1, hours=2, minutes=30)),
    ("PT5M", timedelta(minutes=5)), ("1h", timedelta(hours=1)), ("14d", timedelta(days=14)), ("30m", timedelta(minutes=30)),
    ("P2W", timedelta(weeks=2)),
])
def test_durations(text, span):
    assert parse_duration(text) == span


@pytest.mark.parametrize("text", ["P1M", "P1Y", "PT", "P", "1 hour", "", "H1"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_format_duration_round_trips():
    for span in (timedelta(hours=1), timedelta(days=14), timedelta(days=1, hours=2, minutes=3, seconds=4)):
        assert parse_duration(format_duration(span)) == span


def test_test_events_may_name_ti_and_content_data_tables_in_a_fresh_process(tmp_path):
    """Regression: the TI table is registered lazily; validation must know it before anything imports it."""
    import subprocess
    import sys

    path = tmp_path / "rule.yaml"
    path.write_text(_rule_text() + "tests:\n"
                    "  - {name: p, now: '2025-01-01T00:00:00Z', expect: {alerts: 1},\n"
                    "     events: {ThreatIntelligenceIndicator: [{NetworkIP: 1.2.3.4}],"
                    " EntrawatchFirstPartyApps: [{AppId: x}]}}\n"
                    "  - {name: n, now: '2025-01-01T00:00:00Z', expect: {alerts: 0}, events: {}}\n")
    code = ("import sys; from entrawatch.analytics import load_rules; "
            "rules, problems = load_rules(sys.argv[1], require_tests=True); "
            "print(len(rules), [str(p) for p in problems])")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1 []"
