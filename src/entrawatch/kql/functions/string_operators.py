"""The string and membership operators: =~ !~ has* contains* startswith* endswith* in* matches regex.

Kusto semantics kept here:

* case-insensitive unless ``_cs``; a null string is the empty string, so ``!has`` of null is true.
* ``has`` matches whole *terms*: maximal runs of letters and digits. The needle must sit between
  non-term characters (or the string edges) on each side where it itself starts/ends with a term
  character, so ``"a@contoso.com" has "contoso.com"`` and ``has "@contoso.com"`` are both true.
  It is a regex built from the escaped needle; literal needles are escaped in Python and arrive as
  sqlglot string literals, other needles are escaped by ``regexp_replace`` inside SQL.
* ``in`` is case-sensitive, ``in~`` is not. A string column compared with numbers compares the
  numbers' text (``ResultType in (50126, 50053)``). The right side may be a tuple, a dynamic array
  or a sub-query.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlglot import exp

from entrawatch.kql.functions import _sql as q
from entrawatch.kql.functions.conversion import string_arg
from entrawatch.kql.lowering_api import LowerContext, Typed, operator

TERM = "[\\p{L}\\p{N}]"
LEFT_EDGE = "(^|[^\\p{L}\\p{N}])"
RIGHT_EDGE = "($|[^\\p{L}\\p{N}])"


def _bool(expr: exp.Expression) -> Typed:
    return Typed(expr, "bool")


def _fold(e: exp.Expression, case_sensitive: bool) -> exp.Expression:
    return e if case_sensitive else q.fn("lower", e)


def _is_term_char(ch: str) -> bool:
    return ch.isalnum()


def term_pattern(needle: str, *, prefix_only: bool = False, suffix_only: bool = False) -> str:
    """Regex body matching ``needle`` on term boundaries (no flags)."""
    body = q.regex_escape(needle)
    if needle and _is_term_char(needle[0]) and not suffix_only:
        body = LEFT_EDGE + body
    if needle and _is_term_char(needle[-1]) and not prefix_only:
        body = body + RIGHT_EDGE
    return body


def _flags(case_sensitive: bool, dialect: str) -> str:
    if case_sensitive:
        return ""
    return "(?i)" if dialect == "duckdb" else "(?iu)"


def _term_match(left: Typed, right: Typed, ctx: LowerContext, *, case_sensitive: bool,
                prefix_only: bool = False, suffix_only: bool = False) -> exp.Expression:
    subject = string_arg(left, ctx)
    needle = q.str_literal_value(right)
    flags = _flags(case_sensitive, ctx.dialect)
    if needle is not None:
        pattern: exp.Expression = q.s(flags + term_pattern(needle, prefix_only=prefix_only,
                                                           suffix_only=suffix_only))
        if needle and needle.isascii():
            # Cheap substring test first: the regex only runs on rows that contain the needle.
            haystack = _fold(subject.copy(), case_sensitive)
            candidate = exp.GT(this=q.strpos(haystack, q.s(needle if case_sensitive else needle.lower()),
                                             ctx.dialect), expression=q.n(0))
            return exp.And(this=candidate, expression=q.bool_or_false(q.regex_match(subject, pattern, ctx.dialect)))
    else:
        # Non-literal needle: assume it is a term (starts and ends with term characters).
        parts: list[exp.Expression] = [q.s(flags)]
        if not suffix_only:
            parts.append(q.s(LEFT_EDGE))
        parts.append(q.sql_regex_escape(string_arg(right, ctx), ctx.dialect))
        if not prefix_only:
            parts.append(q.s(RIGHT_EDGE))
        pattern = q.concat(*parts)
    return q.bool_or_false(q.regex_match(subject, pattern, ctx.dialect))


def _register_pair(names: tuple[str, str], build: Callable[[Typed, Typed, LowerContext], exp.Expression]) -> None:
    positive, negative = names

    @operator(positive)
    def _positive(left: Typed, right: Typed, ctx: LowerContext) -> Typed:
        return _bool(build(left, right, ctx))

    @operator(negative)
    def _negative(left: Typed, right: Typed, ctx: LowerContext) -> Typed:
        return _bool(q.not_(build(left, right, ctx)))


def _equals_ci(left: Typed, right: Typed, ctx: LowerContext) -> exp.Expression:
    return exp.EQ(this=_fold(string_arg(left, ctx), False), expression=_fold(string_arg(right, ctx), False))


def _contains(case_sensitive: bool) -> Callable[[Typed, Typed, LowerContext], exp.Expression]:
    def build(left: Typed, right: Typed, ctx: LowerContext) -> exp.Expression:
        haystack = _fold(string_arg(left, ctx), case_sensitive)
        needle = _fold(string_arg(right, ctx), case_sensitive)
        return exp.GT(this=q.strpos(haystack, needle, ctx.dialect), expression=q.n(0))
    return build


#: Builds the SQL predicate of a binary string operator.
Predicate = Callable[[Typed, Typed, LowerContext], exp.Expression]


def _affix(duckdb_function: str, spark_function: str) -> Callable[[bool], Predicate]:
    """``startswith``/``endswith`` and their ``_cs`` forms: one engine predicate, names differ."""
    def operator_for(case_sensitive: bool) -> Predicate:
        def build(left: Typed, right: Typed, ctx: LowerContext) -> exp.Expression:
            subject = _fold(string_arg(left, ctx), case_sensitive)
            affix = _fold(string_arg(right, ctx), case_sensitive)
            return q.fn(duckdb_function if ctx.dialect == "duckdb" else spark_function, subject, affix)
        return build
    return operator_for


_startswith = _affix("starts_with", "startswith")
_endswith = _affix("ends_with", "endswith")


def _has(case_sensitive: bool, **kind: bool) -> Callable[[Typed, Typed, LowerContext], exp.Expression]:
    def build(left: Typed, right: Typed, ctx: LowerContext) -> exp.Expression:
        return _term_match(left, right, ctx, case_sensitive=case_sensitive, **kind)
    return build


_register_pair(("=~", "!~"), _equals_ci)
_register_pair(("contains", "!contains"), _contains(False))
_register_pair(("contains_cs", "!contains_cs"), _contains(True))
_register_pair(("startswith", "!startswith"), _startswith(False))
_register_pair(("startswith_cs", "!startswith_cs"), _startswith(True))
_register_pair(("endswith", "!endswith"), _endswith(False))
_register_pair(("endswith_cs", "!endswith_cs"), _endswith(True))
_register_pair(("has", "!has"), _has(False))
_register_pair(("has_cs", "!has_cs"), _has(True))
_register_pair(("hasprefix", "!hasprefix"), _has(False, prefix_only=True))
_register_pair(("hasprefix_cs", "!hasprefix_cs"), _has(True, prefix_only=True))
_register_pair(("hassuffix", "!hassuffix"), _has(False, suffix_only=True))
_register_pair(("hassuffix_cs", "!hassuffix_cs"), _has(True, suffix_only=True))


@operator("matches regex")
def matches_regex(left: Typed, right: Typed, ctx: LowerContext) -> Typed:
    """Unanchored regex search; DuckDB uses RE2 (as Kusto), Spark java.util.regex."""
    return _bool(q.bool_or_false(q.regex_match(string_arg(left, ctx), string_arg(right, ctx), ctx.dialect)))


# --------------------------------------------------------------------------------------------
# list operands: tuples, dynamic arrays, sub-queries
# --------------------------------------------------------------------------------------------


def dynamic_literal_value(t: Typed) -> object | None:
    """The Python value of a constant dynamic operand, or None when it is computed per row."""
    e = t.expr
    while isinstance(e, (exp.Paren, exp.Cast)) or (
            isinstance(e, exp.Anonymous) and str(e.this).lower() in ("json", "parse_json")
            and len(e.expressions) == 1):
        e = e.this if not isinstance(e, exp.Anonymous) else e.expressions[0]
    if isinstance(e, exp.Literal) and e.is_string:
        try:
            return json.loads(e.this)
        except ValueError:
            return None
    return None


def _literal_text(e: exp.Expression) -> str | None:
    """Text of a string or number literal (``-5`` included); None for anything else."""
    sign = ""
    if isinstance(e, exp.Neg):
        sign, e = "-", e.this
    if isinstance(e, exp.Cast):
        e = e.this
    if isinstance(e, exp.Literal):
        return sign + e.this
    return None


def _list_items(right: Typed) -> list[exp.Expression] | None:
    """Items of a tuple operand or of a constant dynamic array; None when not a list literal."""
    if isinstance(right.expr, exp.Tuple):
        return list(right.expr.expressions)
    if right.kql_type == "dynamic":
        value = dynamic_literal_value(right)
        if isinstance(value, list):
            items: list[exp.Expression] = []
            for item in value:
                if isinstance(item, str):
                    items.append(q.s(item))
                elif isinstance(item, bool):
                    items.append(q.s(str(item).lower()))
                elif isinstance(item, (int, float)):
                    items.append(q.n(item))
            return items
    return None


def _item_as_string(item: exp.Expression, case_sensitive: bool) -> exp.Expression:
    text = _literal_text(item)
    if text is not None:
        return q.s(text if case_sensitive else text.lower())
    return _fold(q.coalesce(q.cast(item, "varchar"), q.s("")), case_sensitive)


def _as_select(e: exp.Expression) -> exp.Select | exp.Union | None:
    if isinstance(e, exp.Subquery):
        e = e.this
    return e if isinstance(e, (exp.Select, exp.Union)) else None


def _in_subquery(left: Typed, select: exp.Select | exp.Union, ctx: LowerContext,
                 case_sensitive: bool) -> exp.Expression:
    is_text = left.kql_type in ("string", "guid", "dynamic")
    probe = _fold(string_arg(left, ctx), case_sensitive) if is_text else left.expr
    if not case_sensitive:
        if not isinstance(select, exp.Select) or len(select.expressions) != 1 or select.is_star:
            raise q.err(ctx, "in~ with a sub-query needs exactly one projected column", unsupported=True)
        select = select.copy()
        projection = select.expressions[0]
        value = projection.this if isinstance(projection, exp.Alias) else projection
        select.set("expressions", [q.fn("lower", q.cast(value.copy(), "varchar"))])
    return exp.In(this=probe, query=exp.Subquery(this=select))


def _in_list(left: Typed, items: list[exp.Expression], ctx: LowerContext, case_sensitive: bool) -> exp.Expression:
    is_text = left.kql_type in ("string", "guid", "dynamic")
    numeric_items = all(_literal_text(i) is not None and not (isinstance(i, exp.Literal) and i.is_string)
                        for i in items)
    if not is_text and left.kql_type in q.NUMERIC_TYPES and numeric_items:
        probe, values = left.expr, items
    else:
        probe = _fold(string_arg(left, ctx), case_sensitive)
        values = [_item_as_string(i, case_sensitive) for i in items]
    return exp.In(this=probe, expressions=values)


def _in_dynamic(left: Typed, array: exp.Expression, ctx: LowerContext, case_sensitive: bool) -> exp.Expression:
    """Membership in a per-row dynamic array (compared as text, like Kusto's string rules)."""
    source = array if case_sensitive else q.fn("lower", q.cast(array, "varchar"))
    elements = q.json_string_list(source, ctx.dialect)
    probe = _fold(string_arg(left, ctx), case_sensitive)
    return q.fn("list_contains" if ctx.dialect == "duckdb" else "array_contains", elements, probe)


def _in_expr(left: Typed, right: Typed, ctx: LowerContext, case_sensitive: bool) -> exp.Expression:
    select = _as_select(right.expr)
    if select is not None:
        return q.bool_or_false(_in_subquery(left, select, ctx, case_sensitive))
    if isinstance(right.expr, exp.Tuple):
        items = list(right.expr.expressions)
        if len(items) == 1 and right.kql_type == "dynamic" and dynamic_literal_value(Typed(items[0], "dynamic")) \
                is None:
            return q.bool_or_false(_in_dynamic(left, items[0], ctx, case_sensitive))
    else:
        items_or_none = _list_items(right)
        if items_or_none is None:
            if right.kql_type == "dynamic":
                return q.bool_or_false(_in_dynamic(left, right.expr, ctx, case_sensitive))
            raise q.err(ctx, "the right side of 'in' must be a list, a dynamic array or a sub-query")
        items = items_or_none
    plain = [i for i in items if _as_select(i) is None]
    conditions = [_in_list(left, plain, ctx, case_sensitive)] if plain else []
    conditions += [_in_subquery(left, s, ctx, case_sensitive) for s in map(_as_select, items) if s is not None]
    if not conditions:
        return q.false()
    combined = conditions[0]
    for condition in conditions[1:]:
        combined = exp.Or(this=combined, expression=condition)
    return q.bool_or_false(combined)


def _register_in(positive: str, negative: str, case_sensitive: bool) -> None:
    @operator(positive)
    def _positive(left: Typed, right: Typed, ctx: LowerContext) -> Typed:
        return _bool(_in_expr(left, right, ctx, case_sensitive))

    @operator(negative)
    def _negative(left: Typed, right: Typed, ctx: LowerContext) -> Typed:
        return _bool(q.not_(_in_expr(left, right, ctx, case_sensitive)))


_register_in("in", "!in", True)
_register_in("in~", "!in~", False)


def _terms(subject: exp.Expression, dialect: str) -> exp.Expression:
    """The lower-cased terms of a string as an engine array."""
    lowered = q.fn("lower", subject)
    if dialect == "duckdb":
        return q.fn("regexp_split_to_array", lowered, q.s("[^\\p{L}\\p{N}]+"))
    return q.fn("split", lowered, q.s("[^\\p{L}\\p{N}]+"))


def _has_many(left: Typed, right: Typed, ctx: LowerContext, *, require_all: bool) -> exp.Expression:
    subject = string_arg(left, ctx)
    if isinstance(right.expr, exp.Tuple) and len(right.expr.expressions) == 1 and right.kql_type == "dynamic":
        only = right.expr.expressions[0]
        if dynamic_literal_value(Typed(only, "dynamic")) is None:
            right = Typed(only, "dynamic")
    if isinstance(right.expr, exp.Tuple) and any(_as_select(i) is not None for i in right.expr.expressions):
        raise q.err(ctx, "has_any/has_all with a sub-query is not supported", unsupported=True)
    items = _list_items(right)
    if items is not None:
        texts = [_literal_text(i) for i in items]
        if not items:
            return q.false()
        if all(t is not None for t in texts):
            flags = _flags(False, ctx.dialect)
            if not require_all:
                alternation = "|".join(f"(?:{term_pattern(t)})" for t in texts if t is not None)
                return q.bool_or_false(q.regex_match(subject, q.s(flags + alternation), ctx.dialect))
            checks = [q.regex_match(subject, q.s(flags + term_pattern(t)), ctx.dialect) for t in texts
                      if t is not None]
            combined = checks[0]
            for check in checks[1:]:
                combined = exp.And(this=combined, expression=check)
            return q.bool_or_false(combined)
        combined_any: exp.Expression | None = None
        for item in items:
            one = _term_match(left, Typed(item, "string"), ctx, case_sensitive=False)
            if combined_any is None:
                combined_any = one
            elif require_all:
                combined_any = exp.And(this=combined_any, expression=one)
            else:
                combined_any = exp.Or(this=combined_any, expression=one)
        assert combined_any is not None
        return q.bool_or_false(combined_any)
    if right.kql_type == "dynamic":
        # Per-row array: compare whole terms (items are taken to be single terms).
        wanted = q.json_string_list(q.fn("lower", q.cast(right.expr, "varchar")), ctx.dialect)
        terms = _terms(subject, ctx.dialect)
        if ctx.dialect == "duckdb":
            test = q.fn("list_has_all" if require_all else "list_has_any", terms, wanted)
        elif require_all:
            test = exp.EQ(this=q.fn("size", q.fn("array_except", wanted, terms)), expression=q.n(0))
        else:
            test = q.fn("arrays_overlap", terms, wanted)
        return q.bool_or_false(test)
    raise q.err(ctx, "has_any/has_all need a list or a dynamic array on the right")


@operator("has_any")
def has_any(left: Typed, right: Typed, ctx: LowerContext) -> Typed:
    return _bool(_has_many(left, right, ctx, require_all=False))


@operator("has_all")
def has_all(left: Typed, right: Typed, ctx: LowerContext) -> Typed:
    return _bool(_has_many(left, right, ctx, require_all=True))
