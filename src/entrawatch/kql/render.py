"""AST -> KQL text. Used by the round-trip property tests (parse(render(tree)) == tree) and for
showing normalised queries; binary expressions are fully parenthesised so precedence survives.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from entrawatch.kql import ast
from entrawatch.kql.lexer import TIMESPAN_UNITS  # noqa: F401  (documents the unit spelling used)


def _string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _name(name: str) -> str:
    if name.replace("_", "a").isalnum() and not name[0].isdigit() and name not in _KEYWORDS:
        return name
    return "[" + _string(name) + "]"


_KEYWORDS = frozenset({"and", "or", "by", "on", "with", "true", "false", "in", "has", "contains", "between",
                       "asc", "desc", "nulls", "kind", "to", "from", "step", "let", "union", "print", "range",
                       "datatable", "externaldata", "dynamic", "typeof", "limit", "default", "not", "matches",
                       "like", "startswith", "endswith", "hasprefix", "hassuffix", "has_any", "has_all",
                       "datetime", "time", "timespan", "guid", "date", "int", "long", "real", "double", "bool",
                       "boolean", "decimal", "string", "first", "last", "regex", "set", "declare", "alias",
                       "pattern", "restrict", "search", "find", "evaluate", "hint", "isfuzzy", "withsource"})


def _dynamic(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_string(k)}: {_dynamic(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_dynamic(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _string(value)
    return repr(value)


def _literal(node: ast.Literal) -> str:
    kind, value = node.kind, node.value
    if kind == "dynamic":
        return f"dynamic({_dynamic(value)})"
    if value is None:
        return {"datetime": "datetime(null)", "timespan": "timespan(null)", "guid": "guid(null)"}.get(
            kind, f"{kind}(null)")
    if kind == "string":
        return _string(value)
    if kind == "bool":
        return "true" if value else "false"
    if kind == "long":
        return str(value)
    if kind in ("int", "decimal"):
        return f"{kind}({value})"
    if kind == "real":
        if value != value:
            return "real(nan)"
        if value in (float("inf"), float("-inf")):
            return "real(inf)" if value > 0 else "real(-inf)"
        return repr(float(value))
    if kind == "datetime":
        return f"datetime({value})"
    if kind == "timespan":
        return f"{value}microseconds" if value >= 0 else f"-{-value}microseconds"
    if kind == "guid":
        return f"guid({value})"
    raise ValueError(f"cannot render literal kind {kind}")


def expr(node: ast.Node) -> str:
    """Render a scalar or tabular expression."""
    method: Callable[[Any], str] = _RENDERERS[type(node)]
    return method(node)


def _base(node: ast.Node) -> str:
    """The operand of ``.member``/``[index]``: literals and unary expressions need parentheses."""
    text = expr(node)
    return f"({text})" if isinstance(node, ast.Literal | ast.Unary) else text


def _binary(node: ast.Binary) -> str:
    return f"({expr(node.left)} {node.op} {expr(node.right)})"


def _named(node: ast.NamedExpr) -> str:
    if not node.names:
        return expr(node.expr)
    if len(node.names) == 1:
        return f"{_name(node.names[0])} = {expr(node.expr)}"
    return "(" + ", ".join(_name(n) for n in node.names) + f") = {expr(node.expr)}"


def _sort_key(key: ast.SortKey) -> str:
    text = f"{expr(key.expr)} {'desc' if key.descending else 'asc'}"
    if key.nulls_first is not None:
        text += " nulls first" if key.nulls_first else " nulls last"
    return text


def _join_keys(keys: list[tuple[str, ast.Node, ast.Node]]) -> str:
    parts = []
    for kind, left, right in keys:
        parts.append(expr(left) if kind == "same" else f"{expr(left)} == {expr(right)}")
    return ", ".join(parts)


def _paren_tabular(node: ast.Node) -> str:
    return f"({expr(node)})"


def _operator(op: ast.Operator) -> str:
    p = op.params
    name = op.name
    if name == "where":
        return f"where {expr(p['predicate'])}"
    if name in ("extend", "project"):
        return f"{name} " + ", ".join(_named(n) for n in p["exprs"])
    if name in ("project-away", "project-keep", "project-reorder"):
        return f"{name} " + ", ".join(c if "*" in c else _name(c) for c in p["columns"])
    if name == "project-rename":
        return "project-rename " + ", ".join(f"{_name(n)} = {_name(o)}" for n, o in p["renames"])
    if name == "summarize":
        text = "summarize " + ", ".join(_named(n) for n in p["aggs"])
        if p["by"]:
            text += " by " + ", ".join(_named(n) for n in p["by"])
        return text
    if name == "distinct":
        return "distinct " + (", ".join(_named(n) for n in p["exprs"]) if p["exprs"] else "*")
    if name == "count":
        return "count"
    if name == "take":
        return f"take {expr(p['count'])}"
    if name == "sort":
        return "sort by " + ", ".join(_sort_key(k) for k in p["keys"])
    if name == "top":
        return f"top {expr(p['count'])} by " + ", ".join(_sort_key(k) for k in p["keys"])
    if name in ("join", "lookup"):
        kind = f" kind={p['kind']}" if p["kind"] and not (name == "lookup" and p["kind"] == "leftouter") else ""
        return f"{name}{kind} {_paren_tabular(p['right'])} on {_join_keys(p['on'])}"
    if name == "union":
        return "union " + _union_body(p["params"], p["tables"])
    if name == "as":
        return f"as {_name(p['name'])}"
    if name in ("invoke", "evaluate"):
        return f"{name} {expr(p['call'])}"
    if name == "mv-expand":
        text = "mv-expand"
        if p["kind"] != "bag":
            text += f" kind={p['kind']}"
        if p["itemindex"]:
            text += f" with_itemindex={_name(p['itemindex'])}"
        text += " " + ", ".join(_named(n) + (f" to typeof({t})" if t else "") for n, t in p["items"])
        if p["limit"] is not None:
            text += f" limit {expr(p['limit'])}"
        return text
    if name == "parse":
        kind = f"kind={p['kind']} " if p["kind"] != "simple" else ""
        parts = []
        for item in p["pattern"]:
            if item is None:
                parts.append("*")
            elif isinstance(item, str):
                parts.append(_string(item))
            else:
                parts.append(f"{_name(item[0])}:{item[1]}")
        return f"parse {kind}{expr(p['expr'])} with " + " ".join(parts)
    if name == "serialize":
        return "serialize " + ", ".join(_named(n) for n in p["exprs"])
    if name == "getschema":
        return "getschema"
    raise ValueError(f"cannot render operator {name}")


def _union_body(params: dict[str, Any], tables: list[ast.Node]) -> str:
    opts = []
    if "kind" in params:
        opts.append(f"kind={params['kind']}")
    if "isfuzzy" in params:
        opts.append(f"isfuzzy={'true' if params['isfuzzy'] else 'false'}")
    if "withsource" in params:
        opts.append(f"withsource={params['withsource']}")
    legs = [expr(t) if isinstance(t, ast.Name | ast.Call) else _paren_tabular(t) for t in tables]
    return " ".join([*opts, ", ".join(legs)])


def _pipeline(node: ast.Pipeline) -> str:
    source = expr(node.source)
    if isinstance(node.source, ast.Pipeline):
        source = f"({source})"
    return " | ".join([source, *(_operator(op) for op in node.ops)])


def _columns(cols: list[tuple[str, str]]) -> str:
    return "(" + ", ".join(f"{_name(n)}:{t}" for n, t in cols) + ")"


def _param(param: ast.Param) -> str:
    ptype = "(*)" if param.type == "tabular" else param.type
    text = f"{_name(param.name)}:{ptype}"
    return text + (f" = {expr(param.default)}" if param.default is not None else "")


def _statement(node: ast.Node) -> str:
    if isinstance(node, ast.Let):
        value = node.value
        if isinstance(value, ast.FunctionDef):
            body = "; ".join(_statement(s) for s in value.body)
            return f"let {_name(node.name)} = (" + ", ".join(_param(p) for p in value.params) + f") {{ {body} }}"
        return f"let {_name(node.name)} = {expr(value)}"
    return expr(node)


def query(tree: ast.Query) -> str:
    """Render a whole query."""
    return ";\n".join(_statement(s) for s in tree.statements)


_RENDERERS: dict[type, Callable[[Any], str]] = {
    ast.Literal: _literal,
    ast.Name: lambda n: _name(n.name),
    ast.Star: lambda n: "*",
    ast.Path: lambda n: f"{_base(n.base)}.{_name(n.member)}" if _name(n.member) == n.member
    else f"{_base(n.base)}[{_string(n.member)}]",
    ast.Index: lambda n: f"{_base(n.base)}[{expr(n.index)}]",
    ast.Call: lambda n: f"{n.name}(" + ", ".join(expr(a) for a in n.args) + ")",
    ast.Unary: lambda n: f"{n.op}({expr(n.operand)})",
    ast.Binary: _binary,
    ast.InList: lambda n: f"({expr(n.left)} {n.op} (" + ", ".join(expr(i) for i in n.items) + "))",
    ast.Between: lambda n: f"({expr(n.left)} {'!between' if n.negated else 'between'} "
                           f"({expr(n.low)} .. {expr(n.high)}))",
    ast.Pipeline: _pipeline,
    ast.Union: lambda n: "union " + _union_body(n.params, n.tables),
    ast.Datatable: lambda n: f"datatable{_columns(n.columns)} [" + ", ".join(expr(v) for v in n.values) + "]",
    ast.Print: lambda n: "print " + ", ".join(_named(e) for e in n.exprs),
    ast.Range: lambda n: f"range {_name(n.name)} from {expr(n.start)} to {expr(n.stop)} step {expr(n.step)}",
}
