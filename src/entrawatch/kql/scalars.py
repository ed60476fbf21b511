"""Lowering of scalar KQL expressions to :class:`Typed` sqlglot expressions.

The core owns literals, names, member access, arithmetic, comparisons, logic, ``between`` and
``in``; calls go to the function tables of :mod:`entrawatch.kql.lowering_api` (filled by
:mod:`entrawatch.kql.functions`), except the few that need the binder's scope (``column_ifexists``,
``toscalar``, user-defined functions). Kusto's implicit conversions live here: a number compared
with a string column (``ResultType == 0``), a dynamic value compared with a scalar, datetime and
timespan arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from entrawatch.errors import KqlSemanticError, KqlUnsupportedError
from entrawatch.kql import ast, dynamic
from entrawatch.kql.functions import _sql
from entrawatch.kql.lowering_api import (
    AGGREGATE_FUNCTIONS,
    OPERATORS,
    SCALAR_FUNCTIONS,
    LowerContext,
    Typed,
)

if TYPE_CHECKING:
    from entrawatch.kql.compiler import Compiler, Env

NUMERIC = frozenset({"int", "long", "real", "decimal"})
STRINGY = frozenset({"string", "guid"})

_ARITH = {"+": exp.Add, "-": exp.Sub, "*": exp.Mul, "/": exp.Div, "%": exp.Mod}
_CMP = {"==": exp.EQ, "!=": exp.NEQ, "<": exp.LT, "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE}

#: Functions whose unnamed result Kusto names after their first argument (bin(TimeGenerated, 1h)
#: -> TimeGenerated; tostring(LocationDetails.city) -> LocationDetails_city).
NAME_FROM_FIRST_ARG = frozenset({
    "bin", "bin_at", "floor", "tostring", "todynamic", "parse_json", "toint", "tolong", "toreal",
    "todouble", "todatetime", "totimespan", "tobool", "toboolean", "toguid", "todecimal",
})


#: Calls the core lowers even when a function table defines them: they need the binder's scope
#: (columns, row order, sub-queries).
CORE_FIRST = frozenset({"column_ifexists", "columnifexists", "toscalar", "row_number", "prev", "next", "ago"})


def paren(e: exp.Expression) -> exp.Expression:
    """Parenthesise operator expressions (sqlglot's Binary nodes are also Funcs, so test them first)."""
    if isinstance(e, exp.Binary | exp.Not | exp.Neg | exp.Between | exp.In | exp.Is | exp.Unary):
        return exp.Paren(this=e)
    return e


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


@dataclass
class Scope:
    """The columns visible to an expression: name -> KQL type, plus optional qualifiers for joins."""

    columns: dict[str, str]
    qualifier: str | None = None
    #: ``$left``/``$right`` scopes inside join conditions.
    sides: dict[str, Scope] = field(default_factory=dict)
    #: Aggregation context: calls to aggregates are allowed (summarize, make-series).
    aggregate: bool = False
    #: Row-order context for prev()/next()/row_number(): the ORDER BY of the serialized input.
    order: list[exp.Ordered] | None = None


def _is_nonnull_coalesce(e: exp.Expression) -> bool:
    """COALESCE(..., '') is already a Kusto string (never null)."""
    if not isinstance(e, exp.Coalesce) or not e.expressions:
        return False
    last = e.expressions[-1]
    return isinstance(last, exp.Literal) and last.is_string


def unify_numeric(a: str, b: str) -> str:
    if "real" in (a, b) or "decimal" in (a, b):
        return "real"
    if a == b == "int":
        return "int"
    return "long"


class ScalarLowerer:
    """Lowers one scalar expression tree against a scope and the let-environment."""

    def __init__(self, compiler: Compiler, scope: Scope, env: Env) -> None:
        self.compiler = compiler
        self.scope = scope
        self.env = env
        self.dialect = compiler.dialect
        #: Columns defined earlier in the same extend/project (inlined, not referenced).
        self.computed: dict[str, Typed] = {}

    # -- helpers ---------------------------------------------------------------------------
    def ctx(self, node: ast.Node) -> LowerContext:
        return LowerContext(self.dialect, self.compiler.now, node.line, node.column, self.compiler.query,
                            now_sql=self.compiler.now_sql)

    def semantic(self, message: str, node: ast.Node) -> KqlSemanticError:
        return KqlSemanticError(message, line=node.line, column=node.column, query=self.compiler.query)

    def unsupported(self, message: str, node: ast.Node) -> KqlUnsupportedError:
        return KqlUnsupportedError(message, line=node.line, column=node.column, query=self.compiler.query)

    # -- dispatch --------------------------------------------------------------------------
    def lower(self, node: ast.Node) -> Typed:
        method: Callable[[Any], Typed] | None = getattr(self, f"_lower_{type(node).__name__.lower()}", None)
        if method is None:
            raise self.unsupported(f"{type(node).__name__} is not a scalar expression", node)
        return method(node)

    def _lower_literal(self, node: ast.Literal) -> Typed:
        if node.kind == "long" and node.value is not None:
            return Typed(_sql.n(node.value), "long")
        if node.kind == "real" and node.value is not None and node.value == node.value \
                and abs(node.value) != float("inf"):
            return Typed(_sql.cast(_sql.n(node.value), "double"), "real")
        if node.kind == "real" and node.value is not None:
            text = "NaN" if node.value != node.value else ("Infinity" if node.value > 0 else "-Infinity")
            return Typed(_sql.cast(_sql.s(text), "double"), "real")
        return _sql.literal(node.value, node.kind, self.dialect)

    def _lower_name(self, node: ast.Name) -> Typed:
        name = node.name
        if name in self.computed:
            value = self.computed[name]
            return Typed(value.expr.copy(), value.kql_type, default_name=name)
        if name in self.scope.columns:
            return Typed(col(name, self.scope.qualifier), self.scope.columns[name], default_name=name)
        binding = self.env.lookup(name)
        if binding is not None and binding.kind == "scalar":
            value: Typed = binding.value
            return Typed(value.expr.copy(), value.kql_type, default_name=None)
        if binding is not None and binding.kind == "tabular":
            raise self.semantic(f"{name!r} is a tabular expression, not a scalar", node)
        raise self.semantic(f"unknown column or variable {name!r}", node)

    def _lower_path(self, node: ast.Path) -> Typed:
        if isinstance(node.base, ast.Name) and node.base.name in self.scope.sides:
            side = self.scope.sides[node.base.name]
            if node.member not in side.columns:
                raise self.semantic(f"unknown column {node.member!r} on {node.base.name}", node)
            return Typed(col(node.member, side.qualifier), side.columns[node.member], default_name=node.member)
        base = self.lower(node.base)
        return self._member(base, node.member, node)

    def _member(self, base: Typed, key: str | int, node: ast.Node) -> Typed:
        if base.kql_type != "dynamic":
            raise self.semantic(
                f"member access needs a dynamic value, not {base.kql_type}; use parse_json() first", node)
        name = None
        if base.default_name is not None:
            name = f"{base.default_name}_{key}" if isinstance(key, str) else base.default_name
        return Typed(dynamic.extract(base.expr, key, self.dialect), "dynamic", default_name=name)

    def _lower_index(self, node: ast.Index) -> Typed:
        base = self.lower(node.base)
        index = node.index
        if isinstance(index, ast.Literal) and index.kind == "string" and index.value is not None:
            return self._member(base, index.value, node)
        if isinstance(index, ast.Literal) and index.kind == "long" and index.value is not None:
            if index.value < 0:
                raise self.unsupported("negative array indexes are not supported", node)
            return self._member(base, int(index.value), node)
        raise self.unsupported("only literal keys and non-negative literal indexes are supported in [...]", node)

    def _lower_unary(self, node: ast.Unary) -> Typed:
        operand = self.lower(node.operand)
        if operand.kql_type not in NUMERIC | {"timespan"}:
            raise self.semantic(f"unary {node.op} needs a number or timespan, not {operand.kql_type}", node)
        if node.op == "+":
            return operand
        return Typed(exp.Neg(this=paren(operand.expr)), operand.kql_type)

    def _lower_binary(self, node: ast.Binary) -> Typed:
        op = node.op
        if op in ("and", "or"):
            left, right = self.lower(node.left), self.lower(node.right)
            for side, part in ((left, node.left), (right, node.right)):
                if side.kql_type != "bool":
                    raise self.semantic(f"'{op}' needs bool operands, not {side.kql_type}", part)
            cls = exp.And if op == "and" else exp.Or
            return Typed(cls(this=paren(left.expr), expression=paren(right.expr)), "bool")
        left, right = self.lower(node.left), self.lower(node.right)
        if op in _ARITH:
            return self._arithmetic(op, left, right, node)
        if op in _CMP:
            return self._compare(op, left, right, node)
        builder = OPERATORS.get(op)
        if builder is None:
            if op in ("=~", "!~"):
                return self._case_insensitive_equal(op, left, right)
            raise self.unsupported(f"the {op!r} operator is not supported", node)
        return builder(self._stringish(left), self._stringish(right), self.ctx(node))

    def _stringish(self, value: Typed) -> Typed:
        """String operators on dynamic values see ``tostring(value)``, as in Kusto."""
        if value.kql_type == "dynamic":
            return Typed(dynamic.as_string(value.expr, self.dialect), "string", value.default_name)
        return value

    def _case_insensitive_equal(self, op: str, left: Typed, right: Typed) -> Typed:
        left, right = self._stringish(left), self._stringish(right)
        eq = exp.EQ(this=exp.Lower(this=self.nonnull(left)), expression=exp.Lower(this=self.nonnull(right)))
        return Typed(eq if op == "=~" else exp.Not(this=paren(eq)), "bool")

    def nonnull(self, value: Typed) -> exp.Expression:
        """Kusto strings are never null: computed string expressions are coalesced to ''."""
        if value.kql_type in STRINGY and not isinstance(value.expr, exp.Column | exp.Literal) \
                and not _is_nonnull_coalesce(value.expr):
            return _sql.coalesce(value.expr, _sql.s(""))
        return value.expr

    def _arithmetic(self, op: str, left: Typed, right: Typed, node: ast.Node) -> Typed:
        lt, rt = left.kql_type, right.kql_type
        le, re_ = paren(left.expr), paren(right.expr)
        d = self.dialect
        if lt in NUMERIC and rt in NUMERIC:
            kql_type = unify_numeric(lt, rt)
            if op == "/" and kql_type in ("int", "long"):
                return Typed(exp.IntDiv(this=le, expression=re_), kql_type)
            return Typed(_ARITH[op](this=le, expression=re_), kql_type)
        if lt == "datetime" and rt == "timespan" and op in "+-":
            micros = re_ if op == "+" else exp.Neg(this=re_)
            return Typed(_sql.add_micros(left.expr, micros, d), "datetime")
        if lt == "timespan" and rt == "datetime" and op == "+":
            return Typed(_sql.add_micros(right.expr, le, d), "datetime")
        if lt == "datetime" and rt == "datetime" and op == "-":
            diff = exp.Sub(this=_sql.epoch_micros(left.expr, d), expression=_sql.epoch_micros(right.expr, d))
            return Typed(diff, "timespan")
        if lt == "timespan" and rt == "timespan":
            if op in "+-":
                return Typed(_ARITH[op](this=le, expression=re_), "timespan")
            if op == "/":
                return Typed(exp.Div(this=_sql.cast(le, "double"), expression=re_), "real")
            if op == "%":
                return Typed(exp.Mod(this=le, expression=re_), "timespan")
        if lt == "timespan" and rt in NUMERIC and op in "*/":
            value = _ARITH[op](this=_sql.cast(le, "double"), expression=re_)
            return Typed(_sql.cast(exp.Round(this=value), "bigint"), "timespan")
        if lt in NUMERIC and rt == "timespan" and op == "*":
            return Typed(_sql.cast(exp.Round(this=exp.Mul(this=_sql.cast(le, "double"), expression=re_)),
                                   "bigint"), "timespan")
        raise self.semantic(f"operator {op} is not defined for {lt} and {rt}", node)

    def coerce_pair(self, left: Typed, right: Typed, op: str) -> tuple[exp.Expression, exp.Expression]:
        """Kusto's implicit conversions for comparing two values (see module docstring)."""
        lt, rt = left.kql_type, right.kql_type
        if lt == rt or {lt, rt} <= NUMERIC or {lt, rt} <= STRINGY:
            if lt in STRINGY and rt in STRINGY:
                return self.nonnull(left), self.nonnull(right)
            if lt == rt == "dynamic":
                return dynamic.as_string(left.expr, self.dialect), dynamic.as_string(right.expr, self.dialect)
            return left.expr, right.expr
        if lt == "dynamic" or rt == "dynamic":
            dyn, other = (left, right) if lt == "dynamic" else (right, left)
            if other.kql_type in STRINGY:
                converted = dynamic.as_string(dyn.expr, self.dialect)
            else:
                converted = dynamic.as_type(dyn.expr, _sql.sql_type(other.kql_type, self.dialect), self.dialect)
            return (converted, other.expr) if lt == "dynamic" else (other.expr, converted)
        if {lt, rt} & STRINGY and {lt, rt} & NUMERIC:
            text, number = (left, right) if lt in STRINGY else (right, left)
            if op in ("==", "!="):
                as_text = _sql.cast(number.expr, "varchar")
                return (self.nonnull(text), as_text) if lt in STRINGY else (as_text, self.nonnull(text))
            as_number = _sql.try_cast(text.expr, "double")
            return (as_number, number.expr) if lt in STRINGY else (number.expr, as_number)
        if {lt, rt} & STRINGY and {lt, rt} & {"datetime"}:
            text, when = (left, right) if lt in STRINGY else (right, left)
            as_dt = _sql.try_cast(text.expr, _sql.sql_type("datetime", self.dialect))
            return (as_dt, when.expr) if lt in STRINGY else (when.expr, as_dt)
        raise KqlSemanticError(f"cannot compare {lt} with {rt}")

    def _compare(self, op: str, left: Typed, right: Typed, node: ast.Node) -> Typed:
        try:
            le, re_ = self.coerce_pair(left, right, op)
        except KqlSemanticError as err:
            raise self.semantic(err.reason, node) from None
        return Typed(_CMP[op](this=paren(le), expression=paren(re_)), "bool")

    def _lower_between(self, node: ast.Between) -> Typed:
        value, low, high = self.lower(node.left), self.lower(node.low), self.lower(node.high)
        if value.kql_type == "datetime" and high.kql_type == "timespan":
            high = Typed(_sql.add_micros(low.expr, high.expr, self.dialect), "datetime")
        lo_l, lo_r = self.coerce_pair(value, low, ">=")
        hi_l, hi_r = self.coerce_pair(value, high, "<=")
        cond = exp.And(this=exp.GTE(this=paren(lo_l), expression=paren(lo_r)),
                       expression=exp.LTE(this=paren(hi_l), expression=paren(hi_r)))
        if node.negated:
            return Typed(exp.Not(this=exp.Paren(this=cond)), "bool")
        return Typed(cond, "bool")

    def _lower_inlist(self, node: ast.InList) -> Typed:
        left = self.lower(node.left)
        items = self.list_items(node)
        if node.op in ("in", "!in") and left.kql_type != "dynamic":
            cond = self._in_exact(left, items, node)
            return Typed(cond if node.op == "in" else exp.Not(this=exp.Paren(this=cond)), "bool")
        builder = OPERATORS.get(node.op)
        if builder is None:
            raise self.unsupported(f"the {node.op!r} operator is not supported", node)
        kql_type = items[0].kql_type if items else "string"
        tuple_expr = exp.Tuple(expressions=[i.expr for i in items])
        return builder(self._stringish(left), Typed(tuple_expr, kql_type), self.ctx(node))

    def _in_exact(self, left: Typed, items: list[Typed], node: ast.Node) -> exp.Expression:
        if not items:
            return _sql.false()
        exprs: list[exp.Expression] = []
        conditions: list[exp.Expression] = []
        left_expr = self.nonnull(left)
        for item in items:
            if isinstance(item.expr, exp.Select):
                conditions.append(exp.In(this=paren(left_expr), query=exp.Subquery(this=item.expr)))
                continue
            try:
                le, re_ = self.coerce_pair(left, item, "==")
            except KqlSemanticError as err:
                raise self.semantic(err.reason, node) from None
            exprs.append(re_)
            left_expr = le
        if exprs:
            conditions.insert(0, exp.In(this=paren(left_expr), expressions=exprs))
        result = conditions[0]
        for extra in conditions[1:]:
            result = exp.Or(this=result, expression=extra)
        return paren(result) if len(conditions) > 1 else result

    def list_items(self, node: ast.InList) -> list[Typed]:
        """The right side of ``in``: literals, a dynamic array (literal or let) or a subquery."""
        out: list[Typed] = []
        for item in node.items:
            expanded = self._expand_list_item(item)
            if expanded is None:
                out.append(self.lower(item))
            else:
                out.extend(expanded)
        return out

    def _expand_list_item(self, item: ast.Node) -> list[Typed] | None:
        from entrawatch.kql.compiler import TABULAR_NODES

        if isinstance(item, ast.Literal) and item.kind == "dynamic":
            values = item.value if isinstance(item.value, list) else [item.value]
            return [self._python_literal(v, item) for v in values]
        if isinstance(item, ast.Name) and item.name in self.scope.columns:
            return None
        if isinstance(item, ast.Name):
            binding = self.env.lookup(item.name)
            if binding is not None and binding.kind == "scalar" and isinstance(binding.literal, ast.Literal) \
                    and binding.literal.kind == "dynamic":
                return self._expand_list_item(binding.literal)
        if isinstance(item, TABULAR_NODES) or (
                isinstance(item, ast.Name | ast.Call) and self.compiler.is_tabular(item, self.env)):
            return [self.compiler.subquery_column(item, self.env)]
        return None

    def _python_literal(self, value: Any, node: ast.Node) -> Typed:
        if isinstance(value, bool):
            kind = "bool"
        elif isinstance(value, int):
            kind = "long"
        elif isinstance(value, float):
            kind = "real"
        elif isinstance(value, str):
            kind = "string"
        elif value is None:
            return Typed(_sql.null(), "dynamic")
        else:
            kind = "dynamic"
        return self._lower_literal(ast.Literal(kind, value, line=node.line, column=node.column))

    def _lower_call(self, node: ast.Call) -> Typed:
        name = node.name
        if name.startswith("__kql_component_") and node.args and isinstance(node.args[0], ast.Call):
            from entrawatch.kql.series import lower_call

            return lower_call(self, node.args[0], int(name.rsplit("_", 1)[1]))
        binding = self.env.lookup(name)
        if binding is not None and binding.kind == "function":
            return self.compiler.call_scalar_function(binding, node, self)
        special = getattr(self, f"_call_{name}", None)
        if special is not None and (name not in SCALAR_FUNCTIONS or name in CORE_FIRST):
            return special(node)
        if self.scope.aggregate and name in AGGREGATE_FUNCTIONS:
            args = [self.lower_arg(a) for a in node.args]
            return self._named(AGGREGATE_FUNCTIONS[name](args, self.ctx(node)), name, args)
        builder = SCALAR_FUNCTIONS.get(name)
        if builder is None:
            if name in AGGREGATE_FUNCTIONS:
                raise self.semantic(f"aggregate {name}() can only be used in summarize", node)
            raise self.unsupported(f"function {name}() is not supported", node)
        args = [self.lower_arg(a) for a in node.args]
        if name == "tostring" and len(args) == 1 and args[0].kql_type == "dynamic" \
                and dynamic.path_of(args[0].expr) is not None:
            # one JSON path extraction instead of extract-then-convert (same Kusto semantics)
            return Typed(dynamic.as_string(args[0].expr, self.dialect), "string", args[0].default_name)
        result = builder(args, self.ctx(node))
        if result.default_name is None and name in NAME_FROM_FIRST_ARG and args and args[0].default_name:
            result = Typed(result.expr, result.kql_type, args[0].default_name)
        return result

    def _named(self, result: Typed, name: str, args: list[Typed]) -> Typed:
        if result.default_name is not None:
            return result
        if not args:
            return Typed(result.expr, result.kql_type, f"{name}_")
        return Typed(result.expr, result.kql_type, f"{name}_{args[0].default_name or ''}")

    def lower_arg(self, node: ast.Node) -> Typed:
        if isinstance(node, ast.Star):
            return Typed(exp.Star(), "star")
        return self.lower(node)

    # -- core-owned calls (used only when the function tables do not define them) ----------
    def _call_iff(self, node: ast.Call) -> Typed:
        if len(node.args) != 3:
            raise self.semantic("iff() expects 3 arguments", node)
        cond, then, other = (self.lower(a) for a in node.args)
        kql_type = then.kql_type if then.kql_type != "dynamic" or other.kql_type == "dynamic" else other.kql_type
        return Typed(_sql.case((_sql.bool_or_false(cond.expr), then.expr), default=other.expr), kql_type)

    _call_iif = _call_iff

    def _call_case(self, node: ast.Call) -> Typed:
        if len(node.args) < 3 or len(node.args) % 2 == 0:
            raise self.semantic("case() expects predicate/value pairs and an else value", node)
        args = [self.lower(a) for a in node.args]
        pairs = [(_sql.bool_or_false(args[i].expr), args[i + 1].expr) for i in range(0, len(args) - 1, 2)]
        return Typed(_sql.case(*pairs, default=args[-1].expr), args[1].kql_type)

    def _call_not(self, node: ast.Call) -> Typed:
        if len(node.args) != 1:
            raise self.semantic("not() expects 1 argument", node)
        value = self.lower(node.args[0])
        return Typed(exp.Not(this=paren(value.expr)), "bool")

    def _call_column_ifexists(self, node: ast.Call) -> Typed:
        if len(node.args) != 2 or not isinstance(node.args[0], ast.Literal) or node.args[0].kind != "string":
            raise self.semantic("column_ifexists() expects a column name literal and a default", node)
        name = node.args[0].value
        if name in self.scope.columns:
            return Typed(col(name, self.scope.qualifier), self.scope.columns[name], default_name=name)
        return self.lower(node.args[1])

    _call_columnifexists = _call_column_ifexists

    def _call_typeof(self, node: ast.Call) -> Typed:
        """``typeof(T)`` as a value is its type name, which is what ``extract(..., typeof(long))``
        and other type-taking functions read (as Kusto, only where a type argument is expected)."""
        from entrawatch.kql.parser_ops import SCALAR_TYPES, canonical_type

        arg = node.args[0] if len(node.args) == 1 else None
        if not isinstance(arg, ast.Name) or arg.name not in SCALAR_TYPES:
            raise self.semantic("typeof() expects a scalar type name such as typeof(long)", node)
        return Typed(_sql.s(canonical_type(arg.name)), "string")

    def _call_series_decompose_anomalies(self, node: ast.Call) -> Typed:
        """The anomaly flags; ``(flags, score, baseline) = ...`` in extend/project gets all three."""
        from entrawatch.kql.series import lower_call

        return lower_call(self, node)

    def _call_toscalar(self, node: ast.Call) -> Typed:
        if len(node.args) != 1:
            raise self.semantic("toscalar() expects 1 argument", node)
        return self.compiler.scalar_subquery(node.args[0], self.env)

    def _call_now(self, node: ast.Call) -> Typed:
        if node.args:
            raise self.unsupported("now() with an offset is not supported", node)
        return Typed(self.compiler.now_expr(), "datetime")

    def _call_ago(self, node: ast.Call) -> Typed:
        if len(node.args) != 1:
            raise self.semantic("ago() expects 1 argument", node)
        span = self.lower(node.args[0])
        micros = _sql.int_literal_value(span) if span.kql_type == "timespan" else None
        if micros is None and isinstance(span.expr, exp.Cast):
            micros = _sql.int_literal_value(Typed(span.expr.this, "long"))
        if micros is not None:
            # a constant window start, so engines can push the time filter into the table scan
            if self.compiler.now_sql is not None:  # a template: DuckDB folds it once ``now`` is bound
                return Typed(_sql.add_micros(self.compiler.now_expr(), _sql.n(-micros), self.dialect), "datetime")
            return _sql.literal(self.compiler.now - timedelta(microseconds=micros), "datetime", self.dialect)
        if "ago" in SCALAR_FUNCTIONS:
            return SCALAR_FUNCTIONS["ago"]([span], self.ctx(node))
        if span.kql_type != "timespan":
            raise self.semantic("ago() expects a timespan", node)
        return Typed(_sql.add_micros(self.compiler.now_expr(), exp.Neg(this=paren(span.expr)), self.dialect), "datetime")

    # -- window functions over a serialized row set ----------------------------------------
    def _order(self, node: ast.Call) -> list[exp.Ordered]:
        if self.scope.order is None:
            raise self.semantic(f"{node.name}() needs a serialized row set (sort, top, serialize first)", node)
        return [o.copy() for o in self.scope.order]

    def _window(self, func: exp.Expression, node: ast.Call) -> exp.Expression:
        order = self._order(node)
        return exp.Window(this=func, order=exp.Order(expressions=order) if order else None)

    def _call_row_number(self, node: ast.Call) -> Typed:
        if node.args:
            raise self.unsupported("row_number() with a start index or restart is not supported", node)
        return Typed(self._window(exp.RowNumber(), node), "long")

    def _shift(self, node: ast.Call, cls: type[exp.Expression]) -> Typed:
        if not 1 <= len(node.args) <= 3:
            raise self.semantic(f"{node.name}() expects 1 to 3 arguments", node)
        value = self.lower(node.args[0])
        offset = _sql.int_literal_value(self.lower(node.args[1])) if len(node.args) > 1 else 1
        if offset is None:
            raise self.unsupported(f"{node.name}() offset must be a constant", node)
        args: dict[str, exp.Expression] = {"this": value.expr, "offset": exp.Literal.number(offset)}
        if len(node.args) == 3:
            args["default"] = self.lower(node.args[2]).expr
        return Typed(self._window(cls(**args), node), value.kql_type)

    def _call_prev(self, node: ast.Call) -> Typed:
        return self._shift(node, exp.Lag)

    def _call_next(self, node: ast.Call) -> Typed:
        return self._shift(node, exp.Lead)
