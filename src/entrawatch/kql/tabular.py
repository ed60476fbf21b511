"""Lowering of the row-and-column pipe operators (where, extend, project*, summarize, sort...).

:data:`OPERATOR_LOWERINGS` mirrors :data:`entrawatch.kql.parser.OPERATOR_PARSERS`. Each function
takes the relation so far and returns a new one that wraps it (see :mod:`relation` for why).
Joins, unions and expansion operators live in :mod:`joins` and :mod:`expand`.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlglot import exp

from entrawatch.kql import ast
from entrawatch.kql.functions import _sql
from entrawatch.kql.lowering_api import Typed
from entrawatch.kql.relation import ORDER_COLUMN, Rel, alias, col, keep_order, select_from, with_columns
from entrawatch.kql.scalars import ScalarLowerer, Scope
from entrawatch.kql.windows import hoist_sessions

if TYPE_CHECKING:
    from entrawatch.kql.compiler import Compiler, Env

Lowering = Callable[["Compiler", Rel, ast.Operator, "Env"], Rel]


def lowerer(compiler: Compiler, rel: Rel, env: Env, **scope_args: object) -> ScalarLowerer:
    return ScalarLowerer(compiler, Scope(dict(rel.columns), order=rel.order, **scope_args), env)  # type: ignore[arg-type]


def next_column_name(taken: set[str] | dict[str, str]) -> str:
    n = 1
    while f"Column{n}" in taken:
        n += 1
    return f"Column{n}"


def output_name(named: ast.NamedExpr, typed: Typed, taken: set[str] | dict[str, str]) -> str:
    if named.names:
        return named.names[0]
    if typed.default_name:
        return typed.default_name
    return next_column_name(taken)


def materialize_value(lower: ScalarLowerer, typed: Typed) -> exp.Expression:
    """The SQL stored in a column: strings never null, booleans two-valued like Kusto's."""
    return lower.nonnull(typed)


def star_from(rel: Rel) -> exp.Select:
    return select_from(rel, [exp.Star()])


# --- filters and projections --------------------------------------------------------------
def lower_where(compiler: Compiler, rel: Rel, op: ast.Operator, env: Env) -> Rel:
    pred = lowerer(compiler, rel, env).lower(op.params["predicate"])
    if pred.kql_type != "bool":
        raise compiler.semantic(f"where needs a bool predicate, not {pred.kql_type}", op.params["predicate"])
    if rel.scan is not None:
        sql = rel.sql.copy().where(_on_scan(pred.expr, rel), copy=False)
        return Rel(sql, dict(rel.columns), rel.order, list(rel.hidden), scan=rel.scan)
    sql = star_from(rel).where(pred.expr, copy=False)
    return Rel(sql, dict(rel.columns), rel.order, list(rel.hidden))


def _nonempty_string(e: exp.Expression) -> bool:
    return isinstance(e, exp.Literal) and e.is_string and e.this != ""


def _raw_string_ok(column: exp.Column, rel: Rel) -> bool:
    """``col = 'x'`` / ``col IN ('x', 'y')`` with non-empty literals: NULL and '' both fail, so the
    raw (possibly null) column gives Kusto's answer and the engine can push the filter down."""
    parent = column.parent
    while isinstance(parent, exp.Paren):
        parent = parent.parent
    if isinstance(parent, exp.EQ):
        left_has = parent.this is column or any(c is column for c in parent.this.find_all(exp.Column))
        return _nonempty_string(parent.expression if left_has else parent.this)
    if isinstance(parent, exp.In) and not parent.args.get("query"):
        return bool(parent.expressions) and all(_nonempty_string(e) for e in parent.expressions)
    return False


def _on_scan(pred: exp.Expression, rel: Rel) -> exp.Expression:
    """Rewrite a predicate over the scan's output columns into one over the table's columns."""
    assert rel.scan is not None
    pred = pred.copy()
    for column in list(pred.find_all(exp.Column)):
        if column.table or column.name not in rel.scan or column.find_ancestor(exp.Select, exp.Subquery):
            continue  # qualified, unknown, or inside a sub-query (its own columns)
        source = rel.scan[column.name]
        if isinstance(source, exp.Column):
            continue
        if rel.columns.get(column.name) in ("string", "guid") and _raw_string_ok(column, rel):
            continue
        replacement = source.copy()
        if column is pred:
            pred = replacement
        else:
            column.replace(replacement)
    return pred


