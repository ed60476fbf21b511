"""Attacker-controlled text (UPNs, user agents, app names) is printed literally, never as Rich markup."""

from __future__ import annotations

from typer.testing import CliRunner

from entrawatch.cli import app
from entrawatch.warehouse import DuckDBWarehouse

HOSTILE = "[bold red]admin@contoso.com[/bold red] [link=http://evil.example]x[/link]"


def test_query_table_prints_markup_literally(tmp_path):
    db = tmp_path / "t.duckdb"
    with DuckDBWarehouse(db) as warehouse:
        warehouse.ensure_tables()
    result = CliRunner().invoke(app, ["query", "--db", str(db), f"print UserAgent = '{HOSTILE}'"],
                                env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert "[bold red]admin@contoso.com[/bold red]" in result.output
    assert "[link=http://evil.example]" in result.output
