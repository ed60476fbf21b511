"""IPv4 functions: parse_ipv4, ipv4_is_in_range, ipv4_is_match, ipv4_compare, ipv4_is_private, has_*ipv4.

An address (optionally ``a.b.c.d/prefix``) is parsed in SQL with one anchored regex into a BIGINT;
prefix masks are integer divisions by 2^(32-prefix). Invalid addresses give null, as in Kusto.
Literal needles of ``has_ipv4``/``has_any_ipv4`` are validated in Python and escaped into the
regex; they must be delimited by non-alphanumeric characters in the text (Kusto's rule).
"""

from __future__ import annotations

import ipaddress

from sqlglot import exp

from entrawatch.kql.functions import _sql as q
from entrawatch.kql.functions.conversion import string_arg
from entrawatch.kql.functions.string_operators import dynamic_literal_value
from entrawatch.kql.lowering_api import LowerContext, Typed, scalar

_IPV4 = r"^\s*([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})(?:/([0-9]{1,2}))?\s*$"
_BOUNDARY_LEFT = "(^|[^\\p{L}\\p{N}])"
_BOUNDARY_RIGHT = "($|[^\\p{L}\\p{N}])"


class ParsedIp:
    """SQL pieces of a parsed address: its BIGINT value and its prefix length (32 by default)."""

    def __init__(self, text: exp.Expression, dialect: str) -> None:
        pattern = q.s(_IPV4)
        octets = [q.try_cast(q.fn("regexp_extract", text, pattern, q.n(i)), "bigint") for i in range(1, 5)]
        valid = q.regex_match(text.copy(), pattern.copy(), dialect)
        for octet in octets:
            valid = exp.And(this=valid, expression=exp.LTE(this=octet.copy(), expression=q.n(255)))
        prefix_text = q.fn("regexp_extract", text.copy(), pattern.copy(), q.n(5))
        prefix = q.coalesce(q.try_cast(q.fn("nullif", prefix_text, q.s("")), "bigint"), q.n(32))
        valid = exp.And(this=valid, expression=exp.LTE(this=prefix.copy(), expression=q.n(32)))
        value = exp.Add(this=exp.Add(this=exp.Mul(this=octets[0], expression=q.n(16777216)),
                                     expression=exp.Mul(this=octets[1], expression=q.n(65536))),
                        expression=exp.Add(this=exp.Mul(this=octets[2], expression=q.n(256)),
                                           expression=octets[3]))
        self.valid = valid
        self.value = q.case((valid.copy(), value))
        self.prefix = prefix


def _block(prefix: exp.Expression) -> exp.Expression:
    """2^(32-prefix) as BIGINT: the size of a network block with that prefix."""
    return q.cast(q.fn("power", q.n(2), exp.Sub(this=q.n(32), expression=q.paren(prefix))), "bigint")


def _masked(value: exp.Expression, prefix: exp.Expression) -> exp.Expression:
    block = _block(prefix)
    return exp.Mul(this=q.int_div_positive(value, block), expression=block.copy())


def _parse(t: Typed, ctx: LowerContext) -> ParsedIp:
    return ParsedIp(string_arg(t, ctx), ctx.dialect)


@scalar("parse_ipv4")
def parse_ipv4(args: list[Typed], ctx: LowerContext) -> Typed:
    """The address as a long; with ``/prefix`` the host bits are cleared."""
    q.arity("parse_ipv4", args, ctx, 1)
    ip = _parse(args[0], ctx)
    return Typed(q.cast(_masked(ip.value, ip.prefix), "bigint"), "long")


