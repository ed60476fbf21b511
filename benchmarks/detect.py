"""Detection throughput: every built-in rule over >= 10M simulated sign-in rows.

Build phase: simulate a base tenant, ingest it through the readers, then grow the sign-in tables in
DuckDB by copying every row ``--copies`` times with a distinct user (``c<k>.<upn>``) and ``Id``, until
they hold ``--rows`` rows. With ``--layout time`` (default) the grown tables are rewritten in
``TimeGenerated`` order, as a warehouse fed by a live pipeline holds them (rows arrive in time
order); ``--layout copies`` keeps each copy as one block spanning the whole period (every row group
then spans every day, so no time filter can skip any). The built database is kept as
``<work>/built-<rows>-<layout>.duckdb`` and reused by later runs with the same arguments.

Detect phase (a separate process on a fresh copy of the built database, so its peak RSS is its own
and earlier alerts do not make the run idempotent): time one full scan of the same tables (count,
distinct users/IPs, min/max time of each sign-in table) as the reference, then run every built-in
rule over the whole period with ``run_detection``. Prints wall time, peak RSS, windows, alerts and
the detect/scan ratio. ``--compare`` also runs the one-statement-per-window path
(``batch_span=0``) on another copy and checks that both stored the same alerts and incidents.

    .venv/bin/python benchmarks/detect.py --rows 10000000 --work /work/tmp-bench/detect
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

SIGNIN_TABLES = ("SigninLogs", "AADNonInteractiveUserSignInLogs", "AADServicePrincipalSignInLogs",
                 "AADManagedIdentitySignInLogs")


def _quote(name: str) -> str:
    from sqlglot import exp

    return exp.to_identifier(name, quoted=True).sql(dialect="duckdb")


def _grow(con, table: str, copies: int, layout: str) -> None:
    """Add ``copies`` copies of every row (distinct Id and principal), in time order for ``time``."""
    columns = [r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
        [table]).fetchall()]
    select = []
    for column in columns:
        if column == "Id":
            select.append(f"CASE WHEN copy = 0 THEN {_quote('Id')} ELSE "
                          f"concat({_quote('Id')}, '-c', CAST(copy AS VARCHAR)) END AS {_quote('Id')}")
        elif column in ("UserPrincipalName", "ServicePrincipalName"):
            select.append(f"CASE WHEN copy = 0 OR {_quote(column)} IS NULL THEN {_quote(column)} ELSE "
                          f"concat('c', CAST(copy AS VARCHAR), '.', {_quote(column)}) END AS {_quote(column)}")
        else:
            select.append(_quote(column))
    if layout == "copies":
        if copies:
            con.execute(f"INSERT INTO {_quote(table)} SELECT {', '.join(select)} FROM {_quote(table)} "
                        f"CROSS JOIN range(1, ?) AS copies(copy)", [copies + 1]).fetchall()
        return
    # Day by day, so each sort is a fraction of the table (a temp table or one big sort would hold it all).
    con.execute(f"CREATE TABLE bench_base AS SELECT * FROM {_quote(table)}").fetchall()
    con.execute(f"DELETE FROM {_quote(table)}").fetchall()
    time_column = _quote("TimeGenerated")
    days = con.execute(f"SELECT DISTINCT date_trunc('day', {time_column}) AS d FROM bench_base ORDER BY d").fetchall()
    for (day,) in days:
        con.execute(f"INSERT INTO {_quote(table)} SELECT {', '.join(select)} FROM bench_base "
                    f"CROSS JOIN range(0, ?) AS copies(copy) WHERE date_trunc('day', {time_column}) = ? "
                    f"ORDER BY {time_column}", [copies + 1, day]).fetchall()
    con.execute("DROP TABLE bench_base").fetchall()


def build(db: Path, work: Path, users: int, days: int, rows: int, seed: int, layout: str) -> dict:
    from entrawatch.readers import ingest_paths
    from entrawatch.simulator import SimulationConfig, simulate
    from entrawatch.warehouse import DuckDBWarehouse

    started = time.perf_counter()
    sim_dir = work / f"sim-{users}u-{days}d-{seed}"
    if not (sim_dir / "truth.json").exists():
        simulate(SimulationConfig(users=users, days=days, seed=seed, format="loganalytics"), sim_dir)
    warehouse = DuckDBWarehouse(db)
    ingest_paths([sim_dir], warehouse)
    con = warehouse.connection
    con.execute("SET memory_limit = '3GB'").fetchall()  # the machine is shared; the sorts spill to disk
    base = {t: con.execute(f"SELECT count(*) FROM {_quote(t)}").fetchall()[0][0] for t in SIGNIN_TABLES}
    total = sum(base.values())
    copies = max(0, -(-rows // max(total, 1)) - 1)
    for table in SIGNIN_TABLES:
        _grow(con, table, copies, layout)
    con.execute("CHECKPOINT").fetchall()
    grown = {t: con.execute(f"SELECT count(*) FROM {_quote(t)}").fetchall()[0][0] for t in SIGNIN_TABLES}
    warehouse.close()
    truth = json.loads((sim_dir / "truth.json").read_text())
    return {"start": truth["start"], "end": truth["end"], "base_rows": base, "copies": copies, "rows": grown,
            "layout": layout, "build_s": time.perf_counter() - started}


def detect(db: Path, start: str, end: str, batch_days: float, memory_limit: str | None = None) -> dict:
    from entrawatch.analytics import content_dir, list_alerts, list_incidents, load_rules, run_detection
    from entrawatch.analytics.testing import parse_now
    from entrawatch.warehouse import DuckDBWarehouse

    warehouse = DuckDBWarehouse(db, memory_limit=memory_limit)
    rules, problems = load_rules(content_dir() / "rules")
    started = time.perf_counter()
    scans = []
    catalog = warehouse.catalog()
    for table in SIGNIN_TABLES:
        who = "UserPrincipalName" if "UserPrincipalName" in catalog[table] else "ServicePrincipalId"
        scans.append(warehouse.query(
            f"SELECT count(*) AS n, count(DISTINCT {_quote(who)}) AS principals, "
            f"count(DISTINCT {_quote('IPAddress')}) AS ips, min({_quote('TimeGenerated')}) AS lo, "
            f"max({_quote('TimeGenerated')}) AS hi FROM {_quote(table)}").to_pylist()[0])
    scan_s = time.perf_counter() - started
    started = time.perf_counter()
    last_report = [0]

    def report(done: int, total: int, name: str) -> None:
        """A line on stderr every 5% of the windows: where a long run spends its time."""
        if done - last_report[0] >= total / 20 or done == total:
            last_report[0] = done
            print(f"  {time.perf_counter() - started:7.0f} s  {done:5d}/{total} windows  {name[:60]}",
                  file=sys.stderr, flush=True)

    result = run_detection(warehouse, rules, parse_now(start), parse_now(end) + timedelta(days=1),
                           progress=report, batch_span=timedelta(days=batch_days))
    detect_s = time.perf_counter() - started
    alerts = sorted(json.dumps(a, sort_keys=True, default=str) for a in list_alerts(warehouse))
    incidents = sorted(json.dumps(i, sort_keys=True, default=str) for i in list_incidents(warehouse))
    warehouse.close()
    digest = hashlib.sha256(json.dumps([alerts, incidents]).encode()).hexdigest()
    return {"rules": len(rules), "invalid_rules": len(problems), "windows": result.windows,
            "alerts": result.alerts, "incidents": result.incidents_created, "errors": [str(e) for e in result.errors],
            "detect_s": detect_s, "scan_s": scan_s, "scanned_rows": sum(s["n"] for s in scans),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "digest": digest,
            "alert_rows": alerts}


def _detect_in_child(built_db: Path, copy: Path, built: dict, batch_days: float,
                     memory_limit: str | None = None) -> dict:
    shutil.copy(built_db, copy)
    try:
        out = subprocess.run([sys.executable, __file__, "--detect-only", str(copy), built["start"], built["end"],
                              "--batch-days", str(batch_days),
                              *(["--memory-limit", memory_limit] if memory_limit else [])],
                             stdout=subprocess.PIPE, text=True)
    finally:
        copy.unlink(missing_ok=True)
        Path(f"{copy}.wal").unlink(missing_ok=True)
    if out.returncode:
        sys.exit("detect phase failed (see stderr above)")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _report(label: str, figures: dict) -> None:
    ratio = figures["detect_s"] / figures["scan_s"] if figures["scan_s"] else float("nan")
    print(f"{label}: {figures['rules']} rules, {figures['windows']:,} windows over {figures['scanned_rows']:,} rows: "
          f"detect {figures['detect_s']:.1f} s, full scan {figures['scan_s']:.2f} s, ratio {ratio:.0f}x, "
          f"peak RSS {figures['peak_rss_mb']:.0f} MB, {figures['alerts']} alerts, {figures['incidents']} incidents, "
          f"{len(figures['errors'])} rule errors", flush=True)
    for error in figures["errors"]:
        print(f"  rule error: {error}")


def main() -> None:
    from entrawatch.analytics.runner import DEFAULT_BATCH_SPAN

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000, help="sign-in rows to reach")
    parser.add_argument("--users", type=int, default=200, help="users of the simulated base tenant")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--layout", choices=("time", "copies"), default="time",
                        help="row order of the grown tables (see above)")
    parser.add_argument("--batch-days", type=float, default=DEFAULT_BATCH_SPAN / timedelta(days=1),
                        help="run_detection batch_span in days (0: one statement per window)")
    parser.add_argument("--compare", action="store_true",
                        help="also run one statement per window and check both store the same alerts")
    parser.add_argument("--work", type=Path, default=None, help="keeps the built database for later runs")
    parser.add_argument("--memory-limit", default=None,
                        help="DuckDB memory_limit for the detect phase (e.g. 4GB; default: DuckDB's, 80%% of RAM)")
    parser.add_argument("--dump-alerts", type=Path, default=None,
                        help="write the stored alerts (one JSON per line, sorted) here, to diff two runs")
    parser.add_argument("--build-only", action="store_true", help="build (or find) the database and stop")
    parser.add_argument("--detect-only", nargs=3, metavar=("DB", "START", "END"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.detect_only:
        print(json.dumps(detect(Path(args.detect_only[0]), args.detect_only[1], args.detect_only[2], args.batch_days,
                                args.memory_limit)))
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="entrawatch-bench-detect-"))
    work.mkdir(parents=True, exist_ok=True)
    name = f"built-{args.rows}-{args.users}u-{args.days}d-{args.seed}-{args.layout}"
    built_db, meta = work / f"{name}.duckdb", work / f"{name}.json"
    if built_db.exists() and meta.exists():
        built = json.loads(meta.read_text())
        print(f"reusing {built_db}")
    elif args.build_only:
        built_db.unlink(missing_ok=True)
        built = build(built_db, work, args.users, args.days, args.rows, args.seed, args.layout)
        meta.write_text(json.dumps(built))
    else:
        # Build in a child process too: Linux keeps a process's peak RSS across fork and exec, so a
        # detect child forked from a parent that did the build would report the build's peak.
        subprocess.run([sys.executable, __file__, *sys.argv[1:], "--work", str(work), "--build-only"], check=True)
        built = json.loads(meta.read_text())
    print(f"built {sum(built['rows'].values()):,} sign-in rows ({built['copies']} copies of "
          f"{sum(built['base_rows'].values()):,}, layout {built['layout']}) in {built['build_s']:.0f} s: "
          f"{built['rows']}", flush=True)
    if args.build_only:
        return
    figures = _detect_in_child(built_db, work / "detect.duckdb", built, args.batch_days, args.memory_limit)
    _report(f"batch {args.batch_days:g} d", figures)
    if args.dump_alerts:
        args.dump_alerts.write_text("\n".join(figures["alert_rows"]) + "\n")
    if args.compare:
        reference = _detect_in_child(built_db, work / "detect.duckdb", built, 0.0)
        _report("per window", reference)
        same = reference["digest"] == figures["digest"]
        print(f"same alerts and incidents: {same} ({len(figures['alert_rows'])} vs {len(reference['alert_rows'])} "
              f"alerts stored); batch/per-window time {figures['detect_s'] / reference['detect_s']:.2f}")
        if not same:
            only = set(figures["alert_rows"]) ^ set(reference["alert_rows"])
            print(f"  {len(only)} alerts differ, e.g. {sorted(only)[:2]}")


if __name__ == "__main__":
    main()
