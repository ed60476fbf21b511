"""Run rules over their windows: one KQL query per window, alerts de-duplicated, incidents grouped.

For each rule the windows of ``scheduler.windows`` are evaluated oldest first with KQL ``now()``
bound to the window end; the query decides what it reads (its ``ago()`` calls). A rule that fails
to compile, run or map its entities is recorded in ``DetectionResult.errors`` and the others go on.

De-duplication: an alert whose key (rule id + hash of the fired rows without time-bound columns,
see ``alerts.py``) equals that of an earlier alert of the same rule whose window overlaps this
window is dropped. Suppression (``suppressionEnabled``): a window is not evaluated while an alert of
the rule ended a window less than ``suppressionDuration`` before. Both consult alerts already
stored, so re-running a period, or running it in pieces, changes nothing.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa

from entrawatch.analytics import store
from entrawatch.analytics.alerts import Alert, build_alerts
from entrawatch.analytics.incidents import IncidentBook
from entrawatch.analytics.model import Rule
from entrawatch.analytics.prepared import CachingKqlRunner, order_dependent
from entrawatch.analytics.scheduler import Window, windows
from entrawatch.analytics.vocabulary import MAX_ALERTS_PER_RUN
from entrawatch.errors import EntrawatchError
from entrawatch.warehouse.base import Warehouse

#: (query, warehouse, now) -> result; ``entrawatch.kql.run`` by default, a fake in unit tests.
QueryRunner = Callable[[str, Warehouse, datetime], pa.Table]
#: Default bound of one batch statement: windows whose periods add up to this (``batch_size``).
DEFAULT_BATCH_SPAN = timedelta(days=30)
#: Called with (windows done, windows total, rule name) after every window.
ProgressCallback = Callable[[int, int, str], None]


@dataclass(frozen=True)
class RuleRunError:
    """A rule that could not be evaluated, with the window where it failed."""

    rule_id: str
    rule_name: str
    message: str
    window_end: datetime | None = None

    def __str__(self) -> str:
        return f"{self.rule_name} ({self.rule_id}): {self.message}"


@dataclass
class DetectionResult:
    """What a detection run did."""

    start: datetime
    end: datetime
    rules: int = 0
    windows: int = 0
    windows_suppressed: int = 0
    alerts: int = 0
    duplicates: int = 0
    incidents_created: int = 0
    incidents_updated: int = 0
    errors: list[RuleRunError] = field(default_factory=list)
    alerts_per_rule: dict[str, int] = field(default_factory=dict)
    new_alerts: list[Alert] = field(default_factory=list)

    @property
    def incidents(self) -> int:
        return self.incidents_created

    def summary(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(), "end": self.end.isoformat(), "rules": self.rules,
            "windows": self.windows, "windows_suppressed": self.windows_suppressed, "alerts": self.alerts,
            "duplicates": self.duplicates, "incidents_created": self.incidents_created,
            "incidents_updated": self.incidents_updated, "alerts_per_rule": self.alerts_per_rule,
            "errors": [{"rule_id": e.rule_id, "rule_name": e.rule_name, "message": e.message,
                        "window_end": e.window_end.isoformat() if e.window_end else None} for e in self.errors],
        }


def default_query_runner(query: str, warehouse: Warehouse, now: datetime) -> pa.Table:
    from entrawatch import kql

    return kql.run(query, warehouse, now=now)


_kql_run = default_query_runner


def _default_runner() -> QueryRunner:
    """Compile each rule once per run (``prepared.py``) unless a test replaced the default."""
    if default_query_runner is not _kql_run:
        return default_query_runner
    return CachingKqlRunner()


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _missing_columns(rule: Rule, result: pa.Table) -> list[str]:
    names = set(result.column_names)
    wanted = [fm.column for m in rule.entity_mappings for fm in m.fields]
    wanted += list(rule.custom_details.values())
    return sorted({c for c in wanted if c not in names})


class _AlertLedger:
    """Earlier alerts per rule, for overlap de-duplication and suppression."""

    def __init__(self, stored: Iterable[store.StoredAlert]) -> None:
        self.by_rule: dict[str, list[tuple[str, datetime, datetime]]] = defaultdict(list)
        for alert in stored:
            self.by_rule[alert.rule_id].append((alert.dedup_key, _utc(alert.window_start), _utc(alert.window_end)))

    def is_duplicate(self, alert: Alert) -> bool:
        return any(key == alert.dedup_key and end > alert.window.start and start < alert.window.end
                   for key, start, end in self.by_rule.get(alert.rule_id, ()))

    def suppressed(self, rule: Rule, window: Window) -> bool:
        if not rule.suppression_enabled:
            return False
        return any(window.end - rule.suppression_duration < end < window.end
                   for _key, _start, end in self.by_rule.get(rule.id, ()))

    def add(self, alert: Alert) -> None:
        self.by_rule[alert.rule_id].append((alert.dedup_key, alert.window.start, alert.window.end))


def _rich_progress(total: int) -> tuple[ProgressCallback, Callable[[], None]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("[bold]detect[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), transient=True)
    task = bar.add_task("", total=total)
    bar.start()

    def advance(done: int, _total: int, name: str) -> None:
        bar.update(task, completed=done, description=name[:40])

    return advance, bar.stop


@dataclass
class _RuleOutcome:
    """What evaluating one rule over its windows produced (merged in rule order afterwards)."""

    alerts: list[Alert] = field(default_factory=list)
    windows: int = 0
    suppressed: int = 0
    duplicates: int = 0
    error: RuleRunError | None = None


def _order_matters(rule: Rule, rows: int) -> bool:
    """Whether the alerts of a window depend on the order of its rows: the first row renders a
    SingleAlert and orders its events; AlertPerResult keeps only the first 150 rows. A batch
    result (``prepared.py``) has no row order within a window, so such windows are run alone."""
    if rows <= 1:
        return False
    return rule.aggregation_kind != "AlertPerResult" or rows > MAX_ALERTS_PER_RUN


class _WindowResults:
    """The query result of each of a rule's windows: fetched ``batch`` windows per statement when
    the runner can (``CachingKqlRunner.run_windows``), else one statement per window.

    Batch results are used only where they give the same alerts as a window run alone
    (``_order_matters``); other windows are run alone. Every window is still queried in the same
    state of the warehouse, and a batch computes exactly the per-window results, so suppression,
    de-duplication and errors are decided window by window, oldest first, as before.

    Which way is faster depends on the rule and the data: a batch saves planning, but its time
    filters no longer skip row groups and its joins carry the window as a key. So the first batch
    and the next window run alone are timed, and the faster way serves the rule's other windows.
    The choice depends on timing only, never the alerts.
    """

    #: False: always batch (the equivalence tests, which must exercise the batches).
    timed_choice = True

    def __init__(self, rule: Rule, rule_windows: list[Window], runner: QueryRunner, warehouse: Warehouse,
                 batch: int) -> None:
        self.rule, self.runner, self.warehouse = rule, runner, warehouse
        self.ends = [w.end for w in rule_windows]
        self.batch = batch if hasattr(runner, "run_windows") and len(self.ends) > 2 else 0
        #: With order-dependent aggregates (take_any, arg_max ties…) a batch only tells which
        #: windows are empty; windows with rows are run alone so they pick the rows they always did.
        self.rerun_rows = self.batch > 1 and order_dependent(rule.query)
        self.fetched: dict[datetime, pa.Table] = {}
        self.next_index = 0
        self.batch_seconds: float | None = None  # per window, from the first batch
        self.trial_pending = False  # the next window not fetched is run alone and timed

    def __call__(self, index: int, window: Window) -> pa.Table:
        if self.batch > 1 and window.end not in self.fetched and index >= self.next_index:
            if self.trial_pending:
                return self._time_alone(window)
            chunk = self.ends[index:index + self.batch]
            started = time.perf_counter()
            fetched = self.runner.run_windows(self.rule.query, self.warehouse, chunk)  # type: ignore[attr-defined]
            if fetched is None:
                self.batch = 0
            else:
                self.fetched = fetched  # earlier windows were used or suppressed
                self.next_index = index + len(chunk)
                if self.batch_seconds is None:
                    self.batch_seconds = (time.perf_counter() - started) / len(chunk)
                    self.trial_pending = self.timed_choice
        table = self.fetched.pop(window.end, None)
        if table is not None and not (self.rerun_rows and table.num_rows) \
                and not _order_matters(self.rule, table.num_rows):
            return table
        return self.runner(self.rule.query, self.warehouse, window.end)

    def _time_alone(self, window: Window) -> pa.Table:
        """Run the window after the first batch alone and keep the faster way for the rest."""
        self.trial_pending = False
        started = time.perf_counter()
        table = self.runner(self.rule.query, self.warehouse, window.end)
        if time.perf_counter() - started <= (self.batch_seconds or 0.0):
            self.batch = 0
        return table


def batch_size(rule: Rule, span: timedelta) -> int:
    """How many windows one batch statement evaluates: a batch joins every row of a window's
    period to each window it belongs to, so its memory grows with windows x period; ``span``
    bounds the sum of the periods (at least one window, two to be worth a batch)."""
    return max(1, span // max(rule.query_period, rule.query_frequency))


def _evaluate_rule(rule: Rule, rule_windows: list[Window], runner: QueryRunner, warehouse: Warehouse,
                   ledger: _AlertLedger, tick: Callable[[int, str], None],
                   batch_span: timedelta = timedelta(0)) -> _RuleOutcome:
    """Run one rule's windows oldest first; de-duplication and suppression only involve this rule."""
    outcome = _RuleOutcome()
    results = _WindowResults(rule, rule_windows, runner, warehouse, batch_size(rule, batch_span))
    for index, window in enumerate(rule_windows):
        if ledger.suppressed(rule, window):
            outcome.suppressed += 1
            tick(1, rule.name)
            continue
        outcome.windows += 1
        try:
            table = results(index, window)
            missing = _missing_columns(rule, table)
            if missing:
                raise EntrawatchError(f"query output lacks mapped column(s): {', '.join(missing)}")
        except EntrawatchError as err:
            outcome.error = RuleRunError(rule.id, rule.name, str(err), window.end)
            tick(len(rule_windows) - index, rule.name)
            return outcome
        for alert in build_alerts(rule, window, table):
            if ledger.is_duplicate(alert):
                outcome.duplicates += 1
                continue
            ledger.add(alert)
            outcome.alerts.append(alert)
        tick(1, rule.name)
    return outcome


