"""``entrawatch ingest``, ``stats`` and ``quarantine``: thin faces over readers and stats.

Exit codes: ``ingest`` returns 0 unless a file is unreadable, or ``--strict`` and something was
quarantined: then it raises ReaderError after printing the report, which cli.main prints as one
line before exiting 1 (as for bad ``--shape``/``--table``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text  # log-derived text is never parsed as Rich markup

from entrawatch.errors import ReaderError
from entrawatch.readers import SHAPES, IngestReport, ingest_paths
from entrawatch.stats import compute_stats, quarantine_reasons
from entrawatch.warehouse import DEFAULT_DB, open_warehouse

DbOption = Annotated[Path, typer.Option("--db", help="DuckDB database file.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print as JSON.")]


def _print_report(report: IngestReport, console: Console) -> None:
    table = Table(title="ingested")
    for name in ("table", "read", "inserted", "duplicates", "quarantined"):
        table.add_column(name, justify="left" if name == "table" else "right")
    for name, counts in report.per_table.items():
        table.add_row(name, *(f"{v:,}" for v in counts.as_dict().values()))
    totals = report.totals
    table.add_row("total", *(f"{v:,}" for v in totals.as_dict().values()), style="bold")
    console.print(table)
    rate = f" ({totals.read / report.seconds:,.0f} records/s)" if report.seconds >= 1 else ""
    console.print(f"{totals.read:,} records from {len(report.files):,} file(s) in {report.seconds:.1f} s{rate}")
    for file_report in report.unreadable:
        console.print(Text.assemble(("unreadable ", "red"), f"{file_report.path}: {file_report.error}"))
    if totals.quarantined:
        console.print(f"{totals.quarantined:,} records quarantined: see `entrawatch quarantine`")


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories (gzip and zip are read too).")],
    db: DbOption = Path(DEFAULT_DB),
    shape: Annotated[str | None, typer.Option("--shape", help=f"Skip detection: {', '.join(SHAPES)}.")] = None,
    table: Annotated[str | None, typer.Option("--table", help="Force the target table of every record.")] = None,
    as_json: JsonOption = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 if any record was quarantined.")] = False,
) -> None:
    """Read Entra ID logs in any supported shape into the warehouse (idempotent)."""
    warehouse = open_warehouse(str(db))
    try:
        report = ingest_paths(paths, warehouse, shape=shape, table=table,
                              progress=not as_json and sys.stderr.isatty())
    finally:
        warehouse.close()
    if as_json:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        _print_report(report, Console())
    # cli.main turns an EntrawatchError into one line on stderr and exit code 1.
    if report.unreadable:
        first = report.unreadable[0]
        raise ReaderError(f"{len(report.unreadable)} file(s) unreadable; first: {first.error}", path=first.path)
    if strict and report.totals.quarantined:
        raise ReaderError(f"{report.totals.quarantined:,} records quarantined (--strict)")


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value is not None else ""  # type: ignore[attr-defined]


def stats(db: DbOption = Path(DEFAULT_DB), as_json: JsonOption = False) -> None:
    """Rows per table, time span, and sign-ins per stream per day."""
    warehouse = open_warehouse(str(db), read_only=db.exists())
    try:
        result = compute_stats(warehouse)
    finally:
        warehouse.close()
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
        return
    console = Console()
    tables = Table(title="tables")
    for name in ("table", "rows", "aggregated", "first", "last"):
        tables.add_column(name)
    for item in result.tables:
        tables.add_row(item.table, f"{item.rows:,}", f"{item.aggregated:,}", _when(item.first), _when(item.last))
    console.print(tables)
    if result.signins_per_day:
        streams = sorted({s for counts in result.signins_per_day.values() for s in counts})
        per_day = Table(title="sign-ins per stream per day")
        per_day.add_column("day")
        for stream in streams:
            per_day.add_column(stream, justify="right")
        for day, counts in sorted(result.signins_per_day.items()):
            per_day.add_row(day.isoformat(), *(f"{counts.get(s, 0):,}" for s in streams))
        console.print(per_day)
    console.print(f"quarantined records: {result.quarantined:,}")


def quarantine(
    db: DbOption = Path(DEFAULT_DB),
    as_json: JsonOption = False,
    examples: Annotated[int, typer.Option("--examples", help="Locations shown per reason.")] = 3,
) -> None:
    """Why records were quarantined: counts by reason, with file and record."""
    warehouse = open_warehouse(str(db), read_only=db.exists())
    try:
        reasons = quarantine_reasons(warehouse, examples=examples)
    finally:
        warehouse.close()
    if as_json:
        typer.echo(json.dumps([r.as_dict() for r in reasons], indent=2))
        return
    if not reasons:
        typer.echo("nothing quarantined")
        return
    console = Console()
    out = Table(title="quarantine")
    out.add_column("count", justify="right")
    out.add_column("reason")
    out.add_column("where")
    for reason in reasons:
        where = "\n".join(
            f"{f}:{line if line is not None else '-'} (record {rec}{', field ' + fld if fld else ''})"
            for f, line, rec, fld in reason.examples
        )
        out.add_row(f"{reason.count:,}", Text(reason.reason), Text(where))
    console.print(out)


def register(app: typer.Typer) -> None:
    """Add ``ingest``, ``stats`` and ``quarantine`` to the app."""
    app.command("ingest")(ingest)
    app.command("stats")(stats)
    app.command("quarantine")(quarantine)
