"""Scalar-expression half of the KQL parser: precedence climbing over the token stream.

Split from :mod:`entrawatch.kql.parser` (statements and pipe operators) to keep each module to
one job. The grammar follows the Kusto docs: ``or`` < ``and`` < comparisons and string operators
(non-associative) < ``+ -`` < ``* / %`` < unary minus < postfix (``.member``, ``[index]``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from entrawatch.errors import KqlSyntaxError, KqlUnsupportedError
from entrawatch.kql import ast
from entrawatch.kql.lexer import EOF, IDENT, NUMBER, PUNCT, RAWLIT, STRING, TIMESPAN, Token

#: Binary comparison punctuation.
COMPARISONS = frozenset({"==", "!=", "<>", "<", "<=", ">", ">=", "=~", "!~"})

#: Word operators that take one right operand (the registry in lowering_api decides support).
STRING_OPERATORS = frozenset(
    base + suffix
    for stem in ("has", "contains", "startswith", "endswith", "hasprefix", "hassuffix")
    for base in (stem, "!" + stem)
    for suffix in ("", "_cs")
) | {"like", "notlike", "matches regex"}

#: List operators: right side is a parenthesised list (or a tabular expression).
LIST_OPERATORS = frozenset({"in", "!in", "in~", "!in~", "has_any", "has_all"})

#: ``int(null)``-style typed literal constructors -> KQL type.
TYPED_CONSTRUCTORS = {
    "int": "int", "long": "long", "real": "real", "double": "real", "bool": "bool",
    "boolean": "bool", "decimal": "decimal", "string": "string",
}

_TIMESPAN_CLOCK = re.compile(r"^(-)?(?:(\d+)\.)?(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7}))?)?$")


def parse_datetime_text(text: str) -> str | None:
    """Normalise the body of ``datetime(...)`` to ISO-8601 UTC text (None for ``null``)."""
    body = text.strip()
    if body.lower() == "null" or body == "":
        return None
    cleaned = body.replace("Z", "").replace("z", "")
    if re.fullmatch(r"\d{4}", cleaned):
        cleaned += "-01-01"
    fraction = ""
    m = re.match(r"^(.*?)(\.\d+)$", cleaned)
    if m and ":" in m.group(1):
        cleaned, fraction = m.group(1), m.group(2)[:7]
    try:
        dt = datetime.fromisoformat(cleaned.replace("/", "-"))
    except ValueError:
        for fmt in ("%d %b %Y", "%d %B %Y", "%a, %d %b %Y %H:%M:%S GMT", "%m/%d/%Y %H:%M", "%m/%d/%Y"):
            try:
                dt = datetime.strptime(body, fmt)
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"invalid datetime literal {body!r}") from None
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
    micros = int(round(float(fraction) * 1e6)) if fraction else dt.microsecond
    dt = dt.replace(microsecond=micros)
    return dt.isoformat(timespec="microseconds")


def parse_timespan_text(text: str) -> int | None:
    """The body of ``time(...)``/``timespan(...)`` -> microseconds (None for ``null``)."""
    from entrawatch.kql.lexer import TIMESPAN_UNITS

    body = text.strip()
    if body.lower() == "null":
        return None
    m = re.fullmatch(r"(-?\d+(?:\.\d+)?)\s*([A-Za-z]+)?", body)
    if m:
        unit = (m.group(2) or "d").lower()
        if unit not in TIMESPAN_UNITS:
            raise ValueError(f"unknown timespan unit {unit!r}")
        return round(float(m.group(1)) * TIMESPAN_UNITS[unit])
    m = _TIMESPAN_CLOCK.match(body)
    if not m:
        raise ValueError(f"invalid timespan literal {body!r}")
    sign, days, hours, minutes, seconds, frac = m.groups()
    total = ((int(days or 0) * 24 + int(hours)) * 60 + int(minutes)) * 60 + int(seconds or 0)
    micros = total * 1_000_000 + (int((frac or "0").ljust(7, "0")[:6]) if frac else 0)
    return -micros if sign else micros


class ExprParser:
    """Token cursor plus the scalar grammar; :class:`Parser` extends it with the tabular part."""

    def __init__(self, tokens: list[Token], query: str) -> None:
        self.tokens = tokens
        self.query = query
        self.i = 0

    # -- cursor ----------------------------------------------------------------------------
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, ahead: int = 1) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def advance(self) -> Token:
        tok = self.tokens[self.i]
        if tok.kind != EOF:
            self.i += 1
        return tok

    def error(self, message: str, tok: Token | None = None) -> KqlSyntaxError:
        tok = tok or self.tok
        return KqlSyntaxError(message, line=tok.line, column=tok.column, query=self.query)

    def unsupported(self, message: str, tok: Token | None = None) -> KqlUnsupportedError:
        tok = tok or self.tok
        return KqlUnsupportedError(message, line=tok.line, column=tok.column, query=self.query)

    def at_punct(self, text: str) -> bool:
        return self.tok.kind == PUNCT and self.tok.text == text

    def at_word(self, *words: str) -> bool:
        return self.tok.kind == IDENT and self.tok.text in words

    def accept_punct(self, text: str) -> bool:
        if self.at_punct(text):
            self.advance()
            return True
        return False

    def expect_punct(self, text: str) -> Token:
        if not self.at_punct(text):
            found = self.tok.text or "end of query"
            raise self.error(f"expected {text!r} but found {found!r}")
        return self.advance()

    def expect_word(self, *words: str) -> Token:
        if not self.at_word(*words):
            found = self.tok.text or "end of query"
            raise self.error(f"expected {' or '.join(repr(w) for w in words)} but found {found!r}")
        return self.advance()

    def at_bracketed_name(self) -> bool:
        """``['name']`` / ``["name"]``: KQL's quoted identifier."""
        return self.at_punct("[") and self.peek().kind == STRING and self.peek(2).is_(PUNCT, "]")

    def bracketed_name(self) -> Token:
        start = self.advance()
        name = self.advance()
        end = self.advance()
        return Token(IDENT, name.text, start.line, start.column, start.start, end.end, "quoted")

    def expect_ident(self, what: str = "a name") -> Token:
        if self.at_bracketed_name():
            return self.bracketed_name()
        if self.tok.kind != IDENT:
            found = self.tok.text or "end of query"
            raise self.error(f"expected {what} but found {found!r}")
        return self.advance()

    @staticmethod
    def at(node: ast.Node, tok: Token) -> ast.Node:
        node.line, node.column = tok.line, tok.column
        return node

    # -- expressions -----------------------------------------------------------------------
    def parse_expression(self) -> ast.Node:
        return self._parse_or()

    def _parse_or(self) -> ast.Node:
        left = self._parse_and()
        while self.at_word("or"):
            tok = self.advance()
            left = self.at(ast.Binary("or", left, self._parse_and()), tok)
        return left

    def _parse_and(self) -> ast.Node:
        left = self._parse_comparison()
        while self.at_word("and"):
            tok = self.advance()
            left = self.at(ast.Binary("and", left, self._parse_comparison()), tok)
        return left

    def _comparison_op(self) -> str | None:
        tok = self.tok
        if tok.kind == PUNCT and tok.text in COMPARISONS:
            return "!=" if tok.text == "<>" else tok.text
        if tok.kind != IDENT:
            return None
        if tok.text == "matches" and self.peek().word("regex"):
            return "matches regex"
        if tok.text in STRING_OPERATORS or tok.text in LIST_OPERATORS or tok.text in ("between", "!between"):
            return tok.text
        return None

    def _parse_comparison(self) -> ast.Node:
        left = self._parse_additive()
        while (op := self._comparison_op()) is not None:
            tok = self.advance()
            if op == "matches regex":
                self.advance()
            if op in LIST_OPERATORS:
                left = self.at(ast.InList(op, left, self._parse_list()), tok)
            elif op in ("between", "!between"):
                self.expect_punct("(")
                low = self._parse_additive()
                self.expect_punct("..")
                high = self._parse_additive()
                self.expect_punct(")")
                left = self.at(ast.Between(left, low, high, negated=op == "!between"), tok)
            else:
                left = self.at(ast.Binary(op, left, self._parse_additive()), tok)
        return left

    def _parse_list(self) -> list[ast.Node]:
        self.expect_punct("(")
        items: list[ast.Node] = []
        if not self.at_punct(")"):
            items.append(self.parse_tabular())
            while self.accept_punct(","):
                items.append(self.parse_tabular())
        self.expect_punct(")")
        return items

    def _parse_additive(self) -> ast.Node:
        left = self._parse_multiplicative()
        while self.tok.kind == PUNCT and self.tok.text in ("+", "-"):
            tok = self.advance()
            left = self.at(ast.Binary(tok.text, left, self._parse_multiplicative()), tok)
        return left

    def _parse_multiplicative(self) -> ast.Node:
        left = self._parse_unary()
        while self.tok.kind == PUNCT and self.tok.text in ("*", "/", "%"):
            tok = self.advance()
            left = self.at(ast.Binary(tok.text, left, self._parse_unary()), tok)
        return left

    def _parse_unary(self) -> ast.Node:
        if self.tok.kind == PUNCT and self.tok.text in ("-", "+"):
            tok = self.advance()
            operand = self._parse_unary()
            if tok.text == "-" and isinstance(operand, ast.Literal) and operand.kind in ("long", "real", "timespan") \
                    and operand.value is not None and not isinstance(operand.value, bool) and operand.value >= 0 \
                    and (operand.line, operand.column) == (tok.line, tok.column + 1):
                return self.at(ast.Literal(operand.kind, -operand.value), tok)
            return self.at(ast.Unary(tok.text, operand), tok)
        return self._parse_postfix()

    def _parse_postfix(self) -> ast.Node:
        node = self._parse_primary()
        while True:
            if self.at_punct("."):
                tok = self.advance()
                name = self.expect_ident("a member name after '.'")
                node = self.at(ast.Path(node, name.text), tok)
            elif self.at_punct("["):
                tok = self.advance()
                index = self.parse_expression()
                self.expect_punct("]")
                node = self.at(ast.Index(node, index), tok)
            else:
                return node

    def _parse_primary(self) -> ast.Node:
        tok = self.tok
        if tok.kind == STRING:
            self.advance()
            value = tok.text
            while self.tok.kind == STRING:
                value += self.advance().text
            return self.at(ast.Literal("string", value), tok)
        if tok.kind == NUMBER:
            self.advance()
            kind = "real" if isinstance(tok.value, float) else "long"
            return self.at(ast.Literal(kind, tok.value), tok)
        if tok.kind == TIMESPAN:
            self.advance()
            return self.at(ast.Literal("timespan", tok.value), tok)
        if tok.kind == RAWLIT:
            self.advance()
            return self.at(self._raw_literal(tok), tok)
        if tok.kind == PUNCT and tok.text == "(":
            self.advance()
            inner = self.parse_tabular()
            self.expect_punct(")")
            return inner
        if tok.kind == PUNCT and tok.text == "*":
            self.advance()
            return self.at(ast.Star(), tok)
        if self.at_bracketed_name():
            name = self.bracketed_name()
            return self.at(ast.Name(name.text), tok)
        if tok.kind == IDENT:
            if tok.value != "quoted" and tok.text in ("true", "false") and not self.peek().is_(PUNCT, "("):
                self.advance()
                return self.at(ast.Literal("bool", tok.text == "true"), tok)
            if tok.value != "quoted" and self.peek().is_(PUNCT, "("):
                if tok.text == "dynamic":
                    self.advance()
                    self.expect_punct("(")
                    value = self._parse_dynamic_value()
                    self.expect_punct(")")
                    return self.at(ast.Literal("dynamic", value), tok)
                if tok.text in TYPED_CONSTRUCTORS and self._typed_literal_ahead():
                    return self._typed_literal()
                return self._parse_call()
            self.advance()
            return self.at(ast.Name(tok.text), tok)
        if tok.kind == EOF:
            raise self.error("unexpected end of query")
        raise self.error(f"unexpected {tok.text!r}")

    def _typed_literal_ahead(self) -> bool:
        """``int(null)``, ``long(-5)``, ``real(nan)``, ``bool(true)``: a literal in parentheses."""
        arg = self.peek(2)
        j = 2
        if arg.is_(PUNCT, "-"):
            arg, j = self.peek(3), 3
        return self.peek(j + 1).is_(PUNCT, ")") and (
            arg.kind == NUMBER or arg.word("null", "true", "false", "nan", "inf", "+inf", "-inf")
            or (arg.kind == STRING and self.tok.text == "string"))

    def _typed_literal(self) -> ast.Node:
        tok = self.advance()
        kql_type = TYPED_CONSTRUCTORS[tok.text]
        self.expect_punct("(")
        negative = self.accept_punct("-")
        arg = self.advance()
        self.expect_punct(")")
        value: Any
        if arg.word("null"):
            value = None
        elif arg.word("true", "false"):
            value = arg.text == "true"
        elif arg.word("nan", "inf"):
            value = float(arg.text)
        elif arg.kind == STRING:
            value = arg.text
        else:
            value = arg.value
        if negative and isinstance(value, int | float):
            value = -value
        if kql_type in ("real", "decimal") and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if kql_type in ("int", "long") and isinstance(value, float):
            value = int(value)
        if kql_type == "bool" and isinstance(value, int | float) and not isinstance(value, bool):
            value = bool(value)
        return self.at(ast.Literal(kql_type, value), tok)

    def _raw_literal(self, tok: Token) -> ast.Node:
        kind = str(tok.value)
        try:
            if kind in ("datetime", "date"):
                return ast.Literal("datetime", parse_datetime_text(tok.text))
            if kind in ("time", "timespan"):
                return ast.Literal("timespan", parse_timespan_text(tok.text))
        except ValueError as err:
            raise self.error(str(err), tok) from None
        body = tok.text.strip()
        return ast.Literal("guid", None if body.lower() == "null" else body)

    def _parse_call(self) -> ast.Node:
        tok = self.advance()
        self.expect_punct("(")
        args: list[ast.Node] = []
        if not self.at_punct(")"):
            args.append(self._parse_argument())
            while self.accept_punct(","):
                args.append(self._parse_argument())
        self.expect_punct(")")
        return self.at(ast.Call(tok.text, args), tok)

    def _parse_argument(self) -> ast.Node:
        if self.at_punct("*"):
            tok = self.advance()
            return self.at(ast.Star(), tok)
        return self.parse_tabular()

    def _parse_dynamic_value(self) -> Any:
        tok = self.tok
        if self.accept_punct("["):
            items = []
            if not self.at_punct("]"):
                items.append(self._parse_dynamic_value())
                while self.accept_punct(","):
                    items.append(self._parse_dynamic_value())
            self.expect_punct("]")
            return items
        if self.accept_punct("{"):
            obj: dict[str, Any] = {}
            if not self.at_punct("}"):
                while True:
                    key = self.advance()
                    if key.kind not in (STRING, IDENT):
                        raise self.error("expected a property name in dynamic object", key)
                    self.expect_punct(":")
                    obj[key.text] = self._parse_dynamic_value()
                    if not self.accept_punct(","):
                        break
            self.expect_punct("}")
            return obj
        negative = self.accept_punct("-")
        tok = self.advance()
        if tok.kind == NUMBER:
            return -tok.value if negative else tok.value
        if negative:
            raise self.error("expected a number after '-'", tok)
        if tok.kind == STRING:
            return tok.text
        if tok.word("true", "false"):
            return tok.text == "true"
        if tok.word("null"):
            return None
        if tok.kind == RAWLIT and tok.value in ("datetime", "date"):
            return parse_datetime_text(tok.text)
        if tok.kind == TIMESPAN:
            raise self.unsupported("timespan values inside dynamic literals are not supported", tok)
        raise self.error(f"unexpected {tok.text or 'end of query'!r} in dynamic literal", tok)

    def parse_tabular(self) -> ast.Node:  # pragma: no cover - overridden by Parser
        return self.parse_expression()
