"""Aggregation functions for ``summarize`` with Kusto's default output names.

Names follow Kusto: ``count_``, ``countif_``, ``dcount_<col>``, ``sum_<col>``, ``make_set_<col>``,
``percentile_<col>_<p>``... where <col> is the argument's column. ``dcount`` is exact here
(Kusto's is a HyperLogLog estimate within ~1% at default accuracy), so small counts can differ
from Kusto only where Kusto's estimate is off. ``make_set``/``make_list`` build JSON arrays from
each value's compact JSON text, so element types survive (1 and "1" are distinct), and nulls are
skipped as in Kusto. ``make_set`` returns its elements in ascending order: Kusto leaves the order
unspecified, and a fixed order makes ``make_set(x)[0]`` the same on DuckDB and Spark (and from run
to run); with a size limit the smallest elements are kept.
"""

from __future__ import annotations

from sqlglot import exp

from entrawatch.kql.functions import _sql as q
from entrawatch.kql.functions.conversion import to_string_expr
from entrawatch.kql.functions.dynamic_functions import json_value_text
from entrawatch.kql.lowering_api import LowerContext, Typed, aggregate

DEFAULT_MAX_SIZE = 1_048_576


def _name(prefix: str, args: list[Typed]) -> str:
    column = q.source_name(args[0]) if args else None
    return f"{prefix}_{column}" if column else f"{prefix}_"


def _when(condition: Typed, value: exp.Expression) -> exp.Expression:
    return q.case((q.bool_or_false(condition.expr), value))


def _sql_result(expr: exp.Expression, kql_type: str, dialect: str) -> exp.Expression:
    """Pin aggregate result types (DuckDB widens SUM(BIGINT) to HUGEINT, Spark returns DECIMAL)."""
    if kql_type in ("long", "int", "timespan"):
        return q.cast(expr, "bigint")
    if kql_type in ("real", "decimal"):
        return q.cast(expr, "double")
    return expr