#: Functions returning several columns: name -> output count (``(a, b, c) = f(...)``).
MULTI_OUTPUT = {"series_decompose_anomalies": 3}


def _split_tuples(compiler: Compiler, exprs: list[ast.NamedExpr]) -> list[ast.NamedExpr]:
    """``(flags, score, baseline) = series_decompose_anomalies(...)`` -> one item per output."""
    out: list[ast.NamedExpr] = []
    for named in exprs:
        if len(named.names) <= 1:
            out.append(named)
            continue
        call = named.expr
        if not isinstance(call, ast.Call) or call.name not in MULTI_OUTPUT:
            raise compiler.unsupported("assigning several columns from one expression is not supported", named)
        if len(named.names) > MULTI_OUTPUT[call.name]:
            raise compiler.semantic(f"{call.name}() returns {MULTI_OUTPUT[call.name]} columns", named)
        for i, name in enumerate(named.names):
            component = ast.Call(f"__kql_component_{i}", [call], line=call.line, column=call.column)
            out.append(ast.NamedExpr([name], component, line=named.line, column=named.column))
    return out


def _computed(compiler: Compiler, rel: Rel, exprs: list[ast.NamedExpr], env: Env,
              names: dict[str, str]) -> list[tuple[str, exp.Expression, str]]:
    """Lower extend/project items; later items see earlier ones (Kusto allows ``x=1, y=x+1``)."""
    lower = lowerer(compiler, rel, env)
    out: list[tuple[str, exp.Expression, str]] = []
    for named in _split_tuples(compiler, exprs):
        typed = lower.lower(named.expr)
        if typed.kql_type == "star":
            raise compiler.semantic("'*' is not a value", named)
        name = output_name(named, typed, names)
        value = materialize_value(lower, typed)
        out.append((name, value, typed.kql_type))
        names[name] = typed.kql_type
        lower.scope.columns.pop(name, None)
        lower.computed[name] = Typed(value, typed.kql_type, default_name=name)
    return out


def lower_extend(compiler: Compiler, rel: Rel, op: ast.Operator, env: Env) -> Rel:
    rel, exprs, helpers = hoist_sessions(compiler, rel, op.params["exprs"], env)
    if helpers:
        extended = lower_extend(compiler, rel, ast.Operator("extend", {"exprs": exprs}), env)
        return _reproject(extended, [c for c in extended.columns if c not in helpers])
    rel = keep_order(rel)
    items = _computed(compiler, rel, op.params["exprs"], env, dict(rel.columns))
    replaced = {name: (value, kql_type) for name, value, kql_type in items}
    return with_columns(rel, replaced)


def lower_project(compiler: Compiler, rel: Rel, op: ast.Operator, env: Env) -> Rel:
    rel, exprs, _ = hoist_sessions(compiler, rel, op.params["exprs"], env)
    rel = keep_order(rel)
    items = _computed(compiler, rel, exprs, env, {})
    projections: list[exp.Expression] = []
    columns: dict[str, str] = {}
    for name, value, kql_type in items:
        if name in columns:
            raise compiler.semantic(f"column {name!r} is projected twice", op)
        projections.append(alias(value, name))
        columns[name] = kql_type
    projections += [col(h) for h in rel.hidden]
    return Rel(select_from(rel, projections), columns, rel.order, list(rel.hidden))


def _match(compiler: Compiler, rel: Rel, patterns: list[str], op: ast.Operator, *, strict: bool) -> list[str]:
    matched: list[str] = []
    for pattern in patterns:
        hits = [c for c in rel.columns if fnmatch.fnmatchcase(c, pattern)]
        if not hits and strict and "*" not in pattern:
            raise compiler.semantic(f"unknown column {pattern!r}", op)
        matched += [h for h in hits if h not in matched]
    return matched


