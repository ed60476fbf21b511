"""KQL tokenizer: text -> tokens with line:column, the only stage that looks at characters.

Keywords are not reserved in KQL (``project`` can be a column name), so the lexer emits plain
identifiers and the parser decides by context. Three things are lexed specially because their
contents are not KQL tokens: typed literals whose argument is raw text (``datetime(2024-01-01
10:00)``, ``time(1.02:03)``, ``guid(...)``), timespan literals (``30m``), and negated string
operators (``!has``, ``!in~``), which KQL spells as one word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from entrawatch.errors import KqlSyntaxError

IDENT, STRING, NUMBER, TIMESPAN, RAWLIT, PUNCT, EOF = (
    "IDENT", "STRING", "NUMBER", "TIMESPAN", "RAWLIT", "PUNCT", "EOF",
)

#: Typed literals whose parenthesised argument is raw text rather than an expression.
RAW_LITERALS = frozenset({"datetime", "time", "timespan", "guid", "date"})

#: Timespan unit suffixes -> microseconds.
TIMESPAN_UNITS: dict[str, float] = {
    "d": 86_400e6, "day": 86_400e6, "days": 86_400e6,
    "h": 3_600e6, "hr": 3_600e6, "hrs": 3_600e6, "hour": 3_600e6, "hours": 3_600e6,
    "m": 60e6, "min": 60e6, "minute": 60e6, "minutes": 60e6,
    "s": 1e6, "sec": 1e6, "second": 1e6, "seconds": 1e6,
    "ms": 1e3, "milli": 1e3, "millis": 1e3, "millisecond": 1e3, "milliseconds": 1e3,
    "microsecond": 1.0, "microseconds": 1.0,
    "tick": 0.1, "ticks": 0.1,
}

_PUNCT = sorted(
    ["|", "(", ")", "[", "]", "{", "}", ",", ";", ":", ".", "..", "=", "==", "!=", "<>", "=~", "!~",
     "<", "<=", ">", ">=", "+", "-", "*", "/", "%", "=>", "!"],
    key=len, reverse=True,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "b": "\b", "\\": "\\", "'": "'", '"': '"',
            "0": "\0", "/": "/"}
_DIGITS = frozenset("0123456789")
_NUMBER_RE = re.compile(r"0[xX][0-9a-fA-F]+|(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?")
_IDENT_RE = re.compile(r"[A-Za-z_$][A-Za-z0-9_]*")
_UNIT_RE = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True)
class Token:
    kind: str
    text: str  # identifier/punct text, decoded string value, or raw literal body
    line: int
    column: int
    start: int  # offset in the query
    end: int
    value: object = None  # parsed number / timespan micros

    def is_(self, kind: str, text: str | None = None) -> bool:
        return self.kind == kind and (text is None or self.text == text)

    def word(self, *words: str) -> bool:
        """True if this is an identifier equal (case-sensitive, as in KQL) to one of ``words``."""
        return self.kind == IDENT and self.text in words


class Lexer:
    """One pass over the query text, producing tokens with positions."""

    def __init__(self, query: str) -> None:
        self.query = query
        self.pos = 0
        self.line = 1
        self.line_start = 0

    def error(self, message: str, offset: int | None = None) -> KqlSyntaxError:
        line, col = self.position(self.pos if offset is None else offset)
        return KqlSyntaxError(message, line=line, column=col, query=self.query)

    def position(self, offset: int) -> tuple[int, int]:
        line = self.query.count("\n", 0, offset) + 1
        col = offset - (self.query.rfind("\n", 0, offset) + 1) + 1
        return line, col

    def tokens(self) -> list[Token]:
        out: list[Token] = []
        q = self.query
        n = len(q)
        while True:
            self._skip_space()
            if self.pos >= n:
                line, col = self.position(n)
                out.append(Token(EOF, "", line, col, n, n))
                return out
            out.append(self._next(q))

    def _skip_space(self) -> None:
        q, n = self.query, len(self.query)
        while self.pos < n:
            ch = q[self.pos]
            if ch.isspace():
                self.pos += 1
            elif q.startswith("//", self.pos):
                end = q.find("\n", self.pos)
                self.pos = n if end < 0 else end + 1
            else:
                return

    def _tok(self, kind: str, text: str, start: int, value: object = None) -> Token:
        line, col = self.position(start)
        return Token(kind, text, line, col, start, self.pos, value)

    def _next(self, q: str) -> Token:
        start = self.pos
        ch = q[start]
        # strings: '..', "..", @'..', h"..", ```..```
        if q.startswith("```", start):
            end = q.find("```", start + 3)
            if end < 0:
                raise self.error("unterminated ``` string")
            self.pos = end + 3
            return self._tok(STRING, q[start + 3:end], start)
        if ch in "'\"":
            return self._string(start, start, verbatim=False)
        if ch in "@hH" and start + 1 < len(q) and q[start + 1] in "'\"":
            return self._string(start, start + 1, verbatim=ch == "@")
        if ch in "hH" and q.startswith("@", start + 1) and start + 2 < len(q) and q[start + 2] in "'\"":
            return self._string(start, start + 2, verbatim=True)
        if ch in _DIGITS or (ch == "." and start + 1 < len(q) and q[start + 1] in _DIGITS
                            and not q.startswith("..", start)):
            return self._number(start)
        m = _IDENT_RE.match(q, start + 1) if ch == "!" else None
        if m is not None and q[start + 1] != "$":
            self.pos = m.end()
            if q.startswith("~", self.pos):
                self.pos += 1
            return self._tok(IDENT, q[start:self.pos], start)
        m = _IDENT_RE.match(q, start)
        if m:
            self.pos = m.end()
            word = m.group()
            if q.startswith("~", self.pos) and word == "in":
                self.pos += 1
                word = "in~"
            if word in RAW_LITERALS:
                save = self.pos
                self._skip_space()
                if q.startswith("(", self.pos):
                    end = q.find(")", self.pos)
                    if end < 0:
                        raise self.error(f"unterminated {word}(...) literal", self.pos)
                    body = q[self.pos + 1:end].strip()
                    self.pos = end + 1
                    line, col = self.position(start)
                    return Token(RAWLIT, body, line, col, start, self.pos, word)
                self.pos = save
            return self._tok(IDENT, word, start)
        for p in _PUNCT:
            if q.startswith(p, start):
                self.pos = start + len(p)
                return self._tok(PUNCT, p, start)
        raise self.error(f"unexpected character {ch!r}")

    def _string(self, start: int, quote_at: int, *, verbatim: bool) -> Token:
        q = self.query
        quote = q[quote_at]
        i = quote_at + 1
        chars: list[str] = []
        while i < len(q):
            c = q[i]
            if c == quote:
                if verbatim and q.startswith(quote, i + 1):
                    chars.append(quote)
                    i += 2
                    continue
                self.pos = i + 1
                return self._tok(STRING, "".join(chars), start)
            if c == "\n" and not verbatim:
                break
            if c == "\\" and not verbatim and i + 1 < len(q):
                nxt = q[i + 1]
                mapped = _ESCAPES.get(nxt)
                if mapped is None and nxt == "u":
                    digits = q[i + 2:i + 6]
                    if len(digits) != 4 or any(c not in "0123456789abcdefABCDEF" for c in digits):
                        raise self.error("invalid \\u escape in string literal", i)
                    chars.append(chr(int(digits, 16)))
                    i += 6
                    continue
                chars.append(mapped if mapped is not None else nxt)
                i += 2
                continue
            chars.append(c)
            i += 1
        raise self.error("unterminated string literal", start)

    def _number(self, start: int) -> Token:
        q = self.query
        m = _NUMBER_RE.match(q, start)
        assert m
        text = m.group()
        self.pos = m.end()
        unit = _UNIT_RE.match(q, self.pos)
        if unit and not text.lower().startswith("0x"):
            name = unit.group().lower()
            if name in TIMESPAN_UNITS:
                self.pos = unit.end()
                micros = round(float(text) * TIMESPAN_UNITS[name])
                return self._tok(TIMESPAN, q[start:self.pos], start, micros)
            raise self.error(f"unknown timespan unit {unit.group()!r}", self.pos)
        if text.lower().startswith("0x"):
            return self._tok(NUMBER, text, start, int(text, 16))
        if any(c in text for c in ".eE"):
            return self._tok(NUMBER, text, start, float(text))
        return self._tok(NUMBER, text, start, int(text))


def tokenize(query: str) -> list[Token]:
    """Split ``query`` into tokens; raises :class:`KqlSyntaxError` with line:column."""
    return Lexer(query).tokens()
