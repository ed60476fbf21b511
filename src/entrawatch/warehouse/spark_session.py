"""How entrawatch gets a SparkSession, and the settings its SQL relies on.

Kept apart from the warehouse so tests, benchmarks and the KQL test-suite build sessions the same
way. Two groups of settings:

* :data:`REQUIRED_SQL_CONF` is what compiled KQL needs to give Kusto's answers (UTC timestamps,
  null instead of an error on a failed cast, Parquet timestamps other engines can read). These are
  runtime SQL settings, so they are applied even to a session the caller hands in.
* :data:`LOCAL_DEFAULTS` only tunes a session we build ourselves for a laptop (few shuffle
  partitions, no UI). On a cluster the cluster's own configuration wins.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from entrawatch.errors import WarehouseError

if TYPE_CHECKING:  # pragma: no cover - typing only; pyspark is an optional extra
    from pyspark.sql import SparkSession

#: Environment variable naming the Spark master when entrawatch builds the session itself.
MASTER_ENV = "ENTRAWATCH_SPARK_MASTER"
DEFAULT_MASTER = "local[2]"

REQUIRED_SQL_CONF: dict[str, str] = {
    # KQL datetimes are UTC; the day partitions and Arrow results must not shift with the host zone.
    "spark.sql.session.timeZone": "UTC",
    # Kusto returns null for a failed conversion (toint("x")); ANSI mode would raise instead.
    "spark.sql.ansi.enabled": "false",
    # INT96 is Spark's legacy default; micros are the Parquet standard DuckDB and Arrow read natively.
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    # Result conversion goes through Arrow (DataFrame.toArrow) rather than pickled rows.
    "spark.sql.execution.arrow.pyspark.enabled": "true",
}

LOCAL_DEFAULTS: dict[str, str] = {
    "spark.sql.shuffle.partitions": "4",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.memory": "2g",
}


def _import_pyspark():
    try:
        from pyspark import SparkConf
        from pyspark.sql import SparkSession
    except ImportError as err:  # pragma: no cover - depends on the installation
        raise WarehouseError("the Spark engine needs PySpark: pip install 'entrawatch[spark]'") from err
    return SparkConf, SparkSession


def apply_required_conf(spark: SparkSession) -> None:
    """Set the SQL settings compiled KQL depends on (they are per-session and runtime-settable)."""
    for key, value in REQUIRED_SQL_CONF.items():
        spark.conf.set(key, value)


def get_session(master: str | None = None, app_name: str = "entrawatch") -> tuple[SparkSession, bool]:
    """Return ``(session, created)``: the active session if there is one, else a new one.

    ``created`` tells the caller whether it owns the session (and should stop it on close). The
    master is, in order: ``master``, ``$ENTRAWATCH_SPARK_MASTER``, the one ``spark-submit`` set,
    and ``local[2]``. A session already running (``pyspark`` shell, notebooks, ``spark-submit``
    scripts that built one) is reused as is apart from :data:`REQUIRED_SQL_CONF`.
    """
    spark_conf_cls, session_cls = _import_pyspark()
    active = session_cls.getActiveSession()
    if active is not None:
        apply_required_conf(active)
        return active, False
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = session_cls.builder.appName(app_name)
    chosen = master or os.environ.get(MASTER_ENV)
    if chosen is None and not spark_conf_cls().contains("spark.master"):
        chosen = DEFAULT_MASTER
    if chosen is not None:
        builder = builder.master(chosen)
    local = (chosen or "").startswith("local")
    for key, value in {**(LOCAL_DEFAULTS if local else {}), **REQUIRED_SQL_CONF}.items():
        builder = builder.config(key, value)
    try:
        spark = builder.getOrCreate()
    except Exception as err:  # Java missing, port clash...: one clear error at the edge
        raise WarehouseError(f"cannot start Spark: {err}") from err
    if local:
        spark.sparkContext.setLogLevel("ERROR")
    apply_required_conf(spark)
    return spark, True
