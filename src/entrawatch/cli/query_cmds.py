"""``entrawatch query``: run a KQL query against the warehouse, or show the SQL it compiles to.

A thin face over :mod:`entrawatch.kql`: parse arguments, call ``kql.run``/``kql.compile``, render.
The DuckDB file is opened read-only so ad-hoc queries can run beside ingestion.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import sys
from datetime import UTC, date, datetime, timedelta
from typing import Any

import typer

from entrawatch.errors import EntrawatchError


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _timespan_text(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _timespan_text(value: timedelta) -> str:
    """Kusto's timespan text: [-][d.]hh:mm:ss[.fffffff]."""
    micros = value // timedelta(microseconds=1)
    sign = "-" if micros < 0 else ""
    micros = abs(micros)
    days, rem = divmod(micros, 86_400_000_000)
    hours, rem = divmod(rem, 3_600_000_000)
    minutes, rem = divmod(rem, 60_000_000)
    seconds, frac = divmod(rem, 1_000_000)
    text = f"{sign}{f'{days}.' if days else ''}{hours:02}:{minutes:02}:{seconds:02}"
    return text + (f".{frac * 10:07}" if frac else "")


def _rows(table: Any, columns: dict[str, str]) -> list[dict[str, Any]]:
    """Arrow rows as dicts; dynamic columns decoded so JSON output nests them."""
    rows = table.to_pylist()
    dynamic = [name for name, kql_type in columns.items() if kql_type == "dynamic"]
    for row in rows:
        for name in dynamic:
            if isinstance(row.get(name), str):
                with contextlib.suppress(ValueError):
                    row[name] = json.loads(row[name])
    return rows


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), default=_json_default)
    if isinstance(value, datetime | timedelta | date):
        return str(_json_default(value))
    return str(value)


def _parse_now(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(f"--now must be an ISO-8601 time, not {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _render(rows: list[dict[str, Any]], names: list[str], fmt: str) -> None:
    if fmt == "json":
        typer.echo(json.dumps(rows, default=_json_default, ensure_ascii=False))
        return
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(names)
        for row in rows:
            writer.writerow([_cell_text(row.get(n)) for n in names])
        sys.stdout.write(buffer.getvalue())
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(show_lines=False)
    for name in names:
        table.add_column(name, overflow="fold")
    for row in rows:
        # Values come from logs (user agents, UPNs): Text cells are never parsed as Rich markup.
        table.add_row(*[Text(_cell_text(row.get(n))) for n in names])
    Console().print(table)
    typer.echo(f"{len(rows)} row(s)", err=True)


def register(app: typer.Typer) -> None:
    """Add ``entrawatch query`` to the app."""

    @app.command("query")
    def query(
        kql: str = typer.Argument(..., help="The KQL query (quote it for the shell)."),
        db: str = typer.Option("entrawatch.duckdb", "--db", help="DuckDB warehouse file (opened read-only)."),
        fmt: str = typer.Option("table", "--format", help="Output format: table, json or csv."),
        now: str | None = typer.Option(None, "--now", help="Bind now()/ago() to this ISO time (default: now)."),
        show_sql: bool = typer.Option(False, "--show-sql", help="Print the compiled SQL instead of running it."),
        dialect: str = typer.Option("duckdb", "--dialect", help="SQL dialect for --show-sql: duckdb or spark."),
    ) -> None:
        """Run a KQL query over the warehouse (Kusto column names), or print its SQL."""
        from entrawatch import kql as kql_engine
        from entrawatch.schema import kql_schema
        from entrawatch.warehouse import DuckDBWarehouse

        if fmt not in ("table", "json", "csv"):
            raise typer.BadParameter("--format must be table, json or csv")
        if dialect not in ("duckdb", "spark"):
            raise typer.BadParameter("--dialect must be duckdb or spark")
        bound = _parse_now(now)
        if show_sql and dialect == "spark":
            typer.echo(kql_engine.compile(kql, kql_schema(), "spark", bound))
            return
        from pathlib import Path

        if show_sql and not Path(db).exists():
            typer.echo(kql_engine.compile(kql, kql_schema(), dialect, bound))
            return
        if not Path(db).exists():
            raise EntrawatchError(f"warehouse {db} does not exist; run 'entrawatch ingest' first")
        with DuckDBWarehouse(db, read_only=True) as warehouse:
            if show_sql:
                typer.echo(kql_engine.compile(kql, warehouse, dialect, bound))
                return
            from entrawatch.kql.api import conform, warehouse_probe

            # the probe lets evaluate bag_unpack() find its columns in the data, as kql.run() does
            compiled = kql_engine.compile_query(kql, warehouse, "duckdb", bound, probe=warehouse_probe(warehouse))

            table = conform(warehouse.query(compiled.sql), compiled.columns)
            _render(_rows(table, compiled.columns), list(compiled.columns), fmt)
