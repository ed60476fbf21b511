"""Sentinel-compatible analytics: rule files, scheduled windows, alerts and incidents.

Public API (docs/contracts.md "Analytics"): ``load_rules``, ``run_detection``,
``load_content_data``, and ``entrawatch.analytics.testing.run_rule_tests``.
"""

from entrawatch.analytics.content_data import content_dir, load_content_data, prepare_warehouse
from entrawatch.analytics.loader import load_rules
from entrawatch.analytics.model import Rule
from entrawatch.analytics.runner import DetectionResult, RuleRunError, run_detection
from entrawatch.analytics.store import list_alerts, list_incidents
from entrawatch.analytics.tables import ALERT_TABLE, INCIDENT_TABLE

__all__ = [
    "ALERT_TABLE", "INCIDENT_TABLE", "DetectionResult", "Rule", "RuleRunError", "content_dir", "list_alerts",
    "list_incidents", "load_content_data", "load_rules", "prepare_warehouse", "run_detection",
]
