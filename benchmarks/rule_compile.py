"""Compile time and SQL size of every built-in rule, as a per-window literal and as a template.

Run: ``.venv/bin/python benchmarks/rule_compile.py [--top N]``. The template (``now_param=True``)
is what detection compiles once per rule; the literal form is what ``kql.run`` compiles per call.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from entrawatch.analytics import content_dir, load_rules, prepare_warehouse
from entrawatch.analytics.store import ensure_tables
from entrawatch.kql.api import compile_query
from entrawatch.warehouse import DuckDBWarehouse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    warehouse = DuckDBWarehouse(":memory:")
    ensure_tables(warehouse)
    prepare_warehouse(warehouse)
    rules, _errors = load_rules(content_dir() / "rules")
    now = datetime(2026, 1, 8, tzinfo=UTC)
    rows = []
    for rule in rules:
        started = time.perf_counter()
        literal = compile_query(rule.query, warehouse, "duckdb", now)
        middle = time.perf_counter()
        template = compile_query(rule.query, warehouse, "duckdb", now, now_param=True)
        ended = time.perf_counter()
        rows.append((middle - started, ended - middle, len(literal.sql), template.now_params, rule.name))
    rows.sort(reverse=True)
    print(f"{len(rows)} rules; total compile {sum(r[0] for r in rows):.2f}s literal, {sum(r[1] for r in rows):.2f}s template")
    print(f"{'literal s':>9} {'template s':>10} {'SQL chars':>9} {'params':>6}  rule")
    for lit, tpl, size, params, name in rows[:args.top]:
        print(f"{lit:9.3f} {tpl:10.3f} {size:9d} {params:6d}  {name}")


if __name__ == "__main__":
    main()
