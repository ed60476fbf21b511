"""Full validation of a rule folder: structure (``validate.py``) plus each query's compilation.

The query check runs the rule's KQL through ``entrawatch.kql`` against an empty in-memory warehouse
holding every table a rule may read (canonical tables, TI indicators, content data). That both
compiles it against the real schema and yields its output columns, which entity mappings, custom
details and ``{{Column}}`` placeholders are then checked against. Running on empty tables costs a
few milliseconds and needs no separate "output schema" API from the KQL compiler.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from entrawatch.analytics.loader import load_rule_file, rule_files
from entrawatch.analytics.validate import check_columns, query_problem
from entrawatch.errors import EntrawatchError, RuleError

_PROBE_NOW = datetime(2025, 1, 1, tzinfo=UTC)


def validate_path(path: str | Path, *, check_queries: bool = True,
                  require_tests: bool = True) -> tuple[int, list[RuleError]]:
    """(files checked, every problem) for a rule file or folder."""
    files = rule_files(path)
    problems: list[RuleError] = []
    seen: dict[str, Path] = {}
    probe = _Probe() if check_queries else None
    try:
        for file in files:
            rule, doc, file_problems = load_rule_file(file, require_tests=require_tests)
            problems.extend(file_problems)
            if rule is None or doc is None:
                continue
            if rule.id and rule.id in seen:
                problems.append(RuleError(f"duplicate id {rule.id}, also used by {seen[rule.id]}", path=str(file),
                                          line=doc.line("id"), field="id"))
            seen.setdefault(rule.id, file)
            if probe is None or not rule.query.strip():
                continue
            try:
                columns = probe.columns(rule.query)
            except EntrawatchError as err:
                problems.append(query_problem(rule, doc, err))
                continue
            if columns is not None and not rule.is_hunting:
                problems.extend(check_columns(rule, doc, columns))
    finally:
        if probe is not None:
            probe.close()
    return len(files), problems


class _Probe:
    """An empty warehouse that reports a query's output columns (None when KQL is unavailable)."""

    def __init__(self) -> None:
        from entrawatch.analytics.content_data import prepare_warehouse
        from entrawatch.warehouse import DuckDBWarehouse

        self.warehouse = DuckDBWarehouse(":memory:")
        prepare_warehouse(self.warehouse)

    def columns(self, query: str) -> list[str] | None:
        try:
            from entrawatch import kql
        except ImportError:
            return None
        run = getattr(kql, "run", None)
        if run is None:
            return None
        return list(run(query, self.warehouse, now=_PROBE_NOW).column_names)

    def close(self) -> None:
        self.warehouse.close()