def _reproject(rel: Rel, names: list[str], renames: dict[str, str] | None = None) -> Rel:
    renames = renames or {}
    rel = keep_order(rel) if any(n in renames for n in names) else rel
    projections: list[exp.Expression] = []
    columns: dict[str, str] = {}
    for name in names:
        new = renames.get(name, name)
        projections.append(alias(col(name), new) if new != name else col(name))
        columns[new] = rel.columns[name]
    projections += [col(h) for h in rel.hidden]
    order = rel.order
    if order and any(isinstance(o.this, exp.Column) and o.this.name not in columns and o.this.name not in rel.hidden
                     for o in order):
        return _reproject(keep_order(rel), names, renames)
    return Rel(select_from(rel, projections), columns, order, list(rel.hidden))


def lower_project_away(compiler: Compiler, rel: Rel, op: ast.Operator, env: Env) -> Rel:
    drop = set(_match(compiler, rel, op.params["columns"], op, strict=True))
    rel = keep_order(rel) if drop else rel
    return _reproject(rel, [c for c in rel.columns if c not in drop])


def lower_project_keep(compiler: Compiler, rel: Rel, op: ast.Operator, env: Env) -> Rel:
    keep = set(_match(compiler, rel, op.params["columns"], op, strict=True))
    rel = keep_order(rel)
    return _reproject(rel, [c for c in rel.columns if c in keep])


def lower_project_reorder(compiler: Compiler, rel: Rel, op: ast.Operator, env: Env) -> Rel:
    first = _match(compiler, rel, op.params["columns"], op, strict=True)
    return _reproject(rel, first + [c for c in rel.columns if c not in first])


def lower_project_rename(compiler: Compiler, rel: Rel, op: ast.Operator, env: Env) -> Rel:
    renames: dict[str, str] = {}
    for new, old in op.params["renames"]:
        if old not in rel.columns:
            raise compiler.semantic(f"unknown column {old!r}", op)
        renames[old] = new
    rel = keep_order(rel)
    return _reproject(rel, list(rel.columns), renames)


# --- ordering and limits --------------------------------------------------------------------
def _visible(rel: Rel) -> Rel:
    """Drop hidden columns (a new sort replaces the old order)."""
    if not rel.hidden:
        return Rel(rel.sql, dict(rel.columns))
    return Rel(select_from(rel, [col(c) for c in rel.columns]), dict(rel.columns))


def sort_keys(compiler: Compiler, rel: Rel, keys: list[ast.SortKey], env: Env) -> list[exp.Ordered]:
    lower = lowerer(compiler, rel, env)
    ordered: list[exp.Ordered] = []
    for key in keys:
        typed = lower.lower(key.expr)
        if typed.kql_type == "dynamic":
            raise compiler.semantic("cannot sort by a dynamic value; convert it with tostring() first", key)
        nulls_first = key.nulls_first if key.nulls_first is not None else not key.descending
        ordered.append(exp.Ordered(this=typed.expr, desc=key.descending, nulls_first=nulls_first))
    return ordered


def lower_sort(compiler: Compiler, rel: Rel, op: ast.Operator, env: Env) -> Rel:
    base = _visible(rel)
    return Rel(base.sql, dict(base.columns), sort_keys(compiler, base, op.params["keys"], env))


def _limit_value(compiler: Compiler, rel: Rel, node: ast.Node, env: Env) -> exp.Expression:
    typed = ScalarLowerer(compiler, Scope({}), env).lower(node)
    if typed.kql_type not in ("long", "int"):
        raise compiler.semantic("the row count must be an integer", node)
    value = _sql.int_literal_value(typed)
    if value is None:
        raise compiler.unsupported("the row count must be a constant", node)
    return exp.Literal.number(max(value, 0))


def lower_take(compiler: Compiler, rel: Rel, op: ast.Operator, env: Env) -> Rel:
    limit = _limit_value(compiler, rel, op.params["count"], env)
    sql = star_from(rel)
    if rel.order:
        sql = sql.order_by(*[o.copy() for o in rel.order], copy=False)
    return Rel(sql.limit(limit, copy=False), dict(rel.columns), rel.order, list(rel.hidden))


def lower_top(compiler: Compiler, rel: Rel, op: ast.Operator, env: Env) -> Rel:
    base = _visible(rel)
    order = sort_keys(compiler, base, op.params["keys"], env)
    limit = _limit_value(compiler, rel, op.params["count"], env)
    sql = star_from(base).order_by(*[o.copy() for o in order], copy=False).limit(limit, copy=False)
    return Rel(sql, dict(base.columns), order)


