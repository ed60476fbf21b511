"""KQL parser: statements, tabular sources and the pipe-operator table.

sqlglot style: :data:`OPERATOR_PARSERS` maps each operator name to a small method, and the
lowering has a matching table; ``tests/kql/test_operator_table.py`` checks that the two tables,
the docs and the case table list the same operators.
"""

from __future__ import annotations

from typing import Any

from entrawatch.kql import ast
from entrawatch.kql.lexer import IDENT, NUMBER, PUNCT, RAWLIT, STRING, tokenize
from entrawatch.kql.parser_expr import parse_datetime_text
from entrawatch.kql.parser_ops import (
    JOIN_KINDS,
    OPERATOR_ALIASES,
    OPERATOR_PARSERS,
    UNSUPPORTED_OPERATORS,
    OperatorParser,
)


class Parser(OperatorParser):
    """Recursive-descent parser producing :class:`ast.Query`."""

    def parse_query(self) -> ast.Query:
        start = self.tok
        statements: list[ast.Node] = []
        while self.tok.kind != "EOF":
            if self.accept_punct(";"):
                continue
            statements.append(self._parse_statement())
            if self.tok.kind != "EOF" and not self.at_punct(";"):
                raise self.error(f"unexpected {self.tok.text!r}; expected '|', ';' or end of query")
        if not statements or isinstance(statements[-1], ast.Let):
            raise self.error("the query has no tabular expression to return", self.tok)
        return self.at(ast.Query(statements), start)

    def _parse_statement(self) -> ast.Node:
        if self.at_word("let"):
            return self._parse_let()
        if self.at_word("set", "declare", "alias", "pattern", "restrict"):
            raise self.unsupported(f"the {self.tok.text!r} statement is not supported")
        return self.parse_tabular()

    def _parse_let(self) -> ast.Let:
        tok = self.advance()
        name = self.expect_ident("a name after 'let'")
        self.expect_punct("=")
        if self._function_def_ahead():
            value: ast.Node = self._parse_function_def()
        else:
            value = self.parse_tabular()
        return self.at(ast.Let(name.text, value), tok)

    def _function_def_ahead(self) -> bool:
        if not self.at_punct("("):
            return False
        nxt = self.peek()
        if nxt.is_(PUNCT, ")"):
            return self.peek(2).is_(PUNCT, "{")
        return nxt.kind == IDENT and self.peek(2).is_(PUNCT, ":")

    def _parse_function_def(self) -> ast.FunctionDef:
        tok = self.expect_punct("(")
        params: list[ast.Param] = []
        while not self.at_punct(")"):
            ptok = self.expect_ident("a parameter name")
            self.expect_punct(":")
            if self.at_punct("("):
                self._skip_tabular_schema()
                ptype = "tabular"
            else:
                ptype = self._parse_type()
            default = self.parse_expression() if self.accept_punct("=") else None
            params.append(self.at(ast.Param(ptok.text, ptype, default), ptok))
            if not self.accept_punct(","):
                break
        self.expect_punct(")")
        self.expect_punct("{")
        body: list[ast.Node] = []
        while not self.at_punct("}"):
            if self.accept_punct(";"):
                continue
            body.append(self._parse_statement())
            if not self.at_punct("}"):
                self.expect_punct(";")
        self.expect_punct("}")
        if not body or isinstance(body[-1], ast.Let):
            raise self.error("a function body must end with an expression", tok)
        return self.at(ast.FunctionDef(params, body), tok)

    def _skip_tabular_schema(self) -> None:
        self.expect_punct("(")
        depth = 1
        while depth:
            tok = self.advance()
            if tok.kind == "EOF":
                raise self.error("unterminated tabular parameter schema")
            if tok.is_(PUNCT, "("):
                depth += 1
            elif tok.is_(PUNCT, ")"):
                depth -= 1

    # -- tabular expressions ---------------------------------------------------------------
    def parse_tabular(self) -> ast.Node:
        source = self._parse_source()
        ops: list[ast.Operator] = []
        while self.at_punct("|"):
            self.advance()
            ops.append(self._parse_operator())
        if not ops:
            return source
        node = ast.Pipeline(source, ops)
        node.line, node.column = source.line, source.column
        return node

    def _parse_source(self) -> ast.Node:
        tok = self.tok
        if tok.kind == IDENT and tok.value != "quoted":
            nxt = self.peek()
            if tok.text == "union":
                self.advance()
                params, tables = self._parse_union_body()
                return self.at(ast.Union(params, tables), tok)
            if tok.text == "datatable" and nxt.is_(PUNCT, "("):
                return self._parse_datatable()
            if tok.text == "print":
                return self._parse_print()
            if tok.text == "range" and nxt.kind == IDENT:
                return self._parse_range()
            if tok.text in ("externaldata", "external_data") and nxt.is_(PUNCT, "("):
                return self._parse_externaldata()
            if tok.text in ("search", "find", "evaluate"):
                raise self.unsupported(f"{tok.text!r} as a query source is not supported")
        return self.parse_expression()

    def _parse_union_body(self) -> tuple[dict[str, Any], list[ast.Node]]:
        params: dict[str, Any] = {}
        while self.tok.kind == IDENT and self.peek().is_(PUNCT, "=") and self.tok.text in (
                "kind", "isfuzzy", "withsource", "hint.concurrency", "hint.spread"):
            key = self.advance().text
            self.advance()
            value = self.advance()
            if key == "isfuzzy":
                params[key] = value.text == "true"
            else:
                params[key] = value.text
            if key == "kind" and value.text not in ("inner", "outer"):
                raise self.error(f"union kind must be inner or outer, not {value.text!r}", value)
        tables = [self._parse_union_leg()]
        while self.accept_punct(","):
            tables.append(self._parse_union_leg())
        return params, tables

    def _parse_union_leg(self) -> ast.Node:
        if self.at_punct("("):
            tok = self.advance()
            node = self.parse_tabular()
            self.expect_punct(")")
            if isinstance(node, ast.Name):
                return self.at(ast.Pipeline(node, []), tok)
            return node
        return self._parse_postfix_source()

    def _parse_postfix_source(self) -> ast.Node:
        """A table reference without pipes: a name, a call, or a wildcard name (``Signin*``)."""
        node = self._parse_postfix()
        if isinstance(node, ast.Name) and self.at_punct("*") and self.tok.start == self.tokens[self.i - 1].end:
            raise self.unsupported("wildcard table names in union are not supported")
        return node

    def _parse_column_decls(self) -> list[tuple[str, str]]:
        self.expect_punct("(")
        cols: list[tuple[str, str]] = []
        while not self.at_punct(")"):
            name = self.expect_ident("a column name")
            self.expect_punct(":")
            cols.append((name.text, self._parse_type()))
            if not self.accept_punct(","):
                break
        self.expect_punct(")")
        return cols

    def _parse_datatable(self) -> ast.Node:
        tok = self.advance()
        cols = self._parse_column_decls()
        self.expect_punct("[")
        values: list[ast.Node] = []
        while not self.at_punct("]"):
            values.append(self.parse_expression())
            if not self.accept_punct(","):
                break
        self.expect_punct("]")
        return self.at(ast.Datatable(cols, values), tok)

    def _parse_print(self) -> ast.Node:
        tok = self.advance()
        return self.at(ast.Print(self._parse_named_list()), tok)

    def _parse_range(self) -> ast.Node:
        tok = self.advance()
        name = self.expect_ident("the range column name").text
        self.expect_word("from")
        start = self.parse_expression()
        self.expect_word("to")
        stop = self.parse_expression()
        self.expect_word("step")
        step = self.parse_expression()
        return self.at(ast.Range(name, start, stop, step), tok)

    def _parse_externaldata(self) -> ast.Node:
        tok = self.advance()
        cols = self._parse_column_decls()
        self.expect_punct("[")
        urls: list[str] = []
        while not self.at_punct("]"):
            if self.tok.kind != STRING:
                raise self.error("externaldata expects string URIs")
            urls.append(self.advance().text)
            while self.tok.kind == STRING:
                urls[-1] += self.advance().text
            if not self.accept_punct(","):
                break
        self.expect_punct("]")
        props: dict[str, Any] = {}
        if self.at_word("with"):
            self.advance()
            self.expect_punct("(")
            while not self.at_punct(")"):
                key = self.expect_ident("a property name").text
                self.expect_punct("=")
                value = self.advance()
                props[key] = value.value if value.kind == NUMBER else value.text
                if not self.accept_punct(","):
                    break
            self.expect_punct(")")
        return self.at(ast.ExternalData(cols, urls, props), tok)


def parse(query: str) -> ast.Query:
    """Parse a KQL query; raises :class:`KqlSyntaxError`/:class:`KqlUnsupportedError` with line:column."""
    return Parser(tokenize(query), query).parse_query()


__all__ = ["JOIN_KINDS", "OPERATOR_ALIASES", "OPERATOR_PARSERS", "UNSUPPORTED_OPERATORS", "Parser", "parse",
           "parse_datetime_text", "RAWLIT"]
