"""``externaldata`` over local files only (no network at run time, by design).

Sentinel rules fetch lists from GitHub with externaldata; entrawatch refuses URLs with a clear
error and reads local CSV / JSON-lines files, so such lists can be vendored next to the rule.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlglot import exp

from entrawatch.kql import ast
from entrawatch.kql.functions import _sql
from entrawatch.kql.relation import Rel, alias, col

if TYPE_CHECKING:
    from entrawatch.kql.compiler import Compiler

_FORMATS = {"csv": "csv", "txt": "csv", "tsv": "tsv", "json": "json", "multijson": "json"}


def lower_externaldata(compiler: Compiler, node: ast.ExternalData) -> Rel:
    if len(node.urls) != 1:
        raise compiler.unsupported("externaldata with several sources is not supported", node)
    url = node.urls[0]
    if "://" in url and not url.startswith("file://"):
        raise compiler.unsupported("externaldata can only read local files (no network access)", node)
    path = url.removeprefix("file://")
    fmt = _FORMATS.get(str(node.props.get("format", Path(path).suffix.lstrip(".") or "csv")).lower())
    if fmt is None:
        raise compiler.unsupported(f"externaldata format {node.props.get('format')!r} is not supported", node)
    skip_header = str(node.props.get("ignoreFirstRecord", "false")).lower() == "true"
    columns = dict(node.columns)
    raw = [f"column{i}" for i in range(len(columns))]
    d = compiler.dialect
    if d == "duckdb":
        if fmt == "json":
            struct = exp.Struct(expressions=[exp.PropertyEQ(this=exp.to_identifier(n), expression=_sql.s("VARCHAR"))
                                             for n in columns])
            source = _sql.fn("read_json", _sql.s(path), exp.PropertyEQ(this=exp.to_identifier("columns"),
                                                                       expression=struct))
            raw = list(columns)
        else:
            struct = exp.Struct(expressions=[exp.PropertyEQ(this=exp.to_identifier(r), expression=_sql.s("VARCHAR"))
                                             for r in raw])
            source = _sql.fn(
                "read_csv", _sql.s(path),
                exp.PropertyEQ(this=exp.to_identifier("header"), expression=exp.Boolean(this=skip_header)),
                exp.PropertyEQ(this=exp.to_identifier("delim"), expression=_sql.s("\t" if fmt == "tsv" else ",")),
                exp.PropertyEQ(this=exp.to_identifier("columns"), expression=struct))
        table: exp.Expression = exp.Table(this=source)
    else:
        if fmt == "json":
            raise compiler.unsupported("externaldata JSON on Spark is not supported", node)
        table = exp.Table(this=exp.to_identifier(path, quoted=True), db=exp.to_identifier("csv"))
        raw = [f"_c{i}" for i in range(len(columns))]
    projections = []
    for raw_name, (name, kql_type) in zip(raw, columns.items(), strict=True):
        value: exp.Expression = col(raw_name)
        if kql_type in ("string", "guid"):
            value = _sql.coalesce(value, _sql.s(""))
        else:
            value = _sql.try_cast(value, _sql.sql_type(kql_type, d))
        projections.append(alias(value, name))
    sql = exp.Select(expressions=projections).from_(table, copy=False)
    if d == "spark" and skip_header:
        raise compiler.unsupported("externaldata ignoreFirstRecord on Spark is not supported", node)
    return Rel(sql, columns)
