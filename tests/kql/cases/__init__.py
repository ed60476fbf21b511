"""The KQL case table: one row per behaviour, run on DuckDB and Spark (see tests/kql/harness.py)."""

from __future__ import annotations

import importlib
import pkgutil

from tests.kql.harness import Case


def all_cases() -> list[Case]:
    """Every ``CASES`` list of the modules in this package, ids checked unique."""
    cases: list[Case] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name == "tables":
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        cases.extend(getattr(module, "CASES", []))
    ids = [c.id for c in cases]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise ValueError(f"duplicate case ids: {sorted(duplicates)}")
    return cases
