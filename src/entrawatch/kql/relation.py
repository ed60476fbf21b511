"""A tabular value during lowering: a SQL query plus its KQL columns and pending row order.

KQL is a pipeline, so every operator wraps the previous step as a sub-query (``SELECT ... FROM
(<previous>) AS _kN``) instead of merging clauses into one SELECT: ``take 10 | where x`` must
filter the ten rows, not limit the filtered ones. The engines' optimisers flatten the nesting.

Row order: SQL sub-queries do not keep ``ORDER BY``. After ``sort``/``top`` the relation keeps
its sort keys in :attr:`Rel.order`; operators that keep rows (where, extend, project...) carry
the order, materialising it first as a hidden ``__kql_ord`` row number when a projection could
drop or redefine a key. The final SELECT applies the order, so ``sort by x | project y`` returns
rows in ``x`` order as Kusto does.
"""

from __future__ import annotations

import contextvars
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlglot import exp

ORDER_COLUMN = "__kql_ord"

#: Sub-query alias numbers; reset per compilation so the same query always prints the same SQL.
_ALIASES: contextvars.ContextVar[Iterator[int]] = contextvars.ContextVar("kql_aliases")


def reset_aliases() -> None:
    _ALIASES.set(itertools.count(1))


def fresh_alias(prefix: str = "_k") -> str:
    counter = _ALIASES.get(None)
    if counter is None:
        reset_aliases()
        counter = _ALIASES.get()
    return f"{prefix}{next(counter)}"


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def alias(expression: exp.Expression, name: str) -> exp.Alias:
    return exp.alias_(expression, exp.to_identifier(name, quoted=True))


@dataclass
class Rel:
    """A lowered tabular expression."""

    sql: exp.Query
    columns: dict[str, str]  # visible columns in order -> KQL type
    order: list[exp.Ordered] | None = None  # pending ORDER BY over output columns
    hidden: list[str] = field(default_factory=list)  # extra output columns (after visible ones)
    #: Set while the relation is still a plain table scan: column -> its scan expression. A
    #: ``where`` then goes into the scan itself so the engine can push it into the table read.
    scan: dict[str, exp.Expression] | None = None

    @property
    def serialized(self) -> bool:
        return self.order is not None

    def source(self, name: str | None = None) -> exp.Subquery:
        """This relation as a FROM item with a fresh alias."""
        return exp.Subquery(this=self.sql.copy(), alias=exp.TableAlias(this=exp.to_identifier(name or fresh_alias())))

    def column_refs(self, table: str | None = None) -> list[exp.Expression]:
        return [col(c, table) for c in [*self.columns, *self.hidden]]


def select_from(rel: Rel, projections: list[exp.Expression], table: str | None = None) -> exp.Select:
    """``SELECT projections FROM (rel) AS table``."""
    return exp.Select(expressions=projections).from_(rel.source(table), copy=False)


def keep_order(rel: Rel) -> Rel:
    """Materialise a pending order as the hidden row-number column, so projections keep it."""
    if rel.order is None or rel.hidden == [ORDER_COLUMN] and _ordered_by_hidden(rel):
        return rel
    window = exp.Window(this=exp.RowNumber(), order=exp.Order(expressions=[o.copy() for o in rel.order]))
    projections = [col(c) for c in rel.columns] + [alias(window, ORDER_COLUMN)]
    sql = select_from(rel, projections)
    return Rel(sql, dict(rel.columns), [exp.Ordered(this=col(ORDER_COLUMN), desc=False)], [ORDER_COLUMN])


def _ordered_by_hidden(rel: Rel) -> bool:
    return bool(rel.order) and len(rel.order) == 1 and isinstance(rel.order[0].this, exp.Column) \
        and rel.order[0].this.name == ORDER_COLUMN


def finalize(rel: Rel) -> exp.Query:
    """The outermost SELECT: visible columns only, with the pending order applied."""
    if not rel.order and not rel.hidden:
        return rel.sql
    sql = select_from(rel, [col(c) for c in rel.columns])
    if rel.order:
        sql = sql.order_by(*[o.copy() for o in rel.order], copy=False)
    return sql


def with_columns(rel: Rel, values: dict[str, tuple[exp.Expression, str]]) -> Rel:
    """``rel`` with ``values`` (name -> (expression, KQL type)) replacing same-named columns in place
    and the rest appended after them, as ``extend`` and ``parse`` both place their outputs in Kusto."""
    pending = dict(values)
    projections: list[exp.Expression] = []
    columns: dict[str, str] = {}
    for name, kql_type in rel.columns.items():
        if name in pending:
            value, new_type = pending.pop(name)
            projections.append(alias(value, name))
            columns[name] = new_type
        else:
            projections.append(col(name))
            columns[name] = kql_type
    for name, (value, kql_type) in pending.items():
        projections.append(alias(value, name))
        columns[name] = kql_type
    projections += [col(h) for h in rel.hidden]
    return Rel(select_from(rel, projections), columns, rel.order, list(rel.hidden))


def unique_name(name: str, taken: dict[str, str]) -> str:
    """Kusto's de-duplication of output column names: ``Name``, then ``Name1``, ``Name2``…"""
    if name not in taken:
        return name
    n = 1
    while f"{name}{n}" in taken:
        n += 1
    return f"{name}{n}"
