"""Date and time functions: now/ago, bin, startof*/endof*, datetime_diff/add/part, format_datetime.

Why epoch arithmetic: timestamps are converted to microseconds since 0001-01-01 (Kusto's bin
origin) and divided as integers. That is exact, identical on both engines and independent of the
session time zone, which ``date_trunc`` on a DuckDB ``TIMESTAMPTZ`` is not. Calendar-dependent
parts (month, year, ISO week) use the engine's calendar functions on the UTC wall-clock value.
``datetime_diff`` counts boundaries crossed (Kusto's documented rule), not elapsed whole units.
"""

from __future__ import annotations

import re

from sqlglot import exp

from entrawatch.kql.functions import _sql as q
from entrawatch.kql.lowering_api import LowerContext, Typed, scalar

_FIXED_UNITS = {
    "day": q.MICROS_PER_DAY, "hour": q.MICROS_PER_HOUR, "minute": q.MICROS_PER_MINUTE,
    "second": q.MICROS_PER_SECOND, "millisecond": q.MICROS_PER_MS, "microsecond": 1,
}
_PART_ALIASES = {
    "years": "year", "yy": "year", "yyyy": "year", "quarters": "quarter", "qq": "quarter", "q": "quarter",
    "months": "month", "mm": "month", "m": "month", "weeks": "week", "wk": "week", "ww": "week",
    "days": "day", "dd": "day", "d": "day", "hours": "hour", "hh": "hour", "minutes": "minute",
    "mi": "minute", "n": "minute", "seconds": "second", "ss": "second", "s": "second",
    "milliseconds": "millisecond", "ms": "millisecond", "microseconds": "microsecond", "mcs": "microsecond",
    "nanoseconds": "nanosecond", "ns": "nanosecond",
}


def _part_name(t: Typed, ctx: LowerContext, function: str) -> str:
    value = q.str_literal_value(t)
    if value is None:
        raise q.err(ctx, f"{function}() needs a constant part name such as 'day'")
    part = value.strip().lower()
    return _PART_ALIASES.get(part, part)


def _ts(expr: exp.Expression) -> Typed:
    return Typed(expr, "datetime")


def _require(t: Typed, kind: str, ctx: LowerContext, function: str) -> None:
    if t.kql_type != kind:
        raise q.err(ctx, f"{function}() expects a {kind} argument, got {t.kql_type}")


