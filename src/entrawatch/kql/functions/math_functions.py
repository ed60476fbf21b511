"""Numeric functions: round, abs, ceiling, sign, log*, exp*, sqrt, pow, min_of/max_of, geo distance.

Kusto returns null instead of raising for out-of-domain input (log of a negative number, sqrt of
-1); the ``CASE`` guards give the same answer on both engines, which otherwise differ (NaN or an
error).
"""

from __future__ import annotations

from sqlglot import exp

from entrawatch.kql.functions import _sql as q
from entrawatch.kql.functions.logical import common_type
from entrawatch.kql.lowering_api import LowerContext, Typed, scalar

#: Sphere radius in metres that reproduces the geo_distance_2points examples of the Kusto docs.
EARTH_RADIUS_METERS = 6_371_010.0


def _real(expr: exp.Expression) -> Typed:
    return Typed(expr, "real")


def _double(t: Typed) -> exp.Expression:
    return q.cast(t.expr, "double")


@scalar("round")
def round_(args: list[Typed], ctx: LowerContext) -> Typed:
    """Half away from zero, like .NET Math.Round(MidpointRounding.AwayFromZero) used by Kusto."""
    q.arity("round", args, ctx, 1, 2)
    digits = q.cast(args[1].expr, "int") if len(args) == 2 else q.n(0)
    value = args[0]
    if value.kql_type in q.INTEGER_TYPES and len(args) == 1:
        return value
    scale = q.fn("power", q.n(10.0), digits)
    scaled = exp.Mul(this=_double(value), expression=scale)
    rounded = exp.Div(this=exp.Mul(this=q.fn("sign", scaled), expression=q.fn("floor", exp.Add(
        this=q.fn("abs", scaled.copy()), expression=q.n(0.5)))), expression=scale.copy())
    return _real(rounded)


@scalar("abs")
def abs_(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("abs", args, ctx, 1)
    return Typed(q.fn("abs", args[0].expr), args[0].kql_type)


@scalar("ceiling")
def ceiling(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("ceiling", args, ctx, 1)
    return Typed(q.fn("ceil", args[0].expr), args[0].kql_type)


@scalar("sign")
def sign(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("sign", args, ctx, 1)
    return _real(q.cast(q.fn("sign", _double(args[0])), "double"))


def _guarded(name: str, sql_name: str, domain: str) -> None:
    @scalar(name)
    def build(args: list[Typed], ctx: LowerContext) -> Typed:
        q.arity(name, args, ctx, 1)
        value = _double(args[0])
        if domain == "positive":
            ok: exp.Expression = exp.GT(this=value, expression=q.n(0))
        elif domain == "non-negative":
            ok = exp.GTE(this=value, expression=q.n(0))
        else:
            ok = q.true()
        return _real(q.case((ok, q.fn(sql_name, value.copy()))))


_guarded("log", "ln", "positive")
_guarded("log10", "log10", "positive")
_guarded("log2", "log2", "positive")
_guarded("sqrt", "sqrt", "non-negative")
_guarded("exp", "exp", "any")


@scalar("exp10")
def exp10(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("exp10", args, ctx, 1)
    return _real(q.fn("power", q.n(10.0), _double(args[0])))


@scalar("exp2")
def exp2(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("exp2", args, ctx, 1)
    return _real(q.fn("power", q.n(2.0), _double(args[0])))


@scalar("pow")
def pow_(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("pow", args, ctx, 2)
    return _real(q.fn("power", _double(args[0]), _double(args[1])))


def _extreme(name: str, sql_name: str) -> None:
    @scalar(name)
    def build(args: list[Typed], ctx: LowerContext) -> Typed:
        """Nulls are ignored (both engines' least/greatest skip nulls)."""
        q.arity(name, args, ctx, 1, 64)
        kind = common_type(args)
        values = [q.cast(a.expr, "double") if kind == "real" else a.expr for a in args]
        return Typed(q.fn(sql_name, *values), kind)


_extreme("min_of", "least")
_extreme("max_of", "greatest")


@scalar("isnan")
def isnan(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("isnan", args, ctx, 1)
    return Typed(q.bool_or_false(q.fn("isnan", _double(args[0]))), "bool")


@scalar("isinf")
def isinf(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("isinf", args, ctx, 1)
    value = _double(args[0])
    infinite = exp.EQ(this=q.fn("abs", value), expression=q.cast(q.s("Infinity"), "double"))
    return Typed(q.bool_or_false(infinite), "bool")


@scalar("isfinite")
def isfinite(args: list[Typed], ctx: LowerContext) -> Typed:
    """False for NaN, infinities and null."""
    q.arity("isfinite", args, ctx, 1)
    value = _double(args[0])
    finite = exp.And(this=q.not_(q.fn("isnan", value)),
                     expression=exp.LT(this=q.fn("abs", value.copy()), expression=q.cast(q.s("Infinity"), "double")))
    return Typed(q.bool_or_false(finite), "bool")


def _radians(e: exp.Expression) -> exp.Expression:
    return q.fn("radians", e)


@scalar("geo_distance_2points")
def geo_distance_2points(args: list[Typed], ctx: LowerContext) -> Typed:
    """Great-circle distance in metres (haversine on a sphere); null for invalid coordinates."""
    q.arity("geo_distance_2points", args, ctx, 4)
    lon1, lat1, lon2, lat2 = (_double(a) for a in args)
    dlat = exp.Sub(this=_radians(lat2), expression=_radians(lat1))
    dlon = exp.Sub(this=_radians(lon2), expression=_radians(lon1))
    half = exp.Add(
        this=q.fn("power", q.fn("sin", exp.Div(this=q.paren(dlat), expression=q.n(2))), q.n(2)),
        expression=exp.Mul(this=exp.Mul(this=q.fn("cos", _radians(lat1.copy())),
                                        expression=q.fn("cos", _radians(lat2.copy()))),
                           expression=q.fn("power", q.fn("sin", exp.Div(this=q.paren(dlon), expression=q.n(2))),
                                           q.n(2))))
    distance = exp.Mul(this=q.n(2 * EARTH_RADIUS_METERS),
                       expression=q.fn("asin", q.fn("sqrt", q.fn("least", q.n(1.0), half))))

    def within(value: exp.Expression, bound: int) -> exp.Expression:
        return exp.Between(this=value.copy(), low=q.n(-bound), high=q.n(bound))

    valid = exp.And(this=exp.And(this=within(lon1, 180), expression=within(lat1, 90)),
                    expression=exp.And(this=within(lon2, 180), expression=within(lat2, 90)))
    return _real(q.case((valid, distance)))
