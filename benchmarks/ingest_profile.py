"""Where a real ingest's CPU goes, statement by statement, with the engine's own workers.

``ingest_breakdown.py`` times each SQL step alone on one thread. This one runs the real
``ingest_paths`` on the benchmark's generated file (two workers, as shipped) and adds up the CPU
time of every statement on the thread that ran it (``time.thread_time``: each worker runs its
statements on one DuckDB thread, its own). Statements are grouped by kind (stage, normalize,
each table's insert, commit). The rest of the process's CPU is Python: framing, counting,
threads. It prints the groups, the wall time and the process's CPU.

    .venv/bin/python benchmarks/ingest_profile.py --size-mb 1024
    .venv/bin/python benchmarks/ingest_profile.py --input /path/to/PT1H.json
"""

from __future__ import annotations

import argparse
import collections
import tempfile
import threading
import time
from pathlib import Path

from ingest import write_input

from entrawatch.readers import ingest_paths
from entrawatch.readers import normalize as normalize_module
from entrawatch.warehouse import DuckDBWarehouse

_KINDS = (
    ("CREATE OR REPLACE TEMP TABLE _ew_stage", "stage (lines, routing parse, temp table)"),
    ("SELECT * REPLACE", "normalize (JSON transform, conversions, _Extra, Arrow export)"),
    ("SELECT _file, line, idx, raw, agg FROM _ew_stage", "staged rows fetched for the C pass"),
    ("INSERT INTO \"_Quarantine\"", "quarantine inserts"),
    ("INSERT INTO", "inserts"),
    ("COMMIT", "commit"),
)


def _kind(sql: str) -> str:
    text = sql.lstrip()
    for prefix, name in _KINDS:
        if text.startswith(prefix):
            return name
    return "other statements"


class StatementClock:
    """Wraps the normalizer's statement helpers to add up CPU per kind of statement."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = collections.defaultdict(float)
        self.count: dict[str, int] = collections.defaultdict(int)
        self._lock = threading.Lock()

    def wrap(self, name: str) -> None:
        inner = getattr(normalize_module, name)

        def timed(con, *args, **kwargs):
            sql = next(a for a in args if isinstance(a, str))
            start = time.thread_time()
            try:
                return inner(con, *args, **kwargs)
            finally:
                with self._lock:
                    self.cpu[_kind(sql)] += time.thread_time() - start
                    self.count[_kind(sql)] += 1

        setattr(normalize_module, name, timed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--input", type=Path, help="ingest this file instead of a generated one")
    parser.add_argument("--workdir", help="where to write the input and the database (default: a temp dir)")
    args = parser.parse_args()
    clock = StatementClock()
    for name in ("_run", "_arrow", "_run_over", "_arrow_over"):
        clock.wrap(name)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        source = args.input
        if source is None:
            source = Path(tmp) / "PT1H.json"
            records = write_input(source, args.size_mb)
            print(f"input: {records:,} records, {source.stat().st_size / 1e6:,.0f} MB")
        wall, cpu = time.perf_counter(), time.process_time()
        with DuckDBWarehouse(Path(tmp) / "ew.duckdb") as warehouse:
            report = ingest_paths([source], warehouse)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"ingest: {report.totals.read:,} records in {wall:.1f} s wall, {cpu:.1f} s CPU")
    for kind, seconds in sorted(clock.cpu.items(), key=lambda item: -item[1]):
        print(f"  {seconds:6.2f} s CPU  {clock.count[kind]:5d} statements  {kind}")
    rest = cpu - sum(clock.cpu.values())
    print(f"  {rest:6.2f} s CPU  outside statements (framing in Python, counting, threads)")


if __name__ == "__main__":
    main()
