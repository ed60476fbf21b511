"""False-positive control data (``content/data/*.csv``) loaded into the warehouse as KQL tables.

Rules reference allow lists and known-good app ids as tables (``EntrawatchFirstPartyApps``) instead
of hard-coding them, so an operator edits a CSV, not a rule. Each CSV becomes a table named after
the file, its columns typed by Arrow's CSV inference (long, real, bool, datetime, else string) and
registered in the schema catalog so the KQL binder sees it. Loading replaces the table's rows, so it
is idempotent and picks up edits.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
from sqlglot import exp

from entrawatch import schema
from entrawatch.errors import RuleError
from entrawatch.schema import Column, Table
from entrawatch.warehouse.base import Warehouse


def content_dir() -> Path:
    """The built-in content folder (``src/entrawatch/content``)."""
    return Path(str(resources.files("entrawatch").joinpath("content")))


def _kql_type(arrow_type: pa.DataType) -> str:
    if pa.types.is_boolean(arrow_type):
        return "bool"
    if pa.types.is_integer(arrow_type):
        return "long"
    if pa.types.is_floating(arrow_type):
        return "real"
    if pa.types.is_timestamp(arrow_type):
        return "datetime"
    return "string"


def read_data_file(path: Path) -> tuple[Table, pa.Table]:
    """Parse one CSV into its Table definition and rows cast to the canonical Arrow types."""
    stat = path.stat()
    return _read_cached(path.resolve(), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=64)
def _read_cached(path: Path, _mtime: int, _size: int) -> tuple[Table, pa.Table]:
    """Parsed once per file version: rule tests load the same CSVs into hundreds of warehouses."""
    try:
        data = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(strings_can_be_null=False))
    except (pa.ArrowInvalid, OSError) as err:
        raise RuleError(f"cannot read content data file: {err}", path=str(path)) from err
    columns = tuple(Column(f.name, _kql_type(f.type)) for f in data.schema)
    table = Table(path.stem, columns, key=())
    target = table.arrow_schema()
    cast = []
    for fld, col in zip(target, data.columns, strict=True):
        if pa.types.is_timestamp(fld.type):
            col = col.cast(pa.timestamp("us")).cast(fld.type) if col.type.tz is None else col.cast(fld.type)
        elif pa.types.is_null(col.type):
            col = pa.nulls(len(col), fld.type)
        else:
            col = col.cast(fld.type)
        cast.append(col)
    return table, pa.Table.from_arrays(cast, schema=target)


def load_content_data(warehouse: Warehouse, directory: Path | None = None) -> list[str]:
    """Load every CSV under ``content/data`` as a table named after the file; returns the names."""
    folder = directory or content_dir() / "data"
    names: list[str] = []
    if not folder.is_dir():
        return names
    catalog = warehouse.catalog()
    for path in sorted(folder.glob("*.csv")):
        table, rows = read_data_file(path)
        schema.register_table(table)
        ident = exp.to_identifier(table.name, quoted=True).sql(dialect=warehouse.dialect)
        existing = catalog.get(table.name)
        if existing == table.kql_types():
            warehouse.execute(f"DELETE FROM {ident}")
        elif existing is not None:
            # The CSV's columns changed: recreate. DuckDBWarehouse caches created tables in _known.
            warehouse.execute(f"DROP TABLE {ident}")
            known = getattr(warehouse, "_known", None)
            if isinstance(known, set):
                known.discard(table.name)
        warehouse.ensure_table(table.name)
        warehouse.append(table.name, rows.to_batches(), dedupe=False)
        names.append(table.name)
    return names


def prepare_warehouse(warehouse: Warehouse) -> None:
    """Make every table a rule may name exist: canonical tables, TI indicators, content data."""
    from entrawatch import ti  # noqa: F401  (registers ThreatIntelligenceIndicator)
    from entrawatch.analytics.tables import register

    register()
    for name in (*schema.SIGNIN_TABLES, schema.AUDIT_TABLE, ti.TI_TABLE):
        warehouse.ensure_table(name)
    load_content_data(warehouse)
