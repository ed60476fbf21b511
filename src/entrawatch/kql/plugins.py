"""``evaluate`` plugins. Only ``bag_unpack`` is supported.

``bag_unpack(Column [, OutputColumnPrefix] [, columnsConflict] [, ignoredProperties])`` turns each
top-level key of the property bags in ``Column`` into a column (Kusto docs): the input column is
dropped, one column per distinct key is added (keys sorted, optional prefix), typed by the JSON
type of its values (one type -> that type; several, or only nulls -> ``dynamic``). Its columns
depend on the data, so SQL cannot be produced from the schema alone. Two ways to know them:

- a *probe*: :func:`entrawatch.kql.run` gives the compiler a callback that runs a preliminary
  ``SELECT DISTINCT key, json type`` over the pipeline so far (DuckDB ``json_each``, Spark 4
  ``variant_explode``) on the warehouse, then compiles with the keys found;
- a *hint*: ``compile(..., bag_unpack_columns={"Name": "string", "Age": "long"})`` (bag keys
  without prefix -> KQL type) for compiling without data.

Without either, :func:`entrawatch.kql.compile` raises ``KqlUnsupportedError``. Keys are data
(attacker-controlled): they reach SQL only as sqlglot string literals (JSON paths) and quoted
identifiers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import sqlglot
from sqlglot import exp

from entrawatch.kql import ast, dynamic
from entrawatch.kql.functions import _sql
from entrawatch.kql.relation import Rel, alias, col, select_from

if TYPE_CHECKING:
    from entrawatch.kql.compiler import Compiler, Env

KQL_TYPES = frozenset({"string", "long", "int", "real", "bool", "datetime", "timespan", "dynamic", "guid", "decimal"})
CONFLICTS = ("error", "replace_source", "keep_source")

_PROBE = {
    "duckdb": "SELECT DISTINCT e.key AS k, json_type(e.value) AS t FROM _src AS s, json_each(CAST(s.x AS JSON)) AS e "
              "WHERE json_type(CAST(s.x AS JSON)) = 'OBJECT'",
    "spark": "SELECT DISTINCT e.key AS k, schema_of_variant(e.value) AS t FROM _src AS s, "
             "LATERAL variant_explode(try_parse_json(s.x)) AS e WHERE e.key IS NOT NULL",
}


def json_kind(tag: str | None) -> str | None:
    """The KQL type of one JSON value from the engine's type tag (None for JSON null)."""
    tag = (tag or "NULL").upper()
    if tag in ("NULL", "VOID"):
        return None
    if tag in ("VARCHAR", "STRING"):
        return "string"
    if tag in ("BIGINT", "UBIGINT", "INTEGER", "INT", "SMALLINT", "TINYINT"):
        return "long"
    if tag in ("DOUBLE", "FLOAT") or tag.startswith("DECIMAL"):
        return "real"
    if tag == "BOOLEAN":
        return "bool"
    return "dynamic"  # OBJECT/ARRAY (and anything unexpected)


def key_types(rows: list[tuple[Any, Any]]) -> dict[str, str]:
    """(key, engine type tag) pairs -> key -> KQL type, as Kusto types a slot."""
    kinds: dict[str, set[str]] = {}
    for key, tag in rows:
        kinds.setdefault(str(key), set())
        kind = json_kind(tag)
        if kind is not None:
            kinds[str(key)].add(kind)
    return {k: (next(iter(v)) if len(v) == 1 else "dynamic") for k, v in kinds.items()}


def probe_sql(rel: Rel, column: str, dialect: str, ctes: Callable[[exp.Query], exp.Query] | None = None) -> str:
    """The discovery query: distinct (key, JSON type tag) over ``column`` of ``rel``.

    ``ctes`` attaches the ``WITH`` clauses of the ``let`` bindings ``rel`` may read (``Compiler.with_ctes``).
    """
    tree = sqlglot.parse_one(_PROBE[dialect], read=dialect)
    for table in tree.find_all(exp.Table):
        if table.name == "_src":
            table.replace(exp.Subquery(this=rel.sql.copy(), alias=exp.TableAlias(this=exp.to_identifier("s"))))
    for ref in tree.find_all(exp.Column):
        if ref.table == "s" and ref.name == "x":
            ref.replace(col(column, "s"))
    if ctes is not None and isinstance(tree, exp.Query):
        tree = ctes(tree)
    return tree.sql(dialect=dialect)


