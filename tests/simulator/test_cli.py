"""``entrawatch simulate`` end to end through the CLI entry point."""

from __future__ import annotations

import csv
from pathlib import Path

import orjson
from typer.testing import CliRunner

from entrawatch.cli import app, main


def test_simulate_command_writes_logs_truth_and_threat_intel(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["simulate", "--users", "20", "--days", "1", "--seed", "4",
                                      "--scenarios", "password_spray,mfa_fatigue", "--format", "graph",
                                      "--start", "2025-06-02T00:00:00Z", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "truth.json" in result.output
    truth = orjson.loads((out / "truth.json").read_bytes())
    assert [s["id"] for s in truth["scenarios"]] == ["password_spray", "mfa_fatigue"]
    assert truth["start"] == "2025-06-02T00:00:00Z" and truth["format"] == "graph"
    pages = sorted((out / "graph" / "signIns-interactiveUser").glob("page-*.json"))
    assert pages and orjson.loads(pages[0].read_bytes())["value"]
    with open(out / "threat_intel.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    spray_ip = truth["scenarios"][0]["entities"]["ips"][0]
    assert any(r["value"] == spray_ip for r in rows)


def test_no_benign_lookalikes_flag(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["simulate", "--users", "20", "--days", "1", "--no-benign-lookalikes",
                                      "--quiet", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    labels = {s["label"] for s in orjson.loads((tmp_path / "truth.json").read_bytes())["scenarios"]}
    assert labels == {"attack"}


def test_bad_arguments_exit_1_with_one_line(tmp_path: Path, capsys) -> None:
    assert main(["simulate", "--users", "20", "--days", "1", "--scenarios", "no_such_thing", "--out",
                 str(tmp_path)]) == 1
    assert "unknown scenario id(s): no_such_thing" in capsys.readouterr().err
    assert main(["simulate", "--format", "xml", "--out", str(tmp_path)]) == 1
