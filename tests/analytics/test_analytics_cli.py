"""CLI: rules list/validate/test, detect, alerts, incidents, ti import (exit codes and output)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from analytics_support import T0, FakeKql, add_events
from entrawatch.analytics import runner as runner_module
from entrawatch.cli import main
from entrawatch.warehouse import DuckDBWarehouse

FIXTURES = Path(__file__).parent / "fixtures"
RULE = {
    "id": "cccccccc-0000-0000-0000-000000000001", "name": "Per-entity activity", "description": "test rule",
    "severity": "High", "requiredDataConnectors": [], "queryFrequency": "1h", "queryPeriod": "1h",
    "triggerOperator": "gt", "triggerThreshold": 0, "tactics": ["InitialAccess"], "relevantTechniques": ["T1078"],
    "query": "per_entity",
    "entityMappings": [{"entityType": "Account", "fieldMappings": [{"identifier": "FullName",
                                                                   "columnName": "UserPrincipalName"}]}],
    "eventGroupingSettings": {"aggregationKind": "AlertPerResult"},
    "alertDetailsOverride": {"alertDisplayNameFormat": "Activity by {{UserPrincipalName}}"},
}


def _cli(capsys, *args):
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_rules_list_json(capsys):
    code, out, _ = _cli(capsys, "rules", "list", str(FIXTURES / "sentinel"), "--json")
    assert code == 0
    names = sorted(r["name"] for r in json.loads(out)["rules"])
    assert names == ["Guest user invited then signs in with a command-line tool", "Many failed sign-ins from one IP address"]


def test_rules_list_table(capsys):
    code, out, _ = _cli(capsys, "rules", "list", str(FIXTURES / "sentinel"))
    assert code == 0 and "Many failed sign-ins" in out and "2 rules" in out


def test_rules_validate_reports_every_problem(capsys):
    code, out, _ = _cli(capsys, "rules", "validate", str(FIXTURES / "broken"), "--no-query-check")
    assert code == 1
    lines = [line for line in out.splitlines() if ".yaml:" in line]
    assert len(lines) >= 3 and {Path(line.split(":")[0]).name for line in lines} == {
        "BadDurations.yaml", "BadEntities.yaml", "BadEnums.yaml"}
    assert "3 file(s) checked" in out


def test_rules_validate_json(capsys):
    code, out, _ = _cli(capsys, "rules", "validate", str(FIXTURES / "broken"), "--no-query-check", "--json")
    data = json.loads(out)
    assert code == 1 and data["files"] == 3 and all(p["line"] for p in data["problems"])


def test_missing_rule_path_is_one_line_error(capsys):
    code, _, err = _cli(capsys, "rules", "list", "/nonexistent/rules")
    assert code == 1 and "no such rule file or folder" in err


@pytest.fixture
def detect_env(tmp_path, monkeypatch):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "rule.yaml").write_text(yaml.safe_dump(RULE))
    db = tmp_path / "cli.duckdb"
    warehouse = DuckDBWarehouse(db)
    add_events(warehouse, [{"TimeGenerated": T0 + timedelta(minutes=10), "user": "alice@contoso.com"},
                           {"TimeGenerated": T0 + timedelta(hours=2, minutes=10), "user": "bob@contoso.com"}])
    warehouse.close()
    monkeypatch.setattr(runner_module, "default_query_runner", FakeKql(timedelta(hours=1)))
    return rules, db


def test_detect_alerts_incidents(capsys, detect_env):
    rules, db = detect_env
    window = ["--from", T0.isoformat(), "--to", (T0 + timedelta(hours=4)).isoformat()]
    code, out, err = _cli(capsys, "detect", "--db", str(db), "--rules", str(rules), *window, "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert (summary["windows"], summary["alerts"], summary["incidents_created"]) == (4, 2, 2)
    code, out, _ = _cli(capsys, "detect", "--db", str(db), "--rules", str(rules), *window)
    assert code == 0 and "0 new alert(s)" in out
    code, out, _ = _cli(capsys, "alerts", "--db", str(db), "--json")
    assert code == 0 and sorted(a["DisplayName"] for a in json.loads(out)) == [
        "Activity by alice@contoso.com", "Activity by bob@contoso.com"]
    code, out, _ = _cli(capsys, "alerts", "--db", str(db))
    assert code == 0 and "Activity by bob@contoso.com" in out
    code, out, _ = _cli(capsys, "incidents", "--db", str(db))
    assert code == 0 and "2 incidents" in out and "alice@contoso.com" in out and "Per-entity activity" in out
    code, out, _ = _cli(capsys, "incidents", "--db", str(db), "--json")
    incidents = json.loads(out)
    assert [i["IncidentNumber"] for i in incidents] == [1, 2] and incidents[0]["Severity"] == "High"


def test_detect_with_unknown_rule_fails(capsys, detect_env):
    rules, db = detect_env
    code, _, err = _cli(capsys, "detect", "--db", str(db), "--rules", str(rules), "--rule", "nope", "--since", "1d")
    assert code == 1 and "no valid rule" in err


def test_detect_without_data_says_so(capsys, tmp_path, detect_env):
    rules, _db = detect_env
    code, _, err = _cli(capsys, "detect", "--db", str(tmp_path / "empty.duckdb"), "--rules", str(rules))
    assert code == 1 and "no sign-in or audit data" in err


def test_detect_memory_limit(capsys, detect_env):
    rules, db = detect_env
    window = ["--from", T0.isoformat(), "--to", (T0 + timedelta(hours=4)).isoformat()]
    code, out, err = _cli(capsys, "detect", "--db", str(db), "--rules", str(rules), *window,
                          "--memory-limit", "256MB", "--json")
    assert code == 0, err
    assert json.loads(out)["alerts"] == 2
    code, _, err = _cli(capsys, "detect", "--db", str(db), "--rules", str(rules), *window, "--memory-limit", "lots")
    assert code == 1 and "invalid memory limit 'lots'" in err


def test_ti_import(capsys, tmp_path):
    db = tmp_path / "ti.duckdb"
    code, out, _ = _cli(capsys, "ti", "import", str(FIXTURES / "ti" / "bundle.json"), "--db", str(db), "--json")
    assert code == 0 and json.loads(out)["inserted"] == 5
    code, out, _ = _cli(capsys, "ti", "import", str(FIXTURES / "ti" / "bundle.json"), "--db", str(db))
    assert code == 0 and "0 row(s) inserted, 5 already present, 2 skipped" in out
