"""``mv-apply``: expand arrays per row, run a sub-query on each row's items, join back.

Kusto applies the sub-query to each record's sub-table and re-adds the record's other columns
(an expanded column is replaced by its items). Lowered without correlated sub-queries: number
the input rows (``__kql_row``), mv-expand, then apply the sub-query operators with
``__kql_row`` as an extra grouping/partition key, so each original row's items form their own
group; finally join the outer columns back by ``__kql_row``.

Empty sub-tables: an empty (or fully filtered) array gives no rows, except under ``summarize``
without ``by`` and ``count``, which produce one row per record as Kusto does (count 0, empty
``make_list``/``make_set``, null for other aggregates): those rows are restored by a LEFT JOIN
from the numbered input. Supported inside: where, extend, project, project-away/-rename/-reorder,
parse, mv-expand, summarize, count, distinct, take/limit, top, sort (+take), serialize.
On Spark the row number is ``monotonically_increasing_id()``, evaluated in the expansion and in
the final join over the same input plan.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from entrawatch.kql import ast
from entrawatch.kql.expand import lower_mv_expand
from entrawatch.kql.functions import _sql
from entrawatch.kql.relation import Rel, alias, col, fresh_alias, select_from
from entrawatch.kql.summarize import lower_summarize
from entrawatch.kql.tabular import lowerer, sort_keys

if TYPE_CHECKING:
    from entrawatch.kql.compiler import Compiler, Env

ROW = "__kql_row"
#: Operators that keep every column they do not touch, so ``__kql_row`` passes through them.
PASS_THROUGH = ("where", "extend", "parse", "mv-expand", "project-away", "project-rename", "project-reorder")
#: Aggregates whose value over an empty sub-table is not null.
_EMPTY_COUNTS = frozenset({"count", "countif", "dcount", "dcountif", "count_distinct", "count_distinctif"})
_EMPTY_ARRAYS = frozenset({"make_list", "make_set", "make_list_if", "make_set_if", "makelist", "makeset"})


def _numbered(compiler: Compiler, rel: Rel) -> Rel:
    if compiler.dialect == "duckdb":
        number: exp.Expression = exp.Window(this=exp.RowNumber())
    else:
        number = exp.Anonymous(this="monotonically_increasing_id", expressions=[])
    sql = select_from(rel, [col(c) for c in rel.columns] + [alias(number, ROW)])
    return Rel(sql, {**rel.columns, ROW: "long"})


def _limit_per_row(compiler: Compiler, rel: Rel, count: ast.Node, keys: list[ast.SortKey] | None,
                   env: Env) -> Rel:
    value = lowerer(compiler, rel, env).lower(count)
    limit = _sql.int_literal_value(value)
    if limit is None:
        raise compiler.unsupported("mv-apply take/top needs a constant count", count)
    order = sort_keys(compiler, rel, keys, env) if keys else [exp.Ordered(this=col(ROW))]
    rn = "__kql_rn"
    window = exp.Window(this=exp.RowNumber(), partition_by=[col(ROW)], order=exp.Order(expressions=order))
    inner = select_from(rel, [col(c) for c in rel.columns] + [alias(window, rn)])
    outer = select_from(Rel(inner, rel.columns), [col(c) for c in rel.columns]).where(
        exp.LTE(this=col(rn), expression=exp.Literal.number(limit)), copy=False)
    return Rel(outer, dict(rel.columns))


def _empty_value(call: ast.Node, kql_type: str, compiler: Compiler) -> exp.Expression:
    name = call.name if isinstance(call, ast.Call) else ""
    if name in _EMPTY_COUNTS:
        return exp.Literal.number(0)
    if name in _EMPTY_ARRAYS:
        return _sql.dynamic_literal([], compiler.dialect)
    if name == "make_bag":
        return _sql.dynamic_literal({}, compiler.dialect)
    if kql_type in ("string", "guid"):
        return _sql.s("")
    return exp.Null()


def _keep_every_row(compiler: Compiler, base: Rel, summarized: Rel, aggs: list[ast.NamedExpr]) -> Rel:
    """LEFT JOIN the numbered input to a per-row summary: records with no items keep one row."""
    ba, sa = fresh_alias(), fresh_alias()
    defaults = {}
    names = [c for c in summarized.columns if c != ROW]
    for name, named in zip(names, aggs, strict=False):
        defaults[name] = _empty_value(named.expr, summarized.columns[name], compiler)
    projections: list[exp.Expression] = [alias(col(ROW, ba), ROW)]
    for name in names:
        value: exp.Expression = col(name, sa)
        default = defaults.get(name, exp.Null())
        if not isinstance(default, exp.Null):
            value = _sql.coalesce(value, default)
        projections.append(alias(value, name))
    sql = exp.Select(expressions=projections).from_(
        select_from(base, [col(ROW)]).subquery(ba), copy=False)
    sql = sql.join(summarized.sql.subquery(sa), on=exp.EQ(this=col(ROW, ba), expression=col(ROW, sa)),
                   join_type="LEFT", copy=False)
    return Rel(sql, {ROW: "long", **{n: summarized.columns[n] for n in names}})


def _apply(compiler: Compiler, base: Rel, current: Rel, sub: ast.Operator, nxt: ast.Operator | None,
           env: Env) -> tuple[Rel, bool]:
    """One sub-query operator per record; returns (relation, whether ``nxt`` was consumed)."""
    from entrawatch.kql.operator_table import OPERATOR_LOWERINGS
    from entrawatch.kql.tabular import lower_distinct, lower_project

    name = sub.name
    pos = {"line": sub.line, "column": sub.column}
    if name in PASS_THROUGH:
        result = OPERATOR_LOWERINGS[name](compiler, current, sub, env)
        if ROW not in result.columns:
            raise compiler.unsupported(f"{name!r} inside mv-apply may not remove every column", sub)
        return result, False
    if name == "project":
        exprs = [ast.NamedExpr([ROW], ast.Name(ROW))] + list(sub.params["exprs"])
        return lower_project(compiler, current, ast.Operator("project", {"exprs": exprs}, **pos), env), False
    if name in ("summarize", "count"):
        if name == "count":
            aggs = [ast.NamedExpr(["Count"], ast.Call("count", [], **pos))]
            by: list[ast.NamedExpr] = []
        else:
            aggs, by = list(sub.params["aggs"]), list(sub.params["by"])
        keyed = [ast.NamedExpr([ROW], ast.Name(ROW))] + by
        summarized = lower_summarize(compiler, current, ast.Operator("summarize", {"aggs": aggs, "by": keyed},
                                                                     **pos), env)
        if by:
            return summarized, False
        return _keep_every_row(compiler, base, summarized, aggs), False
    if name == "distinct":
        if not sub.params["exprs"]:
            return lower_distinct(compiler, current, sub, env), False
        exprs = [ast.NamedExpr([ROW], ast.Name(ROW))] + list(sub.params["exprs"])
        return lower_distinct(compiler, current, ast.Operator("distinct", {"exprs": exprs}, **pos), env), False
    if name == "take":
        return _limit_per_row(compiler, current, sub.params["count"], None, env), False
    if name == "top":
        return _limit_per_row(compiler, current, sub.params["count"], sub.params["keys"], env), False
    if name == "sort":
        if nxt is not None and nxt.name == "take":
            return _limit_per_row(compiler, current, nxt.params["count"], sub.params["keys"], env), True
        return current, False  # the result is a union of sub-tables: no order survives
    if name == "serialize" and not sub.params["exprs"]:
        return current, False
    raise compiler.unsupported(f"{name!r} inside mv-apply is not supported", sub)


def lower_mv_apply(compiler: Compiler, rel: Rel, op: ast.Operator, env: Env) -> Rel:
    base = _numbered(compiler, Rel(rel.sql, dict(rel.columns)) if not rel.hidden else Rel(
        select_from(rel, [col(c) for c in rel.columns]), dict(rel.columns)))
    expand_op = ast.Operator("mv-expand", {"kind": "bag", "itemindex": op.params["itemindex"], "limit": None,
                                           "items": op.params["items"]}, line=op.line, column=op.column)
    current = lower_mv_expand(compiler, base, expand_op, env)
    ops: list[ast.Operator] = op.params["ops"]
    i = 0
    while i < len(ops):
        current, skip = _apply(compiler, base, current, ops[i], ops[i + 1] if i + 1 < len(ops) else None, env)
        i += 2 if skip else 1
    expanded = {named.names[0] if named.names else getattr(named.expr, "name", None)
                for named, _ in op.params["items"]}
    outer = [c for c in rel.columns if c not in expanded and c not in current.columns]
    inner = [c for c in current.columns if c != ROW]
    ba, ca = fresh_alias(), fresh_alias()
    projections = [col(c, ba) for c in outer] + [col(c, ca) for c in inner]
    sql = exp.Select(expressions=projections).from_(current.sql.subquery(ca), copy=False)
    sql = sql.join(base.sql.subquery(ba), on=exp.EQ(this=col(ROW, ca), expression=col(ROW, ba)), copy=False)
    columns = {c: rel.columns[c] for c in outer}
    columns.update({c: current.columns[c] for c in inner})
    return Rel(sql, columns)
