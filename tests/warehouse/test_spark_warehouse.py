"""The Spark warehouse: day-partitioned Parquet, idempotent appends, and parity with DuckDB."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot

from entrawatch import schema
from entrawatch.errors import SchemaError, WarehouseError
from entrawatch.warehouse import DuckDBWarehouse, open_warehouse
from entrawatch.warehouse.spark_warehouse import PARTITION_COLUMN, SparkWarehouse

pytestmark = pytest.mark.spark

START = datetime(2025, 3, 1, tzinfo=UTC)


def _rows(table: str, ids: list[str], **columns: list) -> pa.RecordBatch:
    """A canonical batch for ``table``: given columns filled in, the rest null."""
    tbl = schema.table(table)
    data: dict[str, list] = {name: [None] * len(ids) for name in tbl.column_names}
    data["Id"] = ids
    data["Type"] = [table] * len(ids)
    data["TimeGenerated"] = [START] * len(ids)
    data.update(columns)
    return pa.RecordBatch.from_pydict(data, schema=tbl.arrow_schema())


def _signins(count: int, seed: int) -> pa.RecordBatch:
    """Seeded sign-ins over three days, with dynamic JSON and some nulls, for parity checks."""
    rng = random.Random(seed)
    users = [f"user{i}@contoso.com" for i in range(7)]
    ips = ["203.0.113.9", "198.51.100.4", "192.0.2.77", None]
    countries = ["US", "GB", "RU", "BR"]
    times, upns, addresses, results, locations, statuses = [], [], [], [], [], []
    for _ in range(count):
        times.append(START + timedelta(minutes=rng.randrange(3 * 24 * 60), microseconds=rng.randrange(10**6)))
        upns.append(rng.choice(users))
        addresses.append(rng.choice(ips))
        results.append(rng.choice(["0", "50126", "50074"]))
        country = rng.choice(countries)
        locations.append(
            None if rng.random() < 0.1 else json.dumps({"countryOrRegion": country, "city": f"c-{country}"})
        )
        statuses.append(
            json.dumps(
                {"errorCode": int(results[-1]), "details": {"reason": "x" if rng.random() < 0.5 else None}}
            )
        )
    return _rows(
        "SigninLogs",
        [f"id-{seed}-{i}" for i in range(count)],
        TimeGenerated=times,
        UserPrincipalName=upns,
        IPAddress=addresses,
        ResultType=results,
        LocationDetails=locations,
        Status=statuses,
        DurationMs=[rng.randrange(10_000) for _ in range(count)],
    )


def test_append_is_idempotent_and_counts_reconcile(spark_warehouse):
    first = spark_warehouse.append("SigninLogs", [_rows("SigninLogs", ["a", "b", "b"])])
    assert (first.offered, first.inserted, first.duplicates) == (3, 2, 1)
    again = spark_warehouse.append("SigninLogs", [_rows("SigninLogs", ["a", "b", "c"])])
    assert (again.offered, again.inserted, again.duplicates) == (3, 1, 2)
    repeat = spark_warehouse.append("SigninLogs", [_rows("SigninLogs", ["a", "b", "c"])])
    assert (repeat.offered, repeat.inserted, repeat.duplicates) == (3, 0, 3)
    ids = spark_warehouse.query("SELECT Id FROM SigninLogs ORDER BY Id").column("Id").to_pylist()
    assert ids == ["a", "b", "c"]


def test_duplicates_inside_a_batch_keep_the_first_occurrence(spark_warehouse):
    batch = _rows("SigninLogs", ["k", "k", "m"], UserPrincipalName=["first", "second", "other"])
    spark_warehouse.append("SigninLogs", [batch])
    kept = spark_warehouse.query("SELECT UserPrincipalName FROM SigninLogs WHERE Id = 'k'")
    assert kept.column("UserPrincipalName").to_pylist() == ["first"]


def test_null_keys_count_as_one_key_like_duckdb(spark_warehouse, warehouse):
    batch = _rows("SigninLogs", [None, None, "z"])
    for wh in (spark_warehouse, warehouse):
        assert wh.append("SigninLogs", [batch]).inserted == 2
        assert wh.append("SigninLogs", [batch]).inserted == 0


def test_dedupe_off_keeps_every_row(spark_warehouse):
    result = spark_warehouse.append("SigninLogs", [_rows("SigninLogs", ["a", "a"])], dedupe=False)
    assert (result.inserted, result.duplicates) == (2, 0)
    assert spark_warehouse.count("SigninLogs") == 2


def test_rows_are_partitioned_by_utc_day_on_disk(spark_warehouse):
    batch = _signins(60, seed=3)
    spark_warehouse.append("SigninLogs", [batch])
    table_dir = spark_warehouse.table_path("SigninLogs")
    days = sorted(p.name for p in table_dir.iterdir() if p.is_dir())
    assert days == [f"{PARTITION_COLUMN}=2025-03-0{d}" for d in (1, 2, 3)]
    for day_dir in table_dir.iterdir():
        if not day_dir.is_dir():
            continue
        stored = pq.read_table(day_dir, columns=["TimeGenerated"]).column("TimeGenerated").to_pylist()
        assert stored and {t.strftime("%Y-%m-%d") for t in stored} == {day_dir.name.split("=")[1]}
    total = sum(pq.read_table(p).num_rows for p in table_dir.rglob("*.parquet"))
    assert total == batch.num_rows == spark_warehouse.count("SigninLogs")


def test_view_exposes_exactly_the_canonical_columns(spark_warehouse):
    spark_warehouse.append("AuditLogs", [_rows("AuditLogs", ["x"])])
    result = spark_warehouse.query("SELECT * FROM AuditLogs")
    tbl = schema.table("AuditLogs")
    assert result.schema.names == tbl.column_names
    assert PARTITION_COLUMN not in result.schema.names
    assert result.schema.field("TimeGenerated").type == pa.timestamp("us", tz="UTC")
    assert result.column("TimeGenerated").to_pylist() == [START]


def test_catalog_lists_existing_tables_with_kql_types(spark_warehouse):
    assert spark_warehouse.catalog() == {}
    spark_warehouse.ensure_table("SigninLogs")
    spark_warehouse.ensure_table("AADNonInteractiveUserSignInLogs")
    cat = spark_warehouse.catalog()
    assert sorted(cat) == ["AADNonInteractiveUserSignInLogs", "SigninLogs"]
    assert cat["SigninLogs"]["LocationDetails"] == "dynamic"
    assert cat["AADNonInteractiveUserSignInLogs"]["LocationDetails"] == "string"
    assert list(cat["SigninLogs"])[-5:] == [c for c, _ in schema.PROVENANCE_COLUMNS]
    empty = spark_warehouse.query("SELECT count(*) AS n FROM SigninLogs")
    assert empty.column("n").to_pylist() == [0]


def test_positional_and_named_parameters_bind_values_not_sql(spark_warehouse):
    hostile = "x' OR '1'='1"
    spark_warehouse.append(
        "SigninLogs",
        [
            _rows(
                "SigninLogs",
                ["a", "b"],
                UserPrincipalName=[hostile, "bob@contoso.com"],
                TimeGenerated=[START, START + timedelta(days=2)],
            )
        ],
    )
    by_value = spark_warehouse.query(
        "SELECT Id FROM SigninLogs WHERE UserPrincipalName = ? AND TimeGenerated < ?",
        [hostile, START + timedelta(hours=1)],
    )
    assert by_value.column("Id").to_pylist() == ["a"]
    named = spark_warehouse.query("SELECT Id FROM SigninLogs WHERE UserPrincipalName = :upn", {"upn": "x"})
    assert named.num_rows == 0


def test_errors_are_warehouse_and_schema_errors(spark_warehouse):
    with pytest.raises(WarehouseError, match="query failed"):
        spark_warehouse.query("SELECT * FROM no_such_table")
    with pytest.raises(SchemaError):
        spark_warehouse.append("SigninLogs", [pa.RecordBatch.from_pydict({"Id": ["x"]})])
    with pytest.raises(SchemaError, match="SigninLogs"):
        spark_warehouse.ensure_table("SignInLog")


def test_delete_rewrites_the_table_without_matching_rows(spark_warehouse):
    days = [START, START + timedelta(days=1), START + timedelta(days=1), START + timedelta(days=2)]
    spark_warehouse.append(
        "SigninLogs",
        [_rows("SigninLogs", ["a", "b", "c", "d"], TimeGenerated=days, ResultType=["0", "1", None, "1"])],
    )
    spark_warehouse.execute("DELETE FROM `SigninLogs` WHERE `ResultType` = ? OR `Id` IN (?)", ["1", "a"])
    # the NULL comparison for "c" is not TRUE, so SQL keeps that row
    assert spark_warehouse.query("SELECT Id FROM SigninLogs").column("Id").to_pylist() == ["c"]
    table_dir = spark_warehouse.table_path("SigninLogs")
    assert sorted(p.name for p in table_dir.iterdir() if p.is_dir()) == [f"{PARTITION_COLUMN}=2025-03-02"]
    assert not [p for p in spark_warehouse.directory.iterdir() if p.name.startswith(".")]
    assert spark_warehouse.append("SigninLogs", [_rows("SigninLogs", ["a", "c"])]).inserted == 1
    spark_warehouse.execute("DELETE FROM `SigninLogs`")
    assert spark_warehouse.count("SigninLogs") == 0
    assert "SigninLogs" in spark_warehouse.catalog()


def test_drop_table_removes_it_from_disk_and_catalog(spark_warehouse):
    spark_warehouse.append("AuditLogs", [_rows("AuditLogs", ["x"])])
    spark_warehouse.execute("DROP TABLE `AuditLogs`")
    assert "AuditLogs" not in spark_warehouse.catalog()
    assert not spark_warehouse.table_path("AuditLogs").exists()
    with pytest.raises(WarehouseError):
        spark_warehouse.query("SELECT * FROM AuditLogs")
    spark_warehouse.execute("DROP TABLE IF EXISTS `AuditLogs`")


def test_content_data_loads_and_reloads(spark_warehouse):
    content_data = pytest.importorskip("entrawatch.analytics.content_data")
    first = content_data.load_content_data(spark_warehouse)
    assert first, "the built-in content/data folder holds CSV tables"
    counts = {name: spark_warehouse.count(name) for name in first}
    assert content_data.load_content_data(spark_warehouse) == first
    assert {name: spark_warehouse.count(name) for name in first} == counts
    assert all(counts.values())


def test_reopening_the_directory_sees_stored_rows(spark_session, tmp_path):
    with SparkWarehouse(tmp_path / "wh", spark=spark_session) as first:
        first.append("SigninLogs", [_signins(25, seed=1)])
    with SparkWarehouse(tmp_path / "wh", spark=spark_session) as again:
        assert again.catalog().keys() == {"SigninLogs"}
        assert again.query("SELECT count(*) AS n FROM SigninLogs").column("n").to_pylist() == [25]
        assert again.append("SigninLogs", [_signins(25, seed=1)]).inserted == 0


def test_two_warehouses_on_one_session_keep_their_own_rows(spark_session, tmp_path):
    left = SparkWarehouse(tmp_path / "left", spark=spark_session)
    right = SparkWarehouse(tmp_path / "right", spark=spark_session)
    try:
        left.append("SigninLogs", [_rows("SigninLogs", ["l1", "l2"])])
        right.append("SigninLogs", [_rows("SigninLogs", ["r1"])])
        assert left.query("SELECT Id FROM SigninLogs ORDER BY Id").column("Id").to_pylist() == ["l1", "l2"]
        assert right.query("SELECT Id FROM SigninLogs").column("Id").to_pylist() == ["r1"]
    finally:
        left.close()
        right.close()


def test_open_warehouse_spark_uses_the_running_session(spark_session, tmp_path):
    wh = open_warehouse(str(tmp_path / "opened"), engine="spark")
    try:
        assert isinstance(wh, SparkWarehouse) and wh.dialect == "spark"
        assert wh.spark is spark_session
        assert wh.append("AuditLogs", [_rows("AuditLogs", ["a"])]).inserted == 1
    finally:
        wh.close()
    assert spark_session.sparkContext._jsc is not None  # a borrowed session is not stopped


@pytest.fixture
def registered_table():
    tbl = schema.Table(
        "EntrawatchSparkTestAlerts",
        (
            schema.Column("AlertId", "string"),
            schema.Column("CreatedAt", "datetime"),
            schema.Column("Window", "timespan"),
            schema.Column("Entities", "dynamic"),
        ),
        key=("AlertId",),
    )
    schema.register_table(tbl)
    yield tbl
    schema.tables().pop(tbl.name, None)


def test_registered_tables_partition_on_their_datetime_and_store_timespans_as_micros(
    spark_warehouse, registered_table
):
    batch = pa.RecordBatch.from_pydict(
        {
            "AlertId": ["a1", "a2", "a1"],
            "CreatedAt": [START, START + timedelta(days=1), START],
            "Window": [timedelta(hours=1), timedelta(minutes=5, microseconds=7), None],
            "Entities": ['[{"Type": "ip"}]', None, "[]"],
        },
        schema=registered_table.arrow_schema(),
    )
    result = spark_warehouse.append(registered_table.name, [batch])
    assert (result.inserted, result.duplicates) == (2, 1)
    assert spark_warehouse.catalog()[registered_table.name] == registered_table.kql_types()
    rows = spark_warehouse.query(f"SELECT * FROM {registered_table.name} ORDER BY AlertId").to_pylist()
    assert [r["Window"] for r in rows] == [3_600_000_000, 300_000_007]
    days = sorted(p.name for p in spark_warehouse.table_path(registered_table.name).iterdir() if p.is_dir())
    assert days == [f"{PARTITION_COLUMN}=2025-03-01", f"{PARTITION_COLUMN}=2025-03-02"]


# -- parity with DuckDB ------------------------------------------------------------------------

#: (DuckDB SQL, Spark SQL or None to transpile the DuckDB text with sqlglot, params).
PARITY_CASES = [
    pytest.param(
        'SELECT CAST(TimeGenerated AS DATE) AS day, count(*) AS n FROM "SigninLogs" GROUP BY 1 ORDER BY 1',
        None,
        None,
        id="count-per-day",
    ),
    pytest.param(
        "SELECT UserPrincipalName, count(DISTINCT IPAddress) AS ips, min(TimeGenerated) AS first_seen, "
        # DuckDB sums BIGINT into HUGEINT (Arrow decimal128); compiled KQL casts sums back to long.
        'max(TimeGenerated) AS last_seen, CAST(sum(DurationMs) AS BIGINT) AS total FROM "SigninLogs" '
        "GROUP BY UserPrincipalName ORDER BY UserPrincipalName",
        None,
        None,
        id="per-user-aggregates",
    ),
    pytest.param(
        "SELECT Id, json_extract_string(LocationDetails, '$.countryOrRegion') AS country, "
        "json_extract_string(Status, '$.details.reason') AS reason "
        'FROM "SigninLogs" ORDER BY Id',
        "SELECT Id, get_json_object(LocationDetails, '$.countryOrRegion') AS country, "
        "get_json_object(Status, '$.details.reason') AS reason FROM SigninLogs ORDER BY Id",
        None,
        id="json-extraction",
    ),
    pytest.param(
        'SELECT IPAddress, count(*) AS failures FROM "SigninLogs" WHERE ResultType = ? AND TimeGenerated >= ? '
        "GROUP BY IPAddress ORDER BY failures DESC, IPAddress NULLS FIRST",
        None,
        ["50126", START + timedelta(days=1)],
        id="bound-parameters",
    ),
]


@pytest.fixture(scope="module")
def parity_pair(spark_session, tmp_path_factory):
    """The same seeded Arrow data in a DuckDB and a Spark warehouse."""
    base: Path = tmp_path_factory.mktemp("parity")
    duck = DuckDBWarehouse(base / "parity.duckdb")
    spark = SparkWarehouse(base / "spark", spark=spark_session)
    batches = [_signins(150, seed=11), _signins(150, seed=12)]
    for wh in (duck, spark):
        wh.append("SigninLogs", batches)
    yield duck, spark
    duck.close()
    spark.close()


@pytest.mark.parametrize(("duck_sql", "spark_sql", "params"), PARITY_CASES)
def test_same_sql_gives_the_same_rows_on_duckdb_and_spark(parity_pair, duck_sql, spark_sql, params):
    duck, spark = parity_pair
    if spark_sql is None:
        spark_sql = sqlglot.transpile(duck_sql, read="duckdb", write="spark")[0]
    expected = duck.query(duck_sql, params)
    got = spark.query(spark_sql, params)
    assert expected.num_rows > 0
    assert got.schema.names == expected.schema.names
    assert got.schema.types == expected.schema.types
    assert got.to_pylist() == expected.to_pylist()