class _CursorWarehouse:
    """A DuckDB cursor (its own connection to the same database) behind the Warehouse methods a
    query runner uses, so that rules can be evaluated on several threads; DuckDB runs each query
    without holding the GIL."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.dialect = warehouse.dialect
        self._parent = warehouse
        self._cursor = warehouse.cursor()  # type: ignore[attr-defined]

    def query(self, sql: str, params: Any = None) -> pa.Table:
        import duckdb

        from entrawatch.errors import WarehouseError

        try:
            # A relation fetches Arrow directly; a DB-API result would copy the rows again.
            relation = self._cursor.sql(sql, params=list(params) if params else None)
            return relation.to_arrow_table() if relation is not None else pa.table({})
        except duckdb.Error as err:
            raise WarehouseError(f"query failed: {err}") from err

    def catalog(self) -> dict[str, dict[str, str]]:
        return self._parent.catalog()

    def close(self) -> None:
        self._cursor.close()


def _owns_cursors(runner: QueryRunner, warehouse: Warehouse) -> bool:
    """The default runner prepares statements on the connection it runs on: give it cursors of its
    own (closed at the end) even on one thread, so nothing is left on the caller's connection."""
    return isinstance(runner, CachingKqlRunner) and warehouse.dialect == "duckdb" and hasattr(warehouse, "connection")


