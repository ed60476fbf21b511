"""``join``, ``lookup`` and ``union``: the operators that combine relations.

Kusto semantics kept here: the default join kind is ``innerunique`` (the left side is
de-duplicated on the join keys before an inner join); right columns whose names collide with
left ones get a numeric suffix (``UserPrincipalName1``); semi/anti joins return one side only;
``lookup`` does not repeat the key columns. ``union`` matches columns by name, and same-named
columns of different types become ``Name_type`` columns (``LocationDetails_dynamic`` and
``LocationDetails_string`` when SigninLogs meets AADNonInteractiveUserSignInLogs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlglot import exp

from entrawatch.errors import KqlSemanticError
from entrawatch.kql import ast
from entrawatch.kql.functions import _sql
from entrawatch.kql.relation import Rel, alias, col, fresh_alias, select_from, unique_name
from entrawatch.kql.scalars import ScalarLowerer, Scope

if TYPE_CHECKING:
    from entrawatch.kql.compiler import Compiler, Env

KIND_ALIASES = {"leftantisemi": "leftanti", "anti": "leftanti", "rightantisemi": "rightanti", "semi": "leftsemi"}


def _key_conditions(compiler: Compiler, left: Rel, right: Rel, keys: list[tuple[str, ast.Node, ast.Node]],
                    env: Env, la: str, ra: str, node: ast.Node) -> tuple[list[exp.Expression], list[str], list[str]]:
    """ON conditions plus the left and right key column names (for de-duplication)."""
    left_scope = Scope(dict(left.columns), qualifier=la)
    right_scope = Scope(dict(right.columns), qualifier=ra)
    both = Scope({}, sides={"$left": left_scope, "$right": right_scope})
    conditions: list[exp.Expression] = []
    left_keys: list[str] = []
    right_keys: list[str] = []
    for kind, lnode, rnode in keys:
        if kind == "same":
            name = lnode.name  # type: ignore[attr-defined]
            for side, rel in (("left", left), ("right", right)):
                if name not in rel.columns:
                    raise compiler.semantic(f"join key {name!r} is not a column of the {side} side", lnode)
            lnode = ast.Path(ast.Name("$left"), name, line=lnode.line, column=lnode.column)
            rnode = ast.Path(ast.Name("$right"), name, line=rnode.line, column=rnode.column)
        lower = ScalarLowerer(compiler, both, env)
        lt, rt = lower.lower(lnode), lower.lower(rnode)
        if _side(lnode) == "$right" and _side(rnode) == "$left":
            lt, rt, lnode, rnode = rt, lt, rnode, lnode
        if _side(lnode) != "$left" or _side(rnode) != "$right":
            raise compiler.unsupported("join conditions must compare $left.Column with $right.Column", node)
        try:
            le, re_ = lower.coerce_pair(lt, rt, "==")
        except KqlSemanticError as err:
            raise compiler.semantic(err.reason, lnode) from None
        conditions.append(exp.EQ(this=le, expression=re_))
        left_keys.append(lnode.member)  # type: ignore[attr-defined]
        right_keys.append(rnode.member)  # type: ignore[attr-defined]
    return conditions, left_keys, right_keys


def _side(node: ast.Node) -> str | None:
    if isinstance(node, ast.Path) and isinstance(node.base, ast.Name):
        return node.base.name
    return None


def _dedupe(rel: Rel, keys: list[str]) -> Rel:
    """innerunique: keep one (arbitrary) left row per key combination."""
    rn = "__kql_rn"
    # Spark requires an ordered window for row_number(); ordering by the keys keeps "any row".
    window = exp.Window(this=exp.RowNumber(), partition_by=[col(k) for k in keys],
                        order=exp.Order(expressions=[exp.Ordered(this=col(k)) for k in keys]))
    inner = select_from(rel, [col(c) for c in rel.columns] + [alias(window, rn)])
    outer = select_from(Rel(inner, rel.columns), [col(c) for c in rel.columns]).where(
        exp.EQ(this=col(rn), expression=exp.Literal.number(1)), copy=False)
    return Rel(outer, dict(rel.columns))


def _nullable(value: exp.Expression, kql_type: str) -> exp.Expression:
    """Columns of the optional side of an outer join: Kusto strings are '' rather than null."""
    if kql_type in ("string", "guid"):
        return _sql.coalesce(value, _sql.s(""))
    return value


def lower_join(compiler: Compiler, rel: Rel, op: ast.Operator, env: Env, *, lookup: bool = False) -> Rel:
    kind = KIND_ALIASES.get(op.params["kind"] or "innerunique", op.params["kind"] or "innerunique")
    left = Rel(rel.sql, dict(rel.columns)) if not rel.hidden else Rel(
        select_from(rel, [col(c) for c in rel.columns]), dict(rel.columns))
    right = compiler.tabular(op.params["right"], env)
    if right.hidden:
        right = Rel(select_from(right, [col(c) for c in right.columns]), dict(right.columns))
    la, ra = fresh_alias(), fresh_alias()
    conditions, left_keys, right_keys = _key_conditions(compiler, left, right, op.params["on"], env, la, ra, op)
    on = conditions[0]
    for extra in conditions[1:]:
        on = exp.And(this=on, expression=extra)
    if kind in ("rightsemi", "rightanti"):
        exists = exp.Exists(this=select_from(left, [exp.Literal.number(1)], la).where(on, copy=False))
        cond = exists if kind == "rightsemi" else exp.Not(this=exists)
        return Rel(select_from(right, [col(c, ra) for c in right.columns], ra).where(cond, copy=False),
                   dict(right.columns))
    if kind in ("leftsemi", "leftanti"):
        exists = exp.Exists(this=select_from(right, [exp.Literal.number(1)], ra).where(on, copy=False))
        cond = exists if kind == "leftsemi" else exp.Not(this=exists)
        return Rel(select_from(left, [col(c, la) for c in left.columns], la).where(cond, copy=False),
                   dict(left.columns))
    if kind == "innerunique":
        left = _dedupe(left, left_keys)
        kind = "inner"
    side = {"inner": None, "leftouter": "LEFT", "rightouter": "RIGHT", "fullouter": "FULL"}.get(kind, "unknown")
    if side == "unknown":
        raise compiler.unsupported(f"join kind {kind!r} is not supported", op)
    columns: dict[str, str] = {}
    projections: list[exp.Expression] = []
    left_optional = kind in ("rightouter", "fullouter")
    right_optional = kind in ("leftouter", "fullouter")
    same_keys = {lk for lk, rk in zip(left_keys, right_keys, strict=True) if lk == rk}
    for name, kql_type in left.columns.items():
        value: exp.Expression = col(name, la)
        if lookup and name in same_keys and kind != "inner":
            value = _sql.coalesce(value, col(name, ra))
        elif left_optional:
            value = _nullable(value, kql_type)
        projections.append(alias(value, name))
        columns[name] = kql_type
    for name, kql_type in right.columns.items():
        if lookup and name in right_keys:
            continue
        out = unique_name(name, columns)
        value = _nullable(col(name, ra), kql_type) if right_optional else col(name, ra)
        projections.append(alias(value, out))
        columns[out] = kql_type
    join = exp.Join(this=right.source(ra), on=on, side=side, kind=None if side else "INNER")
    if side is None:
        join = exp.Join(this=right.source(ra), on=on, kind="INNER")
    sql = exp.Select(expressions=projections).from_(left.source(la), copy=False)
    sql.append("joins", join)
    return Rel(sql, columns)


def lower_lookup(compiler: Compiler, rel: Rel, op: ast.Operator, env: Env) -> Rel:
    kind = op.params["kind"] or "leftouter"
    if kind not in ("leftouter", "inner"):
        raise compiler.semantic("lookup kind must be leftouter or inner", op)
    params = dict(op.params, kind=kind)
    return lower_join(compiler, rel, ast.Operator("join", params, line=op.line, column=op.column), env, lookup=True)


def lower_union(compiler: Compiler, first: Rel | None, params: dict[str, Any], tables: list[ast.Node], env: Env,
                node: ast.Node) -> Rel:
    legs: list[tuple[str, Rel]] = []
    if first is not None:
        legs.append(("union_arg0", first))
    fuzzy = bool(params.get("isfuzzy"))
    for i, table in enumerate(tables):
        try:
            rel = compiler.tabular(table, env)
        except KqlSemanticError:
            if fuzzy:
                continue
            raise
        legs.append((_leg_name(table, len(legs) if first is None else i + 1, env), rel))
    if not legs:
        raise compiler.semantic("union: none of the tables exist", node)
    kind = params.get("kind", "outer")
    # name -> list of types in first-appearance order
    types: dict[str, list[str]] = {}
    for _, rel in legs:
        for name, kql_type in rel.columns.items():
            seen = types.setdefault(name, [])
            if kql_type not in seen:
                seen.append(kql_type)
    if kind == "inner":
        common = [n for n in types if all(n in rel.columns for _, rel in legs)]
        types = {n: types[n] for n in common}
    out_columns: dict[str, str] = {}
    sources: dict[tuple[str, str], str] = {}  # (name, type) -> output column
    source_col = params.get("withsource")
    if source_col:
        out_columns[source_col] = "string"
    for name, kinds in types.items():
        for kql_type in kinds:
            out = name if len(kinds) == 1 else f"{name}_{kql_type}"
            out_columns[out] = kql_type
            sources[(name, kql_type)] = out
    selects: list[exp.Query] = []
    for leg_name, rel in legs:
        projections: list[exp.Expression] = []
        if source_col:
            projections.append(alias(_sql.s(leg_name), source_col))
        by_output = {sources[(n, t)]: n for n, t in rel.columns.items() if (n, t) in sources}
        for out, kql_type in out_columns.items():
            if out == source_col:
                continue
            if out in by_output:
                projections.append(alias(col(by_output[out]), out))
            elif kql_type in ("string", "guid"):
                projections.append(alias(_sql.s(""), out))
            else:
                projections.append(alias(_sql.typed_null(kql_type, compiler.dialect).expr, out))
        selects.append(select_from(rel, projections))
    query: exp.Query = selects[0]
    for select in selects[1:]:
        query = exp.Union(this=query, expression=select, distinct=False)
    if len(selects) == 1:
        return Rel(query, out_columns)
    return Rel(select_from(Rel(query, out_columns), [col(c) for c in out_columns]), out_columns)


def _leg_name(table: ast.Node, index: int, env: Env) -> str:
    if isinstance(table, ast.Name):
        return table.name
    if isinstance(table, ast.Call) and table.name == "table" and table.args:
        arg = table.args[0]
        if isinstance(arg, ast.Literal):
            return str(arg.value)
    return f"union_arg{index}"


def lower_union_op(compiler: Compiler, rel: Rel, op: ast.Operator, env: Env) -> Rel:
    if rel.hidden:
        rel = Rel(select_from(rel, [col(c) for c in rel.columns]), dict(rel.columns))
    return lower_union(compiler, rel, op.params["params"], op.params["tables"], env, op)
