"""``mv-expand`` and ``parse``: operators that turn one value into rows or columns.

mv-expand follows the Kusto docs: a null value gives one row with null, an empty array gives no
row, several expanded columns expand in parallel (shorter ones padded with null), and
``with_itemindex`` numbers items from 0. It is lowered the same way on both engines: compute the
lists, explode a 0..n-1 index, pick element i of each list. Property bags (``kind=bag``
expansion of objects) are refused at run time with an engine error rather than answered wrongly.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sqlglot import exp

from entrawatch.kql import ast, dynamic
from entrawatch.kql.functions import _sql
from entrawatch.kql.lowering_api import Typed
from entrawatch.kql.relation import Rel, alias, col, select_from, with_columns
from entrawatch.kql.tabular import lowerer, output_name

if TYPE_CHECKING:
    from entrawatch.kql.compiler import Compiler, Env

fn = _sql.fn
INDEX = "__kql_i"
BAG_ERROR = "mv-expand of a property bag is not supported by entrawatch"


def _json_list(value: exp.Expression, dialect: str) -> exp.Expression:
    """A dynamic value as an engine list of JSON texts, per the mv-expand rules above."""
    if dialect == "duckdb":
        as_json = _sql.cast(value, "json")
        kind = fn("json_type", as_json.copy())
        null_list = exp.Array(expressions=[_sql.cast(exp.Null(), "json")])
        return _sql.case(
            (exp.Is(this=as_json.copy(), expression=exp.Null()), null_list),
            (exp.EQ(this=kind.copy(), expression=_sql.s("ARRAY")), fn("json_extract", as_json.copy(), _sql.s("$[*]"))),
            (exp.EQ(this=kind, expression=_sql.s("OBJECT")),
             _sql.cast(fn("error", _sql.s(BAG_ERROR)), "json[]")),
            default=exp.Array(expressions=[as_json.copy()]),
        )
    parsed = fn("try_parse_json", value)
    as_array = fn("try_variant_get", parsed.copy(), _sql.s("$"), _sql.s("array<variant>"))
    as_map = fn("try_variant_get", parsed.copy(), _sql.s("$"), _sql.s("map<string,variant>"))
    lam = exp.Lambda(this=fn("to_json", exp.to_identifier("e")), expressions=[exp.to_identifier("e")])
    return _sql.case(
        (exp.Is(this=value.copy(), expression=exp.Null()), exp.Array(expressions=[_sql.cast(exp.Null(), "string")])),
        (exp.Not(this=exp.Is(this=as_array.copy(), expression=exp.Null())), fn("transform", as_array, lam)),
        (exp.Not(this=exp.Is(this=as_map, expression=exp.Null())),
         _sql.cast(fn("raise_error", _sql.s(BAG_ERROR)), "array<string>")),
        default=exp.Array(expressions=[value.copy()]),
    )


def _length(value: exp.Expression, dialect: str) -> exp.Expression:
    return fn("len" if dialect == "duckdb" else "size", value)


def _indexes(count: exp.Expression, dialect: str) -> exp.Expression:
    """Explode 0..count-1 (no row when count is 0)."""
    if dialect == "duckdb":
        return fn("unnest", fn("range", count))
    seq = fn("slice", fn("sequence", exp.Literal.number(0), count.copy()), exp.Literal.number(1), count)
    return exp.Explode(this=seq)


def _element(lst: exp.Expression, index: exp.Expression, dialect: str) -> exp.Expression:
    one_based = exp.Add(this=index, expression=exp.Literal.number(1))
    if dialect == "duckdb":
        return fn("list_extract", lst, one_based)
    return fn("try_element_at", lst, one_based)


def _typed_element(element: exp.Expression, to_type: str | None, dialect: str) -> tuple[exp.Expression, str]:
    if to_type is None or to_type == "dynamic":
        return element, "dynamic"
    if to_type in ("string", "guid"):
        return dynamic.as_string(element, dialect), to_type
    return dynamic.as_type(element, _sql.sql_type(to_type, dialect), dialect), to_type


def lower_mv_expand(compiler: Compiler, rel: Rel, op: ast.Operator, env: Env) -> Rel:
    dialect = compiler.dialect
    lower = lowerer(compiler, rel, env)
    base = Rel(rel.sql, dict(rel.columns)) if not rel.hidden else Rel(
        select_from(rel, [col(c) for c in rel.columns]), dict(rel.columns))
    lists: list[tuple[str, str, str | None]] = []  # (output name, list column, to_type)
    stage1 = [col(c) for c in base.columns]
    taken = dict(base.columns)
    for i, (named, to_type) in enumerate(op.params["items"]):
        typed: Typed = lower.lower(named.expr)
        if typed.kql_type != "dynamic":
            raise compiler.semantic(f"mv-expand needs a dynamic array, not {typed.kql_type}", named)
        name = output_name(named, typed, taken)
        taken[name] = "dynamic"
        list_col = f"__kql_l{i}"
        stage1.append(alias(_json_list(typed.expr, dialect), list_col))
        lists.append((name, list_col, to_type))
    first = Rel(select_from(base, stage1), dict(base.columns))
    count: exp.Expression = _length(col(lists[0][1]), dialect)
    for _, list_col, _ in lists[1:]:
        count = exp.Greatest(this=count, expressions=[_length(col(list_col), dialect)])
    if op.params.get("limit") is not None:
        limit = _sql.int_literal_value(lower.lower(op.params["limit"]))
        if limit is None:
            raise compiler.unsupported("mv-expand limit must be a constant", op)
        count = exp.Least(this=count, expressions=[exp.Literal.number(limit)])
    second_cols = [*base.columns, *(lc for _, lc, _ in lists)]
    second = select_from(first, [col(c) for c in second_cols] + [alias(_indexes(count, dialect), INDEX)])
    second_rel = Rel(second, dict(base.columns))
    values = {name: _typed_element(_element(col(list_col), col(INDEX), dialect), to_type, dialect)
              for name, list_col, to_type in lists}
    index_name = op.params.get("itemindex")
    if index_name:
        if index_name in base.columns or index_name in values:
            raise compiler.semantic(f"with_itemindex={index_name}: a column named '{index_name}' already exists", op)
        values[index_name] = (col(INDEX), "long")
    return with_columns(second_rel, values)


# --- parse ------------------------------------------------------------------------------------
def _parse_regex(kind: str, pattern: list[object]) -> tuple[str, list[tuple[str, str]]]:
    parts: list[str] = []
    columns: list[tuple[str, str]] = []
    for i, item in enumerate(pattern):
        last = i == len(pattern) - 1
        if item is None:
            parts.append("(?:.*)" if last else "(?:.*?)")
        elif isinstance(item, str):
            parts.append(item if kind == "regex" else _sql.regex_escape(item))
        else:
            name, kql_type = item  # type: ignore[misc]
            if kind == "regex":
                parts.append("(.*?)" if not last else "(.*)")
            else:
                parts.append("(.*)" if last else "(.*?)")
            columns.append((name, kql_type))
    regex = "".join(parts)
    if kind == "regex":
        return regex, columns
    return "^" + regex + ("$" if pattern and not isinstance(pattern[-1], str) else ""), columns


def lower_parse(compiler: Compiler, rel: Rel, op: ast.Operator, env: Env) -> Rel:
    kind = op.params["kind"]
    if kind not in ("simple", "regex", "relaxed"):
        raise compiler.unsupported(f"parse kind={kind} is not supported", op)
    lower = lowerer(compiler, rel, env)
    source = lower.lower(op.params["expr"])
    text = dynamic.as_string(source.expr, compiler.dialect) if source.kql_type == "dynamic" else lower.nonnull(source)
    if source.kql_type not in ("string", "dynamic", "guid"):
        text = _sql.cast(text, "varchar")
    regex, new_columns = _parse_regex(kind, op.params["pattern"])
    try:
        re.compile(regex)
    except re.error as err:
        raise compiler.semantic(f"invalid parse pattern: {err}", op) from None
    matched = _sql.regex_match(text.copy(), _sql.s(regex), compiler.dialect)
    values: dict[str, tuple[exp.Expression, str]] = {}
    for group, (name, kql_type) in enumerate(new_columns, start=1):
        extracted = fn("regexp_extract", text.copy(), _sql.s(regex), exp.Literal.number(group))
        if kql_type in ("string", "guid"):
            value: exp.Expression = extracted
        else:
            sql_type = _sql.sql_type(kql_type, compiler.dialect)
            if kql_type == "dynamic":
                value = _sql.case((matched.copy(), _sql.json_text(extracted, compiler.dialect)), default=exp.Null())
            elif kql_type == "timespan":
                raise compiler.unsupported("parse into a timespan column is not supported", op)
            else:
                value = _sql.case((matched.copy(), _sql.try_cast(extracted, sql_type)), default=exp.Null())
        values[name] = (value, kql_type)
    return with_columns(rel, values)


def lower_evaluate(compiler: Compiler, rel: Rel, op: ast.Operator, env: Env) -> Rel:
    call: ast.Call = op.params["call"]
    if call.name == "bag_unpack":
        from entrawatch.kql.plugins import lower_bag_unpack

        return lower_bag_unpack(compiler, rel, call, env)
    raise compiler.unsupported(
        f"evaluate {call.name}() is not supported (its output columns depend on the data)", call)
