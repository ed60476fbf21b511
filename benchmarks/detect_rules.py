"""Where detection time goes, per rule: compile once, then its windows one statement each and in batches.

Run on a database that holds sign-ins (it is copied; the original is not changed), e.g. the one
``benchmarks/detect.py --work DIR`` keeps:

    .venv/bin/python benchmarks/detect_rules.py DIR/built-1000000-200u-7d-7-time.duckdb [--top 40]

For every scheduled built-in rule it prints the window count, compile time, the time of its
windows run one statement each (``--no-per-window`` skips that), the time of the same windows in
batches (``run_detection``'s default ``batch_span``), and how many windows returned rows.
Rules run one after another so the figures add up; ``run_detection`` spreads rules over the CPUs.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

TABLES = ("SigninLogs", "AADNonInteractiveUserSignInLogs", "AADServicePrincipalSignInLogs",
          "AADManagedIdentitySignInLogs", "AuditLogs")


def main() -> None:
    from entrawatch.analytics import content_dir, load_rules, prepare_warehouse
    from entrawatch.analytics.prepared import CachingKqlRunner
    from entrawatch.analytics.runner import DEFAULT_BATCH_SPAN, batch_size
    from entrawatch.analytics.scheduler import windows
    from entrawatch.analytics.store import data_span, ensure_tables
    from entrawatch.warehouse import DuckDBWarehouse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("db", type=Path)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--rule", action="append", default=[], help="only rules whose file stem contains this")
    parser.add_argument("--batch-days", type=float, default=DEFAULT_BATCH_SPAN / timedelta(days=1))
    parser.add_argument("--no-per-window", action="store_true")
    args = parser.parse_args()
    span = timedelta(days=args.batch_days)
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "copy.duckdb"
        shutil.copy(args.db, copy)
        with DuckDBWarehouse(copy) as warehouse:
            ensure_tables(warehouse)
            prepare_warehouse(warehouse)
            first, last = data_span(warehouse, TABLES)
            assert first is not None and last is not None, "no sign-ins in the database"
            start, end = first, last + timedelta(days=1)  # what `detect` does without --since
            rules, _problems = load_rules(content_dir() / "rules")
            rows = []
            for rule in (r for r in rules if not r.is_hunting):
                if args.rule and not any(part in rule.path.stem for part in args.rule):
                    continue
                ends = [w.end for w in windows(rule.query_frequency, rule.query_period, start, end)]
                runner = CachingKqlRunner()
                t0 = time.perf_counter()
                assert runner.template(rule.query, warehouse) is not None, rule.name
                compile_s = time.perf_counter() - t0
                per_window_s = float("nan")
                if not args.no_per_window:
                    t0 = time.perf_counter()
                    for window_end in ends:
                        runner(rule.query, warehouse, window_end)
                    per_window_s = time.perf_counter() - t0
                size = batch_size(rule, span)  # 1: run_detection runs this rule one window at a time
                t0 = time.perf_counter()
                with_rows = 0
                for index in range(0, len(ends), size):
                    chunk = ends[index:index + size]
                    batch = runner.run_windows(rule.query, warehouse, chunk) if size > 1 else \
                        {e: runner(rule.query, warehouse, e) for e in chunk}
                    assert batch is not None, f"{rule.name}: not batchable"
                    with_rows += sum(1 for table in batch.values() if table.num_rows)
                batch_s = time.perf_counter() - t0
                runner.close()
                rows.append((per_window_s, batch_s, compile_s, len(ends), size, with_rows, rule.path.stem,
                             f"{rule.query_frequency}/{rule.query_period}"))
                print(f"  {rule.path.stem}: per window {per_window_s:.2f} s, batched {batch_s:.2f} s",
                      file=sys.stderr, flush=True)
    rows.sort(key=lambda r: -(r[0] if r[0] == r[0] else r[1]))
    total = [sum(r[i] for r in rows) for i in range(4)]
    print(f"{len(rows)} rules, {int(total[3])} windows over [{start:%Y-%m-%d %H:%M}, {end:%Y-%m-%d %H:%M}]: "
          f"compile {total[2]:.1f} s, per window {total[0]:.1f} s, batched {total[1]:.1f} s")
    print(f"{'per-win s':>9} {'batch s':>8} {'compile':>7} {'windows':>7} {'batch':>5} {'w/rows':>6}  "
          f"{'freq/period':<22} rule")
    for per_window_s, batch_s, compile_s, count, size, with_rows, stem, schedule in rows[:args.top]:
        print(f"{per_window_s:9.2f} {batch_s:8.2f} {compile_s:7.2f} {count:7d} {size:5d} {with_rows:6d}  "
              f"{schedule:<22} {stem}")


if __name__ == "__main__":
    main()
