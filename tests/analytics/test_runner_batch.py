"""Batch evaluation (many windows per statement) gives exactly what one statement per window gives.

Two levels, both on real KQL and the DuckDB engine:
- queries: ``CachingKqlRunner.run_windows`` against ``kql.run`` window by window, row multisets equal,
  for hand-written queries (CTEs read twice, ``toscalar``, ``make-series``, anti-joins, ``take``) and
  for every built-in rule over a small simulated tenant;
- detection: ``run_detection`` with batching and with ``batch_span=0`` (the per-window path) on
  copies of the same database store the same alerts and incidents.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from analytics_support import make_rule
from entrawatch import kql, schema
from entrawatch.analytics import content_dir, list_alerts, list_incidents, load_rules, run_detection
from entrawatch.analytics.prepared import CachingKqlRunner, batch_sql, order_dependent, prepare
from entrawatch.analytics.runner import DEFAULT_BATCH_SPAN, _order_matters, _WindowResults, batch_size
from entrawatch.analytics.scheduler import windows
from entrawatch.warehouse import DuckDBWarehouse

BASE = datetime(2025, 3, 10, tzinfo=UTC)


def _rows(table: pa.Table) -> list[str]:
    return sorted(repr(row) for row in table.to_pylist())


@pytest.fixture
def signins() -> DuckDBWarehouse:
    """60 sign-ins 5 hours apart: 4 users, 7 addresses, every third one failed."""
    wh = DuckDBWarehouse(":memory:")
    records = [{"Id": str(i), "TimeGenerated": BASE + timedelta(hours=5 * i, minutes=i),
                "UserPrincipalName": f"user{i % 4}@contoso.com", "IPAddress": f"10.0.0.{i % 7}",
                "ResultType": "0" if i % 3 else "50126"} for i in range(60)]
    arrow_schema = schema.table("SigninLogs").arrow_schema()
    wh.append("SigninLogs", [pa.RecordBatch.from_pylist(records, schema=arrow_schema)])
    yield wh
    wh.close()


QUERIES = [
    "SigninLogs | where TimeGenerated > ago(1d) | extend Age = now() - TimeGenerated | project Id, Age",
    "SigninLogs | where TimeGenerated between (ago(3d) .. now()) | summarize n = count(), "
    "ips = make_set(IPAddress) by UserPrincipalName",
    "let recent = SigninLogs | where TimeGenerated > ago(1d) | project UserPrincipalName, IPAddress;\n"
    "let old = SigninLogs | where TimeGenerated <= ago(1d) and TimeGenerated > ago(6d) "
    "| distinct UserPrincipalName, IPAddress;\n"
    "recent | join kind=leftanti old on UserPrincipalName, IPAddress\n"
    "| union (old | where UserPrincipalName == toscalar(recent | summarize max(UserPrincipalName)))\n"
    "| summarize n = count() by UserPrincipalName, IPAddress",
    "SigninLogs | make-series n = count() default = 0 on TimeGenerated from ago(4d) to now() step 1d "
    "by UserPrincipalName",
    "SigninLogs | where TimeGenerated < now() | top 3 by TimeGenerated desc | project Id, TimeGenerated",
    "SigninLogs | where TimeGenerated > ago(2d) | summarize arg_max(TimeGenerated, IPAddress) by UserPrincipalName",
    "SigninLogs | where TimeGenerated > ago(2d) and ResultType != '0' | extend w = bin(TimeGenerated, 6h) "
    "| summarize failures = count() by w, UserPrincipalName | where failures >= 1",
]


@pytest.mark.parametrize("query", QUERIES)
def test_batch_equals_window_by_window(signins: DuckDBWarehouse, query: str) -> None:
    ends = [BASE + timedelta(hours=9 * k) for k in range(1, 16)]
    runner = CachingKqlRunner()
    try:
        batched = runner.run_windows(query, signins, ends)
    finally:
        runner.close()
    assert batched is not None and list(batched) == ends
    nonempty = 0
    for end in ends:
        alone = kql.run(query, signins, now=end)
        assert batched[end].schema == alone.schema
        assert _rows(batched[end]) == _rows(alone), end
        nonempty += alone.num_rows > 0
    assert nonempty > 3  # the windows differ, so a batch that ignored now would fail


def test_a_query_without_now_is_not_batched(signins: DuckDBWarehouse) -> None:
    prepared = prepare("SigninLogs | summarize count()", signins)
    assert prepared is not None and batch_sql(prepared) is None
    assert CachingKqlRunner().run_windows("SigninLogs | summarize count()", signins, [BASE]) is None


def test_window_values_never_enter_the_sql(signins: DuckDBWarehouse) -> None:
    prepared = prepare(QUERIES[0], signins)
    sql = batch_sql(prepared)
    assert sql is not None and "2025" not in sql and "getvariable" not in sql


def test_order_dependent_queries_are_recognised() -> None:
    assert order_dependent("T | summarize arg_max(TimeGenerated, *) by User")
    # take_any of one column is the group's smallest value: the same in a batch and alone
    assert not order_dependent("T | summarize Ip = take_any(IPAddress) by User")
    assert order_dependent("T | summarize take_any(IPAddress, Bag) by User")
    assert order_dependent("T | summarize take_any(*) by User")
    assert order_dependent("T | take 10")
    assert not order_dependent("T | summarize n = count(), ips = make_set(IPAddress, 5) by User | sort by n")


class _TimedRunner:
    """A runner whose batches cost ``batch_cost`` seconds per window and windows alone ``alone_cost``."""

    def __init__(self, batch_cost: float, alone_cost: float) -> None:
        self.batch_cost, self.alone_cost = batch_cost, alone_cost
        self.calls: list[str] = []

    def run_windows(self, _query, _warehouse, ends):
        import time

        self.calls.append(f"batch{len(ends)}")
        time.sleep(self.batch_cost * len(ends))
        return {end: pa.table({"n": pa.array([], pa.int64())}) for end in ends}

    def __call__(self, _query, _warehouse, _now):
        import time

        self.calls.append("alone")
        time.sleep(self.alone_cost)
        return pa.table({"n": pa.array([], pa.int64())})


@pytest.mark.parametrize(("batch_cost", "alone_cost", "expected"), [
    (0.0, 0.02, ["batch3", "alone", "batch3", "batch3"]),  # batches are cheaper: keep batching
    (0.02, 0.0, ["batch3"] + ["alone"] * 7),  # alone is cheaper: window by window from then on
])
def test_the_faster_way_serves_the_remaining_windows(batch_cost, alone_cost, expected) -> None:
    from entrawatch.analytics.scheduler import Window

    rule = make_rule()
    rule_windows = [Window(BASE + timedelta(hours=h - 1), BASE + timedelta(hours=h)) for h in range(10)]
    runner = _TimedRunner(batch_cost, alone_cost)
    results = _WindowResults(rule, rule_windows, runner, None, 3)  # type: ignore[arg-type]
    for index, window in enumerate(rule_windows):
        assert results(index, window).num_rows == 0
    assert runner.calls == expected


def test_order_sensitive_windows_are_run_alone() -> None:
    per_result = make_rule(eventGroupingSettings={"aggregationKind": "AlertPerResult"})
    single = make_rule(eventGroupingSettings={"aggregationKind": "SingleAlert"})
    assert not _order_matters(per_result, 150) and _order_matters(per_result, 151)
    assert not _order_matters(single, 1) and _order_matters(single, 2)
    assert batch_size(make_rule(queryPeriod="14d", queryFrequency="1h"), timedelta(days=30)) == 2
    assert batch_size(make_rule(queryPeriod="1h", queryFrequency="1h"), timedelta(days=1)) == 24


# --- every built-in rule over a small simulated tenant -------------------------------------------------

@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    from entrawatch.readers import ingest_paths
    from entrawatch.simulator import SimulationConfig, simulate

    base = tmp_path_factory.mktemp("batch")
    result = simulate(SimulationConfig(users=30, days=3, seed=5, format="loganalytics"), base / "sim")
    truth = json.loads(result.truth_path.read_text())
    db = base / "sim.duckdb"
    warehouse = DuckDBWarehouse(db)
    ingest_paths([base / "sim"], warehouse)
    warehouse.close()
    rules, problems = load_rules(content_dir() / "rules")
    assert not problems, problems
    return db, rules, datetime.fromisoformat(truth["start"]), datetime.fromisoformat(truth["end"])


@pytest.mark.slow
def test_every_rule_batch_equals_window_by_window(simulated, tmp_path) -> None:
    from entrawatch.analytics import prepare_warehouse

    db, rules, _start, end = simulated
    shutil.copy(db, tmp_path / "q.duckdb")
    warehouse = DuckDBWarehouse(tmp_path / "q.duckdb")
    runner = CachingKqlRunner()
    unbatched, fired = [], 0
    try:
        prepare_warehouse(warehouse)
        for rule in (r for r in rules if not r.is_hunting):
            # the last hours of the data (baselines full, several scenarios fire), and one daily window
            ends = [w.end for w in windows(rule.query_frequency, rule.query_period, end - timedelta(hours=12), end)]
            batched = runner.run_windows(rule.query, warehouse, ends)
            if batched is None:
                unbatched.append(rule.name)
                continue
            exact = not order_dependent(rule.query)
            for window_end in ends:
                alone = runner(rule.query, warehouse, window_end)
                if exact:
                    assert _rows(batched[window_end]) == _rows(alone), (rule.name, window_end)
                else:  # ties of arg_max / take_any may pick other rows: the runner re-runs these windows
                    assert batched[window_end].num_rows == alone.num_rows, (rule.name, window_end)
                fired += alone.num_rows > 0
    finally:
        runner.close()
        warehouse.close()
    assert unbatched == [] and fired > 3


def _snapshot(warehouse: DuckDBWarehouse) -> tuple[list, list]:
    alerts = sorted(list_alerts(warehouse), key=lambda a: a["SystemAlertId"])
    incidents = sorted(list_incidents(warehouse), key=lambda i: i["IncidentNumber"])
    return alerts, incidents


@pytest.mark.slow
def test_detection_with_batches_stores_the_same_alerts_and_incidents(simulated, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(_WindowResults, "timed_choice", False)  # batch every rule that can be
    db, rules, _start, end = simulated
    snapshots, results = [], []
    for name, span in (("window", timedelta(0)), ("batch", DEFAULT_BATCH_SPAN)):
        shutil.copy(db, tmp_path / f"{name}.duckdb")
        warehouse = DuckDBWarehouse(tmp_path / f"{name}.duckdb")
        try:
            # the last 18 hours (8 attack scenarios, arg_max and take_any rules among those firing; one
            # window of the daily rules)
            result = run_detection(warehouse, rules, end - timedelta(hours=18), end, batch_span=span)
            results.append((result.windows, result.alerts, result.duplicates, result.errors))
            snapshots.append(_snapshot(warehouse))
        finally:
            warehouse.close()
    assert results[0] == results[1]
    assert results[0][1] > 5 and results[0][3] == []
    assert snapshots[0] == snapshots[1]
