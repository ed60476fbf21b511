"""Scoring alerts against the simulator's ``truth.json``: which scenarios were detected, how fast.

An alert *explains* a scenario when one of its entity values (any identifier, case-insensitive)
is one of the scenario's accounts, IPs, apps or service principals, and its activity span
(``StartTime``..``EndTime``, the window when the rows carry no time) overlaps the scenario's span
widened by ``slack``. Used by the end-to-end test and ``benchmarks/detection_eval.py``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

_ENTITY_KEYS = ("accounts", "ips", "apps", "service_principals")


def _time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def alert_values(alert: dict[str, Any]) -> set[str]:
    """Lower-cased identifier values of a SecurityAlert row's entities."""
    entities = alert.get("Entities")
    if isinstance(entities, str):
        entities = json.loads(entities or "[]")
    return {str(v).lower() for e in entities or [] for k, v in e.items()
            if k not in ("Type", "EntityType", "$id") and v not in (None, "")}


def scenario_values(scenario: dict[str, Any]) -> set[str]:
    entities = scenario.get("entities") or {}
    return {str(v).lower() for key in _ENTITY_KEYS for v in entities.get(key) or []}


def explains(alert: dict[str, Any], scenario: dict[str, Any], slack: timedelta) -> bool:
    if not alert_values(alert) & scenario_values(scenario):
        return False
    start, end = _time(scenario["start"]) - slack, _time(scenario["end"]) + slack
    return _time(alert["StartTime"]) <= end and _time(alert["EndTime"]) >= start


@dataclass
class ScenarioScore:
    id: str
    label: str
    detected: bool = False
    rules: set[str] = field(default_factory=set)
    alerts: int = 0
    first_alert_delay: timedelta | None = None


@dataclass
class Evaluation:
    scenarios: list[ScenarioScore]
    total_alerts: int
    explained_alerts: int
    benign_alerts: int

    @property
    def recall(self) -> float:
        attacks = [s for s in self.scenarios if s.label == "attack"]
        return sum(s.detected for s in attacks) / len(attacks) if attacks else 1.0

    @property
    def precision(self) -> float:
        return self.explained_alerts / self.total_alerts if self.total_alerts else 1.0


def evaluate(alerts: list[dict[str, Any]], truth: dict[str, Any], *,
             slack: timedelta = timedelta(hours=1)) -> Evaluation:
    """Match stored alerts (SecurityAlert rows) to the scenarios of ``truth``."""
    scores = []
    explained: set[str] = set()
    benign: set[str] = set()
    for scenario in truth.get("scenarios", []):
        score = ScenarioScore(scenario["id"], scenario.get("label", "attack"))
        for alert in alerts:
            if not explains(alert, scenario, slack):
                continue
            score.detected = score.label == "attack"
            score.alerts += 1
            score.rules.add(alert.get("RuleName") or alert.get("AlertName") or "?")
            (explained if score.label == "attack" else benign).add(alert["SystemAlertId"])
            delay = _time(alert["WindowEnd"] if alert.get("WindowEnd") else alert["TimeGenerated"]) - \
                _time(scenario["start"])
            if score.first_alert_delay is None or delay < score.first_alert_delay:
                score.first_alert_delay = delay
        scores.append(score)
    return Evaluation(scores, len(alerts), len(explained), len(benign - explained))
