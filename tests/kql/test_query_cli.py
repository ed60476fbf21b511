"""CLI tests for ``entrawatch query``: exit codes and output in each format."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from entrawatch import schema
from entrawatch.cli import app
from entrawatch.warehouse import DuckDBWarehouse

runner = CliRunner()


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = tmp_path / "w.duckdb"
    with DuckDBWarehouse(path) as warehouse:
        table = schema.table("SigninLogs")
        rows = {name: [None, None] for name in table.column_names}
        rows.update({
            "Id": ["1", "2"], "UserPrincipalName": ["alice@contoso.com", "bob@contoso.com"],
            "ResultType": ["0", "50126"], "IPAddress": ["10.0.0.1", "203.0.113.9"],
            "LocationDetails": ['{"countryOrRegion":"US"}', '{"countryOrRegion":"RU"}'],
        })
        batch = pa.RecordBatch.from_pydict(rows, schema=table.arrow_schema())
        warehouse.append("SigninLogs", [batch])
    return str(path)


def test_json_output_uses_kusto_names(db: str) -> None:
    result = runner.invoke(app, ["query", "SigninLogs | where ResultType == 50126 | project UserPrincipalName, "
                                 "Country = tostring(LocationDetails.countryOrRegion)", "--db", db, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"UserPrincipalName": "bob@contoso.com", "Country": "RU"}]


def test_json_nests_dynamic_and_formats_types(db: str) -> None:
    result = runner.invoke(app, ["query", "print d = dynamic({'a': [1]}), t = 90m, n = now()", "--db", db,
                                 "--format", "json", "--now", "2025-03-10T12:00:00Z"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [{"d": {"a": [1]}, "t": "01:30:00", "n": "2025-03-10T12:00:00Z"}]


def test_csv_output(db: str) -> None:
    result = runner.invoke(app, ["query", "SigninLogs | summarize count() by ResultType | sort by ResultType asc",
                                 "--db", db, "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["ResultType,count_", "0,1", "50126,1"]


def test_table_output(db: str) -> None:
    result = runner.invoke(app, ["query", "SigninLogs | count", "--db", db])
    assert result.exit_code == 0, result.output
    assert "Count" in result.stdout and "2" in result.stdout


def test_show_sql_spark_needs_no_database(tmp_path: Path) -> None:
    result = runner.invoke(app, ["query", "SigninLogs | take 1 | project IPAddress", "--show-sql", "--dialect",
                                 "spark", "--db", str(tmp_path / "missing.duckdb")])
    assert result.exit_code == 0, result.output
    assert "`IPAddress`" in result.stdout and "LIMIT 1" in result.stdout


def test_show_sql_duckdb(db: str) -> None:
    result = runner.invoke(app, ["query", "SigninLogs | take 1", "--show-sql", "--db", db])
    assert result.exit_code == 0
    assert '"SigninLogs"' in result.stdout


def test_syntax_error_exits_1_with_position(db: str) -> None:
    from entrawatch.cli import main

    assert main(["query", "SigninLogs | where", "--db", db]) == 1


def test_missing_database_is_an_error(tmp_path: Path) -> None:
    from entrawatch.cli import main

    assert main(["query", "SigninLogs | count", "--db", str(tmp_path / "nope.duckdb")]) == 1


def test_bag_unpack_columns_come_from_the_warehouse(db: str) -> None:
    result = runner.invoke(app, ["query", "SigninLogs | project Id, LocationDetails | evaluate bag_unpack("
                                 "LocationDetails) | sort by Id asc", "--db", db, "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["Id,countryOrRegion", "1,US", "2,RU"]