@scalar("parse_ipv4_mask")
def parse_ipv4_mask(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("parse_ipv4_mask", args, ctx, 2)
    ip = _parse(args[0], ctx)
    prefix = q.fn("least", ip.prefix, q.cast(args[1].expr, "bigint"))
    return Typed(q.cast(_masked(ip.value, prefix), "bigint"), "long")


def _compare(left: Typed, right: Typed, prefix: Typed | None, ctx: LowerContext) -> exp.Expression:
    a, b = _parse(left, ctx), _parse(right, ctx)
    bits = q.fn("least", a.prefix, b.prefix)
    if prefix is not None:
        bits = q.fn("least", bits, q.cast(prefix.expr, "bigint"))
    x, y = _masked(a.value, bits), _masked(b.value, bits.copy())
    return q.case((exp.Or(this=exp.Is(this=x, expression=q.null()), expression=exp.Is(this=y, expression=q.null())),
                   q.null()),
                  (exp.LT(this=x.copy(), expression=y.copy()), q.n(-1)),
                  (exp.GT(this=x.copy(), expression=y.copy()), q.n(1)), default=q.n(0))


@scalar("ipv4_compare")
def ipv4_compare(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("ipv4_compare", args, ctx, 2, 3)
    return Typed(q.cast(_compare(args[0], args[1], args[2] if len(args) == 3 else None, ctx), "int"), "int")


@scalar("ipv4_is_match")
def ipv4_is_match(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("ipv4_is_match", args, ctx, 2, 3)
    compared = _compare(args[0], args[1], args[2] if len(args) == 3 else None, ctx)
    return Typed(exp.EQ(this=compared, expression=q.n(0)), "bool")


def in_range(ip: ParsedIp, network: ParsedIp) -> exp.Expression:
    return exp.EQ(this=q.int_div_positive(ip.value, _block(network.prefix)),
                  expression=q.int_div_positive(network.value, _block(network.prefix.copy())))


@scalar("ipv4_is_in_range")
def ipv4_is_in_range(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("ipv4_is_in_range", args, ctx, 2)
    return Typed(in_range(_parse(args[0], ctx), _parse(args[1], ctx)), "bool")


@scalar("ipv4_is_in_any_range")
def ipv4_is_in_any_range(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("ipv4_is_in_any_range", args, ctx, 2, 64)
    ranges = _literal_list(args[1:], ctx)
    ip = _parse(args[0], ctx)
    checks = [in_range(ip, ParsedIp(q.s(r), ctx.dialect)) for r in ranges]
    result: exp.Expression = q.false()
    for check in checks:
        result = exp.Or(this=result, expression=check)
    return Typed(q.case((exp.Is(this=ip.value, expression=q.null()), q.null()), default=result), "bool")


_PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


@scalar("ipv4_is_private")
def ipv4_is_private(args: list[Typed], ctx: LowerContext) -> Typed:
    """RFC 1918 ranges (10/8, 172.16/12, 192.168/16)."""
    q.arity("ipv4_is_private", args, ctx, 1)
    ip = _parse(args[0], ctx)
    result: exp.Expression = q.false()
    for network in _PRIVATE_RANGES:
        result = exp.Or(this=result, expression=in_range(ip, ParsedIp(q.s(network), ctx.dialect)))
    return Typed(q.case((exp.Is(this=ip.value, expression=q.null()), q.null()), default=result), "bool")


def _literal_list(args: list[Typed], ctx: LowerContext) -> list[str]:
    """Constant strings from string arguments or constant dynamic arrays."""
    values: list[str] = []
    for arg in args:
        value = dynamic_literal_value(arg) if arg.kql_type == "dynamic" else None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            values.extend(value)
            continue
        text = q.str_literal_value(arg) if arg.kql_type != "dynamic" else None
        if text is not None:
            values.append(text)
            continue
        raise q.err(ctx, "expected constant IPv4 addresses or ranges", unsupported=True)
    return values


def _valid_ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
    except ValueError:
        return False
    return True


def _has_ips(source: Typed, ips: list[str], ctx: LowerContext, *, prefix: bool) -> Typed:
    wanted = [ip for ip in ips if (_valid_ipv4(ip) if not prefix else ip and not ip.startswith("."))]
    if not wanted:
        return Typed(q.false(), "bool")
    right = "" if prefix and any(ip.endswith(".") for ip in wanted) else _BOUNDARY_RIGHT
    alternation = "|".join(q.regex_escape(ip) for ip in wanted)
    pattern = f"{_BOUNDARY_LEFT}(?:{alternation}){right}"
    return Typed(q.bool_or_false(q.regex_match(string_arg(source, ctx), q.s(pattern), ctx.dialect)), "bool")


@scalar("has_ipv4")
def has_ipv4(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("has_ipv4", args, ctx, 2)
    return _has_ips(args[0], _literal_list(args[1:], ctx), ctx, prefix=False)


@scalar("has_any_ipv4")
def has_any_ipv4(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("has_any_ipv4", args, ctx, 2, 64)
    return _has_ips(args[0], _literal_list(args[1:], ctx), ctx, prefix=False)
