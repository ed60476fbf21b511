"""Detection throughput: every built-in rule over >= 10M simulated sign-in rows.

Build phase: simulate a base tenant, ingest it through the readers, then grow the sign-in tables in
DuckDB by copying every row ``--copies`` times with a distinct user (``c<k>.<upn>``) and ``Id``, until
they hold ``--rows`` rows. Detect phase (a separate process, so its peak RSS is its own): run every
built-in rule over the whole period with ``run_detection``, and in the same process time one full
scan of the same tables (count, distinct users/IPs, min/max time of each sign-in table) as the
reference. Prints wall time, peak RSS, windows, alerts and the detect/scan ratio.

    .venv/bin/python benchmarks/detect.py --rows 10000000
"""

from __future__ import annotations

import argparse
import json
import resource
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


def build(db: Path, work: Path, users: int, days: int, rows: int, seed: int) -> dict:
    from entrawatch.readers import ingest_paths
    from entrawatch.simulator import SimulationConfig, simulate
    from entrawatch.warehouse import DuckDBWarehouse

    started = time.perf_counter()
    sim = simulate(SimulationConfig(users=users, days=days, seed=seed, format="loganalytics"), work / "sim")
    warehouse = DuckDBWarehouse(db)
    ingest_paths([work / "sim"], warehouse)
    con = warehouse.connection
    base = {t: con.execute(f"SELECT count(*) FROM {_quote(t)}").fetchall()[0][0] for t in SIGNIN_TABLES}
    total = sum(base.values())
    copies = max(0, -(-rows // max(total, 1)) - 1)
    for table in SIGNIN_TABLES:
        columns = [r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
            [table]).fetchall()]
        select = []
        for column in columns:
            if column == "Id":
                select.append(f"concat({_quote('Id')}, '-c', CAST(copy AS VARCHAR)) AS {_quote('Id')}")
            elif column in ("UserPrincipalName", "ServicePrincipalName"):
                select.append(f"CASE WHEN {_quote(column)} IS NULL THEN NULL ELSE "
                              f"concat('c', CAST(copy AS VARCHAR), '.', {_quote(column)}) END AS {_quote(column)}")
            else:
                select.append(_quote(column))
        if copies:
            con.execute(f"INSERT INTO {_quote(table)} SELECT {', '.join(select)} FROM {_quote(table)} "
                        f"CROSS JOIN range(1, ?) AS copies(copy)", [copies + 1]).fetchall()
    grown = {t: con.execute(f"SELECT count(*) FROM {_quote(t)}").fetchall()[0][0] for t in SIGNIN_TABLES}
    warehouse.close()
    truth = json.loads(sim.truth_path.read_text())
    return {"start": truth["start"], "end": truth["end"], "base_rows": base, "copies": copies, "rows": grown,
            "build_s": time.perf_counter() - started}


def detect(db: Path, start: str, end: str) -> dict:
    from entrawatch.analytics import content_dir, load_rules, run_detection
    from entrawatch.analytics.testing import parse_now
    from entrawatch.warehouse import DuckDBWarehouse

    warehouse = DuckDBWarehouse(db)
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
    result = run_detection(warehouse, rules, parse_now(start), parse_now(end) + timedelta(days=1), progress=True)
    detect_s = time.perf_counter() - started
    warehouse.close()
    return {"rules": len(rules), "invalid_rules": len(problems), "windows": result.windows,
            "alerts": result.alerts, "incidents": result.incidents_created, "errors": [str(e) for e in result.errors],
            "detect_s": detect_s, "scan_s": scan_s, "scanned_rows": sum(s["n"] for s in scans),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000, help="sign-in rows to reach")
    parser.add_argument("--users", type=int, default=200, help="users of the simulated base tenant")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--detect-only", nargs=3, metavar=("DB", "START", "END"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.detect_only:
        print(json.dumps(detect(Path(args.detect_only[0]), args.detect_only[1], args.detect_only[2])))
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="entrawatch-bench-detect-"))
    work.mkdir(parents=True, exist_ok=True)
    db = work / "detect.duckdb"
    db.unlink(missing_ok=True)
    built = build(db, work, args.users, args.days, args.rows, args.seed)
    print(f"built {sum(built['rows'].values()):,} sign-in rows ({built['copies']} copies of "
          f"{sum(built['base_rows'].values()):,}) in {built['build_s']:.0f} s: {built['rows']}")
    out = subprocess.run([sys.executable, __file__, "--detect-only", str(db), built["start"], built["end"]],
                         capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"detect phase failed:\n{out.stderr[-3000:]}")
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    ratio = figures["detect_s"] / figures["scan_s"] if figures["scan_s"] else float("nan")
    print(f"{figures['rules']} rules, {figures['windows']:,} windows over {figures['scanned_rows']:,} rows: "
          f"detect {figures['detect_s']:.1f} s, full scan {figures['scan_s']:.2f} s, ratio {ratio:.0f}x, "
          f"peak RSS {figures['peak_rss_mb']:.0f} MB, {figures['alerts']} alerts, {figures['incidents']} incidents, "
          f"{len(figures['errors'])} rule errors")
    for error in figures["errors"]:
        print(f"  rule error: {error}")


if __name__ == "__main__":
    main()
