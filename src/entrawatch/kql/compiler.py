"""The binder/lowering driver: statements, ``let`` environments, tabular sources, user functions.

``Compiler`` walks the AST once. Tabular ``let`` bindings of the query (and ``materialize()``) are
lowered once, at their first reference, into a common table expression (``WITH _letN AS (...)``)
that every reference reads: inlining a copy at each reference made rules whose lets build on
each other grow exponentially (one rule compiled to 140k characters of SQL in 9 s). Lets inside
function bodies are still inlined, because they may read the caller's columns through scalar
parameters, which a top-level ``WITH`` cannot see; so are lets ending in a pending sort, whose row
order a CTE would not keep; scalar ``let`` bindings are lowered once to a :class:`Typed`; user-defined
functions are expanded at each call with their parameters bound (``table(name)`` inside them
needs a constant name, which is how the Sentinel ``aadFunc`` pattern uses it). Pipe operators are
lowered by the table in :mod:`entrawatch.kql.tabular`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlglot import exp

from entrawatch.errors import KqlSemanticError, KqlUnsupportedError
from entrawatch.kql import ast
from entrawatch.kql.functions import _sql
from entrawatch.kql.lowering_api import Typed
from entrawatch.kql.prune import prune_unused_columns
from entrawatch.kql.relation import Rel, alias, col, finalize, fresh_alias, reset_aliases, select_from
from entrawatch.kql.scalars import ScalarLowerer, Scope


@dataclass
class Binding:
    """What a name in the let-environment stands for.

    kinds: ``scalar`` (value: Typed, literal: the AST when a literal), ``tabular`` (value: AST,
    env: defining environment), ``rel`` (value: an already lowered Rel), ``function`` (value:
    FunctionDef, env: closure).
    """

    kind: str
    value: Any
    env: Env | None = None
    literal: ast.Node | None = None


class Env:
    """A chain of let scopes (function bodies get a child of their closure)."""

    def __init__(self, parent: Env | None = None) -> None:
        self.parent = parent
        self.names: dict[str, Binding] = {}

    def lookup(self, name: str) -> Binding | None:
        env: Env | None = self
        while env is not None:
            if name in env.names:
                return env.names[name]
            env = env.parent
        return None

    def child(self) -> Env:
        return Env(self)


TABULAR_NODES = (ast.Pipeline, ast.Union, ast.Datatable, ast.Print, ast.Range, ast.ExternalData)


class Compiler:
    """Compiles one query for one dialect against one catalog."""

    def __init__(self, catalog: dict[str, dict[str, str]], dialect: str, now: datetime, query: str, *,
                 bag_unpack_columns: dict[str, str] | None = None,
                 probe: Callable[[str], list[tuple[Any, ...]]] | None = None, now_param: bool = False,
                 now_variable: str | None = None) -> None:
        if dialect not in ("duckdb", "spark"):
            raise ValueError(f"unknown dialect {dialect!r}; use duckdb or spark")
        self.catalog = catalog
        self.dialect = dialect
        self.now = now
        self.query = query
        self.depth = 0
        #: ``evaluate bag_unpack()`` columns given by the caller (bag key -> KQL type).
        self.bag_unpack_columns = bag_unpack_columns
        #: Runs a preliminary query on the data (set by ``kql.run``): SQL -> rows.
        self.probe = probe
        #: Top-level tabular lets lowered to CTEs, in dependency order (a CTE reads earlier ones only).
        self.ctes: list[tuple[str, exp.Query]] = []
        self._let_ctes: dict[int, tuple[str, dict[str, str]] | None] = {}
        self.root_env: Env | None = None
        #: ``now`` as a bind parameter (typed by a CAST) instead of a literal of :attr:`now`, so one
        #: compilation serves every window. DuckDB: ``$1`` everywhere, one value; a ``?`` per use
        #: would be a distinct parameter each, and ``GROUP BY bin(t - ago(1d), 1h)`` would then no
        #: longer match the same expression in the SELECT list. Spark: ``?`` per use (Spark binds
        #: parameters into the tree before analysis, so equal expressions stay equal).
        #: ``now_variable`` (DuckDB): read ``now`` from ``getvariable(name)`` instead, so that a
        #: ``PREPARE``d statement (planned once) serves every window after ``SET VARIABLE``.
        self.now_sql: exp.Expression | None = None
        if now_variable is not None:
            if dialect != "duckdb":
                raise ValueError("now_variable is a DuckDB feature; use now_param on Spark")
            self.now_sql = _sql.cast(_sql.fn("getvariable", _sql.s(now_variable)), "timestamptz")
        elif now_param:
            marker = exp.Parameter(this=exp.Literal.number(1)) if dialect == "duckdb" else exp.Placeholder()
            self.now_sql = _sql.cast(marker, "timestamptz" if dialect == "duckdb" else "timestamp")

    def now_expr(self) -> exp.Expression:
        """``now()``: the bind parameter of a template, or the literal bound instant."""
        if self.now_sql is not None:
            return self.now_sql.copy()
        return _sql.datetime_literal(self.now, self.dialect)

    # -- errors ----------------------------------------------------------------------------
    def semantic(self, message: str, node: ast.Node) -> KqlSemanticError:
        return KqlSemanticError(message, line=node.line, column=node.column, query=self.query)

    def unsupported(self, message: str, node: ast.Node) -> KqlUnsupportedError:
        return KqlUnsupportedError(message, line=node.line, column=node.column, query=self.query)

    # -- statements ------------------------------------------------------------------------
    def compile(self, tree: ast.Query) -> tuple[exp.Query, dict[str, str], bool]:
        reset_aliases()
        env = Env()
        self.root_env = env
        self.ctes = []
        self._let_ctes = {}
        *lets, final = tree.statements
        for stmt in lets:
            if not isinstance(stmt, ast.Let):
                raise self.unsupported("queries with several result tables are not supported", stmt)
            self.bind_let(stmt, env)
        rel = self.tabular(final, env)
        sql = prune_unused_columns(self.with_ctes(finalize(rel)))
        return sql, dict(rel.columns), bool(rel.order)

    def with_ctes(self, query: exp.Query) -> exp.Query:
        """``query`` with the ``WITH`` clauses of the lets lowered so far (they are all visible in
        sub-queries too, so one clause at the top serves every reference)."""
        for name, body in self.ctes:
            query = query.with_(exp.to_identifier(name), as_=body.copy(), copy=False)
        return query

    def bind_let(self, stmt: ast.Let, env: Env) -> None:
        value = stmt.value
        if isinstance(value, ast.FunctionDef):
            env.names[stmt.name] = Binding("function", value, env)
        elif self.is_tabular(value, env):
            env.names[stmt.name] = Binding("tabular", value, env)
        else:
            typed = ScalarLowerer(self, Scope({}), env).lower(value)
            literal = value if isinstance(value, ast.Literal) else None
            if literal is None and isinstance(value, ast.Name):
                bound = env.lookup(value.name)
                literal = bound.literal if bound is not None else None
            env.names[stmt.name] = Binding("scalar", typed, env, literal)

    def is_tabular(self, node: ast.Node, env: Env) -> bool:
        if isinstance(node, TABULAR_NODES):
            return True
        if isinstance(node, ast.Name):
            binding = env.lookup(node.name)
            if binding is not None:
                return binding.kind in ("tabular", "rel")
            return node.name in self.catalog
        if isinstance(node, ast.Call):
            if node.name in ("table", "materialize", "view"):
                return True
            binding = env.lookup(node.name)
            if binding is not None and binding.kind == "function":
                return self.function_is_tabular(binding, node, env)
        return False

    def function_is_tabular(self, binding: Binding, call: ast.Call, env: Env) -> bool:
        fdef: ast.FunctionDef = binding.value
        fenv = self._function_env(binding, call, env, Scope({}), lower_scalars=False)
        body_env = fenv
        for stmt in fdef.body[:-1]:
            if isinstance(stmt, ast.Let):
                body_env = body_env.child()
                kind = "function" if isinstance(stmt.value, ast.FunctionDef) else (
                    "tabular" if self.is_tabular(stmt.value, body_env) else "scalar")
                body_env.names[stmt.name] = Binding(kind, stmt.value, body_env)
        return self.is_tabular(fdef.body[-1], body_env)

    # -- user-defined functions ------------------------------------------------------------
    def _function_env(self, binding: Binding, call: ast.Call, env: Env, scope: Scope,
                      *, lower_scalars: bool = True, piped: Rel | None = None) -> Env:
        fdef: ast.FunctionDef = binding.value
        args: list[ast.Node | Rel] = list(call.args)
        if piped is not None:
            args.insert(0, piped)
        if len(args) > len(fdef.params):
            raise self.semantic(f"function {call.name}() takes {len(fdef.params)} argument(s)", call)
        fenv = Env(binding.env)
        for i, param in enumerate(fdef.params):
            if i < len(args):
                arg: ast.Node | Rel | None = args[i]
            elif param.default is not None:
                arg = param.default
            else:
                raise self.semantic(f"function {call.name}() is missing argument {param.name!r}", call)
            if isinstance(arg, Rel):
                fenv.names[param.name] = Binding("rel", arg)
            elif param.type == "tabular":
                fenv.names[param.name] = Binding("tabular", arg, env)
            elif lower_scalars:
                assert arg is not None
                typed = ScalarLowerer(self, scope, env).lower(arg)
                literal = arg if isinstance(arg, ast.Literal) else None
                if literal is None and isinstance(arg, ast.Name) and arg.name not in scope.columns:
                    bound = env.lookup(arg.name)
                    literal = bound.literal if bound is not None else None
                fenv.names[param.name] = Binding("scalar", typed, env, literal)
            else:
                fenv.names[param.name] = Binding("scalar", Typed(exp.Null(), param.type), env,
                                                 arg if isinstance(arg, ast.Literal) else None)
        return fenv

    def _function_body(self, fdef: ast.FunctionDef, fenv: Env) -> tuple[ast.Node, Env]:
        body_env = fenv
        for stmt in fdef.body[:-1]:
            if not isinstance(stmt, ast.Let):
                raise self.unsupported("function bodies with several results are not supported", stmt)
            body_env = body_env.child()
            self.bind_let(stmt, body_env)
        return fdef.body[-1], body_env

    def _enter(self, node: ast.Node) -> None:
        self.depth += 1
        if self.depth > 64:
            raise self.semantic("functions nest too deeply (recursion is not allowed)", node)

    def call_tabular_function(self, binding: Binding, call: ast.Call, env: Env, piped: Rel | None = None) -> Rel:
        self._enter(call)
        try:
            fenv = self._function_env(binding, call, env, Scope({}), piped=piped)
            body, body_env = self._function_body(binding.value, fenv)
            return self.tabular(body, body_env)
        finally:
            self.depth -= 1

    def call_scalar_function(self, binding: Binding, call: ast.Call, lowerer: ScalarLowerer) -> Typed:
        self._enter(call)
        try:
            fenv = self._function_env(binding, call, lowerer.env, lowerer.scope)
            body, body_env = self._function_body(binding.value, fenv)
            if self.is_tabular(body, body_env):
                raise self.semantic(f"{call.name}() returns a table, not a scalar", call)
            return ScalarLowerer(self, Scope({}, order=lowerer.scope.order), body_env).lower(body)
        finally:
            self.depth -= 1

    # -- tabular expressions ---------------------------------------------------------------
    def tabular(self, node: ast.Node, env: Env) -> Rel:
        from entrawatch.kql.tabular import lower_operator

        if isinstance(node, ast.Pipeline):
            rel = self.tabular(node.source, env)
            for op in node.ops:
                rel = lower_operator(self, rel, op, env)
            return rel
        if isinstance(node, ast.Name):
            return self._named_table(node, env)
        if isinstance(node, ast.Call):
            return self._tabular_call(node, env)
        if isinstance(node, ast.Union):
            from entrawatch.kql.joins import lower_union

            return lower_union(self, None, node.params, node.tables, env, node)
        if isinstance(node, ast.Datatable):
            return self._datatable(node, env)
        if isinstance(node, ast.Print):
            return self._print(node, env)
        if isinstance(node, ast.Range):
            return self._range(node, env)
        if isinstance(node, ast.ExternalData):
            from entrawatch.kql.external import lower_externaldata

            return lower_externaldata(self, node)
        raise self.semantic("expected a tabular expression", node)

    def _named_table(self, node: ast.Name, env: Env) -> Rel:
        binding = env.lookup(node.name)
        if binding is not None:
            if binding.kind == "tabular":
                return self._let_table(binding, env)
            if binding.kind == "rel":
                return binding.value
            if binding.kind == "function":
                return self.call_tabular_function(binding, ast.Call(node.name, [], line=node.line,
                                                                    column=node.column), env)
            raise self.semantic(f"{node.name!r} is a scalar, not a table", node)
        return self.scan(node.name, node)

    def _let_table(self, binding: Binding, env: Env) -> Rel:
        """A tabular let: a reference to its CTE when it is a top-level let (see the module doc)."""
        key = id(binding)
        if binding.env is not self.root_env or self._let_ctes.get(key, ()) is None:
            return self.tabular(binding.value, binding.env or env)
        if key not in self._let_ctes:
            rel = self.tabular(binding.value, binding.env or env)
            if rel.order is not None or rel.hidden or rel.scan is not None:
                # an ordered let keeps its order only inline; a bare table scan is cheaper inlined
                self._let_ctes[key] = None
                return rel
            name = fresh_alias("_let")
            self.ctes.append((name, rel.sql))
            self._let_ctes[key] = (name, dict(rel.columns))
        entry = self._let_ctes[key]
        assert entry is not None
        name, columns = entry
        table = exp.Table(this=exp.to_identifier(name))
        return Rel(exp.Select(expressions=[col(c) for c in columns]).from_(table, copy=False), dict(columns))

    def scan(self, name: str, node: ast.Node) -> Rel:
        """``SELECT ... FROM table``; strings are coalesced to '' because Kusto strings are never null."""
        columns = self.catalog.get(name)
        if columns is None:
            raise self.semantic(f"unknown table {name!r}", node)
        projections: list[exp.Expression] = []
        for column, kql_type in columns.items():
            ref = col(column)
            if kql_type in ("string", "guid"):
                projections.append(alias(_sql.coalesce(ref, _sql.s("")), column))
            elif kql_type == "timespan" and self.dialect == "duckdb":
                # the DuckDB warehouse stores timespans as INTERVAL; the KQL core uses microseconds
                projections.append(alias(_sql.fn("epoch_us", ref), column))
            else:
                projections.append(ref)
        table = exp.Table(this=exp.to_identifier(name, quoted=True))
        scan = {p.alias_or_name: (p.this if isinstance(p, exp.Alias) else p) for p in projections}
        return Rel(exp.Select(expressions=projections).from_(table, copy=False), dict(columns), scan=scan)

    def _tabular_call(self, node: ast.Call, env: Env) -> Rel:
        if node.name == "table":
            if len(node.args) != 1:
                raise self.semantic("table() expects one table name", node)
            name = self.constant_string(node.args[0], env)
            return self._named_table(ast.Name(name, line=node.line, column=node.column), env)
        if node.name == "materialize":
            if len(node.args) != 1:
                raise self.semantic("materialize() expects one tabular expression", node)
            return self.tabular(node.args[0], env)
        binding = env.lookup(node.name)
        if binding is not None and binding.kind == "function":
            return self.call_tabular_function(binding, node, env)
        raise self.semantic(f"{node.name}() is not a tabular function", node)

    def constant_string(self, node: ast.Node, env: Env) -> str:
        if isinstance(node, ast.Literal) and node.kind == "string":
            return str(node.value)
        if isinstance(node, ast.Name):
            binding = env.lookup(node.name)
            if binding is not None and binding.kind == "scalar":
                value = _sql.str_literal_value(binding.value)
                if value is not None:
                    return value
        raise self.unsupported("table() needs a constant table name", node)

    def _datatable(self, node: ast.Datatable, env: Env) -> Rel:
        width = len(node.columns)
        if width == 0 or len(node.values) % width:
            raise self.semantic("datatable values do not fill whole rows", node)
        lowerer = ScalarLowerer(self, Scope({}), env)
        rows: list[exp.Select] = []
        for start in range(0, len(node.values), width):
            projections = []
            for (name, kql_type), value in zip(node.columns, node.values[start:start + width], strict=True):
                typed = lowerer.lower(value)
                projections.append(alias(self.convert(typed, kql_type, value), name))
            rows.append(exp.Select(expressions=projections))
        columns = dict(node.columns)
        if not rows:
            nulls = [alias(_sql.typed_null(t, self.dialect).expr, n) for n, t in node.columns]
            return Rel(exp.Select(expressions=nulls).where(_sql.false(), copy=False), columns)
        query: exp.Query = rows[0]
        for row in rows[1:]:
            query = exp.Union(this=query, expression=row, distinct=False)
        return Rel(select_from(Rel(query, columns), [col(c) for c in columns]), columns)

    def convert(self, typed: Typed, kql_type: str, node: ast.Node) -> exp.Expression:
        """A value as ``kql_type`` for datatable cells and typed columns."""
        if typed.kql_type == kql_type or isinstance(typed.expr, exp.Null):
            return _sql.cast(typed.expr, _sql.sql_type(kql_type, self.dialect))
        if typed.kql_type in ("long", "int", "real", "decimal") and kql_type in ("long", "int", "real", "decimal"):
            return _sql.cast(typed.expr, _sql.sql_type(kql_type, self.dialect))
        if kql_type == "dynamic" and typed.kql_type != "dynamic":
            return _sql.dynamic_literal(_python_value(typed), self.dialect)
        if kql_type in ("string", "guid") and typed.kql_type in ("string", "guid"):
            return typed.expr
        raise self.semantic(f"value of type {typed.kql_type} does not fit a {kql_type} column", node)

    def _print(self, node: ast.Print, env: Env) -> Rel:
        lowerer = ScalarLowerer(self, Scope({}), env)
        projections: list[exp.Expression] = []
        columns: dict[str, str] = {}
        for i, named in enumerate(node.exprs):
            typed = lowerer.lower(named.expr)
            name = named.names[0] if named.names else f"print_{i}"
            projections.append(alias(lowerer.nonnull(typed), name))
            columns[name] = typed.kql_type
        return Rel(exp.Select(expressions=projections), columns)

    def _range(self, node: ast.Range, env: Env) -> Rel:
        lowerer = ScalarLowerer(self, Scope({}), env)
        start, stop, step = (lowerer.lower(x) for x in (node.start, node.stop, node.step))
        if start.kql_type not in ("long", "int") or stop.kql_type not in ("long", "int"):
            raise self.unsupported("range is supported over integers only", node)
        if self.dialect == "duckdb":
            series = exp.Anonymous(this="generate_series", expressions=[start.expr, stop.expr, step.expr])
            inner = exp.Select(expressions=[alias(exp.Anonymous(this="unnest", expressions=[series]), node.name)])
        else:
            series = exp.Anonymous(this="sequence", expressions=[start.expr, stop.expr, step.expr])
            inner = exp.Select(expressions=[alias(exp.Explode(this=series), node.name)])
        return Rel(inner, {node.name: "long"})

    # -- sub-queries used by scalar expressions --------------------------------------------
    def subquery_column(self, node: ast.Node, env: Env) -> Typed:
        rel = self.tabular(node, env)
        if not rel.columns:
            raise self.semantic("the sub-query returns no columns", node)
        first, kql_type = next(iter(rel.columns.items()))
        return Typed(select_from(rel, [col(first)]), kql_type)

    def scalar_subquery(self, node: ast.Node, env: Env) -> Typed:
        if not self.is_tabular(node, env):
            return ScalarLowerer(self, Scope({}), env).lower(node)
        rel = self.tabular(node, env)
        if not rel.columns:
            raise self.semantic("toscalar() needs a sub-query with a column", node)
        first, kql_type = next(iter(rel.columns.items()))
        inner = select_from(rel, [col(first)])
        if rel.order:
            inner = inner.order_by(*[o.copy() for o in rel.order], copy=False)
        inner = inner.limit(1, copy=False)
        return Typed(exp.Subquery(this=inner), kql_type)


def _python_value(typed: Typed) -> Any:
    value = _sql.str_literal_value(typed)
    if value is not None:
        return value
    number = _sql.int_literal_value(typed)
    if number is not None:
        return number
    if isinstance(typed.expr, exp.Boolean):
        return typed.expr.this
    raise KqlUnsupportedError("only constants can be stored in a dynamic datatable column")
