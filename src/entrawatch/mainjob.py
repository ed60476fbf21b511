"""The main job behind ``make run``: a whole tenant, attacked, detected, on one laptop.

Simulates a tenant (all four sign-in streams plus audit, every attack scenario and the benign
look-alikes), ingests what the simulator wrote through the real readers, runs every built-in
analytics rule over the whole period, and prints the incidents an analyst would triage first.
It only strings public APIs together: each stage is the same code the CLI commands run.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console

from entrawatch.errors import EntrawatchError
from entrawatch.simulator import DEFAULT_START


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="entrawatch-mainjob", description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="entrawatch.duckdb", help="DuckDB file to (re)create")
    parser.add_argument("--out", default="out/sim", help="folder for the simulated log files")
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", default=None, help="first simulated day (ISO date); default: the simulator's fixed start")
    return parser.parse_args(argv)


def run(argv: list[str] | None = None) -> int:
    """Run the pipeline; returns a process exit code."""
    from entrawatch.analytics import content_dir, list_incidents, load_rules, run_detection
    from entrawatch.cli.analytics_cmds import print_incidents
    from entrawatch.readers import ingest_paths
    from entrawatch.simulator import SimulationConfig, simulate
    from entrawatch.warehouse import DuckDBWarehouse

    args = _parse_args(argv)
    console = Console()
    started = time.perf_counter()
    out_dir = Path(args.out)
    db_path = Path(args.db)
    start = datetime.fromisoformat(args.start).replace(tzinfo=UTC) if args.start else DEFAULT_START

    console.rule("[bold]1/3 simulate")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    sim = simulate(
        SimulationConfig(users=args.users, days=args.days, seed=args.seed, start=start, scenarios="all",
                         benign_lookalikes=True, format="diagnostic"),
        out_dir,
    )
    console.print(f"wrote {sum(sim.counts.values()):,} events to {out_dir} (ground truth: {sim.truth_path}) "
                  f"in {time.perf_counter() - started:.1f}s")

    console.rule("[bold]2/3 ingest")
    for suffix in ("", ".wal"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    step = time.perf_counter()
    with DuckDBWarehouse(db_path) as warehouse:
        # Only the log folders: truth.json and threat_intel.csv beside them are not logs.
        log_dirs = sorted(path for path in out_dir.iterdir() if path.is_dir())
        report = ingest_paths(log_dirs, warehouse, progress=True)
        totals = report.totals
        console.print(
            f"read {totals.read:,} records: {totals.inserted:,} stored, {totals.duplicates:,} duplicates, "
            f"{totals.quarantined:,} quarantined in {time.perf_counter() - step:.1f}s"
        )
        step = time.perf_counter()

        console.rule("[bold]3/3 detect")
        if sim.threat_intel_path is not None:
            from entrawatch.ti import import_indicators

            import_indicators(sim.threat_intel_path, warehouse)
        rules, problems = load_rules(content_dir() / "rules")
        for problem in problems:
            console.print(f"[yellow]rule problem:[/] {problem}")
        end = start + timedelta(days=args.days)
        result = run_detection(warehouse, rules, start=start, end=end, progress=True)
        print_incidents(list_incidents(warehouse))
        console.print(
            f"{len(rules)} rules over {args.days} days: {result.alerts} alerts, "
            f"{result.incidents_created} incidents, {len(result.errors)} rule errors "
            f"in {time.perf_counter() - step:.1f}s (the whole job: {time.perf_counter() - started:.0f}s)"
        )
        for error in result.errors:
            console.print(f"[red]rule error:[/] {error}")

    console.print(
        f"\nDatabase: [bold]{db_path.resolve()}[/]\n"
        f"  entrawatch incidents --db {db_path}\n"
        f"  entrawatch alerts --db {db_path}\n"
        f"  entrawatch query --db {db_path} 'SecurityIncident | take 10'\n"
        f"  entrawatch query --db {db_path} "
        "'AADNonInteractiveUserSignInLogs | summarize count() by AppDisplayName | top 5 by count_'\n"
        f"Ground truth of the simulated attacks: {sim.truth_path}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return run(argv)
    except EntrawatchError as err:
        Console(stderr=True).print(f"[red]error:[/] {err}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
