"""Conversions: tostring, toint/tolong, toreal/todouble, tobool, todatetime, totimespan.

Kusto conversions never fail a query: a value that does not convert gives null. So every cast
here is a TRY_CAST behind a syntax guard (DuckDB's TRY_CAST('12.5' AS BIGINT) rounds to 13, Spark
returns null; Kusto's long parser rejects it, so both engines are guarded by the same regex).
``tostring`` renders each type the way Kusto prints it (datetime ISO-8601 with ``Z``, timespan
``[-][d.]hh:mm:ss[.fffffff]``, dynamic as compact JSON, null as the empty string).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from sqlglot import exp

from entrawatch.kql.functions import _sql as q
from entrawatch.kql.lowering_api import LowerContext, ScalarBuilder, Typed, scalar

_INT_SYNTAX = r"^\s*[+-]?[0-9]+\s*$"
_REAL_SYNTAX = r"^\s*[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?\s*$"


def scalar_text(t: Typed, dialect: str) -> exp.Expression:
    """The text of a value for parsing: dynamic scalars lose their JSON quotes."""
    if t.kql_type == "dynamic":
        return q.json_scalar_text(t.expr, dialect)
    if t.kql_type in ("string", "guid"):
        return t.expr
    return q.cast(t.expr, "varchar")


def datetime_to_string(ts: exp.Expression, dialect: str) -> exp.Expression:
    """ISO-8601 UTC with ``Z``; a 7-digit fraction only when sub-second parts exist (as Kusto)."""
    micros = exp.Mod(this=q.paren(q.shifted_micros(ts, dialect)), expression=q.n(q.MICROS_PER_SECOND))
    if dialect == "duckdb":
        base = q.fn("strftime", q.utc_naive(ts, dialect), q.s("%Y-%m-%dT%H:%M:%S"))
        frac = q.fn("lpad", q.cast(micros, "varchar"), q.n(6), q.s("0"))
    else:
        base = q.fn("date_format", ts, q.s("yyyy-MM-dd'T'HH:mm:ss"))
        frac = q.fn("lpad", q.cast(micros, "varchar"), q.n(6), q.s("0"))
    fraction = q.case((exp.EQ(this=micros, expression=q.n(0)), q.s("")),
                      default=q.concat(q.s("."), frac, q.s("0")))
    return q.case((exp.Is(this=ts, expression=q.null()), q.null()),
                  default=q.concat(base, fraction, q.s("Z")))


def timespan_to_string(micros: exp.Expression, dialect: str) -> exp.Expression:
    """Kusto's constant timespan format ``[-][d.]hh:mm:ss[.fffffff]``."""
    magnitude = q.fn("abs", micros)

    def part(divisor: int, modulo: int | None, width: int) -> exp.Expression:
        value = q.int_div_positive(magnitude, q.n(divisor))
        if modulo is not None:
            value = exp.Mod(this=q.paren(value), expression=q.n(modulo))
        return q.fn("lpad", q.cast(value, "varchar"), q.n(width), q.s("0"))

    days = q.int_div_positive(magnitude, q.n(q.MICROS_PER_DAY))
    sign = q.case((exp.LT(this=micros, expression=q.n(0)), q.s("-")), default=q.s(""))
    day_text = q.case((exp.GT(this=days, expression=q.n(0)), q.concat(q.cast(days, "varchar"), q.s("."))),
                      default=q.s(""))
    sub_second = exp.Mod(this=magnitude, expression=q.n(q.MICROS_PER_SECOND))
    frac = q.case((exp.EQ(this=sub_second, expression=q.n(0)), q.s("")),
                  default=q.concat(q.s("."), q.fn("lpad", q.cast(sub_second, "varchar"), q.n(6), q.s("0")),
                                   q.s("0")))
    text = q.concat(sign, day_text, part(q.MICROS_PER_HOUR, 24, 2), q.s(":"), part(q.MICROS_PER_MINUTE, 60, 2),
                    q.s(":"), part(q.MICROS_PER_SECOND, 60, 2), frac)
    return q.case((exp.Is(this=micros, expression=q.null()), q.null()), default=text)


def real_to_string(e: exp.Expression) -> exp.Expression:
    """Whole reals print without ``.0`` (Kusto prints 1.0 as ``1``)."""
    whole = exp.And(this=exp.EQ(this=e, expression=q.fn("floor", e)),
                    expression=exp.LT(this=q.fn("abs", e), expression=q.n(1e15)))
    return q.case((whole, q.cast(q.cast(e, "bigint"), "varchar")), default=q.cast(e, "varchar"))


