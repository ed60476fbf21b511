"""``make-series``: per group, one array per aggregate over fixed time bins, plus the bin axis.

Lowered as: filter rows to ``[from, to)``, aggregate per (group, bin index), build the full grid
of groups x bin indexes (so empty bins get the default, 0 unless ``default=`` says otherwise), and
collect each group's values ordered by bin index into a JSON array. A missing ``from`` is
``bin(min(axis), step)`` and a missing ``to`` is just past ``max(axis)``, both over the whole input
(scalar sub-queries), so every series shares one axis as in Kusto. The bin axis is a dynamic
array of ISO-8601 UTC datetimes (Kusto's JSON form), which ``mv-expand ... to typeof(datetime)``
turns back into datetimes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from entrawatch.kql import ast
from entrawatch.kql.functions import _sql
from entrawatch.kql.lowering_api import SCALAR_FUNCTIONS, LowerContext, Typed
from entrawatch.kql.relation import Rel, alias, col, fresh_alias, select_from
from entrawatch.kql.tabular import lowerer, output_name

if TYPE_CHECKING:
    from entrawatch.kql.compiler import Compiler, Env

IDX = "__kql_bin"


def _ordered_json_array(value: exp.Expression, dialect: str) -> exp.Expression:
    """JSON array of ``value`` ordered by the bin index (inside an aggregate)."""
    if dialect == "duckdb":
        ordered = exp.Order(this=value, expressions=[exp.Ordered(this=col(IDX), desc=False)])
        return _sql.fn("to_json", exp.ArrayAgg(this=ordered))
    pair = exp.Struct(expressions=[exp.PropertyEQ(this=exp.to_identifier("i"), expression=col(IDX)),
                                   exp.PropertyEQ(this=exp.to_identifier("v"), expression=value)])
    lam = exp.Lambda(this=exp.Dot(this=exp.to_identifier("x"), expression=exp.to_identifier("v")),
                     expressions=[exp.to_identifier("x")])
    return _sql.fn("to_json", _sql.fn("transform", _sql.fn("array_sort", _sql.fn("collect_list", pair)), lam))


def _iso(ts: exp.Expression, dialect: str) -> exp.Expression:
    if dialect == "duckdb":
        return _sql.fn("strftime", _sql.fn("timezone", _sql.s("UTC"), ts), _sql.s("%Y-%m-%dT%H:%M:%S.%f0Z"))
    return _sql.fn("date_format", ts, _sql.s("yyyy-MM-dd'T'HH:mm:ss.SSSSSS'0Z'"))


def _data_start(compiler: Compiler, rel: Rel, on: Typed, step: Typed, op: ast.Operator) -> Typed:
    """Missing ``from``: the bin (``bin(min(axis), step)``, as Kusto's ``bin``) of the earliest value."""
    binned = SCALAR_FUNCTIONS["bin"]([Typed(exp.Min(this=on.expr.copy()), "datetime"), step],
                                     LowerContext(compiler.dialect, compiler.now, op.line, op.column, compiler.query,
                                                  now_sql=compiler.now_sql))
    return Typed(exp.Subquery(this=select_from(rel, [alias(binned.expr, "v")])), "datetime")


def _data_stop(compiler: Compiler, rel: Rel, on: Typed) -> Typed:
    """Missing ``to``: just past the latest value, so its bin is the last one (Kusto: the upper
    bound of the last bin with data)."""
    latest = _sql.add_micros(exp.Max(this=on.expr.copy()), exp.Literal.number(1), compiler.dialect)
    return Typed(exp.Subquery(this=select_from(rel, [alias(latest, "v")])), "datetime")


def lower_make_series(compiler: Compiler, rel: Rel, op: ast.Operator, env: Env) -> Rel:
    p = op.params
    d = compiler.dialect
    rows = lowerer(compiler, rel, env)
    on = rows.lower(p["on"])
    step = rows.lower(p["step"])
    if on.kql_type != "datetime" or step.kql_type != "timespan":
        raise compiler.unsupported("make-series is supported over datetime axes with a timespan step", op)
    start = rows.lower(p["from"]) if p["from"] is not None else _data_start(compiler, rel, on, step, op)
    stop = rows.lower(p["to"]) if p["to"] is not None else _data_stop(compiler, rel, on)
    if start.kql_type != "datetime" or stop.kql_type != "datetime":
        raise compiler.semantic("make-series from/to must be datetimes on a datetime axis", op)
    on_name = on.default_name or "TimeGenerated"
    start_us, stop_us = _sql.epoch_micros(start.expr, d), _sql.epoch_micros(stop.expr, d)
    in_range = exp.And(this=exp.GTE(this=on.expr.copy(), expression=start.expr.copy()),
                       expression=exp.LT(this=on.expr.copy(), expression=stop.expr.copy()))
    index = exp.IntDiv(this=exp.Paren(this=exp.Sub(this=_sql.epoch_micros(on.expr.copy(), d),
                                                   expression=start_us.copy())), expression=step.expr.copy())
    by: list[tuple[str, exp.Expression, str]] = []
    taken: dict[str, str] = {}
    for named in p["by"]:
        typed = rows.lower(named.expr)
        name = output_name(named, typed, taken)
        taken[name] = typed.kql_type
        by.append((name, rows.nonnull(typed), typed.kql_type))
    aggs = lowerer(compiler, rel, env, aggregate=True)
    agg_items: list[tuple[str, exp.Expression, exp.Expression]] = []
    for named, default in p["aggs"]:
        typed = aggs.lower(named.expr)
        name = output_name(named, typed, taken)
        taken[name] = "dynamic"
        fill = rows.lower(default).expr if default is not None else exp.Literal.number(0)
        agg_items.append((name, typed.expr, fill))
    filtered = Rel(select_from(rel, [exp.Star()]).where(in_range, copy=False), dict(rel.columns))
    group_cols = [alias(v.copy(), n) for n, v, _ in by]
    per_bin = select_from(filtered, group_cols + [alias(index, IDX)] + [alias(a, f"__kql_a{i}")
                                                                         for i, (_, a, _) in enumerate(agg_items)])
    per_bin = per_bin.group_by(*[v.copy() for _, v, _ in by], index.copy(), copy=False)
    groups = select_from(filtered, [alias(v.copy(), n) for n, v, _ in by] or [alias(exp.Literal.number(1), "__kql_g")])
    groups = groups.distinct(copy=False)
    count = exp.IntDiv(this=exp.Paren(this=exp.Add(this=exp.Sub(this=stop_us, expression=start_us.copy()),
                                                   expression=exp.Sub(this=step.expr.copy(),
                                                                      expression=exp.Literal.number(1)))),
                       expression=step.expr.copy())
    if d == "duckdb":
        bins = _sql.fn("unnest", _sql.fn("range", count))
    else:
        bins = exp.Explode(this=_sql.fn("sequence", exp.Literal.number(0),
                                        exp.Sub(this=count, expression=exp.Literal.number(1))))
    group_names = [n for n, _, _ in by] or ["__kql_g"]
    grid = select_from(Rel(groups, {}), [col(n) for n in group_names] + [alias(bins, IDX)])
    ga, ba = fresh_alias(), fresh_alias()
    on_cond: exp.Expression = exp.EQ(this=col(IDX, ga), expression=col(IDX, ba))
    for name, _, _ in by:
        on_cond = exp.And(this=on_cond, expression=exp.EQ(this=col(name, ga), expression=col(name, ba)))
    joined_cols = [alias(col(n, ga), n) for n in group_names] + [alias(col(IDX, ga), IDX)]
    joined_cols += [alias(_sql.coalesce(col(f"__kql_a{i}", ba), fill.copy()), f"__kql_v{i}")
                    for i, (_, _, fill) in enumerate(agg_items)]
    # the axis value per row, outside the aggregate: Spark refuses sub-queries (missing from/to)
    # inside the higher-order functions that order the collected values
    axis = _sql.add_micros(start.expr.copy(), exp.Mul(this=col(IDX, ga), expression=step.expr.copy()), d)
    joined_cols.append(alias(_iso(axis, d), "__kql_t"))
    joined = exp.Select(expressions=joined_cols).from_(
        exp.Subquery(this=grid, alias=exp.TableAlias(this=exp.to_identifier(ga))), copy=False)
    joined.append("joins", exp.Join(this=exp.Subquery(this=per_bin, alias=exp.TableAlias(
        this=exp.to_identifier(ba))), on=on_cond, side="LEFT"))
    final = [col(n) for n, _, _ in by]
    columns: dict[str, str] = {n: t for n, _, t in by}
    for i, (name, _, _) in enumerate(agg_items):
        final.append(alias(_sql.json_text(_ordered_json_array(col(f"__kql_v{i}"), d), d), name))
        columns[name] = "dynamic"
    final.append(alias(_sql.json_text(_ordered_json_array(col("__kql_t"), d), d), on_name))
    columns[on_name] = "dynamic"
    sql = select_from(Rel(joined, {}), final)
    if by:
        sql = sql.group_by(*[col(n) for n, _, _ in by], copy=False)
    return Rel(sql, columns)