def _worker_count(warehouse: Warehouse, workers: int | None, injected: bool) -> int:
    if workers is not None:
        return max(1, workers)
    if injected or warehouse.dialect != "duckdb" or not hasattr(warehouse, "connection"):
        return 1
    return max(1, min(4, os.cpu_count() or 1))


def run_detection(warehouse: Warehouse, rules: Iterable[Rule], start: datetime, end: datetime, *,
                  progress: bool | ProgressCallback = False, query_runner: QueryRunner | None = None,
                  load_data: bool = True, workers: int | None = None,
                  batch_span: timedelta = DEFAULT_BATCH_SPAN) -> DetectionResult:
    """Evaluate every rule over its windows ending in ``(start, end]`` and store alerts and incidents.

    Rules are independent (de-duplication, suppression and grouping are per rule), so on DuckDB they
    are evaluated on ``workers`` threads (default: the CPU count, at most 4), each with its own cursor;
    results are merged in rule order, so the outcome does not depend on the thread count.
    On DuckDB, several windows of a rule are evaluated by one statement (``batch_size``: windows
    whose periods add up to at most ``batch_span``; ``timedelta(0)`` runs one statement per window);
    the alerts are the same either way (tested).
    """
    start, end = _utc(start), _utc(end)
    runner = query_runner or _default_runner()
    scheduled = sorted((r for r in rules if not r.is_hunting), key=lambda r: r.id)
    result = DetectionResult(start=start, end=end, rules=len(scheduled))
    store.ensure_tables(warehouse)
    if _owns_cursors(runner, warehouse):
        # Rows appended just before (an ingest) may still be only in the WAL; a checkpoint writes
        # them as compressed row groups with statistics first, which every window then scans.
        warehouse.execute("CHECKPOINT")
    if load_data:
        from entrawatch.analytics.content_data import prepare_warehouse

        prepare_warehouse(warehouse)
    lookbehind = max((max(r.query_period, r.suppression_duration) for r in scheduled), default=timedelta(0))
    ledger = _AlertLedger(store.load_alert_state(warehouse, start - lookbehind))
    plan = [(rule, list(windows(rule.query_frequency, rule.query_period, start, end))) for rule in scheduled]

    total = sum(len(w) for _rule, w in plan)
    callback, finish = (None, None)
    if progress is True:
        callback, finish = _rich_progress(total)
    elif callable(progress):
        callback = progress
    done = 0
    lock = threading.Lock()

    def tick(count: int, name: str) -> None:
        nonlocal done
        with lock:
            done += count
            if callback:
                callback(done, total, name)

    threads = _worker_count(warehouse, workers, query_runner is not None)
    try:
        if threads == 1 and not _owns_cursors(runner, warehouse):
            outcomes = [_evaluate_rule(rule, w, runner, warehouse, ledger, tick, batch_span) for rule, w in plan]
        else:
            outcomes = _evaluate_parallel(plan, runner, warehouse, ledger, tick, threads, batch_span)
    finally:
        if finish:
            finish()
        if isinstance(runner, CachingKqlRunner):
            runner.close()

    new_alerts: list[tuple[Rule, Alert]] = []
    for (rule, _w), outcome in zip(plan, outcomes, strict=True):
        result.windows += outcome.windows
        result.windows_suppressed += outcome.suppressed
        result.duplicates += outcome.duplicates
        if outcome.error:
            result.errors.append(outcome.error)
        result.alerts_per_rule[rule.id] = len(outcome.alerts)
        new_alerts += [(rule, alert) for alert in outcome.alerts]

    new_alerts.sort(key=lambda ra: (ra[1].window.end, ra[1].rule_id, ra[1].dedup_key))
    result.new_alerts = [alert for _rule, alert in new_alerts]
    result.alerts = store.write_alerts(warehouse, result.new_alerts)
    max_lookback = max((r.incident.grouping.lookback for r in scheduled), default=timedelta(0))
    existing, next_number = store.load_incidents(warehouse, start - max_lookback - max(
        (r.query_period for r in scheduled), default=timedelta(0)))
    known_numbers = {i.number for i in existing}
    book = IncidentBook(existing, next_number)
    for rule, alert in new_alerts:
        book.place(rule, alert)
    changed = book.changed
    store.write_incidents(warehouse, changed)
    result.incidents_created = sum(1 for i in changed if i.number not in known_numbers)
    result.incidents_updated = len(changed) - result.incidents_created
    return result


