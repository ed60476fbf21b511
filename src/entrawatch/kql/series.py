"""``series_decompose_anomalies()`` in pure SQL list functions (DuckDB and Spark, no UDF).

Kusto's algorithm (docs for series_decompose / series_decompose_anomalies), per series x of n
points, the last ``test_points`` excluded from learning (m = n - test_points):

1. seasonal[i] = median of the learning points at the same phase (j < m, j % period == i % period);
   0 when seasonality is 0;
2. trend over the de-seasoned series d = x - seasonal: ``linefit`` (least squares over the
   learning points, the default here as in Kusto), ``avg`` (their mean) or ``none`` (0);
3. baseline = seasonal + trend, residual = x - baseline;
4. Tukey's fence on the learning residuals: Q1/Q3 are the 10th/90th percentiles for ``ctukey``
   (default) or 25th/75th for ``tukey`` (linear interpolation between ranks), IQR = Q3 - Q1;
   flag +1 when r > Q3 + k*IQR, -1 when r < Q1 - k*IQR, else 0 (k = threshold, default 1.5);
   score = (r - Q3)/IQR above Q3, (r - Q1)/IQR below Q1, else 0.

Differences from Kusto: seasonality -1 (auto-detect, Kusto's default) is taken as "no season"
here (Kusto runs series_periods_detect and keeps a period only when its score >= 0.6; series
without a strong period give the same result); percentiles interpolate linearly; the score is
the fence distance in IQR units, which matches Kusto's sign and ranking but not necessarily its
exact values. Cost is O(n^2 / period) per series for the seasonal medians, O(n) otherwise.

Everything is built from list lambdas; each intermediate list is bound once with
:func:`_sql.bind` so the SQL does not repeat sub-expressions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from entrawatch.kql import ast
from entrawatch.kql.functions import _sql
from entrawatch.kql.lowering_api import Typed
from entrawatch.kql.relation import fresh_alias

if TYPE_CHECKING:
    from entrawatch.kql.scalars import ScalarLowerer

N = exp.Literal.number
METHODS = {"ctukey": (0.10, 0.90), "tukey": (0.25, 0.75)}
TRENDS = ("linefit", "avg", "none")


def _var(prefix: str) -> str:
    """A lambda variable name, unique within the compile (the counter restarts per compile, so
    the same query always prints the same SQL)."""
    return fresh_alias(f"ew_{prefix}")


def _size(lst: exp.Expression, d: str) -> exp.Expression:
    return _sql.fn("len" if d == "duckdb" else "size", lst)


def _at(lst: exp.Expression, i0: exp.Expression, d: str) -> exp.Expression:
    one = exp.Add(this=exp.Paren(this=i0), expression=N(1))
    return _sql.fn("list_extract" if d == "duckdb" else "try_element_at", lst, one)


def _indexed(name: str, lst: exp.Expression, body: Callable[[exp.Expression, exp.Expression], exp.Expression],
             d: str) -> exp.Expression:
    """list_transform / list_filter with a 0-based index on both engines."""
    x, i = _var("x"), _var("i")
    index: exp.Expression = exp.column(i)
    if d == "duckdb":
        index = exp.Paren(this=exp.Sub(this=index, expression=N(1)))
    lam = exp.Lambda(this=body(exp.column(x), index), expressions=[exp.to_identifier(x), exp.to_identifier(i)])
    fn = {"transform": ("list_transform", "transform"), "filter": ("list_filter", "filter")}[name]
    return _sql.fn(fn[0] if d == "duckdb" else fn[1], lst, lam)


def _sum(lst: exp.Expression, d: str) -> exp.Expression:
    if d == "duckdb":
        return _sql.coalesce(_sql.fn("list_sum", lst), _sql.cast(N(0), "double"))
    a, x = _var("a"), _var("x")
    lam = exp.Lambda(this=exp.Add(this=exp.column(a), expression=exp.column(x)),
                     expressions=[exp.to_identifier(a), exp.to_identifier(x)])
    return _sql.fn("aggregate", lst, _sql.cast(N(0), "double"), lam)


def _sorted(lst: exp.Expression, d: str) -> exp.Expression:
    return _sql.fn("list_sort" if d == "duckdb" else "array_sort", lst)


def _quantile(sorted_list: exp.Expression, p: float, d: str) -> exp.Expression:
    """Linear interpolation between ranks of an ascending list."""
    def body(s: exp.Expression) -> exp.Expression:
        pos = exp.Mul(this=_sql.cast(_sql.n(p), "double"),
                      expression=exp.Paren(this=exp.Sub(this=_size(s.copy(), d), expression=N(1))))
        lo = _sql.cast(_sql.fn("floor", pos.copy()), "int")
        hi = _sql.cast(_sql.fn("ceil", pos.copy()), "int")
        low = _at(s.copy(), lo.copy(), d)
        frac = exp.Sub(this=pos, expression=lo)
        return exp.Add(this=low.copy(), expression=exp.Mul(
            this=exp.Paren(this=exp.Sub(this=_at(s.copy(), hi, d), expression=low)), expression=exp.Paren(this=frac)))
    return _sql.bind(sorted_list, body, d, _var("q"))


def _median(lst: exp.Expression, d: str) -> exp.Expression:
    return _quantile(_sorted(lst, d), 0.5, d)


def _doubles(series: exp.Expression, d: str) -> exp.Expression:
    if d == "duckdb":
        return _sql.try_cast(_sql.cast(series, "json"), "double[]")
    return _sql.fn("try_variant_get", _sql.fn("try_parse_json", series), _sql.s("$"), _sql.s("array<double>"))


def decompose_anomalies(series: Typed, threshold: float, period: int, trend: str, test_points: int,
                        method: str, component: int, d: str) -> Typed:
    """One output of series_decompose_anomalies: 0 flags (long[]), 1 scores, 2 baseline (real[])."""
    low_q, high_q = METHODS[method]

    def with_xs(xs: exp.Expression) -> exp.Expression:
        n = _size(xs.copy(), d)
        m = exp.Paren(this=exp.Sub(this=n, expression=N(test_points)))

        def learning(i: exp.Expression) -> exp.Expression:
            return exp.LT(this=i, expression=m.copy())

        if period > 0:
            def phase_median(_x: exp.Expression, i: exp.Expression) -> exp.Expression:
                same = _indexed("filter", xs.copy(), lambda _y, j: exp.And(
                    this=learning(j.copy()), expression=exp.EQ(this=exp.Mod(this=j.copy(), expression=N(period)),
                                                                expression=exp.Mod(this=i.copy(),
                                                                                   expression=N(period)))), d)
                return _median(same, d)
            seasonal = _indexed("transform", xs.copy(), phase_median, d)
        else:
            seasonal = _indexed("transform", xs.copy(), lambda _x, _i: _sql.cast(N(0), "double"), d)

        def with_seasonal(sv: exp.Expression) -> exp.Expression:
            deseason = _indexed("transform", xs.copy(), lambda x, i: exp.Sub(this=x, expression=_at(sv.copy(), i, d)), d)

            def with_deseason(ds: exp.Expression) -> exp.Expression:
                train = _indexed("filter", ds.copy(), lambda _x, j: learning(j), d)
                mf = _sql.cast(m.copy(), "double")
                sy = _sum(train.copy(), d)
                if trend == "avg":
                    def trend_at(i: exp.Expression) -> exp.Expression:
                        return exp.Div(this=sy.copy(), expression=mf.copy())
                elif trend == "linefit":
                    sxy = _sum(_indexed("transform", train.copy(), lambda x, j: exp.Mul(this=x, expression=j), d), d)
                    sx = exp.Div(this=exp.Mul(this=mf.copy(), expression=exp.Paren(
                        this=exp.Sub(this=mf.copy(), expression=N(1)))), expression=N(2))
                    sxx = exp.Div(this=exp.Mul(this=exp.Mul(this=exp.Paren(this=exp.Sub(this=mf.copy(), expression=N(1))),
                                                            expression=mf.copy()),
                                               expression=exp.Paren(this=exp.Sub(this=exp.Mul(this=N(2), expression=mf.copy()),
                                                                                 expression=N(1)))), expression=N(6))
                    denominator = exp.Sub(this=exp.Mul(this=mf.copy(), expression=sxx),
                                          expression=exp.Mul(this=sx.copy(), expression=sx.copy()))
                    slope = _sql.case((exp.EQ(this=denominator.copy(), expression=N(0)), _sql.cast(N(0), "double")),
                                      default=exp.Div(this=exp.Paren(this=exp.Sub(
                                          this=exp.Mul(this=mf.copy(), expression=sxy),
                                          expression=exp.Mul(this=sx.copy(), expression=sy.copy()))),
                                          expression=exp.Paren(this=denominator)))

                    def trend_at(i: exp.Expression) -> exp.Expression:
                        intercept = exp.Div(this=exp.Paren(this=exp.Sub(this=sy.copy(), expression=exp.Mul(
                            this=exp.Paren(this=slope.copy()), expression=sx.copy()))), expression=mf.copy())
                        return exp.Add(this=intercept, expression=exp.Mul(this=exp.Paren(this=slope.copy()),
                                                                           expression=i))
                else:
                    def trend_at(i: exp.Expression) -> exp.Expression:
                        return _sql.cast(N(0), "double")
                baseline = _indexed("transform", xs.copy(), lambda _x, i: exp.Add(
                    this=_at(sv.copy(), i.copy(), d), expression=exp.Paren(this=trend_at(i))), d)
                if component == 2:
                    return baseline

                def with_baseline(bv: exp.Expression) -> exp.Expression:
                    residual = _indexed("transform", xs.copy(),
                                        lambda x, i: exp.Sub(this=x, expression=_at(bv.copy(), i, d)), d)

                    def with_residual(rv: exp.Expression) -> exp.Expression:
                        learned = _sorted(_indexed("filter", rv.copy(), lambda _x, j: learning(j), d), d)

                        def with_sorted(sr: exp.Expression) -> exp.Expression:
                            q1, q3 = _quantile(sr.copy(), low_q, d), _quantile(sr.copy(), high_q, d)
                            iqr = exp.Paren(this=exp.Sub(this=q3.copy(), expression=q1.copy()))
                            k = _sql.cast(_sql.n(threshold), "double")
                            if component == 0:
                                return _indexed("transform", rv.copy(), lambda r, _i: _sql.case(
                                    (exp.GT(this=r.copy(), expression=exp.Add(this=q3.copy(), expression=exp.Mul(
                                        this=k.copy(), expression=iqr.copy()))), N(1)),
                                    (exp.LT(this=r.copy(), expression=exp.Sub(this=q1.copy(), expression=exp.Mul(
                                        this=k.copy(), expression=iqr.copy()))), N(-1)), default=N(0)), d)
                            zero = exp.EQ(this=iqr.copy(), expression=N(0))
                            return _indexed("transform", rv.copy(), lambda r, _i: _sql.case(
                                (zero.copy(), _sql.cast(N(0), "double")),
                                (exp.GT(this=r.copy(), expression=q3.copy()),
                                 exp.Div(this=exp.Paren(this=exp.Sub(this=r.copy(), expression=q3.copy())),
                                         expression=iqr.copy())),
                                (exp.LT(this=r.copy(), expression=q1.copy()),
                                 exp.Div(this=exp.Paren(this=exp.Sub(this=r.copy(), expression=q1.copy())),
                                         expression=iqr.copy())),
                                default=_sql.cast(N(0), "double")), d)
                        return _sql.bind(learned, with_sorted, d, _var("s"))
                    return _sql.bind(residual, with_residual, d, _var("r"))
                return _sql.bind(baseline, with_baseline, d, _var("b"))
            return _sql.bind(deseason, with_deseason, d, _var("d"))
        return _sql.bind(seasonal, with_seasonal, d, _var("sv"))

    values = _sql.bind(_doubles(series.expr, d), with_xs, d, _var("xs"))
    nonempty = exp.Not(this=exp.Is(this=series.expr.copy(), expression=exp.Null()))
    return Typed(_sql.case((nonempty, _sql.json_text(_sql.fn("to_json", values), d))), "dynamic")


def _constant(lowerer: ScalarLowerer, node: ast.Node, kind: type, what: str) -> Any:
    value = node.value if isinstance(node, ast.Literal) else None
    if isinstance(node, ast.Unary) and node.op == "-" and isinstance(node.operand, ast.Literal):
        value = -node.operand.value
    if value is None or (kind is str) != isinstance(value, str):
        raise lowerer.unsupported(f"series_decompose_anomalies() {what} must be a constant", node)
    return kind(value)


def lower_call(lowerer: ScalarLowerer, node: ast.Node, component: int = 0) -> Typed:
    """``series_decompose_anomalies(series [, threshold, seasonality, trend, test_points, method])``."""
    assert isinstance(node, ast.Call)
    args = node.args
    if not 1 <= len(args) <= 7:
        raise lowerer.semantic("series_decompose_anomalies() expects 1 to 7 arguments", node)
    series = lowerer.lower(args[0])
    if series.kql_type != "dynamic":
        raise lowerer.semantic("series_decompose_anomalies() needs a dynamic array", args[0])
    threshold = _constant(lowerer, args[1], float, "threshold") if len(args) > 1 else 1.5
    period = _constant(lowerer, args[2], int, "seasonality") if len(args) > 2 else -1
    trend = _constant(lowerer, args[3], str, "trend") if len(args) > 3 else "linefit"
    test_points = _constant(lowerer, args[4], int, "test_points") if len(args) > 4 else 0
    method = _constant(lowerer, args[5], str, "method") if len(args) > 5 else "ctukey"
    if trend not in TRENDS:
        raise lowerer.semantic(f"series_decompose_anomalies() trend must be one of {', '.join(TRENDS)}", node)
    if method not in METHODS:
        raise lowerer.semantic("series_decompose_anomalies() method must be 'ctukey' or 'tukey'", node)
    if period < -1 or test_points < 0:
        raise lowerer.semantic("series_decompose_anomalies() seasonality must be >= -1 and test_points >= 0", node)
    return decompose_anomalies(series, threshold, max(period, 0), trend, test_points, method, component,
                               lowerer.dialect)
