"""``summarize``: GROUP BY plus Kusto's multi-column aggregates.

``arg_max``/``arg_min``/``take_any`` with several columns (or ``*``) must return values from one
and the same row. They are lowered to one engine aggregate over a struct (DuckDB ``ARG_MAX``,
Spark ``MAX_BY``, ``ANY_VALUE`` in both) and the struct's fields are unpacked by an outer SELECT,
so no window function or self-join is needed. Kusto puts the ``by`` columns first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from entrawatch.kql import ast
from entrawatch.kql.functions.aggregates import percentile_columns
from entrawatch.kql.lowering_api import Typed
from entrawatch.kql.relation import Rel, alias, col, fresh_alias, select_from, unique_name
from entrawatch.kql.tabular import lowerer, next_column_name, output_name

if TYPE_CHECKING:
    from entrawatch.kql.compiler import Compiler, Env
    from entrawatch.kql.scalars import ScalarLowerer

ROW_SELECTORS = {"arg_max": exp.ArgMax, "arg_min": exp.ArgMin, "take_any": exp.AnyValue, "any": exp.AnyValue}


def _is_row_selector(named: ast.NamedExpr) -> bool:
    call = named.expr
    if not isinstance(call, ast.Call) or call.name not in ROW_SELECTORS:
        return False
    if call.name in ("arg_max", "arg_min"):
        return True
    return len(call.args) > 1 or any(isinstance(a, ast.Star) for a in call.args)


def lower_summarize(compiler: Compiler, rel: Rel, op: ast.Operator, env: Env) -> Rel:
    rows = lowerer(compiler, rel, env)
    aggs = lowerer(compiler, rel, env, aggregate=True)
    inner_alias = fresh_alias()
    group_exprs: list[exp.Expression] = []
    inner: list[exp.Expression] = []
    outer: list[exp.Expression] = []
    columns: dict[str, str] = {}
    needs_outer = False

    for named in op.params["by"]:
        typed = rows.lower(named.expr)
        if typed.kql_type == "dynamic":
            raise compiler.semantic("summarize cannot group by a dynamic value; use tostring()", named)
        name = output_name(named, typed, columns)
        if name in columns:
            raise compiler.semantic(f"duplicate column {name!r} in summarize", named)
        value = rows.nonnull(typed)
        group_exprs.append(value)
        inner.append(alias(value, name))
        outer.append(col(name))
        columns[name] = typed.kql_type
    by_names = set(columns)

    for named in op.params["aggs"]:
        if _is_row_selector(named):
            needs_outer = True
            struct_name = fresh_alias("__kql_s")
            aggregate, fields = _row_selector(compiler, rel, named, env, columns, by_names)
            inner.append(alias(aggregate, struct_name))
            for field_name, out_name, kql_type in fields:
                outer.append(alias(exp.Dot(this=col(struct_name, inner_alias),
                                           expression=exp.to_identifier(field_name, quoted=True)), out_name))
                columns[out_name] = kql_type
            continue
        if _is_multi_percentile(named):
            for name, typed in _percentile_columns(aggs, named, columns):
                inner.append(alias(typed.expr, name))
                outer.append(col(name))
                columns[name] = typed.kql_type
            continue
        typed = aggs.lower(named.expr)
        name = output_name(named, typed, columns)
        name = unique_name(name, columns) if not named.names else name
        if name in columns:
            raise compiler.semantic(f"duplicate column {name!r} in summarize", named)
        inner.append(alias(typed.expr, name))
        outer.append(col(name))
        columns[name] = typed.kql_type

    if not inner:
        raise compiler.semantic("summarize needs an aggregate or a by clause", op)
    sql = select_from(rel, inner)
    if group_exprs:
        sql = sql.group_by(*[g.copy() for g in group_exprs], copy=False)
    if needs_outer:
        sql = select_from(Rel(sql, columns), outer, inner_alias)
    return Rel(sql, columns)


def _is_multi_percentile(named: ast.NamedExpr) -> bool:
    call = named.expr
    return isinstance(call, ast.Call) and call.name == "percentiles" and len(call.args) > 2


def _percentile_columns(aggs: ScalarLowerer, named: ast.NamedExpr,
                        taken: dict[str, str]) -> list[tuple[str, Typed]]:
    """``percentiles(x, 50, 95)`` -> columns ``percentile_x_50``, ``percentile_x_95`` (Kusto's
    names); ``(p50, p95) = percentiles(...)`` renames them in order."""
    call: ast.Call = named.expr  # type: ignore[assignment]
    args = [aggs.lower_arg(a) for a in call.args]
    values = percentile_columns(args, aggs.ctx(call))
    if len(named.names) > len(values):
        raise aggs.semantic("more names than percentiles", named)
    out: list[tuple[str, Typed]] = []
    for i, typed in enumerate(values):
        name = named.names[i] if i < len(named.names) else unique_name(typed.default_name or "percentile_", taken)
        if name in taken or any(name == n for n, _ in out):
            raise aggs.semantic(f"duplicate column {name!r} in summarize", named)
        out.append((name, typed))
    return out


def _row_selector(compiler: Compiler, rel: Rel, named: ast.NamedExpr, env: Env, taken: dict[str, str],
                  by_names: set[str]) -> tuple[exp.Expression, list[tuple[str, str, str]]]:
    """arg_max(key, cols|*) / take_any(cols|*): (aggregate over a struct, [(field, column, type)])."""
    call: ast.Call = named.expr  # type: ignore[assignment]
    rows = lowerer(compiler, rel, env)
    args = list(call.args)
    key: Typed | None = None
    values: list[tuple[str, Typed]] = []
    if call.name in ("arg_max", "arg_min"):
        if not args:
            raise compiler.semantic(f"{call.name}() needs an expression to maximise", call)
        key = rows.lower(args.pop(0))
        if key.kql_type == "dynamic":
            raise compiler.semantic(f"{call.name}() cannot order by a dynamic value", call)
        key_name = key.default_name or next_column_name(taken)
        values.append((key_name, key))
    seen = {name for name, _ in values}
    for arg in args:
        if isinstance(arg, ast.Star):
            for column, kql_type in rel.columns.items():
                if column in seen or column in by_names:
                    continue
                values.append((column, Typed(col(column), kql_type, column)))
                seen.add(column)
            continue
        typed = rows.lower(arg)
        name = typed.default_name or next_column_name(taken | dict.fromkeys(seen, ""))
        if name in seen:
            continue
        values.append((name, typed))
        seen.add(name)
    if named.names:
        if len(named.names) > len(values):
            raise compiler.semantic("more names than columns in the aggregate", named)
        values = [(named.names[i] if i < len(named.names) else n, t) for i, (n, t) in enumerate(values)]
    fields: list[tuple[str, str, str]] = []
    struct_items: list[exp.Expression] = []
    out_taken = dict(taken)
    for i, (name, typed) in enumerate(values):
        field_name = f"f{i}"
        out_name = unique_name(name, out_taken)
        out_taken[out_name] = typed.kql_type
        struct_items.append(exp.PropertyEQ(this=exp.to_identifier(field_name), expression=rows.nonnull(typed)))
        fields.append((field_name, out_name, typed.kql_type))
    struct = exp.Struct(expressions=struct_items)
    cls = ROW_SELECTORS[call.name]
    ordered = _row_order(struct_items, fields)
    if key is not None:
        aggregate: exp.Expression = cls(this=struct, expression=_tie_broken(key.expr, ordered))
    elif ordered:
        # take_any of several columns: the row with the smallest values, like take_any(x)'s
        # smallest value, so every run and engine returns the same row (see _tie_broken).
        aggregate = exp.ArgMin(this=struct, expression=exp.Struct(expressions=ordered))
    else:
        aggregate = cls(this=struct)  # only dynamic values: no order both engines share
    return aggregate, fields


def _row_order(items: list[exp.Expression], fields: list[tuple[str, str, str]]) -> list[exp.Expression]:
    """The row's values as ordering fields, dynamic ones left out: Spark cannot order them."""
    return [exp.PropertyEQ(this=exp.to_identifier(f"t{i}"), expression=item.expression.copy())
            for i, (item, (_, _, kql_type)) in enumerate(zip(items, fields, strict=True)) if kql_type != "dynamic"]


def _tie_broken(key: exp.Expression, ordered: list[exp.Expression]) -> exp.Expression:
    """The ordering value of ``arg_max``/``arg_min``: the key, then the row's other values.

    Kusto returns an arbitrary row among those tied on the key; the engines' choice depends on
    thread scheduling, so the same rule over the same data could fire with different rows (and a
    different alert identity) from run to run. Ordering by ``(key, values…)`` picks one row
    deterministically on both engines.
    """
    ordering = [exp.PropertyEQ(this=exp.to_identifier("k"), expression=key.copy()), *(o.copy() for o in ordered)]
    # a NULL key must stay a NULL ordering value (the row is skipped), not a struct holding a NULL
    return exp.Case(ifs=[exp.If(this=exp.Is(this=key.copy(), expression=exp.Null()), true=exp.Null())],
                    default=exp.Struct(expressions=ordering))
