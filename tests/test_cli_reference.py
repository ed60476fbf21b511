"""docs/cli.md is generated from --help; this fails when a command changes and the page was not regenerated."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_cli_reference_is_current():
    generated = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_cli_reference.py")],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout
    committed = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert generated == committed, "docs/cli.md is stale: run `python scripts/gen_cli_reference.py > docs/cli.md`"