@aggregate("count")
def count(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("count", args, ctx, 0, 1)
    counted = exp.Count(this=args[0].expr if args else exp.Star())
    return Typed(q.cast(counted, "bigint"), "long", "count_")


@aggregate("countif")
def countif(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("countif", args, ctx, 1)
    return Typed(q.cast(exp.Count(this=_when(args[0], q.n(1))), "bigint"), "long", "countif_")


@aggregate("dcount", "count_distinct")
def dcount(args: list[Typed], ctx: LowerContext) -> Typed:
    """Exact distinct count of non-null values (the optional accuracy argument is accepted)."""
    q.arity("dcount", args, ctx, 1, 2)
    counted = exp.Count(this=exp.Distinct(expressions=[args[0].expr]))
    return Typed(q.cast(counted, "bigint"), "long", _name("dcount", args))


@aggregate("dcountif", "count_distinctif")
def dcountif(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("dcountif", args, ctx, 2, 3)
    counted = exp.Count(this=exp.Distinct(expressions=[_when(args[1], args[0].expr)]))
    return Typed(q.cast(counted, "bigint"), "long", _name("dcountif", args))


def _numeric_type(t: Typed) -> str:
    return "long" if t.kql_type in ("int", "long", "bool") else t.kql_type


def _simple(name: str, sql: type[exp.Func], *, conditional: bool, result: str | None = None) -> None:
    @aggregate(name)
    def build(args: list[Typed], ctx: LowerContext) -> Typed:
        q.arity(name, args, ctx, 2 if conditional else 1)
        value = _when(args[1], args[0].expr) if conditional else args[0].expr
        kind = result or (_numeric_type(args[0]) if sql is exp.Sum else args[0].kql_type)
        return Typed(_sql_result(sql(this=value), kind, ctx.dialect), kind, _name(name, args))


_simple("sum", exp.Sum, conditional=False)
_simple("sumif", exp.Sum, conditional=True)
_simple("avg", exp.Avg, conditional=False, result="real")
_simple("avgif", exp.Avg, conditional=True, result="real")
_simple("min", exp.Min, conditional=False)
_simple("max", exp.Max, conditional=False)
_simple("minif", exp.Min, conditional=True)
_simple("maxif", exp.Max, conditional=True)
_simple("stdev", exp.StddevSamp, conditional=False, result="real")
_simple("stdevif", exp.StddevSamp, conditional=True, result="real")
_simple("stdevp", exp.StddevPop, conditional=False, result="real")
_simple("variance", exp.VarianceSamp if hasattr(exp, "VarianceSamp") else exp.Variance, conditional=False,
        result="real")
_simple("varianceif", exp.VarianceSamp if hasattr(exp, "VarianceSamp") else exp.Variance, conditional=True,
        result="real")
_simple("variancep", exp.VariancePop, conditional=False, result="real")


@aggregate("take_any", "any")
def take_any(args: list[Typed], ctx: LowerContext) -> Typed:
    """A non-null value of the group; named after the column like Kusto.

    Kusto's choice is arbitrary, so any value is correct; entrawatch takes the smallest. Why: an
    alert's id hashes its row, so an engine-chosen value (``any_value`` follows thread scheduling)
    could give a re-run of the same window another row and store the same finding twice.
    """
    q.arity("take_any", args, ctx, 1)
    return Typed(q.fn("min", args[0].expr), args[0].kql_type, q.source_name(args[0]))


def _collect_value(value: Typed, ctx: LowerContext) -> exp.Expression:
    """The per-row value collected: native types stay native (the engine's to_json renders them
    as Kusto does); datetimes/timespans become Kusto's text; dynamic stays JSON."""
    if value.kql_type in ("datetime", "timespan"):
        return to_string_expr(value, ctx.dialect, null_as_empty=False)
    if value.kql_type in ("real", "decimal"):
        return q.cast(value.expr, "double")
    if value.kql_type == "dynamic" and ctx.dialect == "duckdb":
        return q.cast(value.expr, "json")
    return value.expr


def _collect(args: list[Typed], ctx: LowerContext, *, distinct: bool, condition: Typed | None,
             max_size: Typed | None) -> exp.Expression:
    value = _collect_value(args[0], ctx)
    if condition is not None:
        value = q.case((q.bool_or_false(condition.expr), value))
    limit = q.cast(max_size.expr, "bigint") if max_size is not None else q.n(DEFAULT_MAX_SIZE)
    if ctx.dialect == "duckdb":
        listed = q.fn("list", exp.Distinct(expressions=[value]) if distinct else value)
        collected = exp.Filter(this=listed, expression=exp.Where(
            this=q.not_(exp.Is(this=value.copy(), expression=q.null()))))
        if distinct:  # sets in ascending order: deterministic, and the same on both engines
            collected = q.fn("list_sort", collected)
        limited = q.fn("list_slice", collected, q.n(1), limit)
        return q.coalesce(q.fn("to_json", limited), q.dynamic_literal([], ctx.dialect))
    collected = q.fn("collect_set" if distinct else "collect_list", value)
    if distinct:
        collected = q.fn("array_sort", collected)
    limited = q.fn("slice", collected, q.n(1), q.cast(limit, "int"))
    if args[0].kql_type == "dynamic":
        element = exp.to_identifier("e")
        limited = q.fn("transform", limited, exp.Lambda(this=q.fn("parse_json", exp.column("e")),
                                                       expressions=[element]))
    return q.fn("to_json", limited)


def _register_collect(name: str, *, distinct: bool, conditional: bool) -> None:
    @aggregate(name)
    def build(args: list[Typed], ctx: LowerContext) -> Typed:
        base = 2 if conditional else 1
        q.arity(name, args, ctx, base, base + 1)
        condition = args[1] if conditional else None
        max_size = args[base] if len(args) > base else None
        expr = _collect(args, ctx, distinct=distinct, condition=condition, max_size=max_size)
        return Typed(expr, "dynamic", _name(name, args))


_register_collect("make_set", distinct=True, conditional=False)
_register_collect("make_set_if", distinct=True, conditional=True)
_register_collect("make_list", distinct=False, conditional=False)
_register_collect("make_list_if", distinct=False, conditional=True)
_register_collect("makeset", distinct=True, conditional=False)
_register_collect("makelist", distinct=False, conditional=False)


@aggregate("make_bag")
def make_bag(args: list[Typed], ctx: LowerContext) -> Typed:
    """Union of property bags; non-objects are skipped; on a duplicate key one value is kept."""
    q.arity("make_bag", args, ctx, 1, 2)
    bag = q.cast(args[0].expr, "varchar")
    is_object = q.bool_or_false(q.fn("starts_with" if ctx.dialect == "duckdb" else "startswith", bag, q.s("{")))
    kept = q.case((is_object, bag.copy()))
    first, second = exp.to_identifier("acc"), exp.to_identifier("nxt")
    if ctx.dialect == "duckdb":
        collected = q.fn("list", q.cast(kept, "json"))
        merge = exp.Lambda(this=q.fn("json_merge_patch", exp.column("acc"), exp.column("nxt")),
                           expressions=[first, second])
        merged = q.fn("list_reduce", q.fn("list_filter", collected, exp.Lambda(
            this=q.not_(exp.Is(this=exp.column("b"), expression=q.null())), expressions=[exp.to_identifier("b")])),
                      merge)
        return Typed(q.coalesce(merged, q.dynamic_literal({}, ctx.dialect)), "dynamic", _name("make_bag", args))
    maps = q.fn("collect_list", q.fn("from_json", kept, q.s("map<string,variant>")))
    keep_new = exp.Lambda(this=q.not_(q.fn("array_contains", q.fn("map_keys", exp.column("acc")), exp.column("k"))),
                          expressions=[exp.to_identifier("k"), exp.to_identifier("v")])
    step = exp.Lambda(this=q.fn("map_concat", exp.column("acc"), q.fn("map_filter", exp.column("nxt"), keep_new)),
                      expressions=[first, second])
    start_map = q.fn("from_json", q.s("{}"), q.s("map<string,variant>"))
    merged = q.fn("aggregate", maps, start_map, step)
    return Typed(q.fn("to_json", merged), "dynamic", _name("make_bag", args))


def _percentile_value(value: Typed, fraction: exp.Expression, ctx: LowerContext) -> exp.Expression:
    """Nearest-rank percentile: the smallest value with at least p% of values at or below it."""
    if ctx.dialect == "duckdb":
        picked = q.fn("quantile_disc", value.expr, fraction)
    else:
        picked = exp.WithinGroup(this=q.fn("percentile_disc", fraction),
                                 expression=exp.Order(expressions=[exp.Ordered(this=value.expr)]))
    if value.kql_type in q.NUMERIC_TYPES:
        return _sql_result(picked, value.kql_type, ctx.dialect)
    return picked


def _fraction(p: Typed, ctx: LowerContext) -> tuple[exp.Expression, str]:
    literal = p.expr
    while isinstance(literal, (exp.Cast, exp.Paren)):
        literal = literal.this
    text = literal.this if isinstance(literal, exp.Literal) and not literal.is_string else None
    if text is None:
        raise q.err(ctx, "percentile() needs a constant percentage")
    label = text[:-2] if text.endswith(".0") else text.replace(".", "_")
    return exp.Div(this=q.cast(p.expr, "double"), expression=q.n(100.0)), label


@aggregate("percentile")
def percentile(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("percentile", args, ctx, 2)
    fraction, label = _fraction(args[1], ctx)
    column = q.source_name(args[0]) or ""
    return Typed(_percentile_value(args[0], fraction, ctx), args[0].kql_type, f"percentile_{column}_{label}")


@aggregate("percentiles")
def percentiles(args: list[Typed], ctx: LowerContext) -> Typed:
    """Single-percentile form only: several percentiles produce several columns (core's job)."""
    if len(args) != 2:
        raise q.err(ctx, "percentiles() with several percentiles must be expanded by the summarize "
                         "lowering into one percentile() per value (see percentile_columns())",
                    unsupported=True)
    return percentile(args, ctx)


def percentile_columns(args: list[Typed], ctx: LowerContext) -> list[Typed]:
    """``percentiles(x, 50, 95)`` as one Typed per output column (``percentile_x_50``, ...)."""
    return [percentile([args[0], p], ctx) for p in args[1:]]


@aggregate("percentiles_array")
def percentiles_array(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("percentiles_array", args, ctx, 2, 64)
    texts = [json_value_text(Typed(_percentile_value(args[0], _fraction(p, ctx)[0], ctx), args[0].kql_type), ctx)
             for p in args[1:]]
    array = q.fn("list_value" if ctx.dialect == "duckdb" else "array", *texts)
    return Typed(q.json_array_from_elements(array, ctx.dialect), "dynamic", _name("percentiles", args))
