"""Fixtures for the warehouse tests: one local Spark session for the whole run.

The settings mirror ``tests/kql/conftest.py`` and both build through ``getOrCreate``, so when
the two suites run together they share one JVM (starting Spark takes seconds).
"""

from __future__ import annotations

import os
import sys

import pytest


@pytest.fixture(scope="session")
def spark_session():
    pyspark_sql = pytest.importorskip("pyspark.sql", reason="pyspark is a dev dependency; install .[dev]")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        pyspark_sql.SparkSession.builder.master("local[2]")
        .appName("entrawatch-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.default.parallelism", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.ansi.enabled", "false")
        .config("spark.driver.memory", "1g")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    yield spark
    spark.stop()


@pytest.fixture
def spark_warehouse(spark_session, tmp_path):
    from entrawatch.warehouse.spark_warehouse import SparkWarehouse

    wh = SparkWarehouse(tmp_path / "spark", spark=spark_session)
    yield wh
    wh.close()
