"""Helpers of the analytics tests: a small events table and a stand-in for the KQL engine.

Scheduler, alert and incident logic is tested without the KQL compiler: ``FakeKql`` maps a rule's
``query`` text to a parameterised SQL statement whose two ``?`` are bound to the window
``[now - lookback, now)``, exactly the contract ``kql.run(query, warehouse, now=window_end)`` has.
A module of its own (not ``conftest``): test files import it by a name no other suite uses, so any
combination of test folders can run in one pytest session.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from entrawatch.analytics.model import Rule
from entrawatch.schema import Column, Table
from entrawatch.warehouse import DuckDBWarehouse

EVENTS = Table("TestEvents", (
    Column("TimeGenerated", "datetime"), Column("UserPrincipalName", "string"), Column("IPAddress", "string"),
    Column("AppDisplayName", "string"), Column("Severity", "string"), Column("Id", "string"),
), key=("Id",))


T0 = datetime(2025, 3, 1, tzinfo=UTC)

#: Rows per (user, ip, app) within the window: time-free, so overlapping windows hash the same.
PER_ENTITY = (
    'SELECT UserPrincipalName, IPAddress, any_value(AppDisplayName) AS AppDisplayName, count(*) AS Attempts, '
    'min(TimeGenerated) AS StartTime, max(TimeGenerated) AS EndTime, any_value(Severity) AS Severity '
    'FROM "TestEvents" WHERE TimeGenerated >= ? AND TimeGenerated < ? '
    'GROUP BY UserPrincipalName, IPAddress ORDER BY UserPrincipalName, IPAddress'
)
#: Raw rows of the window.
RAW = ('SELECT TimeGenerated, UserPrincipalName, IPAddress, AppDisplayName FROM "TestEvents" '
       'WHERE TimeGenerated >= ? AND TimeGenerated < ? ORDER BY TimeGenerated, Id')


class FakeKql:
    """Runs the SQL registered for a query text over ``[now - lookback, now)``; records calls."""

    def __init__(self, lookback: timedelta, queries: dict[str, str] | None = None) -> None:
        self.lookback = lookback
        self.queries = {"per_entity": PER_ENTITY, "raw": RAW, **(queries or {})}
        self.calls: list[tuple[str, datetime]] = []

    def __call__(self, query: str, warehouse: Any, now: datetime) -> pa.Table:
        from entrawatch.errors import KqlSemanticError

        self.calls.append((query, now))
        if query not in self.queries:
            raise KqlSemanticError(f"unknown table in {query!r}", line=1, column=1)
        return warehouse.query(self.queries[query], [now - self.lookback, now])


def make_rule(**overrides: Any) -> Rule:
    data: dict[str, Any] = {
        "id": "aaaaaaaa-0000-0000-0000-000000000001", "name": "Test rule", "description": "test",
        "severity": "Medium", "queryFrequency": "1h", "queryPeriod": "1h", "triggerOperator": "gt",
        "triggerThreshold": 0, "tactics": ["CredentialAccess"], "relevantTechniques": ["T1110"],
        "query": "per_entity",
        "entityMappings": [
            {"entityType": "Account", "fieldMappings": [{"identifier": "FullName", "columnName": "UserPrincipalName"}]},
            {"entityType": "IP", "fieldMappings": [{"identifier": "Address", "columnName": "IPAddress"}]},
        ],
        "eventGroupingSettings": {"aggregationKind": "AlertPerResult"},
    }
    data.update(overrides)
    return Rule.from_dict(data)


def add_events(warehouse: DuckDBWarehouse, rows: list[dict[str, Any]]) -> None:
    records = []
    for index, row in enumerate(rows):
        records.append({"TimeGenerated": row["TimeGenerated"], "UserPrincipalName": row.get("user", "alice@contoso.com"),
                        "IPAddress": row.get("ip", "203.0.113.9"), "AppDisplayName": row.get("app", "Office 365"),
                        "Severity": row.get("severity"), "Id": row.get("id", f"{row['TimeGenerated'].isoformat()}-{index}")})
    warehouse.append("TestEvents", [pa.RecordBatch.from_pylist(records, schema=EVENTS.arrow_schema())])
