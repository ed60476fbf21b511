"""Loads the case table: every ``CASES`` list in tests/kql/cases/*.py (ids must be unique)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from kql_harness import Case

CASES_DIR = Path(__file__).parent / "cases"


def _load(path: Path) -> object:
    spec = importlib.util.spec_from_file_location(f"kql_cases_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shared_tables() -> dict[str, dict]:
    return _load(CASES_DIR / "tables.py").SHARED  # type: ignore[attr-defined]


def all_cases() -> list[Case]:
    cases: list[Case] = []
    for path in sorted(CASES_DIR.glob("*.py")):
        if path.stem == "tables":
            continue
        cases.extend(getattr(_load(path), "CASES", []))
    ids = [c.id for c in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"duplicate case ids: {duplicates}")
    return cases