def to_string_expr(t: Typed, dialect: str, *, null_as_empty: bool = True) -> exp.Expression:
    """The string form of any value; Kusto's tostring(null) is ``""``."""
    kind = t.kql_type
    if kind in ("string", "guid"):
        text = t.expr
    elif kind == "datetime":
        text = datetime_to_string(t.expr, dialect)
    elif kind == "timespan":
        text = timespan_to_string(t.expr, dialect)
    elif kind in ("real", "decimal"):
        text = real_to_string(t.expr)
    elif kind == "bool":
        text = q.case((t.expr, q.s("true")), (q.not_(t.expr), q.s("false")))
    elif kind == "dynamic":
        text = q.json_scalar_text(t.expr, dialect) if dialect == "duckdb" else q.case(
            (exp.EQ(this=q.fn("substr", t.expr, q.n(1), q.n(1)), expression=q.s('"')),
             q.json_scalar_text(t.expr, dialect)),
            (exp.EQ(this=t.expr.copy(), expression=q.s("null")), q.null()),
            default=q.coalesce(q.fn("to_json", q.fn("try_parse_json", t.expr.copy())), t.expr.copy()))
        if dialect == "duckdb":
            # json_extract_string renders objects/arrays as JSON and unquotes strings.
            text = q.case((exp.EQ(this=q.fn("json_type", q.cast(t.expr, "json")), expression=q.s("NULL")),
                           q.null()), default=text)
    else:
        text = q.cast(t.expr, "varchar")
    return q.coalesce(text, q.s("")) if null_as_empty else text


def string_arg(t: Typed, ctx: LowerContext) -> exp.Expression:
    """A string operand with Kusto's null-is-empty rule applied."""
    return to_string_expr(t, ctx.dialect)


def _keep_name(args: list[Typed]) -> str | None:
    return args[0].default_name if args else None


def _identity_for(kql_type: str) -> Callable[[ScalarBuilder], ScalarBuilder]:
    """Decorates a one-argument ``to<type>()``: an argument that already has ``kql_type`` is the
    result as is (keeping its column name), so each builder only handles real conversions."""
    def decorate(build: ScalarBuilder) -> ScalarBuilder:
        @functools.wraps(build)
        def conversion(args: list[Typed], ctx: LowerContext) -> Typed:
            q.arity(build.__name__, args, ctx, 1)
            if args[0].kql_type == kql_type:
                return Typed(args[0].expr, kql_type, _keep_name(args))
            return build(args, ctx)
        return conversion
    return decorate


