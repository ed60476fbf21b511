"""The KQL abstract syntax tree: the only contract between the parser and the lowering.

Every node carries ``line``/``column`` (excluded from equality, so a tree re-parsed from its
rendered text compares equal). Scalar expressions and tabular expressions share the base
``Node``; the lowering decides by context and binding whether a name is a column, a scalar
``let`` or a table, because KQL's grammar cannot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=True)
class Node:
    line: int = field(default=0, compare=False, kw_only=True, repr=False)
    column: int = field(default=0, compare=False, kw_only=True, repr=False)


# --- scalar expressions -------------------------------------------------------------------
@dataclass(eq=True)
class Literal(Node):
    """A typed literal. ``value`` is None for typed nulls (``int(null)``).

    kinds: string, long, int, real, decimal, bool, datetime (ISO text), timespan (micros),
    guid, dynamic (Python value from the JSON-like literal).
    """

    kind: str
    value: Any


@dataclass(eq=True)
class Name(Node):
    name: str


@dataclass(eq=True)
class Star(Node):
    pass


@dataclass(eq=True)
class Path(Node):
    """``base.member`` on a dynamic value."""

    base: Node
    member: str


@dataclass(eq=True)
class Index(Node):
    """``base[index]`` on a dynamic value (string key or integer position)."""

    base: Node
    index: Node


@dataclass(eq=True)
class Call(Node):
    name: str
    args: list[Node]
    #: named arguments (``kind=outer`` style does not occur in calls; kept for ``with(...)``)


@dataclass(eq=True)
class Unary(Node):
    op: str  # "-" or "+"
    operand: Node


@dataclass(eq=True)
class Binary(Node):
    """Arithmetic, comparison, logical and string operators (``has``, ``=~``, ``matches regex``)."""

    op: str
    left: Node
    right: Node


@dataclass(eq=True)
class InList(Node):
    """``x in (a, b)`` / ``!in`` / ``in~`` / ``has_any`` / ``has_all``; items may be one tabular expr."""

    op: str
    left: Node
    items: list[Node]


@dataclass(eq=True)
class Between(Node):
    left: Node
    low: Node
    high: Node
    negated: bool = False


# --- tabular expressions ------------------------------------------------------------------
@dataclass(eq=True)
class NamedExpr(Node):
    """``Name = expr`` (or an unnamed ``expr`` with ``names == []``) in project/extend/summarize."""

    names: list[str]
    expr: Node


@dataclass(eq=True)
class SortKey(Node):
    expr: Node
    descending: bool = True
    nulls_first: bool | None = None  # None -> Kusto default for the direction


@dataclass(eq=True)
class Operator(Node):
    """One pipe step. ``name`` is the KQL operator name (``where``, ``project-away`` ...).

    ``params`` holds the operator-specific parts; see the parser for each operator's keys.
    """

    name: str
    params: dict[str, Any]


@dataclass(eq=True)
class Pipeline(Node):
    source: Node
    ops: list[Operator]


@dataclass(eq=True)
class Union(Node):
    params: dict[str, Any]  # kind, isfuzzy, withsource
    tables: list[Node]


@dataclass(eq=True)
class Datatable(Node):
    columns: list[tuple[str, str]]
    values: list[Node]


@dataclass(eq=True)
class Print(Node):
    exprs: list[NamedExpr]


@dataclass(eq=True)
class Range(Node):
    name: str
    start: Node
    stop: Node
    step: Node


@dataclass(eq=True)
class ExternalData(Node):
    columns: list[tuple[str, str]]
    urls: list[str]
    props: dict[str, Any]


# --- statements ---------------------------------------------------------------------------
@dataclass(eq=True)
class Param(Node):
    name: str
    type: str  # scalar type name, or "tabular" for (*) / (col:type, ...) schemas
    default: Node | None = None


@dataclass(eq=True)
class FunctionDef(Node):
    params: list[Param]
    body: list[Node]  # Let statements then one expression


@dataclass(eq=True)
class Let(Node):
    name: str
    value: Node  # expression, Pipeline or FunctionDef


@dataclass(eq=True)
class Query(Node):
    """A whole query: ``let`` statements and the tabular expression whose result is returned."""

    statements: list[Node]
