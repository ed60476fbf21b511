"""A small parser for STIX 2.1 patterning, enough to pull observables out of ``indicator`` objects.

Threat feeds ship indicators as patterns such as ``[ipv4-addr:value = '198.51.100.7']`` or
``[url:value = 'http://x/' OR domain-name:value = 'x.example']``. Regex extraction breaks on quoted
quotes, ``IN`` lists and nested parentheses, so this is a proper tokenizer plus recursive-descent
parser of the grammar in the STIX 2.1 specification (section 9), returning every comparison. The
importer keeps the equality (``=``/``IN``) comparisons on observable paths it can map to columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from entrawatch.errors import EntrawatchError


class StixPatternError(EntrawatchError):
    """A STIX pattern that does not parse; names the offset."""


@dataclass(frozen=True)
class Comparison:
    """``object_type:path op value`` (``negated`` for ``NOT``); values of ``IN`` are a tuple."""

    object_type: str
    path: str
    operator: str
    value: object
    negated: bool = False


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<typed>[thb]'(?:[^'\\]|\\.)*')
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[\[\]\(\),:.])
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<word>[A-Za-z_][A-Za-z0-9_\-]*)
""", re.VERBOSE)

_KEYWORD_OPS = {"IN", "LIKE", "MATCHES", "ISSUBSET", "ISSUPERSET"}
_QUALIFIERS = {"WITHIN", "REPEATS", "START"}


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def _tokenize(pattern: str) -> list[tuple[str, str, int]]:
    tokens: list[tuple[str, str, int]] = []
    position = 0
    while position < len(pattern):
        match = _TOKEN.match(pattern, position)
        if not match:
            raise StixPatternError(f"unexpected character {pattern[position]!r} at offset {position} in {pattern!r}")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append((kind, match.group(), position))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self.tokens = _tokenize(pattern)
        self.index = 0
        self.comparisons: list[Comparison] = []

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, text: str | None = None) -> tuple[str, str, int]:
        token = self.peek()
        if token is None:
            raise StixPatternError(f"pattern ends early: {self.pattern!r}")
        if text is not None and token[1].upper() != text:
            raise StixPatternError(f"expected {text!r} at offset {token[2]} in {self.pattern!r}, got {token[1]!r}")
        self.index += 1
        return token

    def at_word(self, *words: str) -> bool:
        token = self.peek()
        return token is not None and token[0] == "word" and token[1].upper() in words

    # pattern := observation ((AND|OR|FOLLOWEDBY) observation)*
    def parse_pattern(self) -> None:
        self.parse_observation()
        while self.at_word("AND", "OR", "FOLLOWEDBY"):
            self.take()
            self.parse_observation()

    def parse_observation(self) -> None:
        token = self.peek()
        if token is not None and token[1] == "(":
            self.take("(")
            self.parse_pattern()
            self.take(")")
        else:
            self.take("[")
            self.parse_comparison_expression()
            self.take("]")
        while self.at_word(*_QUALIFIERS):
            self.parse_qualifier()

    def parse_qualifier(self) -> None:
        word = self.take()[1].upper()
        if word == "WITHIN":
            self.take()
            self.take("SECONDS")
        elif word == "REPEATS":
            self.take()
            self.take("TIMES")
        else:  # START t'...' STOP t'...'
            self.take()
            self.take("STOP")
            self.take()

    def parse_comparison_expression(self) -> None:
        self.parse_comparison_term()
        while self.at_word("AND", "OR"):
            self.take()
            self.parse_comparison_term()

    def parse_comparison_term(self) -> None:
        token = self.peek()
        if token is not None and token[1] == "(":
            self.take("(")
            self.parse_comparison_expression()
            self.take(")")
            return
        object_type = self.take()[1]
        self.take(":")
        path = self.parse_path()
        negated = False
        if self.at_word("NOT"):
            self.take()
            negated = True
        op_token = self.take()
        operator = op_token[1].upper()
        if op_token[0] != "op" and operator not in _KEYWORD_OPS:
            raise StixPatternError(f"expected a comparison operator at offset {op_token[2]} in {self.pattern!r}")
        value = self.parse_value_list() if operator == "IN" else self.parse_value()
        self.comparisons.append(Comparison(object_type.lower(), path, operator, value, negated))

    def parse_path(self) -> str:
        parts = [self.parse_path_step()]
        while True:
            token = self.peek()
            if token is not None and token[1] == ".":
                self.take(".")
                parts.append("." + self.parse_path_step())
            elif token is not None and token[1] == "[" and self._is_index():
                self.take("[")
                parts.append("[" + self.take()[1] + "]")
                self.take("]")
            else:
                return "".join(parts)

    def _is_index(self) -> bool:
        nxt = self.tokens[self.index + 1] if self.index + 1 < len(self.tokens) else None
        return nxt is not None and (nxt[0] == "number" or nxt[1] == "*")

    def parse_path_step(self) -> str:
        kind, text, _ = self.take()
        return _unquote(text) if kind == "string" else text

    def parse_value_list(self) -> tuple[object, ...]:
        self.take("(")
        values = [self.parse_value()]
        while self.peek() is not None and self.peek()[1] == ",":  # type: ignore[index]
            self.take(",")
            values.append(self.parse_value())
        self.take(")")
        return tuple(values)

    def parse_value(self) -> object:
        kind, text, offset = self.take()
        if kind == "string":
            return _unquote(text)
        if kind == "typed":
            return _unquote(text[1:])
        if kind == "number":
            return float(text) if "." in text else int(text)
        if kind == "word" and text.lower() in ("true", "false"):
            return text.lower() == "true"
        raise StixPatternError(f"expected a value at offset {offset} in {self.pattern!r}, got {text!r}")


def parse_pattern(pattern: str) -> list[Comparison]:
    """Every comparison in a STIX 2.1 pattern, in order; raises :class:`StixPatternError`."""
    parser = _Parser(pattern)
    parser.parse_pattern()
    if parser.peek() is not None:
        token = parser.peek()
        raise StixPatternError(f"unexpected {token[1]!r} at offset {token[2]} in {pattern!r}")  # type: ignore[index]
    return parser.comparisons
