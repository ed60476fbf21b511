"""KQL parser: statements, tabular sources and the pipe-operator table.

sqlglot style: :data:`OPERATOR_PARSERS` maps each operator name to a small method, and the
lowering has a matching table; ``tests/kql/test_operator_table.py`` checks that the two tables,
the docs and the case table list the same operators.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from entrawatch.kql import ast
from entrawatch.kql.lexer import IDENT, NUMBER, PUNCT, RAWLIT, STRING, tokenize
from entrawatch.kql.parser_expr import ExprParser, parse_datetime_text

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


class Parser(ExprParser):
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
                ptype = canonical_type(self.expect_ident("a parameter type").text)
                if ptype not in SCALAR_TYPES and ptype not in _TYPE_ALIASES.values():
                    raise self.error(f"unknown parameter type {ptype!r}", ptok)
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
            ctype = canonical_type(self.expect_ident("a column type").text)
            cols.append((name.text, ctype))
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

    # -- pipe operators --------------------------------------------------------------------
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
                to_type = canonical_type(self.expect_ident("a type").text)
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
                    ctype = canonical_type(self.expect_ident("a type").text)
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


OPERATOR_PARSERS: dict[str, Callable[[Parser], dict[str, Any]]] = {
    "where": Parser._parse_where,
    "extend": Parser._parse_extend,
    "project": Parser._parse_extend,
    "project-away": Parser._parse_project_away,
    "project-keep": Parser._parse_project_away,
    "project-rename": Parser._parse_project_rename,
    "project-reorder": Parser._parse_project_away,
    "summarize": Parser._parse_summarize,
    "distinct": Parser._parse_distinct,
    "count": Parser._parse_count,
    "take": Parser._parse_take,
    "top": Parser._parse_top,
    "sort": Parser._parse_sort,
    "join": Parser._parse_join,
    "lookup": Parser._parse_lookup,
    "union": Parser._parse_union_op,
    "as": Parser._parse_as,
    "invoke": Parser._parse_invoke,
    "mv-expand": Parser._parse_mv_expand,
    "mv-apply": Parser._parse_mv_apply,
    "make-series": Parser._parse_make_series,
    "parse": Parser._parse_parse,
    "serialize": Parser._parse_serialize,
    "evaluate": Parser._parse_evaluate,
    "getschema": Parser._parse_getschema,
}

#: Real KQL operators we refuse with KqlUnsupportedError rather than a syntax error.
UNSUPPORTED_OPERATORS = frozenset({
    "sample", "sample-distinct", "top-nested", "top-hitters", "fork", "facet", "partition", "scan",
    "render", "consume", "find", "search", "reduce", "parse-where", "parse-kv", "project-by-names",
    "make-graph", "graph-match", "lookup-kv", "assert-schema", "range", "print",
})


def parse(query: str) -> ast.Query:
    """Parse a KQL query; raises :class:`KqlSyntaxError`/:class:`KqlUnsupportedError` with line:column."""
    return Parser(tokenize(query), query).parse_query()


__all__ = ["OPERATOR_PARSERS", "Parser", "parse", "parse_datetime_text", "RAWLIT"]
