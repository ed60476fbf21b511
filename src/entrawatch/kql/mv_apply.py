"""``mv-apply``: expand arrays per row, run a sub-query on each row's items, join back.

Lowered without correlated sub-queries: number the input rows (``__kql_row``), mv-expand, then
apply the sub-query operators with ``__kql_row`` as an extra grouping/partition key, so each
original row's items form their own group. The outer columns stay available. Supported
sub-query operators: where, extend, project (outer columns are kept), summarize, top, take,
sort+take; others are refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from entrawatch.kql import ast
from entrawatch.kql.expand import lower_mv_expand
from entrawatch.kql.relation import Rel, alias, col, select_from
from entrawatch.kql.summarize import lower_summarize
from entrawatch.kql.tabular import lower_extend, lower_where, lowerer, sort_keys

if TYPE_CHECKING:
    from entrawatch.kql.compiler import Compiler, Env

ROW = "__kql_row"


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
    from entrawatch.kql.functions import _sql

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


def lower_mv_apply(compiler: Compiler, rel: Rel, op: ast.Operator, env: Env) -> Rel:
    base = _numbered(compiler, Rel(rel.sql, dict(rel.columns)) if not rel.hidden else Rel(
        select_from(rel, [col(c) for c in rel.columns]), dict(rel.columns)))
    outer_columns = [c for c in rel.columns]
    expand_op = ast.Operator("mv-expand", {"kind": "bag", "itemindex": op.params["itemindex"], "limit": None,
                                           "items": op.params["items"]}, line=op.line, column=op.column)
    current = lower_mv_expand(compiler, base, expand_op, env)
    ops: list[ast.Operator] = op.params["ops"]
    i = 0
    while i < len(ops):
        sub = ops[i]
        if sub.name == "where":
            current = lower_where(compiler, current, sub, env)
        elif sub.name == "extend":
            current = lower_extend(compiler, current, sub, env)
        elif sub.name == "project":
            keep = [ast.NamedExpr([c], ast.Name(c)) for c in current.columns
                    if c in outer_columns or c == ROW]
            names = {n.names[0] if n.names else None for n in sub.params["exprs"]}
            keep = [k for k in keep if k.names[0] not in names]
            project = ast.Operator("project", {"exprs": keep + sub.params["exprs"]}, line=sub.line, column=sub.column)
            from entrawatch.kql.tabular import lower_project

            current = lower_project(compiler, current, project, env)
        elif sub.name == "summarize":
            by = [ast.NamedExpr([], ast.Name(ROW))] + list(sub.params["by"])
            named = {n.names[0] for n in sub.params["aggs"] if n.names}
            aggs = list(sub.params["aggs"]) + [
                ast.NamedExpr([c], ast.Call("take_any", [ast.Name(c)])) for c in outer_columns
                if c in current.columns and c not in named]
            summarized = lower_summarize(compiler, current, ast.Operator(
                "summarize", {"aggs": aggs, "by": by}, line=sub.line, column=sub.column), env)
            current = summarized
        elif sub.name == "take":
            current = _limit_per_row(compiler, current, sub.params["count"], None, env)
        elif sub.name == "top":
            current = _limit_per_row(compiler, current, sub.params["count"], sub.params["keys"], env)
        elif sub.name == "sort" and i + 1 < len(ops) and ops[i + 1].name == "take":
            current = _limit_per_row(compiler, current, ops[i + 1].params["count"], sub.params["keys"], env)
            i += 1
        else:
            raise compiler.unsupported(f"{sub.name!r} inside mv-apply is not supported", sub)
        i += 1
    ordered = [c for c in outer_columns if c in current.columns]
    ordered += [c for c in current.columns if c not in ordered and c != ROW]
    sql = select_from(current, [col(c) for c in ordered])
    return Rel(sql, {c: current.columns[c] for c in ordered})