@scalar("tostring")
def tostring(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("tostring", args, ctx, 1)
    return Typed(to_string_expr(args[0], ctx.dialect), "string", _keep_name(args))


def _guarded_cast(text: exp.Expression, pattern: str, sql_type: str, dialect: str) -> exp.Expression:
    ok = q.regex_match(text, q.s(pattern), dialect)
    return q.case((ok, q.try_cast(q.fn("trim", text), sql_type)), default=q.null())


def _to_integer(args: list[Typed], ctx: LowerContext, name: str, kql_type: str, sql_type: str) -> Typed:
    q.arity(name, args, ctx, 1)
    arg = args[0]
    if arg.kql_type in q.INTEGER_TYPES:
        expr = q.cast(arg.expr, sql_type)
    elif arg.kql_type in ("real", "decimal"):
        expr = q.cast(q.trunc_number(arg.expr), sql_type)  # Kusto truncates toward zero
    elif arg.kql_type == "bool":
        expr = q.case((arg.expr, q.n(1)), (q.not_(arg.expr), q.n(0)))
    elif arg.kql_type == "datetime":
        expr = q.cast(q.epoch_micros(arg.expr, ctx.dialect), sql_type)  # micros, see docs
    elif arg.kql_type == "timespan":
        expr = q.cast(arg.expr, sql_type)
    else:
        text = scalar_text(arg, ctx.dialect)
        integer = _guarded_cast(text, _INT_SYNTAX, sql_type, ctx.dialect)
        real = _guarded_cast(text, _REAL_SYNTAX, "double", ctx.dialect)
        expr = q.coalesce(integer, q.try_cast(q.trunc_number(real), sql_type))
    return Typed(expr, kql_type, _keep_name(args))


@scalar("toint")
def toint(args: list[Typed], ctx: LowerContext) -> Typed:
    return _to_integer(args, ctx, "toint", "int", "int")


@scalar("tolong")
def tolong(args: list[Typed], ctx: LowerContext) -> Typed:
    return _to_integer(args, ctx, "tolong", "long", "bigint")


@scalar("toreal", "todouble", "todecimal")
def toreal(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("toreal", args, ctx, 1)
    arg = args[0]
    if arg.kql_type in q.NUMERIC_TYPES or arg.kql_type == "timespan":
        expr = q.cast(arg.expr, "double")
    elif arg.kql_type == "bool":
        expr = q.case((arg.expr, q.n(1.0)), (q.not_(arg.expr), q.n(0.0)))
    else:
        expr = _guarded_cast(scalar_text(arg, ctx.dialect), _REAL_SYNTAX, "double", ctx.dialect)
    return Typed(expr, "real", _keep_name(args))


@scalar("tobool", "toboolean")
@_identity_for("bool")
def tobool(args: list[Typed], ctx: LowerContext) -> Typed:
    arg = args[0]
    if arg.kql_type in q.NUMERIC_TYPES:
        expr = q.case((exp.Is(this=arg.expr, expression=q.null()), q.null()),
                      default=exp.NEQ(this=arg.expr, expression=q.n(0)))
    else:
        text = q.fn("lower", q.fn("trim", scalar_text(arg, ctx.dialect)))
        expr = q.case((exp.In(this=text, expressions=[q.s("true"), q.s("1")]), q.true()),
                      (exp.In(this=text, expressions=[q.s("false"), q.s("0")]), q.false()))
    return Typed(expr, "bool", _keep_name(args))


@scalar("todatetime")
@_identity_for("datetime")
def todatetime(args: list[Typed], ctx: LowerContext) -> Typed:
    arg = args[0]
    target = "timestamptz" if ctx.dialect == "duckdb" else "timestamp"
    text = scalar_text(arg, ctx.dialect)
    # Kusto accepts ISO 8601 and RFC 822/1123; both engines parse ISO 8601 (with or without Z).
    looks_iso = q.regex_match(text, q.s(r"^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}"), ctx.dialect)
    return Typed(q.case((looks_iso, q.try_cast(q.fn("trim", text), target))), "datetime", _keep_name(args))


_TIMESPAN_SYNTAX = r"^\s*(-?)(?:([0-9]+)\.)?([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]{1,7}))?)?\s*$"


@scalar("totimespan", "totime")
@_identity_for("timespan")
def totimespan(args: list[Typed], ctx: LowerContext) -> Typed:
    """Parses ``[-][d.]hh:mm[:ss[.fffffff]]``; numbers are ticks (100 ns) as in Kusto."""
    arg = args[0]
    if arg.kql_type in q.NUMERIC_TYPES:
        return Typed(q.cast(q.trunc_number(exp.Div(this=q.cast(arg.expr, "double"), expression=q.n(10))),
                            "bigint"), "timespan", _keep_name(args))
    text = scalar_text(arg, ctx.dialect)
    pattern = q.s(_TIMESPAN_SYNTAX)

    def group(index: int) -> exp.Expression:
        return q.fn("regexp_extract", text, pattern, q.n(index))

    def number(index: int) -> exp.Expression:
        return q.coalesce(q.try_cast(q.fn("nullif", group(index), q.s("")), "bigint"), q.n(0))

    fraction = q.fn("rpad", q.fn("substr", q.fn("concat", group(6), q.s("0000000")), q.n(1), q.n(7)), q.n(7),
                    q.s("0"))
    micros = exp.Add(
        this=exp.Add(
            this=exp.Add(this=exp.Mul(this=number(2), expression=q.n(q.MICROS_PER_DAY)),
                         expression=exp.Mul(this=number(3), expression=q.n(q.MICROS_PER_HOUR))),
            expression=exp.Add(this=exp.Mul(this=number(4), expression=q.n(q.MICROS_PER_MINUTE)),
                               expression=exp.Mul(this=number(5), expression=q.n(q.MICROS_PER_SECOND)))),
        expression=q.int_div_positive(q.cast(fraction, "bigint"), q.n(10)))
    signed = q.case((exp.EQ(this=group(1), expression=q.s("-")), exp.Neg(this=q.paren(micros))), default=micros)
    ok = q.regex_match(text, pattern, ctx.dialect)
    return Typed(q.case((ok, signed)), "timespan", _keep_name(args))


_CONVERTERS = {
    "string": tostring, "int": toint, "long": tolong, "real": toreal, "double": toreal,
    "decimal": toreal, "bool": tobool, "boolean": tobool, "datetime": todatetime, "date": todatetime,
    "timespan": totimespan, "time": totimespan,
}


def convert_to(t: Typed, target: str, ctx: LowerContext) -> Typed:
    """Convert a value to a KQL type by name (``extract(..., typeof(long))``, ``parse`` targets)."""
    if target == "dynamic":
        from entrawatch.kql.functions.dynamic_functions import to_dynamic  # noqa: PLC0415

        return to_dynamic(t, ctx)
    converter = _CONVERTERS.get(target.lower())
    if converter is None:
        raise q.err(ctx, f"cannot convert to type {target!r}")
    return converter([t], ctx)
