"""Where detection time goes, per rule: compile and prepare once, run every window, build alerts.

Run on a database the main job made (it is copied; the original is not changed):

    .venv/bin/python -m entrawatch.mainjob --users 100 --days 3 --db /tmp/x.duckdb --out /tmp/xsim
    .venv/bin/python benchmarks/detect_rules.py /tmp/x.duckdb --days 3 [--top 15]

Single-threaded so the figures add up; ``run_detection`` spreads rules over the CPUs.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path


def main() -> None:
    from entrawatch.analytics import content_dir, load_rules, prepare_warehouse
    from entrawatch.analytics.alerts import build_alerts
    from entrawatch.analytics.prepared import CachingKqlRunner
    from entrawatch.analytics.scheduler import windows
    from entrawatch.analytics.store import ensure_tables
    from entrawatch.simulator import DEFAULT_START
    from entrawatch.warehouse import DuckDBWarehouse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("db", type=Path)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "copy.duckdb"
        shutil.copy(args.db, copy)
        with DuckDBWarehouse(copy) as warehouse:
            started = time.perf_counter()
            ensure_tables(warehouse)
            prepare_warehouse(warehouse)
            setup = time.perf_counter() - started
            rules, _problems = load_rules(content_dir() / "rules")
            start, end = DEFAULT_START, DEFAULT_START + timedelta(days=args.days)
            rows = []
            for rule in (r for r in rules if not r.is_hunting):
                runner = CachingKqlRunner()
                t0 = time.perf_counter()
                assert runner.template(rule.query, warehouse) is not None, rule.name
                t1 = time.perf_counter()
                run_s = build_s = 0.0
                count = alerts = 0
                for window in windows(rule.query_frequency, rule.query_period, start, end):
                    t2 = time.perf_counter()
                    table = runner(rule.query, warehouse, window.end)
                    t3 = time.perf_counter()
                    alerts += len(build_alerts(rule, window, table))
                    build_s += time.perf_counter() - t3
                    run_s += t3 - t2
                    count += 1
                runner.close()
                rows.append((t1 - t0 + run_s + build_s, t1 - t0, run_s, build_s, count, alerts, rule.name))
    rows.sort(reverse=True)
    total = [sum(r[i] for r in rows) for i in range(6)]
    print(f"content data + tables: {setup:.2f}s")
    print(f"{len(rows)} rules: total {total[0]:.1f}s = compile {total[1]:.1f}s + queries {total[2]:.1f}s "
          f"+ alert building {total[3]:.1f}s; {int(total[4])} windows, {int(total[5])} alerts (before de-duplication)")
    print(f"{'total s':>7} {'compile':>7} {'queries':>7} {'alerts':>6} {'windows':>7} {'per win':>7}  rule")
    for tot, comp, run_s, build_s, count, _alerts, name in rows[:args.top]:
        print(f"{tot:7.2f} {comp:7.2f} {run_s:7.2f} {build_s:6.2f} {count:7d} {run_s / max(count, 1):7.3f}  {name[:70]}")


if __name__ == "__main__":
    main()
