"""Compare results across engines, and copy a warehouse's tables into another one.

Shared by ``benchmarks/spark_parity.py`` and the rule-level parity test: rule results must be the
same on DuckDB and Spark, and "the same" needs one definition. Row order is compared only when
the query defines it; JSON arrays built by ``make_set``/``make_list`` may legitimately list their
items in another order (Kusto leaves it open), which is reported as its own verdict rather than
hidden.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
from sqlglot import exp

from entrawatch import schema
from entrawatch.warehouse.base import AppendResult, Warehouse

IDENTICAL = "identical"
IDENTICAL_UP_TO_ARRAY_ORDER = "identical up to array order"


def _row_key(row: dict[str, Any]) -> str:
    return json.dumps(row, default=str, sort_keys=True)


def _sorted_arrays(value: Any) -> Any:
    """A JSON array text with its items in a canonical order; anything else unchanged."""
    if isinstance(value, str) and value[:1] == "[":
        try:
            items = json.loads(value)
        except ValueError:
            return value
        if isinstance(items, list):
            return json.dumps(
                sorted(items, key=lambda item: json.dumps(item, sort_keys=True)), sort_keys=True
            )
    return value


def compare_results(expected: pa.Table, actual: pa.Table, *, ordered: bool = False) -> str:
    """``identical``, ``identical up to array order``, or ``DIFFERENT: <first difference>``.

    Types are part of the verdict: the same values typed differently are reported as different.
    """
    if expected.schema.names != actual.schema.names:
        return f"DIFFERENT: columns {expected.schema.names} vs {actual.schema.names}"
    mismatched = [
        f"{name}: {a} vs {b}"
        for name, a, b in zip(expected.schema.names, expected.schema.types, actual.schema.types, strict=True)
        if a != b
    ]
    if mismatched:
        return f"DIFFERENT: types {'; '.join(mismatched)}"
    if expected.num_rows != actual.num_rows:
        return f"DIFFERENT: {expected.num_rows} rows vs {actual.num_rows}"
    left, right = expected.to_pylist(), actual.to_pylist()
    if not ordered:
        left, right = sorted(left, key=_row_key), sorted(right, key=_row_key)
    if left == right:
        return IDENTICAL

    def loose(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        canonical = [{k: _sorted_arrays(v) for k, v in row.items()} for row in rows]
        return canonical if ordered else sorted(canonical, key=_row_key)

    if loose(left) == loose(right):
        return IDENTICAL_UP_TO_ARRAY_ORDER
    for index, (a, b) in enumerate(zip(left, right, strict=True)):
        if a != b:
            diff = {k: [a[k], b[k]] for k in a if a[k] != b[k]}
            return f"DIFFERENT: row {index}: {json.dumps(diff, default=str)[:300]}"
    return "DIFFERENT"  # pragma: no cover - unreachable: equal rows were handled above


def copy_tables(
    source: Warehouse, target: Warehouse, *, batch_rows: int = 200_000
) -> dict[str, AppendResult]:
    """Append every canonical table of ``source`` to ``target`` (idempotent through the key).

    The rows travel as Arrow shaped by the canonical schema, so both warehouses hold the same
    data whatever produced it.
    """
    known = schema.tables()
    results = {}
    for name in source.catalog():
        if name not in known:
            continue
        identifier = exp.to_identifier(name, quoted=True).sql(dialect=source.dialect)
        rows = source.query(f"SELECT * FROM {identifier}").cast(known[name].arrow_schema())
        results[name] = target.append(name, rows.to_batches(max_chunksize=batch_rows))
    return results


def _parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def rule_evaluation_times(rule: dict[str, Any], truth: dict[str, Any], *, limit: int = 3) -> list[datetime]:
    """Fixed ``now`` values to evaluate a rule at over simulated data.

    The hour after the end of each simulator scenario the rule names (``entrawatch.scenarios``),
    so the rule's window holds the attack and the comparison covers non-empty results, then the
    end of the simulation. At most ``limit`` values, earliest first.
    """
    wanted = set((rule.get("entrawatch") or {}).get("scenarios") or [])
    nows = []
    for scenario in truth.get("scenarios", []):
        if scenario.get("id") in wanted and scenario.get("end"):
            end = _parse_time(scenario["end"])
            nows.append(end.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1))
    chosen = sorted(set(nows))[: max(limit - 1, 1)]
    return sorted({*chosen, _parse_time(truth["end"])})[:limit]
