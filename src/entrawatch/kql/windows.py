"""``row_window_session()``: sequential session starts over a serialized row set, in SQL.

Kusto (docs): walking the rows in order, a row starts a new session when there is no previous
session value (first row, or the previous value was null), when ``Expr >= start +
MaxDistanceFromFirst``, when ``Expr >= previous Expr + MaxDistanceBetweenNeighbors``, or when
``Restart`` is true; the function returns the session's first value (null for a null Expr).

The neighbour and restart rules only look one row back, so window functions give them exactly:
``brk`` marks rows where one of them (or a null) starts a session, and a running ``SUM(brk)``
numbers *segments*. Inside a segment only the from-first rule can start sessions, and it is a
greedy chain (a session starts at the first value >= start + D, from which the next chain link
is measured), which no windowed aggregate expresses. So each row folds the list of its segment's
values so far: ``start = x0; for x in rest: if x >= start + D: start = x`` (DuckDB
``list_reduce``, Spark ``aggregate``). Exact; cost O(L^2) per segment of L rows (segments end
at every gap >= MaxDistanceBetweenNeighbors, so L stays small for sign-in sessions).

The call is hoisted out of extend/project: the helper columns are computed in stages before
the operator (window functions cannot nest), the call is replaced by a hidden column, and the
helpers are dropped again afterwards.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from entrawatch.kql import ast
from entrawatch.kql.functions import _sql
from entrawatch.kql.relation import Rel, alias, col, keep_order, select_from

if TYPE_CHECKING:
    from entrawatch.kql.compiler import Compiler, Env

NAME = "row_window_session"


def _calls(node: Any) -> list[ast.Call]:
    found: list[ast.Call] = []
    if isinstance(node, ast.Call) and node.name == NAME:
        found.append(node)
    if isinstance(node, ast.Node):
        for f in dataclasses.fields(node):
            found += _calls(getattr(node, f.name))
    elif isinstance(node, (list, tuple)):
        for item in node:
            found += _calls(item)
    return found


def _replace(node: Any, mapping: dict[int, ast.Node]) -> Any:
    if isinstance(node, ast.Node):
        if id(node) in mapping:
            return mapping[id(node)]
        changes = {f.name: _replace(getattr(node, f.name), mapping) for f in dataclasses.fields(node)
                   if f.name not in ("line", "column")}
        return dataclasses.replace(node, **changes)
    if isinstance(node, list):
        return [_replace(x, mapping) for x in node]
    if isinstance(node, tuple):
        return tuple(_replace(x, mapping) for x in node)
    return node


def _window(func: exp.Expression, order: list[exp.Ordered], partition: exp.Expression | None = None,
            running: bool = False) -> exp.Window:
    spec = exp.WindowSpec(kind="ROWS", start="UNBOUNDED", start_side="PRECEDING", end="CURRENT ROW") \
        if running else None
    return exp.Window(this=func, partition_by=[partition] if partition is not None else None,
                      order=exp.Order(expressions=[o.copy() for o in order]), spec=spec)


def hoist_sessions(compiler: Compiler, rel: Rel, exprs: list[ast.NamedExpr],
                   env: Env) -> tuple[Rel, list[ast.NamedExpr], list[str]]:
    """Compute every row_window_session() call in ``exprs`` as a column of the returned relation.

    Returns (relation with the helper columns, exprs with the calls replaced by their column,
    helper column names to drop after the operator).
    """
    calls = _calls(exprs)
    if not calls:
        return rel, exprs, []
    from entrawatch.kql.tabular import lowerer

    if rel.order is None:
        raise compiler.semantic(f"{NAME}() needs a serialized row set (sort, top, serialize first)", calls[0])
    d = compiler.dialect
    mapping: dict[int, ast.Node] = {}
    helpers: list[str] = []
    for i, call in enumerate(calls):
        if not 3 <= len(call.args) <= 4:
            raise compiler.semantic(f"{NAME}() expects 3 or 4 arguments", call)
        rel = keep_order(rel)
        order = [o.copy() for o in rel.order or []]
        lower = lowerer(compiler, rel, env)
        value = lower.lower(call.args[0])
        if value.kql_type != "datetime":
            raise compiler.semantic(f"{NAME}() needs a datetime expression, not {value.kql_type}", call.args[0])
        spans = []
        for arg in call.args[1:3]:
            span = lower.lower(arg)
            if span.kql_type != "timespan":
                raise compiler.semantic(f"{NAME}() distances must be timespans", arg)
            if _sql.int_literal_value(span) is None and not isinstance(span.expr, exp.Cast):
                raise compiler.unsupported(f"{NAME}() distances must be constants", arg)
            spans.append(span.expr)
        restart: exp.Expression = _sql.false()
        if len(call.args) == 4:
            typed = lower.lower(call.args[3])
            if typed.kql_type != "bool":
                raise compiler.semantic(f"{NAME}() restart must be a bool", call.args[3])
            restart = _sql.bool_or_false(typed.expr)
        v, r, brk, seg, out = (f"__kql_rws{i}_{x}" for x in ("v", "r", "b", "g", "o"))
        keep = [col(c) for c in [*rel.columns, *rel.hidden]]
        names = dict(rel.columns)
        stage1 = select_from(rel, keep + [alias(_sql.epoch_micros(value.expr, d), v), alias(restart, r)])
        prev = _window(exp.Lag(this=col(v)), order)
        gap = exp.GTE(this=exp.Sub(this=col(v), expression=prev.copy()), expression=exp.Paren(this=spans[1]))
        starts = exp.Or(this=exp.Or(this=exp.Is(this=col(v), expression=exp.Null()),
                                    expression=exp.Is(this=prev.copy(), expression=exp.Null())),
                        expression=exp.Or(this=col(r), expression=gap))
        flag = _sql.case((starts, exp.Literal.number(1)), default=exp.Literal.number(0))
        stage2 = select_from(Rel(stage1, {}), keep + [col(v), alias(flag, brk)])
        stage3 = select_from(Rel(stage2, {}), keep + [col(v), alias(_window(exp.Sum(this=col(brk)), order,
                                                                              running=True), seg)])
        agg = exp.Anonymous(this="list" if d == "duckdb" else "collect_list", expressions=[col(v)])
        stage4 = select_from(Rel(stage3, {}), keep + [col(v), alias(_window(agg, order, partition=col(seg),
                                                                             running=True), seg)])
        session = _sql.case((exp.Is(this=col(v), expression=exp.Null()), exp.Null()),
                            default=_sql.from_epoch_micros(_fold(col(seg), spans[0], d), d))
        stage5 = select_from(Rel(stage4, {}), keep + [alias(session, out)])
        names[out] = "datetime"
        rel = Rel(stage5, names, rel.order, list(rel.hidden))
        mapping[id(call)] = ast.Name(out, line=call.line, column=call.column)
        helpers.append(out)
    return rel, _replace(exprs, mapping), helpers


def _fold(values: exp.Expression, distance: exp.Expression, dialect: str) -> exp.Expression:
    """start = first; for x in the rest: start = x when x >= start + distance."""
    acc, x = exp.to_identifier("acc"), exp.to_identifier("x")
    step = _sql.case((exp.GTE(this=exp.column("x"), expression=exp.Add(this=exp.column("acc"),
                                                                         expression=exp.Paren(this=distance.copy()))),
                      exp.column("x")), default=exp.column("acc"))
    lam = exp.Lambda(this=step, expressions=[acc, x])
    if dialect == "duckdb":
        return _sql.fn("list_reduce", values, lam)
    rest = _sql.fn("slice", values.copy(), exp.Literal.number(2), exp.Literal.number(2_147_483_647))
    return _sql.fn("aggregate", rest, _sql.fn("try_element_at", values, exp.Literal.number(1)), lam)
