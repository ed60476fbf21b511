"""The contract between the KQL core (parser, binder, operator lowering) and the function tables.

The core lowers every scalar KQL expression to a :class:`Typed` sqlglot expression. Function calls
and aggregates are looked up by lower-case KQL name in :data:`SCALAR_FUNCTIONS` and
:data:`AGGREGATE_FUNCTIONS`; a builder receives already-lowered arguments and the context, and
returns a new :class:`Typed`. Builders never see tokens or the KQL AST (sqlglot's split: the
parser builds trees, the generator prints them), and they stay dialect-neutral except where SQL
itself differs, which they check through ``ctx.dialect``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlglot import exp


@dataclass(frozen=True)
class Typed:
    """A lowered scalar: the sqlglot expression and its KQL type.

    ``kql_type`` is one of string, long, int, real, decimal, bool, datetime, timespan, dynamic,
    guid. Representation conventions shared by every builder:

    * ``datetime`` -> a timestamp (DuckDB ``TIMESTAMPTZ``/Spark ``TIMESTAMP``), UTC.
    * ``timespan`` -> BIGINT count of microseconds (portable across DuckDB and Spark).
    * ``dynamic`` -> JSON text (DuckDB ``JSON``, Spark ``STRING`` holding JSON).
    * ``string`` -> VARCHAR; Kusto treats null strings as empty: builders that test strings
      must give ``isempty(null) == true`` semantics.
    """

    expr: exp.Expression
    kql_type: str
    #: Kusto's default column name for this expression when it is projected unnamed
    #: (e.g. ``count_``, ``dcount_IPAddress``); None lets the core fall back to ``ColumnN``.
    default_name: str | None = None


@dataclass
class LowerContext:
    """What builders may need besides their arguments."""

    dialect: str  # "duckdb" or "spark"
    now: datetime  # bound value of now(); ago(x) == now - x
    #: Source position of the call being lowered, for error messages.
    line: int | None = None
    column: int | None = None
    query: str | None = None
    extra: dict[str, object] = field(default_factory=dict)
    #: When set, ``now`` is this expression (a bind parameter, see ``compile_query(now_param=True)``)
    #: instead of a literal of :attr:`now`; builders get it through ``_sql.now_expr(ctx)``.
    now_sql: exp.Expression | None = None


#: A scalar function builder: (args, ctx) -> Typed. Raise KqlSemanticError/KqlUnsupportedError
#: (with ctx.line/ctx.column) on wrong arity or unsupported argument types.
ScalarBuilder = Callable[[list[Typed], LowerContext], Typed]

#: An aggregate builder: (args, ctx) -> Typed whose expr is an aggregate sqlglot expression.
AggregateBuilder = Callable[[list[Typed], LowerContext], Typed]

SCALAR_FUNCTIONS: dict[str, ScalarBuilder] = {}
AGGREGATE_FUNCTIONS: dict[str, AggregateBuilder] = {}
#: Binary/unary string and comparison operators (``has``, ``!has``, ``=~``, ``in~``, ``contains``...).
#: Builders take (left, right, ctx); for ``in``-family operators ``right`` is a Typed whose expr is
#: an ``exp.Tuple`` of the list items (kql_type of the first item).
OPERATORS: dict[str, Callable[[Typed, Typed, LowerContext], Typed]] = {}


def scalar(*names: str) -> Callable[[ScalarBuilder], ScalarBuilder]:
    """Register a scalar builder under one or more KQL names (aliases such as iff/iif)."""

    def register(builder: ScalarBuilder) -> ScalarBuilder:
        for name in names:
            SCALAR_FUNCTIONS[name.lower()] = builder
        return builder

    return register


def aggregate(*names: str) -> Callable[[AggregateBuilder], AggregateBuilder]:
    """Register an aggregate builder under one or more KQL names."""

    def register(builder: AggregateBuilder) -> AggregateBuilder:
        for name in names:
            AGGREGATE_FUNCTIONS[name.lower()] = builder
        return builder

    return register


def operator(*names: str) -> Callable[[Callable[[Typed, Typed, LowerContext], Typed]], Callable]:
    """Register a binary operator builder under one or more KQL spellings."""

    def register(builder: Callable[[Typed, Typed, LowerContext], Typed]) -> Callable:
        for name in names:
            OPERATORS[name] = builder
        return builder

    return register