def lower_serialize(compiler: Compiler, rel: Rel, op: ast.Operator, env: Env) -> Rel:
    """Freeze the current row order. Without a prior sort the order is the engine's read order,
    numbered once into the hidden order column (``row_number() OVER ()`` on DuckDB; Spark needs
    an ordered window, so ``monotonically_increasing_id()``, which follows partition order)."""
    if rel.order is None:
        if compiler.dialect == "duckdb":
            number: exp.Expression = exp.Window(this=exp.RowNumber())
        else:
            number = exp.Anonymous(this="monotonically_increasing_id", expressions=[])
        sql = select_from(rel, [col(c) for c in rel.columns] + [alias(number, ORDER_COLUMN)])
        rel = Rel(sql, dict(rel.columns), [exp.Ordered(this=col(ORDER_COLUMN), desc=False)], [ORDER_COLUMN])
    if op.params["exprs"]:
        return lower_extend(compiler, rel, ast.Operator("extend", {"exprs": op.params["exprs"]}), env)
    return rel


def lower_distinct(compiler: Compiler, rel: Rel, op: ast.Operator, env: Env) -> Rel:
    if not op.params["exprs"]:
        sql = select_from(rel, [col(c) for c in rel.columns]).distinct(copy=False)
        return Rel(sql, dict(rel.columns))
    items = _computed(compiler, rel, op.params["exprs"], env, {})
    sql = select_from(rel, [alias(value, name) for name, value, _ in items]).distinct(copy=False)
    return Rel(sql, {name: kql_type for name, _, kql_type in items})


def lower_count(compiler: Compiler, rel: Rel, op: ast.Operator, env: Env) -> Rel:
    sql = select_from(rel, [alias(exp.Count(this=exp.Star()), "Count")])
    return Rel(sql, {"Count": "long"})


def lower_as(compiler: Compiler, rel: Rel, op: ast.Operator, env: Env) -> Rel:
    from entrawatch.kql.compiler import Binding

    env.names[op.params["name"]] = Binding("rel", rel)
    return rel


def lower_invoke(compiler: Compiler, rel: Rel, op: ast.Operator, env: Env) -> Rel:
    call: ast.Call = op.params["call"]
    binding = env.lookup(call.name)
    if binding is None or binding.kind != "function":
        raise compiler.unsupported(f"invoke of {call.name}() (only let-defined functions are supported)", call)
    return compiler.call_tabular_function(binding, call, env, piped=rel)


def lower_getschema(compiler: Compiler, rel: Rel, op: ast.Operator, env: Env) -> Rel:
    rows = []
    for i, (name, kql_type) in enumerate(rel.columns.items()):
        rows.append(exp.Select(expressions=[
            alias(_sql.s(name), "ColumnName"), alias(exp.Literal.number(i), "ColumnOrdinal"),
            alias(_sql.s(f"System.{_DOTNET.get(kql_type, 'Object')}"), "DataType"),
            alias(_sql.s(kql_type), "ColumnType")]))
    query: exp.Query = rows[0]
    for row in rows[1:]:
        query = exp.Union(this=query, expression=row, distinct=False)
    columns = {"ColumnName": "string", "ColumnOrdinal": "int", "DataType": "string", "ColumnType": "string"}
    return Rel(select_from(Rel(query, columns), [col(c) for c in columns]), columns,
               [exp.Ordered(this=col("ColumnOrdinal"), desc=False, nulls_first=True)])


_DOTNET = {"string": "String", "long": "Int64", "int": "Int32", "real": "Double", "bool": "Boolean",
           "datetime": "DateTime", "timespan": "TimeSpan", "guid": "Guid", "dynamic": "Object",
           "decimal": "Data.SqlTypes.SqlDecimal"}


def lower_operator(compiler: Compiler, rel: Rel, op: ast.Operator, env: Env) -> Rel:
    from entrawatch.kql.operator_table import OPERATOR_LOWERINGS

    lowering = OPERATOR_LOWERINGS.get(op.name)
    if lowering is None:
        raise compiler.unsupported(f"the {op.name!r} operator is not supported", op)
    return lowering(compiler, rel, op, env)


__all__ = ["ORDER_COLUMN", "lower_operator"]
