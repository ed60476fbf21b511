"""Ingest benchmark: entrawatch vs DuckDB's own ``read_json`` on the same diagnostic-settings file.

Writes ``--size-mb`` (default 1024) of diagnostic-settings JSON lines built from the real
DataDog/Elastic samples (every record gets fresh ids), then runs two child processes on it:

1. ``entrawatch`` ingest (``ingest_paths`` into a fresh DuckDB file);
2. the reference: ``CREATE TABLE t AS SELECT * FROM read_json(file, format='newline_delimited')``
   into a fresh DuckDB file.

``--files N`` splits the same records into N files of consecutive lines (like a storage export's
one ``PT1H.json`` per hour): entrawatch ingests the directory, the reference reads the glob.
``--category C`` writes records of one diagnostic category only, as a real ``PT1H.json`` holds.
``--documents`` (with ``--files``) writes each file as one ``{"records":[...]}`` document instead, as
Event Hub messages and pre-2018 blobs are; the reference then reads them with ``format='auto'``
(one row per document holding its records; with ``maximum_object_size`` raised to the largest
file when a document exceeds read_json's default 16 MB).

Each child is measured from the parent (wall time, and peak RSS through ``resource.getrusage``
of the waited-for child), so the figures include interpreter start-up and are honest. Prints
records/s, MB/s, peak RSS and the entrawatch/reference ratio.

    .venv/bin/python benchmarks/ingest.py --size-mb 200
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLES = [
    "datadog-forwarder/sign_in_logs.json",
    "datadog-forwarder/non_interactive_user_sign_in_logs.json",
    "datadog-forwarder/service_principal_sign_in_logs.json",
    "datadog-forwarder/managed_identity_sign_in_logs.json",
    "datadog-forwarder/audit_logs.json",
]

_CHILD_ENTRAWATCH = """
import sys
if sys.argv[4] != "-":
    sys.path.insert(0, sys.argv[4])  # --baseline-src: another checkout's src/
from entrawatch.readers import ingest_paths
from entrawatch.warehouse import DuckDBWarehouse
wh = DuckDBWarehouse(sys.argv[2])
report = ingest_paths([sys.argv[1]], wh, workers=int(sys.argv[3]) if sys.argv[3] != "default" else None)
t = report.totals
print(t.read, t.inserted, t.duplicates, t.quarantined)
wh.close()
"""

_CHILD_REFERENCE = """
import sys, duckdb
con = duckdb.connect(sys.argv[2])
con.execute("SET enable_progress_bar = false").fetchall()
if sys.argv[4] == "-":
    con.execute("CREATE TABLE t AS SELECT * FROM read_json(?, format=?)", [sys.argv[1], sys.argv[3]]).fetchall()
else:  # documents larger than read_json's default 16 MB object limit
    con.execute("CREATE TABLE t AS SELECT * FROM read_json(?, format=?, maximum_object_size=?)",
                [sys.argv[1], sys.argv[3], int(sys.argv[4])]).fetchall()
