"""series_decompose_anomalies(): the SQL lowering against a plain-Python reference of the documented
algorithm (kql/series.py), on seeded random series with injected spikes, on DuckDB.

The case table (cases/windows_plugins.py) runs fixed series on both engines; this test covers
many shapes (seasonal periods, trends, test points, both fence methods) cheaply in one SELECT.
"""

from __future__ import annotations

import json
import random
import statistics

import duckdb
import pytest

from entrawatch.kql import compile_query


def _quantile(values: list[float], p: float) -> float:
    s = sorted(values)
    pos = p * (len(s) - 1)
    lo, hi = int(pos // 1), int(-(-pos // 1))
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def reference(x: list[float], k: float, period: int, trend: str, test_points: int, method: str) -> tuple:
    n = len(x)
    m = n - test_points
    if period > 0:
        seasonal = [statistics.median([x[j] for j in range(m) if j % period == i % period]) for i in range(n)]
    else:
        seasonal = [0.0] * n
    d = [x[i] - seasonal[i] for i in range(n)]
    if trend == "avg":
        t = [sum(d[:m]) / m] * n
    elif trend == "linefit":
        sx, sy = sum(range(m)), sum(d[:m])
        sxx, sxy = sum(j * j for j in range(m)), sum(j * d[j] for j in range(m))
        den = m * sxx - sx * sx
        slope = (m * sxy - sx * sy) / den if den else 0.0
        intercept = (sy - slope * sx) / m
        t = [intercept + slope * i for i in range(n)]
    else:
        t = [0.0] * n
    baseline = [seasonal[i] + t[i] for i in range(n)]
    residual = [x[i] - baseline[i] for i in range(n)]
    low, high = {"ctukey": (0.1, 0.9), "tukey": (0.25, 0.75)}[method]
    q1, q3 = _quantile(residual[:m], low), _quantile(residual[:m], high)
    iqr = q3 - q1
    flags = [1 if r > q3 + k * iqr else -1 if r < q1 - k * iqr else 0 for r in residual]
    return flags, baseline


def _series(rng: random.Random, period: int) -> list[float]:
    n = rng.randint(8, 40)
    slope = rng.choice([0.0, 0.5, -0.3])
    x = [round(10 + slope * i + (3 * (i % period) if period else 0) + rng.gauss(0, 1), 3) for i in range(n)]
    for _ in range(rng.randint(0, 2)):
        x[rng.randrange(n)] += rng.choice([-25, 25])
    return x


@pytest.mark.parametrize("seed", [7])
def test_matches_reference(seed: int) -> None:
    rng = random.Random(seed)
    con = duckdb.connect()
    shapes = []
    for _ in range(4):
        period = rng.choice([0, 0, 2, 3, 7])
        args = (rng.choice([1.5, 3.0]), period, rng.choice(["linefit", "avg", "none"]), rng.choice([0, 0, 2]),
                rng.choice(["ctukey", "tukey"]))
        shapes.append((_series(rng, period), args))
    parts = []
    for i, (x, (k, period, trend, tp, method)) in enumerate(shapes):
        call = f"series_decompose_anomalies(dynamic({json.dumps(x)}), {k}, {period}, '{trend}', {tp}, '{method}')"
        parts.append(f"(f{i}, s{i}, b{i}) = {call}")  # score is not compared: no Kusto reference value
    query = "print x = 1 | extend " + ", ".join(parts)
    compiled = compile_query(query, {}, "duckdb")
    row = con.sql(compiled.sql).fetchall()[0]
    values = dict(zip(compiled.columns, row, strict=True))
    for i, (x, args) in enumerate(shapes):
        flags, baseline = reference(x, *args)
        assert json.loads(values[f"f{i}"]) == flags, (x, args)
        assert json.loads(values[f"b{i}"]) == pytest.approx(baseline, abs=1e-9), (x, args)
