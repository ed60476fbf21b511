"""Small sqlglot builders shared by every function table.

Why a helper module: the same few engine differences (epoch microseconds, JSON handling, regex
escaping, UTC-safe calendar arithmetic) recur in dozens of KQL functions. Keeping them here means
each builder reads like the Kusto documentation and the engine-specific SQL lives in one place.

Conventions (see ``lowering_api.Typed``): ``datetime`` is a UTC timestamp (DuckDB ``TIMESTAMPTZ``,
Spark ``TIMESTAMP`` with the session time zone set to UTC), ``timespan`` is BIGINT microseconds,
``dynamic`` is JSON text. Data never enters SQL text except as sqlglot literals.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import UTC, datetime

from sqlglot import exp

from entrawatch.errors import KqlSemanticError, KqlUnsupportedError
from entrawatch.kql.lowering_api import LowerContext, Typed

MICROS_PER_MS = 1_000
MICROS_PER_SECOND = 1_000_000
MICROS_PER_MINUTE = 60 * MICROS_PER_SECOND
MICROS_PER_HOUR = 60 * MICROS_PER_MINUTE
MICROS_PER_DAY = 24 * MICROS_PER_HOUR
MICROS_PER_WEEK = 7 * MICROS_PER_DAY
#: Microseconds from 0001-01-01 (Kusto's bin origin, a Monday) to 1970-01-01. Adding it keeps
#: integer division on positive numbers, so truncation equals floor for every real timestamp.
EPOCH_OFFSET_MICROS = 719_162 * MICROS_PER_DAY

NUMERIC_TYPES = frozenset({"int", "long", "real", "decimal"})
INTEGER_TYPES = frozenset({"int", "long"})


# --------------------------------------------------------------------------------------------
# generic expression helpers
# --------------------------------------------------------------------------------------------


def fn(name: str, *args: exp.Expression) -> exp.Expression:
    """An engine function call printed verbatim (we always know the target dialect)."""
    return exp.Anonymous(this=name, expressions=list(args))


def s(value: str) -> exp.Literal:
    """A string literal (sqlglot escapes it for the dialect)."""
    return exp.Literal.string(value)


def n(value: int | float) -> exp.Expression:
    """A numeric literal; negative numbers become a unary minus so every dialect parses them."""
    if value < 0:
        return exp.Neg(this=exp.Literal.number(-value))
    return exp.Literal.number(value)


_ATOMS = (exp.Literal, exp.Column, exp.Anonymous, exp.Paren, exp.Null, exp.Boolean, exp.Cast, exp.TryCast,
          exp.Case, exp.Coalesce)


def paren(e: exp.Expression) -> exp.Expression:
    """Parenthesise compound operands so generated SQL keeps the intended precedence."""
    if isinstance(e, _ATOMS) or (isinstance(e, exp.Func) and not isinstance(e, (exp.Binary, exp.Unary))):
        return e
    return exp.Paren(this=e)


_OPERATOR_PARENTS = (exp.Binary, exp.Unary, exp.In, exp.Between, exp.Is)


def parenthesize(root: exp.Expression) -> exp.Expression:
    """Wrap every operator operand that is itself an operator in parentheses.

    sqlglot prints a hand-built tree as is: ``Mod(Add(a, 1), 7)`` becomes ``a + 1 % 7`` and
    ``Neg(Neg(x))`` becomes the comment ``--x``. Builders nest freely and this pass, applied to
    every builder result, makes the printed SQL match the tree.
    """
    for node in list(root.walk()):
        if not isinstance(node, _OPERATOR_PARENTS):
            continue
        for key in ("this", "expression", "low", "high"):
            child = node.args.get(key)
            if isinstance(child, (exp.Binary, exp.Unary)) and not isinstance(child, exp.Paren) or isinstance(child, exp.Literal) and not child.is_string and child.this.startswith("-"):
                node.set(key, exp.Paren(this=child))
    return root


def null() -> exp.Null:
    return exp.Null()


def true() -> exp.Boolean:
    return exp.Boolean(this=True)


def false() -> exp.Boolean:
    return exp.Boolean(this=False)


def cast(e: exp.Expression, sql_type: str) -> exp.Cast:
    return exp.Cast(this=e, to=exp.DataType.build(sql_type))


def try_cast(e: exp.Expression, sql_type: str) -> exp.TryCast:
    return exp.TryCast(this=e, to=exp.DataType.build(sql_type))


def bind(value: exp.Expression, body: Callable[[exp.Expression], exp.Expression], dialect: str,
         name: str = "ew_bound") -> exp.Expression:
    """Evaluate ``value`` once and use it several times in ``body`` (a per-row ``let``).

    SQL has no per-row variables and neither engine shares common sub-expressions inside CASE,
    so an expensive value used three times costs three times. A one-element list mapped by a
    lambda binds it once: DuckDB ``list_transform([v], lambda x: ...)[1]``, Spark
    ``transform(array(v), x -> ...)[0]``.
    """
    variable = exp.to_identifier(name)
    lam = exp.Lambda(this=body(exp.column(name)), expressions=[variable])
    if dialect == "duckdb":
        return fn("list_extract", fn("list_transform", fn("list_value", value), lam), n(1))
    return fn("element_at", fn("transform", fn("array", value), lam), n(1))


def case(*whens: tuple[exp.Expression, exp.Expression], default: exp.Expression | None = None) -> exp.Case:
    node = exp.Case()
    for cond, value in whens:
        node = node.when(cond, value, copy=False)
    if default is not None:
        node = node.else_(default, copy=False)
    return node


def coalesce(*args: exp.Expression) -> exp.Expression:
    return exp.Coalesce(this=args[0], expressions=list(args[1:]))


def bool_or_false(e: exp.Expression) -> exp.Expression:
    """Two-valued logic for Kusto predicates: a SQL NULL predicate result is false."""
    return coalesce(paren(e), false())


def not_(e: exp.Expression) -> exp.Expression:
    return exp.Not(this=paren(e))


def str_literal_value(t: Typed) -> str | None:
    """The Python value of a string literal argument, or None when it is not a literal."""
    e = t.expr
    while isinstance(e, exp.Paren):
        e = e.this
    if isinstance(e, exp.Literal) and e.is_string:
        return e.this
    return None


def int_literal_value(t: Typed) -> int | None:
    """The Python value of an integer literal argument (unary minus included), else None."""
    e = t.expr
    while isinstance(e, exp.Paren):
        e = e.this
    sign = 1
    if isinstance(e, exp.Neg):
        sign, e = -1, e.this
    if isinstance(e, exp.Literal) and not e.is_string:
        try:
            return sign * int(e.this)
        except ValueError:
            return None
    return None


def source_name(t: Typed) -> str | None:
    """The column name Kusto derives an output name from (``dcount_<col>``), if any."""
    if t.default_name:
        return t.default_name
    column = t.expr if isinstance(t.expr, exp.Column) else t.expr.find(exp.Column)
    return column.name if column is not None else None


def err(ctx: LowerContext, message: str, *, unsupported: bool = False) -> Exception:
    cls = KqlUnsupportedError if unsupported else KqlSemanticError
    return cls(message, line=ctx.line, column=ctx.column, query=ctx.query)


def arity(name: str, args: list[Typed], ctx: LowerContext, low: int, high: int | None = None) -> None:
    """Raise a KqlSemanticError at the call site when the argument count is wrong."""
    high = low if high is None else high
    if not low <= len(args) <= high:
        want = str(low) if low == high else f"{low}..{high}" if high < 99 else f"at least {low}"
        raise err(ctx, f"{name}() expects {want} argument(s), got {len(args)}")


# --------------------------------------------------------------------------------------------
# strings and regular expressions
# --------------------------------------------------------------------------------------------

_REGEX_META = re.compile(r"([\\.^$|?*+()\[\]{}])")
#: Kusto term characters: letters and digits (``_`` and punctuation separate terms).
TERM_CHAR = r"[\p{L}\p{N}]"
NON_TERM_CHAR = r"[^\p{L}\p{N}]"


def regex_escape(text: str) -> str:
    """Escape exactly the metacharacters that RE2 (DuckDB) and java.util.regex (Spark) share."""
    return _REGEX_META.sub(r"\\\1", text)


def sql_regex_escape(e: exp.Expression, dialect: str) -> exp.Expression:
    """Escape regex metacharacters of a non-literal string inside SQL."""
    replacement = r"\\\1" if dialect == "duckdb" else r"\\$1"
    args = [e, s(_REGEX_META.pattern), s(replacement)]
    if dialect == "duckdb":
        args.append(s("g"))
    return fn("regexp_replace", *args)


def regex_match(subject: exp.Expression, pattern: exp.Expression, dialect: str) -> exp.Expression:
    """Unanchored regex search (RE2 in DuckDB, java.util.regex in Spark)."""
    if dialect == "duckdb":
        return fn("regexp_matches", subject, pattern)
    return exp.RegexpLike(this=subject, expression=pattern)


def regex_replace_all(subject: exp.Expression, pattern: exp.Expression, replacement: exp.Expression,
                      dialect: str) -> exp.Expression:
    if dialect == "duckdb":
        return fn("regexp_replace", subject, pattern, replacement, s("g"))
    return fn("regexp_replace", subject, pattern, replacement)


def concat(*parts: exp.Expression) -> exp.Expression:
    """String concatenation of non-null parts (callers coalesce to '' first)."""
    return fn("concat", *parts)


def strpos(haystack: exp.Expression, needle: exp.Expression, dialect: str) -> exp.Expression:
    """1-based position of needle in haystack, 0 when absent."""
    if dialect == "duckdb":
        return fn("strpos", haystack, needle)
    return fn("instr", haystack, needle)


# --------------------------------------------------------------------------------------------
# datetime and timespan
# --------------------------------------------------------------------------------------------


def datetime_literal(value: datetime, dialect: str) -> exp.Expression:
    """A UTC timestamp literal with microsecond precision (naive values are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    text = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f") + "+00:00"
    return cast(s(text), "timestamptz" if dialect == "duckdb" else "timestamp")


def now_expr(ctx: LowerContext) -> exp.Expression:
    """``now`` for a LowerContext: its bind parameter when compiling a template, else a literal."""
    if ctx.now_sql is not None:
        return ctx.now_sql.copy()
    return datetime_literal(ctx.now, ctx.dialect)


def epoch_micros(ts: exp.Expression, dialect: str) -> exp.Expression:
    """Microseconds since 1970-01-01 UTC of a timestamp (exact, time-zone independent)."""
    return fn("epoch_us" if dialect == "duckdb" else "unix_micros", ts)


def from_epoch_micros(micros: exp.Expression, dialect: str) -> exp.Expression:
    """The UTC timestamp ``micros`` microseconds after 1970-01-01 (exact).

    DuckDB: ``make_timestamptz(micros)`` builds the instant directly; the former
    ``TIMESTAMPTZ '1970-01-01' + to_microseconds(...)`` went through ICU calendar addition per row,
    about 3x slower, which made every ``bin(TimeGenerated, 1h)`` cost more than ``time_bucket``.
    """
    if dialect == "duckdb":
        return fn("make_timestamptz", cast(micros, "bigint"))
    return fn("timestamp_micros", cast(micros, "bigint"))


def add_micros(ts: exp.Expression, micros: exp.Expression, dialect: str) -> exp.Expression:
    return from_epoch_micros(exp.Add(this=epoch_micros(ts, dialect), expression=paren(micros)), dialect)


def utc_naive(ts: exp.Expression, dialect: str) -> exp.Expression:
    """Wall-clock UTC fields of a timestamp for calendar functions (year(), date_trunc...)."""
    if dialect == "duckdb":
        return fn("timezone", s("UTC"), ts)
    return ts  # Spark timestamps are interpreted in the session time zone, which is UTC.


def from_utc_naive(ts: exp.Expression, dialect: str) -> exp.Expression:
    if dialect == "duckdb":
        return fn("timezone", s("UTC"), cast(ts, "timestamp"))
    return cast(ts, "timestamp")


def floor_div(value: exp.Expression, divisor: exp.Expression) -> exp.Expression:
    """Integer floor division for BIGINTs (sign-correct, unlike SQL truncating division)."""
    return cast(fn("floor", exp.Div(this=paren(cast(value, "double")), expression=paren(divisor))), "bigint")


def trunc_number(e: exp.Expression) -> exp.Expression:
    """Round toward zero (Spark's trunc() is a date function, so spell it out)."""
    return case((exp.LT(this=e, expression=n(0)), fn("ceil", e.copy())), default=fn("floor", e.copy()))


def int_div_positive(value: exp.Expression, divisor: exp.Expression) -> exp.Expression:
    """Exact BIGINT division for non-negative dividends (DuckDB ``//``, Spark ``DIV``)."""
    return exp.IntDiv(this=paren(value), expression=paren(divisor))


def shifted_micros(ts: exp.Expression, dialect: str) -> exp.Expression:
    """Microseconds since 0001-01-01: positive for every real timestamp, so ``//`` floors."""
    return exp.Add(this=epoch_micros(ts, dialect), expression=n(EPOCH_OFFSET_MICROS))


def floor_timestamp(ts: exp.Expression, span_micros: exp.Expression, dialect: str) -> exp.Expression:
    """Kusto ``bin(datetime, span)``: floor to a multiple of ``span`` counted from 0001-01-01."""
    shifted = shifted_micros(ts, dialect)
    floored = exp.Mul(this=int_div_positive(shifted, span_micros), expression=paren(span_micros))
    return from_epoch_micros(exp.Sub(this=floored, expression=n(EPOCH_OFFSET_MICROS)), dialect)


# --------------------------------------------------------------------------------------------
# dynamic (JSON text)
# --------------------------------------------------------------------------------------------


def json_text(e: exp.Expression, dialect: str) -> exp.Expression:
    """A dynamic value in the engine's JSON representation (DuckDB JSON, Spark STRING)."""
    return cast(e, "json") if dialect == "duckdb" else e


def json_scalar_text(e: exp.Expression, dialect: str) -> exp.Expression:
    """The text of a JSON scalar without quotes ("abc" -> abc, 5 -> 5); objects stay JSON."""
    if dialect == "duckdb":
        return fn("json_extract_string", cast(e, "json"), s("$"))
    return fn("try_variant_get", fn("try_parse_json", e), s("$"), s("string"))


def json_string_list(e: exp.Expression, dialect: str) -> exp.Expression:
    """A JSON array as an engine list of element texts (strings unquoted, others as JSON)."""
    if dialect == "duckdb":
        return fn("json_extract_string", cast(e, "json"), s("$[*]"))
    return fn("from_json", e, s("array<string>"))


def json_value_list(e: exp.Expression, dialect: str) -> exp.Expression:
    """A JSON array as an engine list of JSON values (DuckDB JSON[], Spark ARRAY<VARIANT>)."""
    if dialect == "duckdb":
        return fn("json_extract", cast(e, "json"), s("$[*]"))
    return fn("from_json", e, s("array<variant>"))


def json_from_list(e: exp.Expression, dialect: str) -> exp.Expression:
    """Engine list -> JSON array text."""
    if dialect == "duckdb":
        return fn("to_json", e)
    return fn("to_json", e)


def json_elements(e: exp.Expression, dialect: str) -> exp.Expression:
    """A JSON array as an engine list of each element's compact JSON text (type-preserving)."""
    if dialect == "duckdb":
        return cast(fn("json_extract", cast(e, "json"), s("$[*]")), "varchar[]")
    element = exp.to_identifier("v")
    return fn("transform", fn("from_json", e, s("array<variant>")),
              exp.Lambda(this=fn("to_json", exp.column("v")), expressions=[element]))


def json_array_from_elements(elements: exp.Expression, dialect: str) -> exp.Expression:
    """Engine list of element JSON texts -> JSON array text."""
    joined = fn("array_to_string" if dialect == "duckdb" else "array_join", elements, s(","))
    return json_text(concat(s("["), coalesce(joined, s("")), s("]")), dialect)


def list_size(e: exp.Expression, dialect: str) -> exp.Expression:
    return fn("len" if dialect == "duckdb" else "size", e)


def json_is_array(e: exp.Expression, dialect: str) -> exp.Expression:
    if dialect == "duckdb":
        return exp.EQ(this=fn("json_type", cast(e, "json")), expression=s("ARRAY"))
    return exp.Not(this=exp.Is(this=fn("json_array_length", e), expression=null()))


def dynamic_literal(value: object, dialect: str) -> exp.Expression:
    """A dynamic constant from a Python value (serialised compactly like Kusto)."""
    return json_text(s(json.dumps(value, separators=(",", ":"), ensure_ascii=False)), dialect)


# --------------------------------------------------------------------------------------------
# literals of any KQL type (used by tests and available to the core)
# --------------------------------------------------------------------------------------------

SQL_TYPES = {
    "string": "varchar", "guid": "varchar", "long": "bigint", "int": "int", "real": "double",
    "decimal": "double", "bool": "boolean", "timespan": "bigint",
}


def sql_type(kql_type: str, dialect: str) -> str:
    if kql_type == "datetime":
        return "timestamptz" if dialect == "duckdb" else "timestamp"
    if kql_type == "dynamic":
        return "json" if dialect == "duckdb" else "varchar"
    return SQL_TYPES[kql_type]


def typed_null(kql_type: str, dialect: str) -> Typed:
    return Typed(cast(null(), sql_type(kql_type, dialect)), kql_type)


def literal(value: object, kql_type: str, dialect: str) -> Typed:
    """A Typed constant. datetime: ``datetime`` or ISO text; timespan: ``timedelta`` or micros."""
    if value is None:
        return typed_null(kql_type, dialect)
    if kql_type in ("string", "guid"):
        return Typed(s(str(value)), kql_type)
    if kql_type == "bool":
        return Typed(exp.Boolean(this=bool(value)), kql_type)
    if kql_type in ("long", "int"):
        return Typed(cast(n(int(value)), SQL_TYPES[kql_type]), kql_type)
    if kql_type in ("real", "decimal"):
        number = float(value)
        if number != number or number in (float("inf"), float("-inf")):
            text = "NaN" if number != number else ("Infinity" if number > 0 else "-Infinity")
            return Typed(cast(s(text), "double"), kql_type)
        return Typed(cast(n(number), "double"), kql_type)
    if kql_type == "timespan":
        micros = value if isinstance(value, int) else round(value.total_seconds() * 1_000_000)
        return Typed(cast(n(micros), "bigint"), kql_type)
    if kql_type == "datetime":
        dt = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        return Typed(datetime_literal(dt, dialect), kql_type)
    if kql_type == "dynamic":
        return Typed(dynamic_literal(value, dialect), kql_type)
    raise KqlUnsupportedError(f"no literal for KQL type {kql_type!r}")