print(con.execute("SELECT count(*) FROM t").fetchall()[0][0])
"""


def _datasets() -> Path:
    for base in (HERE.parent.parent / "shared", HERE.parent.parent.parent / "shared"):
        if (base / "datasets").is_dir():
            return base / "datasets"
    sys.exit("../shared/datasets not found")


def write_input(path: Path, size_mb: int, seed: int = 7, category: str | None = None) -> int:
    """Write ~size_mb of JSON lines (records ~4 KB like the samples, ids varied). Returns records.

    ``category``: only records of that diagnostic category (a real ``PT1H.json`` holds one)."""
    rng = random.Random(seed)
    templates = []
    for rel in SAMPLES:
        for line in (_datasets() / rel).read_text("utf-8").splitlines():
            record = json.loads(line) if line.strip() else None
            if record is not None and (category is None or record.get("category") == category):
                templates.append(record)
    if not templates:
        sys.exit(f"no sample record of category {category!r}")
    target = size_mb << 20
    written = records = 0
    with path.open("w", encoding="utf-8") as out:
        while written < target:
            record = rng.choice(templates)
            props = dict(record["properties"])
            new_id = str(uuid.UUID(int=rng.getrandbits(128)))
            props["id"] = new_id
            props["correlationId"] = str(uuid.UUID(int=rng.getrandbits(128)))
            record = {**record, "properties": props, "correlationId": props["correlationId"]}
            line = json.dumps(record, separators=(",", ":")) + "\n"
            out.write(line)
            written += len(line)
            records += 1
    return records


def split_input(data: Path, files: int, into: Path, documents: bool = False) -> None:
    """Spread the lines of ``data`` over ``files`` files of consecutive lines in ``into``; with
    ``documents``, each file is one ``{"records":[...]}`` document of those records."""
    into.mkdir()
    lines = sum(1 for _ in data.open("rb"))
    per_file = -(-lines // files)
    with data.open("rb") as src:
        for n in range(files):
            with (into / f"PT{n:05d}.json").open("wb") as out:
                chunk = [line.rstrip(b"\n") for _, line in zip(range(per_file), src, strict=False)]
                if documents:
                    out.write(b'{"records":[' + b",".join(chunk) + b"]}\n")
                else:
                    out.writelines(line + b"\n" for line in chunk)


def run_child(code: str, *args: str) -> tuple[float, float, float, str]:
    """(wall seconds, CPU seconds, peak RSS in MB, last stdout line) of a child Python process.

    ``os.wait4`` returns the resource usage of exactly that child, so each figure is its own.
    CPU seconds (user + system) are reported too: on a shared, loaded machine they vary far
    less than wall time, so the CPU ratio is the steadier comparison.
    """
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            sys.exit(f"child failed:\n{err.read()}")
        lines = out.read().strip().splitlines()
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, cpu, usage.ru_maxrss / 1024, lines[-1] if lines else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--workdir", default=None, help="where to write the input (default: a temp dir)")
    parser.add_argument("--workers", default="default",
                        help="chunks prepared at once (ingest_paths workers=; default: DuckDB's thread count)")
    parser.add_argument("--baseline-src", default=None,
                        help="also run entrawatch from this src/ directory (e.g. a worktree of an older commit) "
                             "in every round, alternated, and print its time: an A/B on the same machine state")
    parser.add_argument("--files", type=int, default=1,
                        help="split the input into this many files (many small files, as storage exports are)")
    parser.add_argument("--category", default=None,
                        help="only records of this diagnostic category, e.g. NonInteractiveUserSignInLogs "
                             "(default: the five categories mixed, as an Event Hub stream carries them)")
    parser.add_argument("--documents", action="store_true",
                        help="with --files: write each file as one {\"records\":[...]} document (Event Hub messages)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="alternate reference and entrawatch runs this many times; report each and the median ratio")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        data = work / "PT1H.json"
        t0 = time.perf_counter()
        records = write_input(data, args.size_mb, category=args.category)
        size_mb = data.stat().st_size / (1 << 20)
        ew_input = ref_input = data
        if args.documents and args.files < 2:
            sys.exit("--documents needs --files N (N >= 2)")
        if args.files > 1:
            split_input(data, args.files, work / "export", documents=args.documents)
            data.unlink()
            ew_input, ref_input = work / "export", work / "export" / "*.json"
        json_format = "auto" if args.documents else "newline_delimited"
        largest = max(p.stat().st_size for p in ([ew_input] if ew_input.is_file() else ew_input.rglob("*")) if p.is_file())
        object_limit = str(largest + 1) if args.documents and largest >= 16 << 20 else "-"
        kind = "records documents" if args.documents else "JSON-lines file(s)"
        print(f"input: {records:,} records, {size_mb:,.0f} MB in {args.files:,} {kind} "
              f"({time.perf_counter() - t0:.1f} s to write); workers={args.workers}")
        ratios: list[tuple[float, float]] = []
        for run in range(args.repeat):
            for name in ("ref.duckdb", "ew.duckdb"):
                (work / name).unlink(missing_ok=True)
            load = os.getloadavg()[0]
            ref_s, ref_cpu, ref_rss, ref_out = run_child(_CHILD_REFERENCE, str(ref_input), str(work / "ref.duckdb"),
                                                         json_format, object_limit)
            ew_s, ew_cpu, ew_rss, ew_out = run_child(_CHILD_ENTRAWATCH, str(ew_input), str(work / "ew.duckdb"),
                                                     args.workers, "-")
            if args.baseline_src:
                (work / "base.duckdb").unlink(missing_ok=True)
                base_s, base_cpu, base_rss, _ = run_child(_CHILD_ENTRAWATCH, str(ew_input), str(work / "base.duckdb"),
                                                          args.workers, str(Path(args.baseline_src).resolve()))
                (work / "base.duckdb").unlink(missing_ok=True)
            read, inserted, dups, quarantined = (int(x) for x in ew_out.split())
            if read != records or inserted + dups + quarantined != read:
                sys.exit(f"entrawatch counts do not reconcile: {ew_out} for {records} records")
            print(f"run {run + 1}, load average {load:.1f}")
            print(f"  reference read_json : {ref_s:7.1f} s  {records / ref_s:10,.0f} records/s  "
                  f"{size_mb / ref_s:7.1f} MB/s  CPU {ref_cpu:6.1f} s  peak RSS {ref_rss:,.0f} MB  ({ref_out} rows)")
            print(f"  entrawatch ingest   : {ew_s:7.1f} s  {records / ew_s:10,.0f} records/s  "
                  f"{size_mb / ew_s:7.1f} MB/s  CPU {ew_cpu:6.1f} s  peak RSS {ew_rss:,.0f} MB  "
                  f"(inserted {inserted:,}, duplicates {dups:,}, quarantined {quarantined:,})")
            print(f"  ratio entrawatch/reference: {ref_s / ew_s:.2f}x wall, {ref_cpu / ew_cpu:.2f}x CPU")
            if args.baseline_src:
                print(f"  baseline ({args.baseline_src}): {base_s:7.1f} s  CPU {base_cpu:6.1f} s  "
                      f"peak RSS {base_rss:,.0f} MB  -> this tree takes {ew_s / base_s:.2f}x its wall time")
            ratios.append((ref_s / ew_s, ref_cpu / ew_cpu))
        walls = sorted(r[0] for r in ratios)
        cpus = sorted(r[1] for r in ratios)
        print(f"median ratio over {len(ratios)} run(s): {walls[len(walls) // 2]:.2f}x wall (records/s), "
              f"{cpus[len(cpus) // 2]:.2f}x CPU  (goal >= 0.8x); cpus={os.cpu_count()}, "
              f"load average now {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
