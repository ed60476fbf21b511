"""Recognise the two table-maintenance statements the Spark warehouse carries out itself.

``DELETE FROM t [WHERE cond]`` and ``DROP TABLE [IF EXISTS] t`` cannot run on a temp view over
Parquet. Rather than string matching, the statement is parsed with sqlglot (Spark dialect); a
DELETE becomes the query selecting the rows to keep, which the warehouse writes back. The
condition stays a sqlglot tree, so ``?`` placeholders keep their order and values still travel as
parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError


@dataclass(frozen=True)
class TableStatement:
    """``kind`` is ``delete`` or ``drop``; ``keep_sql`` selects the rows a DELETE keeps (None: none)."""

    kind: str
    table: str
    keep_sql: str | None = None


def parse(sql: str) -> TableStatement | None:
    """The DELETE/DROP TABLE in ``sql``, or None for any other statement (run by Spark as is)."""
    try:
        statements = sqlglot.parse(sql, read="spark")
    except ParseError:
        return None
    if len(statements) != 1 or statements[0] is None:
        return None
    tree = statements[0]
    if isinstance(tree, exp.Drop) and (tree.args.get("kind") or "").upper() == "TABLE":
        targets = tree.args.get("tables") or ([tree.this] if tree.this is not None else [])
        if len(targets) == 1 and isinstance(targets[0], exp.Table) and not targets[0].args.get("db"):
            return TableStatement("drop", targets[0].name)
        return None
    if isinstance(tree, exp.Delete):
        target = tree.this
        if not isinstance(target, exp.Table) or target.args.get("db"):
            return None
        where = tree.args.get("where")
        if where is None:
            return TableStatement("delete", target.name)
        # SQL deletes the rows where the condition is TRUE; NULL and FALSE rows stay.
        keep = exp.not_(exp.func("coalesce", where.this.copy(), exp.false()))
        query = (
            exp.select(exp.Star())
            .from_(exp.Table(this=exp.to_identifier(target.name, quoted=True)))
            .where(keep)
        )
        return TableStatement("delete", target.name, query.sql(dialect="spark"))
    return None
