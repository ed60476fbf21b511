"""Storage engines behind the ``Warehouse`` protocol (DuckDB by default, Spark for scale-out)."""

from entrawatch.warehouse.base import AppendResult, Warehouse
from entrawatch.warehouse.duckdb_warehouse import DEFAULT_DB, DuckDBWarehouse

__all__ = ["AppendResult", "DEFAULT_DB", "DuckDBWarehouse", "Warehouse", "open_warehouse"]


def open_warehouse(path: str = DEFAULT_DB, *, engine: str = "duckdb", read_only: bool = False,
                   memory_limit: str | None = None) -> Warehouse:
    """Open the warehouse at ``path`` with the named engine (``memory_limit``: DuckDB only)."""
    if engine == "duckdb":
        return DuckDBWarehouse(path, read_only=read_only, memory_limit=memory_limit)
    if memory_limit is not None:
        raise ValueError("memory_limit applies to the DuckDB warehouse; size Spark through its own configuration")
    if engine == "spark":
        from entrawatch.warehouse.spark_warehouse import SparkWarehouse

        return SparkWarehouse(path)
    raise ValueError(f"unknown engine {engine!r}; use duckdb or spark")
