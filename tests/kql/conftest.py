"""Fixtures shared by the KQL tests: one local Spark session for the whole run.

Spark's JVM takes seconds to start, so the session is session-scoped and tuned for tiny data
(one shuffle partition, no UI). Time zone is UTC so timestamps print the same as in DuckDB.
"""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def spark_session():
    pyspark_sql = pytest.importorskip("pyspark.sql", reason="pyspark is a dev dependency; install .[dev]")
    os.environ.setdefault("PYSPARK_PYTHON", os.sys.executable)
    spark = (
        pyspark_sql.SparkSession.builder.master("local[2]")
        .appName("entrawatch-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.driver.memory", "1g")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    yield spark
    spark.stop()
