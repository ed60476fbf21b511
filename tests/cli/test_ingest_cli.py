"""``entrawatch ingest / stats / quarantine`` end to end on a temporary database."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from entrawatch.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "readers" / "fixtures"


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_ingest_json_report_then_reingest(tmp_path: Path, capsys):
    db = str(tmp_path / "ew.duckdb")
    code, out, _ = _run(capsys, "ingest", str(FIXTURES / "graph_page.json"), "--db", db, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["per_table"]["SigninLogs"] == {"read": 1, "inserted": 1, "duplicates": 0, "quarantined": 0}
    assert report["totals"]["inserted"] == 4 and report["files"][0]["shape"] == "graph"
    assert isinstance(report["seconds"], float) and report["seconds"] > 0
    code, out, _ = _run(capsys, "ingest", str(FIXTURES / "graph_page.json"), "--db", db, "--json")
    assert code == 0 and json.loads(out)["totals"] == {"read": 4, "inserted": 0, "duplicates": 4, "quarantined": 0}


def test_ingest_table_output_and_strict(tmp_path: Path, capsys):
    db = str(tmp_path / "ew.duckdb")
    code, out, _ = _run(capsys, "ingest", str(FIXTURES / "diag_pt1h.json"), "--db", db)
    assert code == 0  # quarantined records alone do not fail an ingest
    assert "SigninLogs" in out and "quarantined" in out and "entrawatch quarantine" in out
    assert re.search(r"\b\d[\d,]* records from 1 file\(s\) in \d+\.\d s", out)  # how long it took
    code, _, err = _run(capsys, "ingest", str(FIXTURES / "diag_pt1h.json"), "--db", db, "--strict")
    assert code == 1 and "quarantined (--strict)" in err
    code, _, _ = _run(capsys, "ingest", str(FIXTURES / "graph_page.json"), "--db", db, "--strict")
    assert code == 0


def test_unreadable_file_and_bad_options_exit_1(tmp_path: Path, capsys):
    db = str(tmp_path / "ew.duckdb")
    code, out, err = _run(capsys, "ingest", str(tmp_path / "nope.json"), "--db", db)
    assert code == 1 and "unreadable" in out and "no such file" in err
    code, _, err = _run(capsys, "ingest", str(FIXTURES), "--db", db, "--shape", "xml")
    assert code == 1 and "unknown shape" in err
    code, _, err = _run(capsys, "ingest", str(FIXTURES), "--db", db, "--table", "Nope")
    assert code == 1 and "unknown table" in err


def test_stats_and_quarantine(tmp_path: Path, capsys):
    db = str(tmp_path / "ew.duckdb")
    assert _run(capsys, "ingest", str(FIXTURES), "--db", db, "--json")[0] == 0
    code, out, _ = _run(capsys, "stats", "--db", db, "--json")
    assert code == 0
    stats = json.loads(out)
    by_table = {t["table"]: t for t in stats["tables"]}
    assert by_table["AADNonInteractiveUserSignInLogs"]["aggregated"] == 1
    # the aggregated Graph summary row is a row, not a sign-in event
    ni_events = sum(day.get("AADNonInteractiveUserSignInLogs", 0) for day in stats["signins_per_day"].values())
    assert ni_events == by_table["AADNonInteractiveUserSignInLogs"]["rows"] - 1
    assert stats["signins_per_day"]["2025-03-10"]["SigninLogs"] == 1
    assert stats["quarantined"] >= 4
    code, out, _ = _run(capsys, "stats", "--db", db)
    assert code == 0 and "sign-ins per stream per day" in out
    code, out, _ = _run(capsys, "quarantine", "--db", db, "--json")
    assert code == 0
    reasons = {r["reason"]: r for r in json.loads(out)}
    assert reasons["malformed JSON"]["examples"][0]["line"] == 5
    assert reasons["malformed JSON"]["examples"][0]["file"].endswith("diag_pt1h.json")
    code, out, _ = _run(capsys, "quarantine", "--db", db)
    assert code == 0 and "unsupported category RiskyUsers" in out


def test_quarantine_on_empty_database(tmp_path: Path, capsys):
    code, out, _ = _run(capsys, "quarantine", "--db", str(tmp_path / "empty.duckdb"))
    assert code == 0 and "nothing quarantined" in out
