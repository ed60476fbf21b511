"""Simulator throughput and memory: events/s written, peak RSS, bytes and per-stream volumes.

    .venv/bin/python benchmarks/simulate.py                  # ~1M events, diagnostic shape
    .venv/bin/python benchmarks/simulate.py --events 10000000 --out /tmp/sim10m
    .venv/bin/python benchmarks/simulate.py --events 200000 --format graph --keep
    .venv/bin/python benchmarks/simulate.py --events 10000000 --discard   # no disk: 10M events are ~45 GB

The tenant size is derived from --events (about 50 events per user-day over --days). Reported rates: wall
clock (what you wait for, includes disk and other processes) and CPU time (the generator's own cost). Output
is deleted afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from entrawatch.simulator import FORMATS, SimulationConfig, simulate

EVENTS_PER_USER_DAY = 47.0  # measured on the default scenario mix; only used to size the tenant


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="approximate number of events to write")
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--format", choices=FORMATS, default="diagnostic")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=None, help="output directory (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the output")
    parser.add_argument("--discard", action="store_true",
                        help="serialize every event but write no log file (measures the generator, not the disk)")
    args = parser.parse_args(argv)

    users = max(20, round(args.events / (EVENTS_PER_USER_DAY * args.days)))
    out = args.out or Path(tempfile.mkdtemp(prefix="entrawatch-sim-"))
    config = SimulationConfig(users=users, days=args.days, seed=args.seed, format=args.format)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    last = [wall0]

    def progress(done: int, total: int, events: int) -> None:
        now = time.perf_counter()
        if now - last[0] > 30:
            last[0] = now
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"  {done}/{total} hours, {events:,} events, {now - wall0:,.0f} s wall, "
                  f"{time.process_time() - cpu0:,.0f} s cpu, peak RSS {rss:,.0f} MB", file=sys.stderr, flush=True)

    result = simulate(config, out, progress=progress, discard=args.discard)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    size = result.bytes_written
    total = result.total
    print(f"format          {args.format}")
    print(f"tenant          {users:,} users, {args.days} days, seed {args.seed}")
    print(f"events          {total:,}")
    for table, count in result.counts.items():
        print(f"  {table:<33} {count:>12,}  {100 * count / total:5.1f} %")
    ratio = result.counts["AADNonInteractiveUserSignInLogs"] / max(1, result.counts["SigninLogs"])
    print(f"non-interactive / interactive  {ratio:.1f}")
    print(f"wall            {wall:,.1f} s   {total / wall:,.0f} events/s")
    print(f"cpu             {cpu:,.1f} s   {total / cpu:,.0f} events/s (process CPU time)")
    print(f"written         {size / 1e9:,.2f} GB   {size / total:,.0f} bytes/event   {size / wall / 1e6:,.0f} MB/s")
    print(f"peak RSS        {peak_mb:,.0f} MB")
    if not args.keep:
        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
