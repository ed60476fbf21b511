"""Rule-level parity: every built-in rule gives the same result on DuckDB and on Spark.

The simulator writes a small tenant with its attack scenarios, the readers ingest the same files
into both warehouses, and each rule's KQL runs on both with fixed ``now`` values (the hour after
each scenario the rule targets, and the end of the simulation).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from entrawatch.warehouse import DuckDBWarehouse
from entrawatch.warehouse.spark_parity import (
    IDENTICAL,
    IDENTICAL_UP_TO_ARRAY_ORDER,
    compare_results,
    rule_evaluation_times,
)
from entrawatch.warehouse.spark_warehouse import SparkWarehouse

# Minutes, not seconds: a simulation, two ingests and every rule twice on two engines.
pytestmark = [pytest.mark.spark, pytest.mark.slow]

RULES = sorted(
    (Path(__file__).resolve().parents[2] / "src" / "entrawatch" / "content" / "rules").glob("*.yaml")
)



@pytest.fixture(scope="module")
def simulated_pair(spark_session, tmp_path_factory):
    """One simulated tenant ingested by the readers into a DuckDB and a Spark warehouse."""
    import json

    from entrawatch import readers, simulator, ti
    from entrawatch.analytics import content_data

    base: Path = tmp_path_factory.mktemp("rule-parity")
    result = simulator.simulate(
        simulator.SimulationConfig(users=25, days=2, seed=11, format="loganalytics"), base / "sim"
    )
    truth = json.loads(Path(result.truth_path).read_text("utf-8"))
    duck = DuckDBWarehouse(base / "duck.duckdb")
    spark = SparkWarehouse(base / "spark", spark=spark_session)
    duck_report = readers.ingest_paths([base / "sim"], duck)
    spark_report = readers.ingest_paths([base / "sim"], spark)
    for wh in (duck, spark):
        content_data.prepare_warehouse(wh)  # allow lists, first-party apps, Azure ranges...
        ti.import_indicators(base / "sim" / "threat_intel.csv", wh, now=datetime(2025, 1, 1, tzinfo=UTC))
    yield duck, spark, truth, duck_report, spark_report
    duck.close()
    spark.close()


def test_readers_fill_both_engines_with_the_same_rows(simulated_pair):
    duck, spark, _, duck_report, spark_report = simulated_pair
    counts = {t: (c.read, c.inserted, c.duplicates, c.quarantined) for t, c in duck_report.per_table.items()}
    assert counts == {
        t: (c.read, c.inserted, c.duplicates, c.quarantined) for t, c in spark_report.per_table.items()
    }
    assert sum(c.inserted for c in duck_report.per_table.values()) > 0
    assert duck.catalog() == spark.catalog()


@pytest.mark.parametrize("rule_path", RULES, ids=[p.stem for p in RULES])
def test_rule_results_are_identical_on_duckdb_and_spark(simulated_pair, rule_path):
    from entrawatch import kql
    duck, spark, truth, _, _ = simulated_pair
    rule = yaml.safe_load(rule_path.read_text("utf-8"))
    verdicts = {}
    for now in rule_evaluation_times(rule, truth, limit=2):
        expected = kql.run(rule["query"], duck, now=now)
        actual = kql.run(rule["query"], spark, now=now)
        verdicts[now.isoformat()] = (expected.num_rows, compare_results(expected, actual))
    assert all(v in (IDENTICAL, IDENTICAL_UP_TO_ARRAY_ORDER) for _, v in verdicts.values()), verdicts
