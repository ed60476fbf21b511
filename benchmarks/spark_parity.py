"""Rule-result parity and timings: the same data in DuckDB and Spark, the same rules on both.

What it does, using whatever parts of entrawatch exist:

1. Data. With the simulator and readers: simulate a small tenant, ingest the files into a DuckDB
   warehouse and into a Spark warehouse (if the readers cannot write to Spark, the DuckDB tables
   are copied over as Arrow, and the script says so). Without them: seeded synthetic sign-ins.
2. Queries. With the KQL engine: every built-in rule's ``query`` (``content/rules/*.yaml``) run
   through ``entrawatch.kql.run`` on both warehouses with the same fixed ``now`` (the simulation end
   and the end of each scenario the rule names). Without it: a few hand-written SQL pairs.
3. Prints, per rule: identical / identical up to array order / DIFFERENT / ERROR, row counts and
   timings, then ingest figures.

Run: ``.venv/bin/python benchmarks/spark_parity.py --users 60 --days 3``. Exit status 1 when any
result differs, so CI can run it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import yaml

from entrawatch import schema
from entrawatch.warehouse import DuckDBWarehouse
from entrawatch.warehouse.spark_parity import compare_results, copy_tables, rule_evaluation_times
from entrawatch.warehouse.spark_warehouse import SparkWarehouse

RULES_DIR = Path(__file__).resolve().parents[1] / "src" / "entrawatch" / "content" / "rules"


def _optional(module: str, *names: str) -> tuple[Any, ...] | None:
    """The named attributes of ``module``, or None while that part is not built yet."""
    try:
        mod = importlib.import_module(module)
        return tuple(getattr(mod, name) for name in names)
    except (ImportError, AttributeError):
        return None


def _timed(action: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    value = action()
    return value, time.perf_counter() - started


# -- data ----------------------------------------------------------------------------------------


def _synthetic(rows: int, seed: int, start: datetime) -> Iterator[tuple[str, pa.RecordBatch]]:
    """Seeded sign-ins for when the simulator is not there yet (spray-like failures included)."""
    rng = random.Random(seed)
    for table in ("SigninLogs", "AADNonInteractiveUserSignInLogs"):
        tbl = schema.table(table)
        data: dict[str, list] = {name: [None] * rows for name in tbl.column_names}
        data["Id"] = [f"{table}-{seed}-{i}" for i in range(rows)]
        data["Type"] = [table] * rows
        data["TimeGenerated"] = [start + timedelta(seconds=rng.randrange(3 * 86400)) for _ in range(rows)]
        data["UserPrincipalName"] = [f"user{rng.randrange(200)}@contoso.com" for _ in range(rows)]
        data["IPAddress"] = [f"203.0.113.{rng.randrange(40)}" for _ in range(rows)]
        data["ResultType"] = [rng.choice(["0", "0", "0", "50126", "50074"]) for _ in range(rows)]
        country = [rng.choice(["US", "GB", "RU"]) for _ in range(rows)]
        data["LocationDetails"] = [json.dumps({"countryOrRegion": c}) for c in country]
        yield table, pa.RecordBatch.from_pydict(data, schema=tbl.arrow_schema())


def load_data(args: argparse.Namespace, duck: DuckDBWarehouse, spark: SparkWarehouse, work: Path) -> dict:
    """Fill both warehouses; return what happened (source, timings, counts, truth)."""
    sim = _optional("entrawatch.simulator", "simulate", "SimulationConfig")
    readers = _optional("entrawatch.readers", "ingest_paths")
    info: dict[str, Any] = {"truth": None}
    if sim and readers:
        simulate, config_cls = sim
        (ingest_paths,) = readers
        out = work / "sim"
        config = config_cls(users=args.users, days=args.days, seed=args.seed, format=args.format)
        result, info["simulate_s"] = _timed(lambda: simulate(config, out))
        info["truth"] = json.loads(Path(result.truth_path).read_text("utf-8"))
        report, info["duckdb_ingest_s"] = _timed(lambda: ingest_paths([out], duck))
        info["source"] = (
            f"simulator (users={args.users}, days={args.days}, seed={args.seed}, format={args.format})"
        )
        info["duckdb_rows"] = {t: c.inserted for t, c in report.per_table.items()}
        if args.spark_ingest == "copy":
            copied, info["spark_ingest_s"] = _timed(lambda: copy_tables(duck, spark))
            info["spark_rows"] = {t: r.inserted for t, r in copied.items()}
            info["spark_path"] = "copied from DuckDB as Arrow (--spark-ingest copy)"
            return info
        try:
            report, info["spark_ingest_s"] = _timed(lambda: ingest_paths([out], spark))
            info["spark_rows"] = {t: c.inserted for t, c in report.per_table.items()}
            info["spark_path"] = "readers -> SparkWarehouse.append"
        except Exception as err:  # report, then fall back so parity can still be measured
            info["spark_path"] = f"readers failed on Spark ({type(err).__name__}: {err}); copied from DuckDB"
            copied, info["spark_ingest_s"] = _timed(lambda: copy_tables(duck, spark))
            info["spark_rows"] = {t: r.inserted for t, r in copied.items()}
        return info
    missing = [name for name, part in (("simulator", sim), ("readers", readers)) if not part]
    start = datetime(2025, 3, 1, tzinfo=UTC)
    batches = list(_synthetic(args.rows, args.seed, start))
    info["source"] = f"synthetic ({args.rows} rows per table; {', '.join(missing)} not available)"
    for label, wh in (("duckdb", duck), ("spark", spark)):
        counts, info[f"{label}_ingest_s"] = _timed(
            lambda wh=wh: {table: wh.append(table, [batch]).inserted for table, batch in batches}
        )
        info[f"{label}_rows"] = counts
    info["spark_path"] = "SparkWarehouse.append"
    info["end"] = start + timedelta(days=3)
    return info


# -- comparison ----------------------------------------------------------------------------------


def measure_bulk_append(rows: int, work: Path, spark: SparkWarehouse) -> list[str]:
    """Append ``rows`` synthetic sign-ins per table, then the same again (all duplicates), per engine."""
    batches = list(_synthetic(rows, 99, datetime(2025, 3, 1, tzinfo=UTC)))
    lines = []
    targets = (
        ("duckdb", DuckDBWarehouse(work / "bulk.duckdb")),
        ("spark", SparkWarehouse(work / "bulk-spark", spark=spark.spark)),
    )
    for label, wh in targets:
        try:
            for attempt in ("first", "again"):
                results, seconds = _timed(lambda wh=wh: [wh.append(t, [b]) for t, b in batches])
                offered = sum(r.offered for r in results)
                inserted = sum(r.inserted for r in results)
                lines.append(
                    f"{label:6} bulk append ({attempt}): {offered:,} offered, {inserted:,} inserted in "
                    f"{seconds:.1f}s ({offered / seconds:,.0f} rows/s)"
                )
        finally:
            wh.close()
    return lines


# -- queries -------------------------------------------------------------------------------------

SQL_PAIRS = [
    (
        "failures per IP and day",
        'SELECT IPAddress, CAST(TimeGenerated AS DATE) AS day, count(*) AS n FROM "SigninLogs" '
        "WHERE ResultType <> '0' GROUP BY ALL",
        "SELECT IPAddress, CAST(TimeGenerated AS DATE) AS day, count(*) AS n FROM SigninLogs "
        "WHERE ResultType <> '0' GROUP BY IPAddress, CAST(TimeGenerated AS DATE)",
    ),
    (
        "countries per user (JSON)",
        "SELECT UserPrincipalName, count(DISTINCT json_extract_string(LocationDetails, '$.countryOrRegion')) AS n "
        'FROM "SigninLogs" GROUP BY ALL',
        "SELECT UserPrincipalName, count(DISTINCT get_json_object(LocationDetails, '$.countryOrRegion')) AS n "
        "FROM SigninLogs GROUP BY UserPrincipalName",
    ),
]


def prepare_rule_tables(duck: DuckDBWarehouse, spark: SparkWarehouse, work: Path) -> None:
    """Load what rules join against besides logs: content data tables and threat intelligence."""
    prepare = _optional("entrawatch.analytics.content_data", "prepare_warehouse")
    ti = _optional("entrawatch.ti", "import_indicators")
    indicators = work / "sim" / "threat_intel.csv"
    for wh in (duck, spark):
        if prepare:
            prepare[0](wh)
        if ti and indicators.is_file():
            ti[0](indicators, wh, now=datetime(2025, 1, 1, tzinfo=UTC))


def _rule_nows(rule: dict, info: dict) -> list[datetime]:
    """The fixed ``now`` values a rule is evaluated at (see ``rule_evaluation_times``)."""
    truth = info.get("truth")
    return rule_evaluation_times(rule, truth, limit=4) if truth else [info["end"]]


def run_rules(duck: DuckDBWarehouse, spark: SparkWarehouse, info: dict, rules_dir: Path) -> list[dict]:
    kql = _optional("entrawatch.kql", "run")
    results = []
    if kql is None:
        print("entrawatch.kql.run is not available: comparing hand-written SQL pairs instead of rules")
        for name, duck_sql, spark_sql in SQL_PAIRS:
            left, duck_s = _timed(lambda sql=duck_sql: duck.query(sql))
            right, spark_s = _timed(lambda sql=spark_sql: spark.query(sql))
            results.append(
                {
                    "rule": name,
                    "now": "-",
                    "status": compare_results(left, right),
                    "rows": (left.num_rows, right.num_rows),
                    "duckdb_s": duck_s,
                    "spark_s": spark_s,
                }
            )
        return results
    (run,) = kql
    for path in sorted(rules_dir.glob("*.yaml")):
        rule = yaml.safe_load(path.read_text("utf-8"))
        for now in _rule_nows(rule, info):
            entry: dict[str, Any] = {"rule": path.stem, "now": now.isoformat(), "rows": ("-", "-")}
            try:
                left, entry["duckdb_s"] = _timed(lambda q=rule["query"], n=now: run(q, duck, now=n))
            except Exception as err:
                entry.update(
                    status=f"ERROR on duckdb: {type(err).__name__}: {str(err).splitlines()[0][:200]}"
                )
                results.append(entry)
                continue
            try:
                right, entry["spark_s"] = _timed(lambda q=rule["query"], n=now: run(q, spark, now=n))
            except Exception as err:
                entry.update(status=f"ERROR on spark: {type(err).__name__}: {str(err).splitlines()[0][:200]}")
                entry["rows"] = (left.num_rows, "-")
                results.append(entry)
                continue
            entry.update(status=compare_results(left, right), rows=(left.num_rows, right.num_rows))
            results.append(entry)
            print(f"  {path.stem} @ {now:%Y-%m-%d %H:%M}: {entry['status']}", flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=60)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--rows", type=int, default=20_000, help="synthetic rows per table without the simulator"
    )
    parser.add_argument(
        "--format", default="loganalytics", help="simulator output shape (loganalytics: one file per table)"
    )
    parser.add_argument(
        "--spark-ingest",
        choices=("readers", "copy"),
        default="readers",
        help="readers: ingest the simulated files into Spark too; copy: copy DuckDB's tables as Arrow",
    )
    parser.add_argument(
        "--bulk-rows", type=int, default=0, help="also time appends of N synthetic rows per table"
    )
    parser.add_argument("--rules", type=Path, default=RULES_DIR)
    parser.add_argument("--workdir", type=Path, default=None, help="keep the data here (default: a temp dir)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="ew-parity-") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        duck = DuckDBWarehouse(work / "parity.duckdb")
        spark, spark_start_s = _timed(lambda: SparkWarehouse(work / "spark"))
        try:
            print(f"spark session started in {spark_start_s:.1f}s; loading data...", flush=True)
            info = load_data(args, duck, spark, work)
            print(f"data loaded: {info['source']}", flush=True)
            prepare_rule_tables(duck, spark, work)
            if info.get("truth") is None and "end" not in info:
                info["end"] = datetime.now(UTC)
            results = run_rules(duck, spark, info, args.rules)
            bulk = measure_bulk_append(args.bulk_rows, work, spark) if args.bulk_rows else []
        finally:
            duck.close()
            spark.close()

    print(f"\ndata: {info['source']}; spark ingest path: {info['spark_path']}")
    print(f"spark session start: {spark_start_s:.1f}s")
    for label in ("duckdb", "spark"):
        rows = info.get(f"{label}_rows", {})
        total = sum(rows.values())
        seconds = info.get(f"{label}_ingest_s", 0.0)
        print(
            f"{label:6} ingest: {total} rows in {seconds:.1f}s ({total / seconds if seconds else 0:,.0f} rows/s) {rows}"
        )
    for line in bulk:
        print(line)
    print(f"\n{'rule':45} {'now':26} {'rows duck/spark':16} {'duck s':>7} {'spark s':>8}  result")
    for entry in results:
        rows = f"{entry['rows'][0]}/{entry['rows'][1]}"
        duck_s = f"{entry['duckdb_s']:.2f}" if "duckdb_s" in entry else "-"
        spark_s = f"{entry['spark_s']:.2f}" if "spark_s" in entry else "-"
        print(
            f"{entry['rule'][:45]:45} {entry['now'][:26]:26} {rows:16} {duck_s:>7} {spark_s:>8}  {entry['status']}"
        )
    same = sum(1 for e in results if e["status"].startswith("identical"))
    print(f"\n{same}/{len(results)} identical")
    return 0 if same == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