def _constant(compiler: Compiler, node: ast.Node, what: str) -> Any:
    if isinstance(node, ast.Literal):
        return node.value
    raise compiler.unsupported(f"bag_unpack() {what} must be a constant", node)


def _value(source: exp.Expression, key: str, kql_type: str, dialect: str) -> exp.Expression:
    member = dynamic.extract(source, key, dialect)
    if kql_type in ("string", "guid"):
        return dynamic.as_string(member, dialect)
    if kql_type == "dynamic":
        return member
    return dynamic.as_type(member, _sql.sql_type(kql_type, dialect), dialect)


def lower_bag_unpack(compiler: Compiler, rel: Rel, call: ast.Call, env: Env) -> Rel:
    args = list(call.args)
    if not 1 <= len(args) <= 4:
        raise compiler.semantic("bag_unpack() expects a column and up to 3 options", call)
    target = args[0]
    if not isinstance(target, ast.Name) or target.name not in rel.columns:
        raise compiler.semantic("bag_unpack() expects a column of the input", target)
    column = target.name
    if rel.columns[column] != "dynamic":
        raise compiler.semantic(f"bag_unpack() needs a dynamic column, not {rel.columns[column]}", target)
    prefix = str(_constant(compiler, args[1], "prefix") or "") if len(args) > 1 else ""
    conflict = str(_constant(compiler, args[2], "columnsConflict")) if len(args) > 2 else "error"
    if conflict not in CONFLICTS:
        raise compiler.semantic(f"bag_unpack() columnsConflict must be one of {', '.join(CONFLICTS)}", args[2])
    ignored: set[str] = set()
    if len(args) > 3:
        value = _constant(compiler, args[3], "ignoredProperties")
        if not isinstance(value, list):
            raise compiler.semantic("bag_unpack() ignoredProperties must be a dynamic array", args[3])
        ignored = {str(v) for v in value}
    keys = _discover(compiler, rel, column, call)
    base = Rel(select_from(rel, [col(c) for c in rel.columns]), dict(rel.columns)) if rel.hidden else rel
    kept = {c: t for c, t in base.columns.items() if c != column}
    new: dict[str, tuple[str, str]] = {}  # output name -> (key, type)
    for key in sorted(keys):
        if key in ignored:
            continue
        name = prefix + key
        if name in kept:
            if conflict == "error":
                raise compiler.semantic(f"bag_unpack(): key {key!r} collides with column {name!r} "
                                        "(use columnsConflict='replace_source' or 'keep_source')", call)
            if conflict == "keep_source":
                continue
            del kept[name]
        new[name] = (key, keys[key])
    projections: list[exp.Expression] = [col(c) for c in kept]
    columns = dict(kept)
    for name, (key, kql_type) in new.items():
        projections.append(alias(_value(col(column), key, kql_type, compiler.dialect), name))
        columns[name] = kql_type
    if not projections:
        raise compiler.semantic("bag_unpack() leaves no columns", call)
    return Rel(select_from(base, projections), columns)


def _discover(compiler: Compiler, rel: Rel, column: str, call: ast.Call) -> dict[str, str]:
    hint = compiler.bag_unpack_columns
    if hint is not None:
        bad = [t for t in hint.values() if t not in KQL_TYPES]
        if bad:
            raise compiler.semantic(f"bag_unpack_columns: unknown type {bad[0]!r}", call)
        return dict(hint)
    if compiler.probe is None:
        raise compiler.unsupported(
            "evaluate bag_unpack() needs the data to know its columns: run the query with kql.run() on a "
            "warehouse, or compile with bag_unpack_columns={key: type}", call)
    table = compiler.probe(probe_sql(rel, column, compiler.dialect, compiler.with_ctes))
    return key_types([(r[0], r[1]) for r in table])
