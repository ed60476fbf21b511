"""KQL parser, second half: the pipe-operator table and one small method per operator.

sqlglot style: :data:`OPERATOR_PARSERS` maps each operator name to a method returning the
operator's parameters; :mod:`entrawatch.kql.operator_table` has the matching lowering table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from entrawatch.kql import ast
from entrawatch.kql.lexer import IDENT, PUNCT, STRING
from entrawatch.kql.parser_expr import ExprParser

#: Aliases that parse to the canonical operator name.
OPERATOR_ALIASES = {"filter": "where", "order": "sort", "limit": "take", "mvexpand": "mv-expand",
                    "mvapply": "mv-apply", "project-keep": "project-keep"}

JOIN_KINDS = frozenset({"innerunique", "inner", "leftouter", "leftanti", "leftantisemi", "leftsemi",
                        "rightouter", "fullouter", "rightanti", "rightantisemi", "rightsemi", "anti", "semi"})

SCALAR_TYPES = frozenset({"string", "long", "int", "real", "double", "bool", "boolean", "datetime", "date",
                          "timespan", "time", "dynamic", "guid", "uniqueid", "decimal"})

_TYPE_ALIASES = {"double": "real", "boolean": "bool", "date": "datetime", "time": "timespan", "uniqueid": "guid"}


def canonical_type(name: str) -> str:
    return _TYPE_ALIASES.get(name, name)


class OperatorParser(ExprParser):
    """The pipe operators; :class:`entrawatch.kql.parser.Parser` adds statements and sources."""

    def _parse_type(self) -> str:
        tok = self.expect_ident("a type name")
        if tok.text not in SCALAR_TYPES:
            raise self.error(f"unknown type {tok.text!r}", tok)
        return canonical_type(tok.text)

    def _operator_name(self) -> str:
        tok = self.expect_ident("an operator name after '|'")
        name = tok.text
        while self.at_punct("-") and self.tok.start == tok.end and self.peek().kind == IDENT \
                and self.peek().start == self.tok.end:
            self.advance()
            tok = self.advance()
            name += "-" + tok.text
        return OPERATOR_ALIASES.get(name, name)

    def _parse_operator(self) -> ast.Operator:
        tok = self.tok
        name = self._operator_name()
        parser = OPERATOR_PARSERS.get(name)
        if parser is None:
            if name in UNSUPPORTED_OPERATORS:
                raise self.unsupported(f"the {name!r} operator is not supported", tok)
            raise self.error(f"unknown query operator {name!r}", tok)
        params = parser(self)
        return self.at(ast.Operator(name, params), tok)

    def _parse_named(self) -> ast.NamedExpr:
        tok = self.tok
        if self.at_punct("(") and self.peek().kind == IDENT and self.peek(2).is_(PUNCT, ","):
            save = self.i
            self.advance()
            names = [self.expect_ident().text]
            while self.accept_punct(","):
                names.append(self.expect_ident().text)
            if self.accept_punct(")") and self.accept_punct("="):
                return self.at(ast.NamedExpr(names, self.parse_expression()), tok)
            self.i = save
        if tok.kind == IDENT and self.peek().is_(PUNCT, "="):
            self.advance()
            self.advance()
            return self.at(ast.NamedExpr([tok.text], self.parse_expression()), tok)
        if self.at_bracketed_name() and self.peek(3).is_(PUNCT, "="):
            name = self.bracketed_name()
            self.advance()
            return self.at(ast.NamedExpr([name.text], self.parse_expression()), tok)
        return self.at(ast.NamedExpr([], self.parse_expression()), tok)

    def _parse_named_list(self) -> list[ast.NamedExpr]:
        items = [self._parse_named()]
        while self.accept_punct(","):
            items.append(self._parse_named())
        return items

    def _parse_name_patterns(self) -> list[str]:
        names: list[str] = []
        while True:
            if self.at_punct("*"):
                star = self.advance()
                name = "*"
                if self.tok.kind == IDENT and self.tok.start == star.end:
                    ident = self.advance()
                    name += ident.text
                    if self.at_punct("*") and self.tok.start == ident.end:
                        self.advance()
                        name += "*"
                names.append(name)
            else:
                tok = self.expect_ident("a column name")
                name = tok.text
                if self.at_punct("*") and self.tok.start == tok.end and tok.value != "quoted":
                    self.advance()
                    name += "*"
                names.append(name)
            if self.at_word("asc", "desc", "granny-asc", "granny-desc"):
                self.advance()
            if not self.accept_punct(","):
                return names

    def _parse_where(self) -> dict[str, Any]:
        return {"predicate": self.parse_expression()}

    def _parse_extend(self) -> dict[str, Any]:
        return {"exprs": self._parse_named_list()}

    def _parse_project_away(self) -> dict[str, Any]:
        return {"columns": self._parse_name_patterns()}

    def _parse_project_rename(self) -> dict[str, Any]:
        renames: list[tuple[str, str]] = []
        while True:
            new = self.expect_ident("the new column name").text
            self.expect_punct("=")
            old = self.expect_ident("the column to rename").text
            renames.append((new, old))
            if not self.accept_punct(","):
                return {"renames": renames}

    def _parse_summarize(self) -> dict[str, Any]:
        self._skip_hints()
        aggs: list[ast.NamedExpr] = []
        if not self.at_word("by"):
            aggs = self._parse_named_list()
        by: list[ast.NamedExpr] = []
        if self.at_word("by"):
            self.advance()
            by = self._parse_named_list()
        return {"aggs": aggs, "by": by}

    def _skip_hints(self) -> None:
        while self.tok.kind == IDENT and self.tok.text.startswith("hint") and self.peek().is_(PUNCT, "."):
            while not self.at_punct("="):
                self.advance()
            self.advance()
            self.advance()

    def _parse_distinct(self) -> dict[str, Any]:
        if self.at_punct("*"):
            self.advance()
            return {"exprs": []}
        return {"exprs": self._parse_named_list()}

    def _parse_count(self) -> dict[str, Any]:
        return {}

    def _parse_take(self) -> dict[str, Any]:
        return {"count": self.parse_expression()}

    def _parse_sort_keys(self) -> list[ast.SortKey]:
        keys: list[ast.SortKey] = []
        while True:
            tok = self.tok
            expr = self.parse_expression()
            descending = True
            if self.at_word("asc", "desc"):
                descending = self.advance().text == "desc"
            nulls_first = None
            if self.at_word("nulls"):
                self.advance()
                nulls_first = self.expect_word("first", "last").text == "first"
            keys.append(self.at(ast.SortKey(expr, descending, nulls_first), tok))
            if not self.accept_punct(","):
                return keys

    def _parse_sort(self) -> dict[str, Any]:
        self.expect_word("by")
        return {"keys": self._parse_sort_keys()}

    def _parse_top(self) -> dict[str, Any]:
        count = self.parse_expression()
        self.expect_word("by")
        return {"count": count, "keys": self._parse_sort_keys()}

    def _parse_join_like(self, default_kind: str | None) -> dict[str, Any]:
        params: dict[str, Any] = {"kind": default_kind}
        while self.tok.kind == IDENT and self.peek().is_(PUNCT, "=") or self._at_hint():
            key = self._dotted_word()
            self.expect_punct("=")
            value = self.advance()
            if key == "kind":
                if value.text not in JOIN_KINDS:
                    raise self.error(f"unknown join kind {value.text!r}", value)
                params["kind"] = value.text
        if self.at_punct("("):
            self.advance()
            right = self.parse_tabular()
            self.expect_punct(")")
        else:
            right = self._parse_postfix_source()
        self.expect_word("on")
        params["right"] = right
        params["on"] = self._parse_join_keys()
        return params

    def _at_hint(self) -> bool:
        return self.tok.kind == IDENT and self.tok.text == "hint" and self.peek().is_(PUNCT, ".")

    def _dotted_word(self) -> str:
        word = self.expect_ident().text
        while self.accept_punct("."):
            word += "." + self.expect_ident().text
        return word

    def _parse_join_keys(self) -> list[tuple[str, ast.Node, ast.Node]]:
        keys: list[tuple[str, ast.Node, ast.Node]] = []
        while True:
            expr = self.parse_expression()
            if isinstance(expr, ast.Name):
                keys.append(("same", expr, expr))
            elif isinstance(expr, ast.Binary) and expr.op == "==":
                keys.append(("eq", expr.left, expr.right))
            elif isinstance(expr, ast.Binary) and expr.op == "and":
                stack = [expr]
                flat: list[ast.Node] = []
                while stack:
                    node = stack.pop()
                    if isinstance(node, ast.Binary) and node.op == "and":
                        stack.extend([node.right, node.left])
                    else:
                        flat.append(node)
                for part in flat:
                    if not (isinstance(part, ast.Binary) and part.op == "=="):
                        raise self.unsupported("join conditions other than equality are not supported",
                                               self.tokens[self.i - 1])
                    keys.append(("eq", part.left, part.right))
            else:
                raise self.unsupported("join conditions other than equality are not supported")
            if not self.accept_punct(","):
                return keys

    def _parse_join(self) -> dict[str, Any]:
        return self._parse_join_like(None)

    def _parse_lookup(self) -> dict[str, Any]:
        return self._parse_join_like("leftouter")

    def _parse_union_op(self) -> dict[str, Any]:
        params, tables = self._parse_union_body()
        return {"params": params, "tables": tables}

    def _parse_as(self) -> dict[str, Any]:
        while self.at_word("hint") or (self.tok.kind == IDENT and self.peek().is_(PUNCT, "=")):
            self._dotted_word()
            self.expect_punct("=")
            self.advance()
        return {"name": self.expect_ident("a name after 'as'").text}

    def _parse_invoke(self) -> dict[str, Any]:
        call = self._parse_postfix()
        if not isinstance(call, ast.Call):
            raise self.error("invoke expects a function call")
        return {"call": call}

    def _parse_mv_items(self) -> list[tuple[ast.NamedExpr, str | None]]:
        items: list[tuple[ast.NamedExpr, str | None]] = []
        while True:
            named = self._parse_named()
            to_type = None
            if self.at_word("to"):
                self.advance()
                self.expect_word("typeof")
                self.expect_punct("(")
                to_type = self._parse_type()
                self.expect_punct(")")
            items.append((named, to_type))
            if not self.accept_punct(","):
                return items

    def _parse_mv_expand(self) -> dict[str, Any]:
        params: dict[str, Any] = {"kind": "bag", "itemindex": None, "limit": None}
        while self.tok.kind == IDENT and self.peek().is_(PUNCT, "=") and self.tok.text in ("kind", "bagexpansion") \
                or self._at_hint():
            key = self._dotted_word()
            self.expect_punct("=")
            value = self.advance().text
            if key in ("kind", "bagexpansion"):
                params["kind"] = value
        if self.at_word("with_itemindex"):
            self.advance()
            self.expect_punct("=")
            params["itemindex"] = self.expect_ident().text
        params["items"] = self._parse_mv_items()
        if self.at_word("limit"):
            self.advance()
            params["limit"] = self.parse_expression()
        return params

    def _parse_mv_apply(self) -> dict[str, Any]:
        params: dict[str, Any] = {"itemindex": None}
        if self.at_word("with_itemindex"):
            self.advance()
            self.expect_punct("=")
            params["itemindex"] = self.expect_ident().text
        params["items"] = self._parse_mv_items()
        self.expect_word("on")
        self.expect_punct("(")
        tok = self.tok
        ops: list[ast.Operator] = []
        self.accept_punct("|")
        ops.append(self._parse_operator())
        while self.accept_punct("|"):
            ops.append(self._parse_operator())
        self.expect_punct(")")
        params["ops"] = ops
        params["line"] = tok.line
        return params

    def _parse_make_series(self) -> dict[str, Any]:
        aggs: list[tuple[ast.NamedExpr, ast.Node | None]] = []
        while True:
            named = self._parse_named()
            default = None
            if self.at_word("default"):
                self.advance()
                self.expect_punct("=")
                default = self.parse_expression()
            aggs.append((named, default))
            if not self.accept_punct(","):
                break
        self.expect_word("on")
        params: dict[str, Any] = {"aggs": aggs, "on": self.parse_expression(), "from": None, "to": None,
                                  "step": None, "by": []}
        if self.at_word("in"):
            self.advance()
            self.expect_word("range")
            self.expect_punct("(")
            params["from"] = self.parse_expression()
            self.expect_punct(",")
            params["to"] = self.parse_expression()
            self.expect_punct(",")
            params["step"] = self.parse_expression()
            self.expect_punct(")")
        else:
            if self.at_word("from"):
                self.advance()
                params["from"] = self.parse_expression()
            if self.at_word("to"):
                self.advance()
                params["to"] = self.parse_expression()
            self.expect_word("step")
            params["step"] = self.parse_expression()
        if self.at_word("by"):
            self.advance()
            params["by"] = self._parse_named_list()
        return params

    def _parse_parse(self) -> dict[str, Any]:
        kind = "simple"
        if self.at_word("kind"):
            self.advance()
            self.expect_punct("=")
            kind = self.expect_ident("a parse kind").text
            if self.at_word("flags"):
                raise self.unsupported("parse flags are not supported")
        expr = self.parse_expression()
        self.expect_word("with")
        pattern: list[Any] = []
        while True:
            if self.tok.kind == STRING:
                text = self.advance().text
                pattern.append(text)
            elif self.at_punct("*"):
                self.advance()
                pattern.append(None)
            elif self.tok.kind == IDENT and not self._at_pipe_end():
                name = self.advance().text
                ctype = "string"
                if self.accept_punct(":"):
                    ctype = self._parse_type()
                pattern.append((name, ctype))
            else:
                break
        if not pattern:
            raise self.error("parse expects a pattern after 'with'")
        return {"kind": kind, "expr": expr, "pattern": pattern}

    def _at_pipe_end(self) -> bool:
        return self.tok.kind == "EOF" or self.at_punct("|") or self.at_punct(";") or self.at_punct(")")

    def _parse_serialize(self) -> dict[str, Any]:
        if self._at_pipe_end():
            return {"exprs": []}
        return {"exprs": self._parse_named_list()}

    def _parse_evaluate(self) -> dict[str, Any]:
        self._skip_hints()
        call = self._parse_postfix()
        if not isinstance(call, ast.Call):
            raise self.error("evaluate expects a plugin call")
        return {"call": call}

    def _parse_getschema(self) -> dict[str, Any]:
        return {}



OPERATOR_PARSERS: dict[str, Callable[[OperatorParser], dict[str, Any]]] = {
    "where": OperatorParser._parse_where,
    "extend": OperatorParser._parse_extend,
    "project": OperatorParser._parse_extend,
    "project-away": OperatorParser._parse_project_away,
    "project-keep": OperatorParser._parse_project_away,
    "project-rename": OperatorParser._parse_project_rename,
    "project-reorder": OperatorParser._parse_project_away,
    "summarize": OperatorParser._parse_summarize,
    "distinct": OperatorParser._parse_distinct,
    "count": OperatorParser._parse_count,
    "take": OperatorParser._parse_take,
    "top": OperatorParser._parse_top,
    "sort": OperatorParser._parse_sort,
    "join": OperatorParser._parse_join,
    "lookup": OperatorParser._parse_lookup,
    "union": OperatorParser._parse_union_op,
    "as": OperatorParser._parse_as,
    "invoke": OperatorParser._parse_invoke,
    "mv-expand": OperatorParser._parse_mv_expand,
    "mv-apply": OperatorParser._parse_mv_apply,
    "make-series": OperatorParser._parse_make_series,
    "parse": OperatorParser._parse_parse,
    "serialize": OperatorParser._parse_serialize,
    "evaluate": OperatorParser._parse_evaluate,
    "getschema": OperatorParser._parse_getschema,
}

#: Real KQL operators we refuse with KqlUnsupportedError rather than a syntax error.
UNSUPPORTED_OPERATORS = frozenset({
    "sample", "sample-distinct", "top-nested", "top-hitters", "fork", "facet", "partition", "scan",
    "render", "consume", "find", "search", "reduce", "parse-where", "parse-kv", "project-by-names",
    "make-graph", "graph-match", "lookup-kv", "assert-schema", "range", "print",
})


