"""Detection quality on a simulated tenant: recall per scenario, precision, alert volume.

simulate (fixed seed, all scenarios + benign look-alikes) -> ingest -> detect with the built-in rules
over the whole period -> match alerts to truth.json by entities and time span
(``entrawatch.analytics.truth``). Prints one row per scenario (detected?, by which rules, delay of the
first alert), then recall, precision (alerts explained by an attack scenario / all alerts) and alerts
per 1,000 users per day. Goal: every attack scenario detected, precision >= 0.9.

    .venv/bin/python benchmarks/detection_eval.py --users 2000 --days 14
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

from entrawatch.analytics import content_dir, list_alerts, load_rules, run_detection
from entrawatch.analytics.testing import parse_now
from entrawatch.analytics.truth import evaluate, explains
from entrawatch.readers import ingest_paths
from entrawatch.simulator import SimulationConfig, simulate
from entrawatch.ti import import_indicators
from entrawatch.warehouse import DuckDBWarehouse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--format", default="loganalytics", help="simulator output shape")
    parser.add_argument("--work", type=Path, default=None, help="keep simulated files and the database here")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON as well")
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="entrawatch-eval-"))
    work.mkdir(parents=True, exist_ok=True)
    timings = {}
    started = time.perf_counter()
    sim = simulate(SimulationConfig(users=args.users, days=args.days, seed=args.seed, format=args.format,
                                    scenarios="all", benign_lookalikes=True), work / "sim")
    timings["simulate_s"] = time.perf_counter() - started
    truth = json.loads(sim.truth_path.read_text())

    db = work / "eval.duckdb"
    db.unlink(missing_ok=True)
    warehouse = DuckDBWarehouse(db)
    started = time.perf_counter()
    report = ingest_paths([work / "sim"], warehouse, progress=True)
    timings["ingest_s"] = time.perf_counter() - started
    indicators = work / "sim" / "threat_intel.csv"
    if indicators.exists():  # the simulator's TI feed, as `entrawatch ti import` would load it
        import_indicators(indicators, warehouse)

    rules, problems = load_rules(content_dir() / "rules")
    started = time.perf_counter()
    result = run_detection(warehouse, rules, parse_now(truth["start"]), parse_now(truth["end"]) + timedelta(days=1),
                           progress=True)
    timings["detect_s"] = time.perf_counter() - started
    alerts = list_alerts(warehouse)
    warehouse.close()

    evaluation = evaluate(alerts, truth)
    print(f"\n{args.users} users x {args.days} days, seed {args.seed}: {report.totals.inserted:,} rows ingested, "
          f"{len(rules)} rules ({len(problems)} invalid), {result.windows:,} windows, {len(result.errors)} rule errors")
    print("timings: " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
    print(f"\n{'scenario':34} {'label':7} {'detected':8} {'alerts':>6} {'first alert':>12}  rules")
    for score in evaluation.scenarios:
        delay = "" if score.first_alert_delay is None else f"{score.first_alert_delay.total_seconds() / 3600:.1f} h"
        verdict = ("yes" if score.detected else "NO") if score.label == "attack" else ("-" if not score.alerts else "FP")
        print(f"{score.id:34} {score.label:7} {verdict:8} {score.alerts:>6} {delay:>12}  {', '.join(sorted(score.rules))}")

    unexplained = [a for a in alerts if not any(explains(a, s, timedelta(hours=1)) for s in truth["scenarios"]
                                                if s.get("label") == "attack")]
    per_rule = Counter(a["RuleName"] for a in unexplained)
    days = max(args.days, 1)
    print(f"\nrecall {evaluation.recall:.2f}  precision {evaluation.precision:.2f}  "
          f"alerts {evaluation.total_alerts} ({evaluation.total_alerts / (args.users / 1000) / days:.2f} per 1,000 users per day)  "
          f"unexplained {len(unexplained)} (on benign look-alikes {evaluation.benign_alerts})")
    for name, count in per_rule.most_common(10):
        print(f"  unexplained: {count:4}  {name}")
    for error in result.errors:
        print(f"  rule error: {error}")
    if args.json:
        print(json.dumps({"recall": evaluation.recall, "precision": evaluation.precision,
                          "alerts": evaluation.total_alerts, "timings": timings,
                          "missed": [s.id for s in evaluation.scenarios if s.label == "attack" and not s.detected]}))


if __name__ == "__main__":
    main()
