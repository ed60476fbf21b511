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

_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"^{_OCTET}\.{_OCTET}\.{_OCTET}\.{_OCTET}(/(3[0-2]|[12]?[0-9]))?$"
_BOUNDARY_LEFT = "(^|[^\\p{L}\\p{N}])"
_BOUNDARY_RIGHT = "($|[^\\p{L}\\p{N}])"


class ParsedIp:
    """SQL pieces of a parsed address: its BIGINT value and its prefix length (32 by default).

    One anchored regex validates the shape; ``split_part`` (cheap, on both engines) extracts the
    octets, so an address costs one regex evaluation per use.
    """

    def __init__(self, text: exp.Expression, dialect: str) -> None:
        address = q.fn("split_part", text, q.s("/"), q.n(1))
        octets = [q.cast(q.fn("split_part", address.copy(), q.s("."), q.n(i)), "bigint") for i in range(1, 5)]
        valid: exp.Expression = q.regex_match(text.copy(), q.s(_IPV4), dialect)
        prefix_text = q.fn("split_part", text.copy(), q.s("/"), q.n(2))
        prefix = q.coalesce(q.try_cast(q.fn("nullif", prefix_text, q.s("")), "bigint"), q.n(32))
        value = exp.Add(this=exp.Add(this=exp.Mul(this=octets[0], expression=q.n(16777216)),
                                     expression=exp.Mul(this=octets[1], expression=q.n(65536))),
                        expression=exp.Add(this=exp.Mul(this=octets[2], expression=q.n(256)),
                                           expression=octets[3]))
        self.text = text
        self.valid = valid
        self.value = q.case((valid.copy(), value))
        self.prefix = prefix


def constant_range(text: str) -> tuple[int, int] | None:
    """[first, last] address of a constant ``a.b.c.d[/n]`` range, or None if it is not one."""
    try:
        network = ipaddress.IPv4Network(text.strip(), strict=False)
    except ValueError:
        return None
    return int(network.network_address), int(network.broadcast_address)


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


def in_range(ip: ParsedIp, network: ParsedIp | str) -> exp.Expression:
    """Address within a network; constant networks become a BETWEEN on precomputed bounds."""
    if isinstance(network, str):
        bounds = constant_range(network)
        if bounds is None:
            return q.null()
        return exp.Between(this=ip.value.copy(), low=q.n(bounds[0]), high=q.n(bounds[1]))
    return exp.EQ(this=q.int_div_positive(ip.value, _block(network.prefix)),
                  expression=q.int_div_positive(network.value, _block(network.prefix.copy())))


@scalar("ipv4_is_in_range")
def ipv4_is_in_range(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("ipv4_is_in_range", args, ctx, 2)
    network = q.str_literal_value(args[1])
    if network is not None and constant_range(network) is not None:
        return Typed(_in_constant_ranges(_parse(args[0], ctx), [network], ctx), "bool")
    return Typed(in_range(_parse(args[0], ctx), _parse(args[1], ctx)), "bool")


@scalar("ipv4_is_in_any_range")
def ipv4_is_in_any_range(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("ipv4_is_in_any_range", args, ctx, 2, 64)
    return Typed(_in_constant_ranges(_parse(args[0], ctx), _literal_list(args[1:], ctx), ctx), "bool")


def cidr_regex(text: str) -> str | None:
    """A regex matching the dotted text of exactly the addresses in a constant CIDR range.

    Whole octets of the prefix are matched literally and a partial octet by the alternation of
    its allowed values (``172.16.0.0/12`` -> ``^172\\.(?:16|17|...|31)\\.``). Regex tests on the
    text are several times faster than parsing every address into a number on both engines.
    """
    bounds = constant_range(text)
    if bounds is None:
        return None
    network = ipaddress.IPv4Network(text.strip(), strict=False)
    octets = str(network.network_address).split(".")
    whole, partial_bits = divmod(network.prefixlen, 8)
    parts = octets[:whole]
    if partial_bits:
        low = int(octets[whole])
        parts.append("(?:" + "|".join(str(v) for v in range(low, low + 2 ** (8 - partial_bits))) + ")")
    if not parts:
        return ""
    return "^" + "\\.".join(parts) + ("\\." if len(parts) < 4 else "(?:/|$)")


def _in_constant_ranges(ip: ParsedIp, ranges: list[str], ctx: LowerContext) -> exp.Expression:
    """True/false for a valid address, null for an invalid one (one or two regex tests)."""
    patterns = [p for p in map(cidr_regex, ranges) if p is not None]
    if not patterns:
        return q.case((ip.valid, q.false()))
    if "" in patterns:
        return q.case((ip.valid, q.true()))
    alternation = "|".join(f"(?:{p})" for p in patterns)
    return q.case((ip.valid, q.bool_or_false(q.regex_match(ip.text.copy(), q.s(alternation), ctx.dialect))))


_PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")


@scalar("ipv4_is_private")
def ipv4_is_private(args: list[Typed], ctx: LowerContext) -> Typed:
    """RFC 1918 ranges (10/8, 172.16/12, 192.168/16)."""
    q.arity("ipv4_is_private", args, ctx, 1)
    return Typed(_in_constant_ranges(_parse(args[0], ctx), list(_PRIVATE_RANGES), ctx), "bool")


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
