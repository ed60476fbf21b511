"""Conditionals and emptiness tests: iff/iif, case, coalesce, not, isempty/isnotempty, isnull/isnotnull.

Kusto's null rules differ from SQL's: a null condition picks the else branch; a string is never
null (``isnull("")`` is false, ``isempty(null string)`` is true); ``coalesce`` skips empty strings
as well as nulls for string arguments.
"""

from __future__ import annotations

from sqlglot import exp

from entrawatch.kql.functions import _sql as q
from entrawatch.kql.lowering_api import LowerContext, Typed, scalar

_RANK = {"int": 1, "long": 2, "decimal": 3, "real": 4}


def common_type(values: list[Typed]) -> str:
    """The result type of branches: numeric types widen (int < long < real), else the first's."""
    kinds = {v.kql_type for v in values if not isinstance(v.expr, exp.Null)}
    if kinds and kinds <= set(_RANK):
        return max(kinds, key=_RANK.__getitem__)
    return values[0].kql_type if values else "string"


def _branch(t: Typed, kind: str, ctx: LowerContext) -> exp.Expression:
    if kind == "string" and t.kql_type in ("string", "guid"):
        return t.expr
    if kind == "real" and t.kql_type != "real":
        return q.cast(t.expr, "double")
    if kind == "dynamic" and ctx.dialect == "duckdb":
        return q.cast(t.expr, "json")
    return t.expr


@scalar("iff", "iif")
def iff(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("iff", args, ctx, 3)
    condition, then, otherwise = args
    kind = common_type([then, otherwise])
    return Typed(q.case((q.bool_or_false(condition.expr), _branch(then, kind, ctx)),
                        default=_branch(otherwise, kind, ctx)), kind)


@scalar("case")
def case(args: list[Typed], ctx: LowerContext) -> Typed:
    if len(args) < 3 or len(args) % 2 == 0:
        raise q.err(ctx, "case() expects predicate/value pairs and a final else value")
    values = [args[i] for i in range(1, len(args) - 1, 2)] + [args[-1]]
    kind = common_type(values)
    whens = [(q.bool_or_false(args[i].expr), _branch(args[i + 1], kind, ctx)) for i in range(0, len(args) - 1, 2)]
    return Typed(q.case(*whens, default=_branch(args[-1], kind, ctx)), kind)


@scalar("coalesce")
def coalesce(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("coalesce", args, ctx, 1, 64)
    kind = common_type(args)
    if kind in ("string", "guid"):  # Kusto: the first non-empty string
        return Typed(q.coalesce(*[q.fn("nullif", a.expr, q.s("")) for a in args], q.s("")), kind)
    return Typed(q.coalesce(*[_branch(a, kind, ctx) for a in args]), kind)


@scalar("not")
def not_(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("not", args, ctx, 1)
    return Typed(q.not_(q.bool_or_false(args[0].expr)), "bool")


def is_empty(t: Typed, ctx: LowerContext) -> exp.Expression:
    """Null, or an empty string (JSON ``null``/``""`` for dynamic values)."""
    missing = exp.Is(this=t.expr, expression=q.null())
    if t.kql_type in ("string", "guid"):
        return exp.Or(this=missing, expression=exp.EQ(this=t.expr.copy(), expression=q.s("")))
    if t.kql_type == "dynamic":
        text = q.cast(t.expr.copy(), "varchar")
        return exp.Or(this=missing, expression=exp.In(this=text, expressions=[q.s(""), q.s("null"), q.s('""')]))
    return missing


@scalar("isempty")
def isempty(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("isempty", args, ctx, 1)
    return Typed(is_empty(args[0], ctx), "bool")


@scalar("isnotempty", "notempty")
def isnotempty(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("isnotempty", args, ctx, 1)
    return Typed(q.not_(is_empty(args[0], ctx)), "bool")


@scalar("isnull")
def isnull(args: list[Typed], ctx: LowerContext) -> Typed:
    """Kusto strings are never null: isnull(string) is always false."""
    q.arity("isnull", args, ctx, 1)
    arg = args[0]
    if arg.kql_type in ("string", "guid"):
        return Typed(q.false(), "bool")
    if arg.kql_type == "dynamic":
        text = q.cast(arg.expr, "varchar")
        return Typed(exp.Or(this=exp.Is(this=arg.expr.copy(), expression=q.null()),
                            expression=exp.EQ(this=text, expression=q.s("null"))), "bool")
    return Typed(exp.Is(this=arg.expr, expression=q.null()), "bool")


@scalar("isnotnull", "notnull")
def isnotnull(args: list[Typed], ctx: LowerContext) -> Typed:
    return Typed(q.not_(isnull(args, ctx).expr), "bool")