@scalar("now")
def now(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("now", args, ctx, 0, 1)
    base = q.now_expr(ctx)
    if args:
        return _ts(q.add_micros(base, args[0].expr, ctx.dialect))
    return _ts(base)


@scalar("ago")
def ago(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("ago", args, ctx, 1)
    _require(args[0], "timespan", ctx, "ago")
    return _ts(q.add_micros(q.now_expr(ctx), exp.Neg(this=q.paren(args[0].expr)),
                            ctx.dialect))


def _numeric_bin(value: Typed, size: Typed) -> Typed:
    if value.kql_type in q.INTEGER_TYPES or value.kql_type == "timespan":
        floored = exp.Mul(this=q.floor_div(value.expr, size.expr), expression=q.cast(size.expr, "bigint"))
        return Typed(q.cast(floored, "bigint"), value.kql_type, value.default_name)
    floored_real = exp.Mul(this=q.fn("floor", exp.Div(this=q.cast(value.expr, "double"),
                                                       expression=q.paren(size.expr))),
                           expression=q.paren(size.expr))
    return Typed(floored_real, "real", value.default_name)


@scalar("bin", "floor")
def bin_(args: list[Typed], ctx: LowerContext) -> Typed:
    """bin(value, roundTo): datetimes floor to multiples of the span counted from 0001-01-01."""
    if len(args) == 1:  # math floor() with one argument is not KQL, but be helpful
        return Typed(q.fn("floor", args[0].expr), args[0].kql_type, args[0].default_name)
    q.arity("bin", args, ctx, 2)
    value, size = args
    if value.kql_type == "datetime":
        if size.kql_type != "timespan":
            raise q.err(ctx, "bin() of a datetime needs a timespan bin size")
        return Typed(q.floor_timestamp(value.expr, size.expr, ctx.dialect), "datetime", value.default_name)
    if value.kql_type in q.NUMERIC_TYPES or value.kql_type == "timespan":
        return _numeric_bin(value, size)
    raise q.err(ctx, f"bin() cannot round a {value.kql_type}")


@scalar("bin_at")
def bin_at(args: list[Typed], ctx: LowerContext) -> Typed:
    """bin_at(value, size, fixed_point): bins aligned so that ``fixed_point`` starts a bin."""
    q.arity("bin_at", args, ctx, 3)
    value, size, fixed = args
    if value.kql_type != "datetime":
        shifted = Typed(exp.Sub(this=value.expr, expression=q.paren(fixed.expr)), value.kql_type)
        binned = _numeric_bin(shifted, size)
        return Typed(exp.Add(this=binned.expr, expression=q.paren(fixed.expr)), binned.kql_type,
                     value.default_name)
    delta = exp.Sub(this=q.epoch_micros(value.expr, ctx.dialect), expression=q.epoch_micros(fixed.expr,
                                                                                             ctx.dialect))
    floored = exp.Mul(this=q.floor_div(delta, size.expr), expression=q.cast(size.expr, "bigint"))
    return Typed(q.add_micros(fixed.expr, floored, ctx.dialect), "datetime", value.default_name)


def _day_index(ts: exp.Expression, dialect: str) -> exp.Expression:
    """Whole days since 0001-01-01 (a Monday)."""
    return q.int_div_positive(q.shifted_micros(ts, dialect), q.n(q.MICROS_PER_DAY))


def _offset(args: list[Typed], index: int) -> exp.Expression:
    return q.cast(args[index].expr, "bigint") if len(args) > index else q.n(0)


def _add_months(ts: exp.Expression, months: exp.Expression, dialect: str) -> exp.Expression:
    """Calendar month arithmetic on a UTC timestamp (end-of-month clamps, as .NET AddMonths)."""
    naive = q.utc_naive(ts, dialect)
    if dialect == "duckdb":
        shifted = exp.Add(this=naive, expression=q.fn("to_months", q.cast(months, "int")))
    else:
        shifted = exp.Add(this=naive, expression=q.fn("make_interval", q.n(0), q.cast(months, "int")))
    return q.from_utc_naive(shifted, dialect)


def _truncate(unit: str, ts: exp.Expression, dialect: str) -> exp.Expression:
    return q.from_utc_naive(q.fn("date_trunc", q.s(unit), q.utc_naive(ts, dialect)), dialect)


def _start_of(unit: str, ts: exp.Expression, offset: exp.Expression, dialect: str) -> exp.Expression:
    if unit == "day":
        day = q.floor_timestamp(ts, q.n(q.MICROS_PER_DAY), dialect)
        return q.add_micros(day, exp.Mul(this=offset, expression=q.n(q.MICROS_PER_DAY)), dialect)
    if unit == "week":  # Sunday-based weeks: shift by a day so Monday-aligned bins land on Sundays
        plus_day = q.add_micros(ts, q.n(q.MICROS_PER_DAY), dialect)
        monday = q.floor_timestamp(plus_day, q.n(q.MICROS_PER_WEEK), dialect)
        shift = exp.Sub(this=exp.Mul(this=offset, expression=q.n(q.MICROS_PER_WEEK)), expression=q.n(q.MICROS_PER_DAY))
        return q.add_micros(monday, shift, dialect)
    if unit == "month":
        return _add_months(_truncate("month", ts, dialect), offset, dialect)
    return _add_months(_truncate("year", ts, dialect), exp.Mul(this=offset, expression=q.n(12)), dialect)


def _register_start_end(unit: str) -> None:
    @scalar(f"startof{unit}")
    def start(args: list[Typed], ctx: LowerContext) -> Typed:
        q.arity(f"startof{unit}", args, ctx, 1, 2)
        return Typed(_start_of(unit, args[0].expr, _offset(args, 1), ctx.dialect), "datetime",
                     args[0].default_name)

    @scalar(f"endof{unit}")
    def end(args: list[Typed], ctx: LowerContext) -> Typed:
        q.arity(f"endof{unit}", args, ctx, 1, 2)
        following = _start_of(unit, args[0].expr, exp.Add(this=_offset(args, 1), expression=q.n(1)), ctx.dialect)
        return Typed(q.add_micros(following, q.n(-1), ctx.dialect), "datetime", args[0].default_name)


for _unit in ("day", "week", "month", "year"):
    _register_start_end(_unit)


def _calendar(fn_name: str, ts: exp.Expression, dialect: str) -> exp.Expression:
    names = {"day": "day" if dialect == "duckdb" else "dayofmonth"}
    return q.cast(q.fn(names.get(fn_name, fn_name), q.utc_naive(ts, dialect)), "bigint")


def _boundary_index(part: str, ts: exp.Expression, ctx: LowerContext) -> exp.Expression:
    """A counter that increases by one at each ``part`` boundary."""
    if part == "year":
        return _calendar("year", ts, ctx.dialect)
    if part == "quarter":
        return exp.Add(this=exp.Mul(this=_calendar("year", ts, ctx.dialect), expression=q.n(4)),
                       expression=_calendar("quarter", ts, ctx.dialect))
    if part == "month":
        return exp.Add(this=exp.Mul(this=_calendar("year", ts, ctx.dialect), expression=q.n(12)),
                       expression=_calendar("month", ts, ctx.dialect))
    if part == "week":
        plus_day = exp.Add(this=q.shifted_micros(ts, ctx.dialect), expression=q.n(q.MICROS_PER_DAY))
        return q.int_div_positive(plus_day, q.n(q.MICROS_PER_WEEK))
    if part == "nanosecond":
        return exp.Mul(this=q.shifted_micros(ts, ctx.dialect), expression=q.n(1000))
    if part in _FIXED_UNITS:
        return q.int_div_positive(q.shifted_micros(ts, ctx.dialect), q.n(_FIXED_UNITS[part]))
    raise q.err(ctx, f"unknown datetime part {part!r}")


@scalar("datetime_diff")
def datetime_diff(args: list[Typed], ctx: LowerContext) -> Typed:
    """datetime_diff(part, dt1, dt2) = boundaries of ``part`` crossed from dt2 to dt1."""
    q.arity("datetime_diff", args, ctx, 3)
    part = _part_name(args[0], ctx, "datetime_diff")
    first = _boundary_index(part, args[1].expr, ctx)
    second = _boundary_index(part, args[2].expr, ctx)
    return Typed(q.cast(exp.Sub(this=q.paren(first), expression=q.paren(second)), "bigint"), "long")


@scalar("datetime_add")
def datetime_add(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("datetime_add", args, ctx, 3)
    part = _part_name(args[0], ctx, "datetime_add")
    amount, ts = q.cast(args[1].expr, "bigint"), args[2].expr
    if part in ("year", "quarter", "month"):
        factor = {"year": 12, "quarter": 3, "month": 1}[part]
        return _ts(_add_months(ts, exp.Mul(this=amount, expression=q.n(factor)), ctx.dialect))
    if part == "week":
        return _ts(q.add_micros(ts, exp.Mul(this=amount, expression=q.n(q.MICROS_PER_WEEK)), ctx.dialect))
    if part == "nanosecond":
        return _ts(q.add_micros(ts, q.int_div_positive(amount, q.n(1000)), ctx.dialect))
    if part in _FIXED_UNITS:
        return _ts(q.add_micros(ts, exp.Mul(this=amount, expression=q.n(_FIXED_UNITS[part])), ctx.dialect))
    raise q.err(ctx, f"unknown datetime part {part!r}")


def _sub_second(ts: exp.Expression, dialect: str) -> exp.Expression:
    return exp.Mod(this=q.paren(q.shifted_micros(ts, dialect)), expression=q.n(q.MICROS_PER_SECOND))


def _part_value(part: str, ts: exp.Expression, ctx: LowerContext) -> exp.Expression:
    if part in ("year", "quarter", "month", "day", "dayofyear", "hour", "minute", "second"):
        return _calendar(part, ts, ctx.dialect)
    if part in ("week_of_year", "week", "weekofyear"):
        return _calendar("weekofyear", ts, ctx.dialect)
    if part == "millisecond":
        return q.int_div_positive(_sub_second(ts, ctx.dialect), q.n(1000))
    if part == "microsecond":
        return _sub_second(ts, ctx.dialect)
    if part == "nanosecond":
        return exp.Mul(this=_sub_second(ts, ctx.dialect), expression=q.n(1000))
    raise q.err(ctx, f"unknown datetime part {part!r}")


@scalar("datetime_part")
def datetime_part(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("datetime_part", args, ctx, 2)
    part = _part_name(args[0], ctx, "datetime_part")
    return Typed(q.cast(_part_value(part, args[1].expr, ctx), "int"), "int")


def _register_getter(names: tuple[str, ...], part: str, kql_type: str = "int") -> None:
    @scalar(*names)
    def getter(args: list[Typed], ctx: LowerContext) -> Typed:
        q.arity(names[0], args, ctx, 1)
        return Typed(q.cast(_part_value(part, args[0].expr, ctx), "int"), kql_type)


_register_getter(("getyear",), "year")
_register_getter(("getmonth", "monthofyear"), "month")
_register_getter(("dayofmonth",), "day")
_register_getter(("dayofyear",), "dayofyear")
_register_getter(("hourofday",), "hour")
_register_getter(("week_of_year", "weekofyear"), "week_of_year")


@scalar("dayofweek")
def dayofweek(args: list[Typed], ctx: LowerContext) -> Typed:
    """Timespan of whole days since the preceding Sunday (Sunday -> 0d, Saturday -> 6d)."""
    q.arity("dayofweek", args, ctx, 1)
    days = exp.Mod(this=exp.Add(this=_day_index(args[0].expr, ctx.dialect), expression=q.n(1)), expression=q.n(7))
    return Typed(q.cast(exp.Mul(this=q.paren(days), expression=q.n(q.MICROS_PER_DAY)), "bigint"), "timespan")


def _from_unit(name: str, micros_per_unit: float) -> None:
    @scalar(name)
    def build(args: list[Typed], ctx: LowerContext) -> Typed:
        q.arity(name, args, ctx, 1)
        micros = exp.Mul(this=q.cast(args[0].expr, "double"), expression=q.n(micros_per_unit))
        return _ts(q.from_epoch_micros(q.fn("round", micros), ctx.dialect))


_from_unit("unixtime_seconds_todatetime", q.MICROS_PER_SECOND)
_from_unit("unixtime_milliseconds_todatetime", q.MICROS_PER_MS)
_from_unit("unixtime_microseconds_todatetime", 1)


@scalar("make_datetime")
def make_datetime(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("make_datetime", args, ctx, 3, 7)
    parts = [q.cast(a.expr, "bigint") for a in args[:5]] + [q.n(0)] * (5 - min(len(args), 5))
    seconds = q.cast(args[5].expr, "double") if len(args) > 5 else q.n(0.0)
    if ctx.dialect == "duckdb":
        naive = q.fn("try", q.fn("make_timestamp", *parts, seconds))
        return _ts(q.fn("timezone", q.s("UTC"), naive))
    return _ts(q.fn("try_make_timestamp", *parts, q.cast(seconds, "decimal(16,6)")))


_FORMAT_TOKEN = re.compile(r"(d+|f+|F+|h+|H+|m+|M+|s+|y+|tt)")


def _pad(value: exp.Expression, width: int) -> exp.Expression:
    text = q.cast(value, "varchar")
    return q.fn("lpad", text, q.n(width), q.s("0")) if width > 1 else text


@scalar("format_datetime")
def format_datetime(args: list[Typed], ctx: LowerContext) -> Typed:
    """Kusto format specifiers (yyyy MM dd HH hh mm ss f..fffffff F.. tt) rendered from parts."""
    q.arity("format_datetime", args, ctx, 2)
    pattern = q.str_literal_value(args[1])
    if pattern is None:
        raise q.err(ctx, "format_datetime() needs a constant format string")
    ts = args[0].expr
    pieces: list[exp.Expression] = []
    for token in _FORMAT_TOKEN.split(pattern):
        if not token:
            continue
        letter, width = token[0], len(token)
        if not _FORMAT_TOKEN.fullmatch(token):
            pieces.append(q.s(token))
        elif letter == "y":
            year = _calendar("year", ts, ctx.dialect)
            pieces.append(_pad(year, 4) if width >= 3 else _pad(exp.Mod(this=year, expression=q.n(100)), width))
        elif letter in "MdHms":
            part = {"M": "month", "d": "day", "H": "hour", "m": "minute", "s": "second"}[letter]
            pieces.append(_pad(_calendar(part, ts, ctx.dialect), min(width, 2)))
        elif letter == "h":
            hour12 = exp.Mod(this=_calendar("hour", ts, ctx.dialect), expression=q.n(12))
            pieces.append(_pad(q.case((exp.EQ(this=hour12, expression=q.n(0)), q.n(12)), default=hour12.copy()),
                               min(width, 2)))
        elif letter == "t":
            pieces.append(q.case((exp.LT(this=_calendar("hour", ts, ctx.dialect), expression=q.n(12)), q.s("AM")),
                                 default=q.s("PM")))
        else:  # f / F: fraction digits (micros padded to Kusto's 7 digits of ticks)
            digits = q.fn("substr", q.concat(_pad(_sub_second(ts, ctx.dialect), 6), q.s("0")), q.n(1),
                          q.n(min(width, 7)))
            pieces.append(digits if letter == "f" else q.regex_replace_all(digits, q.s("0+$"), q.s(""),
                                                                              ctx.dialect))
    text = q.concat(*pieces) if pieces else q.s("")
    return Typed(q.case((exp.Is(this=ts, expression=q.null()), q.s("")), default=text), "string")
