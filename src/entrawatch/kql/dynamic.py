"""Dynamic (JSON) member access and the conversions the core needs for comparisons.

A dynamic value is JSON text (``lowering_api``). Member access builds one JSON path per chain
(``a.b[0].c`` -> ``$.b[0].c`` on column ``a``), so a chain costs one extraction, and the string
form used by comparisons extracts the scalar directly (DuckDB ``json_extract_string``, Spark
``try_variant_get(..., 'string')``): strings come back unquoted, objects as JSON, as Kusto's
``tostring`` does. Spark needs Spark 4's VARIANT functions; Spark 3.5 is not supported.
"""

from __future__ import annotations

import re

from sqlglot import exp

from entrawatch.kql.functions._sql import cast, coalesce, fn, s

_SIMPLE_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: Marker attribute: the (root expression, JSON path) a lowered path expression came from.
_PATH_META = "kql_json_path"


def path_step(key: str | int, dialect: str) -> str:
    """One JSONPath step for ``key`` in the dialect's path syntax."""
    if isinstance(key, int):
        return f"[{key}]"
    if _SIMPLE_KEY.match(key):
        return f".{key}"
    if dialect == "duckdb":
        return '."' + key.replace('"', '\\"') + '"'
    return "['" + key.replace("'", "\\'") + "']"


def path_of(expr: exp.Expression) -> tuple[exp.Expression, str] | None:
    """The (root, path) of an expression built by :func:`extract`, else None."""
    return expr.meta.get(_PATH_META) if expr.meta else None


def extract(base: exp.Expression, key: str | int, dialect: str) -> exp.Expression:
    """``base.key`` / ``base[key]`` as a dynamic (JSON text) expression."""
    prior = path_of(base)
    root, path = prior if prior else (base, "$")
    path = path + path_step(key, dialect)
    if dialect == "duckdb":
        node = fn("json_extract", cast(root, "json") if not prior else root, s(path))
    else:
        node = fn("to_json", fn("try_variant_get", fn("try_parse_json", root), s(path), s("variant")))
    node.meta[_PATH_META] = (root, path)
    return node


def as_string(expr: exp.Expression, dialect: str) -> exp.Expression:
    """Kusto ``tostring(dynamic)``: unquoted strings, JSON for objects, '' for null/missing."""
    prior = path_of(expr)
    root, path = prior if prior else (expr, "$")
    if dialect == "duckdb":
        value = fn("json_extract_string", root if prior else cast(root, "json"), s(path))
    else:
        value = fn("try_variant_get", fn("try_parse_json", root), s(path), s("string"))
    return coalesce(value, s(""))


def as_type(expr: exp.Expression, sql_type: str, dialect: str) -> exp.Expression:
    """A dynamic scalar converted to a SQL type (null when it does not convert)."""
    prior = path_of(expr)
    root, path = prior if prior else (expr, "$")
    if dialect == "duckdb":
        text = fn("json_extract_string", root if prior else cast(root, "json"), s(path))
        return exp.TryCast(this=text, to=exp.DataType.build(sql_type))
    spark_type = {"double": "double", "bigint": "bigint", "boolean": "boolean", "timestamp": "timestamp",
                  "int": "int"}.get(sql_type, "string")
    return fn("try_variant_get", fn("try_parse_json", root), s(path), s(spark_type))
