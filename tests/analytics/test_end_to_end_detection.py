"""Simulated files -> readers -> detection with the built-in rules -> incidents for the scenarios.

Every attack scenario that a built-in rule names in ``entrawatch.scenarios`` must end in an
incident holding an alert whose entities and time span match the scenario's ground truth.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from entrawatch.analytics import content_dir, list_alerts, list_incidents, load_rules, run_detection
from entrawatch.analytics.testing import parse_now
from entrawatch.analytics.truth import explains
from entrawatch.readers import ingest_paths
from entrawatch.simulator import SimulationConfig, simulate

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def detected(tmp_path_factory):
    from entrawatch.warehouse import DuckDBWarehouse

    base = tmp_path_factory.mktemp("e2e")
    result = simulate(SimulationConfig(users=40, days=3, seed=11, format="loganalytics"), base / "sim")
    truth = json.loads(result.truth_path.read_text())
    warehouse = DuckDBWarehouse(base / "e2e.duckdb")
    report = ingest_paths([base / "sim"], warehouse)
    assert report.totals.inserted > 1000
    rules, problems = load_rules(content_dir() / "rules")
    assert not problems, problems
    outcome = run_detection(warehouse, rules, parse_now(truth["start"]), parse_now(truth["end"]) + timedelta(days=1))
    yield truth, rules, outcome, list_alerts(warehouse), list_incidents(warehouse)
    warehouse.close()


def test_no_rule_fails(detected):
    _truth, _rules, outcome, _alerts, _incidents = detected
    assert outcome.errors == []


def test_covered_scenarios_end_in_incidents(detected):
    truth, rules, outcome, alerts, incidents = detected
    covered = {s for r in rules for s in r.scenarios}
    missing = []
    for scenario in truth["scenarios"]:
        if scenario["label"] != "attack" or scenario["id"] not in covered:
            continue
        hits = {a["SystemAlertId"] for a in alerts if explains(a, scenario, timedelta(hours=1))}
        in_incident = any(hits & set(json.loads(i["AlertIds"])) for i in incidents)
        if not in_incident:
            missing.append(scenario["id"])
    assert outcome.alerts > 0 and not missing, f"no incident for {missing}"
