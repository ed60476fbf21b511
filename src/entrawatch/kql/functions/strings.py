"""String functions: case, concatenation, splitting, trimming, search, replace, regex extraction.

Every string input passes through ``string_arg`` (Kusto: null string == empty string, and any
other type is converted with ``tostring`` first). Positions are 0-based in KQL and 1-based in SQL;
the conversion happens here and nowhere else. Regex arguments are user regexes and are passed to
the engine unchanged (DuckDB: RE2 like Kusto; Spark: java.util.regex, a near superset).
"""

from __future__ import annotations

import re

from sqlglot import exp

from entrawatch.kql.functions import _sql as q
from entrawatch.kql.functions.conversion import convert_to, string_arg, to_string_expr
from entrawatch.kql.lowering_api import LowerContext, Typed, scalar


def _str(expr: exp.Expression) -> Typed:
    return Typed(expr, "string")


@scalar("tolower")
def tolower(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("tolower", args, ctx, 1)
    return _str(q.fn("lower", string_arg(args[0], ctx)))


@scalar("toupper")
def toupper(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("toupper", args, ctx, 1)
    return _str(q.fn("upper", string_arg(args[0], ctx)))


@scalar("strcat")
def strcat(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("strcat", args, ctx, 1, 64)
    return _str(q.concat(*[string_arg(a, ctx) for a in args]))


@scalar("strcat_delim")
def strcat_delim(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("strcat_delim", args, ctx, 2, 65)
    delimiter = string_arg(args[0], ctx)
    parts: list[exp.Expression] = []
    for index, arg in enumerate(args[1:]):
        if index:
            parts.append(delimiter.copy())
        parts.append(string_arg(arg, ctx))
    return _str(q.concat(*parts))


@scalar("strlen")
def strlen(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("strlen", args, ctx, 1)
    return Typed(q.cast(q.fn("length", string_arg(args[0], ctx)), "bigint"), "long")


@scalar("reverse")
def reverse(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("reverse", args, ctx, 1)
    return _str(q.fn("reverse", string_arg(args[0], ctx)))


@scalar("substring")
def substring(args: list[Typed], ctx: LowerContext) -> Typed:
    """0-based start; a negative start is clamped to 0, as Kusto does."""
    q.arity("substring", args, ctx, 2, 3)
    source = string_arg(args[0], ctx)
    start = exp.Add(this=q.fn("greatest", q.cast(args[1].expr, "bigint"), q.n(0)), expression=q.n(1))
    if len(args) == 3:
        length = q.fn("greatest", q.cast(args[2].expr, "bigint"), q.n(0))
        return _str(q.coalesce(q.fn("substring", source, start, length), q.s("")))
    return _str(q.coalesce(q.fn("substring", source, start, q.n(2**31 - 1)), q.s("")))


@scalar("indexof")
def indexof(args: list[Typed], ctx: LowerContext) -> Typed:
    """0-based index of the first occurrence at or after ``start``; -1 when absent."""
    q.arity("indexof", args, ctx, 2, 3)
    source = string_arg(args[0], ctx)
    lookup = string_arg(args[1], ctx)
    start: exp.Expression = q.n(0) if len(args) == 2 else q.fn("greatest", q.cast(args[2].expr, "bigint"),
                                                                 q.n(0))
    tail = q.fn("substring", source, exp.Add(this=start, expression=q.n(1)), q.n(2**31 - 1))
    position = q.strpos(tail, lookup, ctx.dialect)
    found = exp.Add(this=exp.Sub(this=position, expression=q.n(1)), expression=start.copy())
    out_of_range = exp.GT(this=start.copy(), expression=q.fn("length", source.copy()))
    return Typed(q.cast(q.case((out_of_range, q.n(-1)), (exp.EQ(this=position.copy(), expression=q.n(0)),
                                                          q.n(-1)), default=found), "bigint"), "long")


def _trim_pattern(regex: exp.Expression, *, leading: bool, trailing: bool) -> exp.Expression:
    alternatives: list[exp.Expression] = []
    if leading:
        alternatives.append(q.concat(q.s("^(?:"), regex, q.s(")+")))
    if trailing:
        alternatives.append(q.concat(q.s("(?:"), regex.copy(), q.s(")+$")))
    if len(alternatives) == 2:
        return q.concat(alternatives[0], q.s("|"), alternatives[1])
    return alternatives[0]


def _trim(name: str, leading: bool, trailing: bool) -> None:
    @scalar(name)
    def build(args: list[Typed], ctx: LowerContext) -> Typed:
        q.arity(name, args, ctx, 2)
        regex = string_arg(args[0], ctx)
        literal = q.str_literal_value(args[0])
        if literal is not None:
            pattern: exp.Expression = q.s(("^(?:" + literal + ")+" if leading else "")
                                          + ("|" if leading and trailing else "")
                                          + ("(?:" + literal + ")+$" if trailing else ""))
        else:
            pattern = _trim_pattern(regex, leading=leading, trailing=trailing)
        return _str(q.regex_replace_all(string_arg(args[1], ctx), pattern, q.s(""), ctx.dialect))


_trim("trim", True, True)
_trim("trim_start", True, False)
_trim("trim_end", False, True)


@scalar("replace_string")
def replace_string(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("replace_string", args, ctx, 3)
    source, lookup, rewrite = (string_arg(a, ctx) for a in args)
    replaced = q.fn("replace", source, lookup, rewrite)
    # An empty lookup leaves the text unchanged (Spark would insert the rewrite everywhere).
    return _str(q.case((exp.EQ(this=lookup.copy(), expression=q.s("")), source.copy()), default=replaced))


def spark_rewrite(rewrite: str) -> str:
    """Kusto/RE2 rewrite (``\\1``) -> Java replacement (``$1``), literal ``$`` escaped."""
    out = []
    index = 0
    while index < len(rewrite):
        ch = rewrite[index]
        if ch == "\\" and index + 1 < len(rewrite) and rewrite[index + 1].isdigit():
            out.append("$" + rewrite[index + 1])
            index += 2
            continue
        if ch == "\\" and index + 1 < len(rewrite) and rewrite[index + 1] == "\\":
            out.append("\\\\")
            index += 2
            continue
        out.append("\\$" if ch == "$" else ch)
        index += 1
    return "".join(out)


def _replace_regex(source: Typed, regex: Typed, rewrite: Typed, ctx: LowerContext) -> Typed:
    rewrite_text = q.str_literal_value(rewrite)
    if ctx.dialect == "spark":
        if rewrite_text is None:
            raise q.err(ctx, "replace_regex needs a constant rewrite pattern on Spark", unsupported=True)
        replacement: exp.Expression = q.s(spark_rewrite(rewrite_text))
    else:
        replacement = string_arg(rewrite, ctx)
    return _str(q.regex_replace_all(string_arg(source, ctx), string_arg(regex, ctx), replacement,
                                    ctx.dialect))


@scalar("replace_regex")
def replace_regex(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("replace_regex", args, ctx, 3)
    return _replace_regex(args[0], args[1], args[2], ctx)


@scalar("replace")
def replace_deprecated(args: list[Typed], ctx: LowerContext) -> Typed:
    """Deprecated ``replace(regex, rewrite, text)`` (argument order differs from replace_regex)."""
    q.arity("replace", args, ctx, 3)
    return _replace_regex(args[2], args[0], args[1], ctx)


def _group_count(regex: Typed) -> int | None:
    text = q.str_literal_value(regex)
    if text is None:
        return None
    try:
        return re.compile(text).groups
    except re.error:
        return None


@scalar("extract")
def extract(args: list[Typed], ctx: LowerContext) -> Typed:
    """extract(regex, group, source[, typeof(T)]): '' (Kusto's null string) when nothing matches."""
    q.arity("extract", args, ctx, 3, 4)
    regex, group, source = args[0], args[1], args[2]
    matched = q.regex_match(string_arg(source, ctx), string_arg(regex, ctx), ctx.dialect)
    value = q.fn("regexp_extract", string_arg(source, ctx), string_arg(regex, ctx), q.cast(group.expr, "int"))
    if len(args) == 3:
        return _str(value)
    target = q.str_literal_value(args[3])
    converted = convert_to(Typed(value, "string"), target or "string", ctx)
    return Typed(q.case((matched, converted.expr)), converted.kql_type)


@scalar("extract_all")
def extract_all(args: list[Typed], ctx: LowerContext) -> Typed:
    """extract_all(regex, [groups,] source) -> dynamic array of the (single) group's matches."""
    q.arity("extract_all", args, ctx, 2, 3)
    regex, source = args[0], args[-1]
    groups = _group_count(regex)
    if groups is not None and groups > 1:
        raise q.err(ctx, "extract_all with more than one capture group is not supported", unsupported=True)
    index = q.n(1 if groups else 0)
    matches = q.fn("regexp_extract_all", string_arg(source, ctx), string_arg(regex, ctx), index)
    count = q.fn("len" if ctx.dialect == "duckdb" else "size", matches.copy())
    return Typed(q.case((exp.EQ(this=count, expression=q.n(0)), q.null()),
                        default=q.json_text(q.json_from_list(matches, ctx.dialect), ctx.dialect)), "dynamic")


@scalar("split")
def split(args: list[Typed], ctx: LowerContext) -> Typed:
    """split(source, delimiter[, index]) -> dynamic array of strings (the delimiter is literal)."""
    q.arity("split", args, ctx, 2, 3)
    source = string_arg(args[0], ctx)
    delimiter = q.str_literal_value(args[1])
    if ctx.dialect == "duckdb":
        parts = q.fn("string_split", source, string_arg(args[1], ctx))
    else:
        if delimiter is not None:
            pattern: exp.Expression = q.s(q.regex_escape(delimiter))
        else:
            pattern = q.sql_regex_escape(string_arg(args[1], ctx), ctx.dialect)
        parts = q.fn("split", source, pattern, q.n(-1))
    if len(args) == 3:
        position = exp.Add(this=q.cast(args[2].expr, "int"), expression=q.n(1))
        size = q.fn("len" if ctx.dialect == "duckdb" else "size", parts.copy())
        pick = q.fn("list_extract" if ctx.dialect == "duckdb" else "element_at", parts, position)
        in_range = exp.And(this=exp.GTE(this=q.cast(args[2].expr, "int"), expression=q.n(0)),
                           expression=exp.LT(this=q.cast(args[2].expr, "int"), expression=size))
        one = q.fn("list_value" if ctx.dialect == "duckdb" else "array", pick)
        empty_array = q.dynamic_literal([], ctx.dialect)
        return Typed(q.case((in_range, q.json_text(q.json_from_list(one, ctx.dialect), ctx.dialect)),
                            default=empty_array), "dynamic")
    return Typed(q.json_text(q.json_from_list(parts, ctx.dialect), ctx.dialect), "dynamic")


@scalar("countof")
def countof(args: list[Typed], ctx: LowerContext) -> Typed:
    """Plain matches may overlap (countof("aaaa","aa") == 3); regex matches do not."""
    q.arity("countof", args, ctx, 2, 3)
    source = string_arg(args[0], ctx)
    search = string_arg(args[1], ctx)
    kind = q.str_literal_value(args[2]) if len(args) == 3 else "normal"
    if kind == "regex":
        matches = q.fn("regexp_extract_all", source, search, q.n(0))
        return Typed(q.cast(q.fn("len" if ctx.dialect == "duckdb" else "size", matches), "bigint"), "long")
    if kind != "normal":
        raise q.err(ctx, "countof kind must be the constant 'normal' or 'regex'")
    width = q.fn("length", search)
    last_start = exp.Add(this=exp.Sub(this=q.fn("length", source), expression=width), expression=q.n(1))
    position = exp.to_identifier("i")
    hit = exp.EQ(this=q.fn("substring", source.copy(), exp.column("i"), width.copy()), expression=search.copy())
    lam = exp.Lambda(this=hit, expressions=[position])
    if ctx.dialect == "duckdb":
        starts = q.fn("range", q.cast(q.n(1), "bigint"), exp.Add(this=q.cast(last_start, "bigint"),
                                                                  expression=q.n(1)))
        counted = q.fn("len", q.fn("list_filter", starts, lam))
    else:
        starts = q.fn("sequence", q.n(1), q.cast(last_start, "int"))
        counted = q.fn("size", q.fn("filter", starts, lam))
    empty = exp.Or(this=exp.EQ(this=width.copy(), expression=q.n(0)),
                   expression=exp.LT(this=last_start.copy(), expression=q.n(1)))
    return Typed(q.cast(q.case((empty, q.n(0)), default=counted), "bigint"), "long")


def stringify(t: Typed, ctx: LowerContext) -> exp.Expression:
    """Public alias used by other modules that need Kusto's string form of a value."""
    return to_string_expr(t, ctx.dialect)


@scalar("string_size")
def string_size(args: list[Typed], ctx: LowerContext) -> Typed:
    """Size in bytes of the UTF-8 encoding (strlen counts characters)."""
    q.arity("string_size", args, ctx, 1)
    text = string_arg(args[0], ctx)
    size = q.fn("octet_length", q.fn("encode", text)) if ctx.dialect == "duckdb" else q.fn("octet_length", text)
    return Typed(q.cast(size, "bigint"), "long")


@scalar("strrep")
def strrep(args: list[Typed], ctx: LowerContext) -> Typed:
    """strrep(value, n[, delimiter]): value repeated n times, joined by the delimiter."""
    q.arity("strrep", args, ctx, 2, 3)
    text = string_arg(args[0], ctx)
    count = q.cast(args[1].expr, "int")
    if len(args) == 2:
        return _str(q.fn("repeat", text, q.fn("greatest", count, q.n(0))))
    delimiter = string_arg(args[2], ctx)
    head = q.fn("repeat", q.concat(text, delimiter), q.fn("greatest", exp.Sub(this=count, expression=q.n(1)), q.n(0)))
    return _str(q.case((exp.LTE(this=count.copy(), expression=q.n(0)), q.s("")),
                       default=q.concat(head, text.copy())))


@scalar("strcmp")
def strcmp(args: list[Typed], ctx: LowerContext) -> Typed:
    """-1, 0 or 1 by ordinal comparison."""
    q.arity("strcmp", args, ctx, 2)
    left, right = string_arg(args[0], ctx), string_arg(args[1], ctx)
    return Typed(q.cast(q.case((exp.LT(this=left, expression=right), q.n(-1)),
                               (exp.GT(this=left.copy(), expression=right.copy()), q.n(1)), default=q.n(0)), "int"),
                 "int")