def _evaluate_parallel(plan: list[tuple[Rule, list[Window]]], runner: QueryRunner, warehouse: Warehouse,
                       ledger: _AlertLedger, tick: Callable[[int, str], None], threads: int,
                       batch_span: timedelta) -> list[_RuleOutcome]:
    local = threading.local()
    handles: list[_CursorWarehouse] = []
    handles_lock = threading.Lock()

    def handle() -> _CursorWarehouse:
        if not hasattr(local, "warehouse"):
            with handles_lock:
                local.warehouse = _CursorWarehouse(warehouse)
                handles.append(local.warehouse)
        return local.warehouse

    def work(item: tuple[Rule, list[Window]]) -> _RuleOutcome:
        rule, rule_windows = item
        return _evaluate_rule(rule, rule_windows, runner, handle(), ledger, tick,  # type: ignore[arg-type]
                              batch_span)

    # Longest rules first keeps both threads busy until the end; results come back in plan order.
    order = sorted(range(len(plan)), key=lambda i: -len(plan[i][1]))
    outcomes: list[_RuleOutcome | None] = [None] * len(plan)
    try:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            futures = {pool.submit(work, plan[i]): i for i in order}
            for future, index in futures.items():
                outcomes[index] = future.result()
    finally:
        for item in handles:
            item.close()
    return [o for o in outcomes if o is not None]
