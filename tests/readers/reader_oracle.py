"""An independent oracle for the reader tests: where each third-party record must go.

The oracle reads the third-party files with the standard ``json`` module and decides, from the
datasets README and the reference's category table, which table each record belongs in. It
shares no code with the readers, so the dataset tests check the readers against facts.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from entrawatch import schema
from entrawatch.readers import IngestReport
from entrawatch.warehouse import DuckDBWarehouse

FIXTURES = Path(__file__).parent / "fixtures"
REPO_ROOT = Path(__file__).resolve().parents[2]


def find_datasets() -> Path:
    """``../shared/datasets`` beside the checkout (as tests/conftest.py looks for it)."""
    for base in (REPO_ROOT.parent, REPO_ROOT.parent.parent):
        if (base / "shared" / "datasets").is_dir():
            return base / "shared" / "datasets"
    pytest.fail("../shared/datasets is missing: the reader tests need the third-party samples")


def readme_counts(datasets: Path) -> dict[str, tuple[int, int]]:
    """``{relative path: (records, unparseable lines)}`` from the datasets README table."""
    result = {}
    for match in re.finditer(r"^\| `([^`]+)` \| (\d+)(?: \(\+(\d+) unparseable\))? \|$",
                             (datasets / "README.md").read_text("utf-8"), re.M):
        result[match.group(1)] = (int(match.group(2)), int(match.group(3) or 0))
    return result


def load_records(path: Path) -> list[dict] | None:
    """Records of a dataset file (JSON lines, a document, ``value``/``records`` pages); None if invalid."""
    text = path.read_text("utf-8")
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        try:
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError:
            return None
    if isinstance(doc, list):
        return doc
    for key in ("records", "value"):
        if isinstance(doc.get(key), list):
            return doc[key]
    return [doc]


#: Categories without a schema here, and the Log Analytics table each lands in (entra-logs.md 3.1).
OTHER_CATEGORIES = {"RiskyUsers": "AADRiskyUsers", "UserRiskEvents": "AADUserRiskEvents",
                    "ProvisioningLogs": "AADProvisioningLogs"}


@dataclass
class Expected:
    """Per table: records read, records with an id (stored or duplicate), records quarantined."""

    read: Counter = field(default_factory=Counter)
    keyed: Counter = field(default_factory=Counter)
    quarantined: Counter = field(default_factory=Counter)
    ids: dict[str, list[str]] = field(default_factory=dict)


def table_of(rel: str, rec: dict) -> tuple[str | None, str, str | None]:
    """(table or None if it must be quarantined, report key, record id) for one dataset record."""
    if "category" in rec and ("properties" in rec or "time" in rec):
        table = schema.CATEGORY_TO_TABLE.get(rec["category"])
        return table, table or OTHER_CATEGORIES.get(rec["category"], rec["category"]), (rec.get("properties") or {}).get("id")
    if "Type" in rec or "TimeGenerated" in rec:
        table = rec.get("Type") if rec.get("Type") in schema.tables() else (
            "AuditLogs" if "ActivityDateTime" in rec else schema.CATEGORY_TO_TABLE.get(rec.get("Category")))
        return table, table or "(unknown)", rec.get("Id")
    # Graph documentation examples: the API page names the resource.
    page = rel.rsplit("/", 1)[-1]
    table = "SigninLogs" if page.startswith("signin-") else "AuditLogs" if page.startswith("directoryaudit-") else None
    return table, table or "(unknown)", rec.get("id")


def expected_for(rel: str, records: list[dict]) -> Expected:
    """Where each record of a dataset file must go, decided from facts independent of the readers."""
    out = Expected()
    for rec in records:
        table, key, record_id = table_of(rel, rec)
        out.read[key] += 1
        if table is not None and record_id:
            out.keyed[key] += 1
            out.ids.setdefault(key, []).append(record_id)
        else:
            out.quarantined[key] += 1
    return out


@dataclass
class Ingested:
    warehouse: DuckDBWarehouse
    report: IngestReport
    again: IngestReport
    datasets: Path


def rows(warehouse, sql: str, params: list | None = None) -> list[dict]:
    return warehouse.query(sql, params).to_pylist()
