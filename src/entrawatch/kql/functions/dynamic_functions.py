"""Dynamic (JSON) functions: parse_json, arrays, sets, property bags, gettype.

Why element texts: array functions work on a list of each element's compact JSON text
(``[1,"a"]`` -> ``['1', '"a"']``). Comparing texts keeps Kusto's typed equality (1 != "1"),
works on both engines (Spark cannot compare VARIANTs) and rebuilding the array is a join.
Kusto returns null from array functions whose input is not an array; so do these.
"""

from __future__ import annotations

from sqlglot import exp

from entrawatch.kql.functions import _sql as q
from entrawatch.kql.functions.conversion import to_string_expr
from entrawatch.kql.lowering_api import LowerContext, Typed, scalar


def _dyn(expr: exp.Expression, name: str | None = None) -> Typed:
    return Typed(expr, "dynamic", name)


def to_dynamic(t: Typed, ctx: LowerContext) -> Typed:
    """Any value as dynamic; strings are parsed as JSON, invalid JSON stays a JSON string."""
    d = ctx.dialect
    if t.kql_type == "dynamic":
        return t
    if t.kql_type in ("string", "guid"):
        text = t.expr
        if d == "duckdb":
            parsed = q.case((exp.Or(this=exp.Is(this=text, expression=q.null()),
                                    expression=exp.EQ(this=text.copy(), expression=q.s(""))), q.null()),
                            (q.fn("json_valid", text.copy()), q.fn("json", text.copy())),
                            default=q.fn("to_json", text.copy()))
        else:
            parsed = q.case((exp.EQ(this=text, expression=q.s("")), q.null()),
                            default=q.coalesce(q.fn("to_json", q.fn("try_parse_json", text.copy())),
                                               q.fn("to_json", q.cast(text.copy(), "variant"))))
        return _dyn(parsed, t.default_name)
    if t.kql_type in ("datetime", "timespan"):
        value: exp.Expression = to_string_expr(t, d, null_as_empty=False)
    elif t.kql_type in ("real", "decimal"):
        value = q.cast(t.expr, "double")
    else:
        value = t.expr
    if d == "duckdb":
        return _dyn(q.fn("to_json", value), t.default_name)
    return _dyn(q.fn("to_json", q.cast(value, "variant")), t.default_name)


def json_value_text(t: Typed, ctx: LowerContext) -> exp.Expression:
    """Compact JSON text of a value (``null`` for nulls) for building arrays and bags.

    Strings are JSON strings here, not parsed (``pack_array("1")`` is ``["1"]``), and a null string
    is ``""`` as everywhere in Kusto.
    """
    if t.kql_type in ("string", "guid"):
        text = q.coalesce(t.expr, q.s(""))
        encoded = q.fn("to_json", text) if ctx.dialect == "duckdb" else q.fn("to_json", q.cast(text, "variant"))
        return q.cast(encoded, "varchar")
    return q.coalesce(q.cast(to_dynamic(t, ctx).expr, "varchar"), q.s("null"))


@scalar("parse_json", "todynamic", "toobject", "dynamic")
def parse_json(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("parse_json", args, ctx, 1)
    return to_dynamic(args[0], ctx)


def _only_arrays(arrays: list[Typed], result: exp.Expression, ctx: LowerContext) -> exp.Expression:
    condition: exp.Expression | None = None
    for array in arrays:
        check = q.bool_or_false(q.json_is_array(array.expr, ctx.dialect))
        condition = check if condition is None else exp.And(this=condition, expression=check)
    assert condition is not None
    return q.case((condition, result))


def _elements(t: Typed, ctx: LowerContext) -> exp.Expression:
    return q.json_elements(to_dynamic(t, ctx).expr, ctx.dialect)


@scalar("array_length")
def array_length(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("array_length", args, ctx, 1)
    array = to_dynamic(args[0], ctx)
    length = q.fn("json_array_length", array.expr)
    return Typed(q.cast(_only_arrays([array], length, ctx), "bigint"), "long")


def _index_of(array: Typed, value: Typed, ctx: LowerContext) -> exp.Expression:
    needle = json_value_text(value, ctx)
    position = q.fn("list_position" if ctx.dialect == "duckdb" else "array_position", _elements(array, ctx),
                    needle)
    found = exp.Sub(this=q.coalesce(position, q.n(0)), expression=q.n(1))
    return _only_arrays([to_dynamic(array, ctx)], found, ctx)


@scalar("array_index_of")
def array_index_of(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("array_index_of", args, ctx, 2)
    return Typed(q.cast(_index_of(args[0], args[1], ctx), "bigint"), "long")


@scalar("set_has_element")
def set_has_element(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("set_has_element", args, ctx, 2)
    return Typed(exp.GTE(this=_index_of(args[0], args[1], ctx), expression=q.n(0)), "bool")


@scalar("array_concat")
def array_concat(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("array_concat", args, ctx, 1, 64)
    arrays = [to_dynamic(a, ctx) for a in args]
    lists = [_elements(a, ctx) for a in arrays]
    joined = q.fn("list_concat" if ctx.dialect == "duckdb" else "concat", *lists) if len(lists) > 1 else lists[0]
    return _dyn(_only_arrays(arrays, q.json_array_from_elements(joined, ctx.dialect), ctx))


@scalar("array_slice")
def array_slice(args: list[Typed], ctx: LowerContext) -> Typed:
    """array_slice(arr, start, end): inclusive, negative indexes count from the end."""
    q.arity("array_slice", args, ctx, 3)
    array = to_dynamic(args[0], ctx)
    elements = _elements(array, ctx)
    size = q.list_size(elements, ctx.dialect)

    def normalise(index: Typed) -> exp.Expression:
        value = q.cast(index.expr, "bigint")
        return q.case((exp.LT(this=value, expression=q.n(0)), exp.Add(this=size.copy(), expression=value.copy())),
                      default=value.copy())

    first = q.fn("greatest", normalise(args[1]), q.n(0))
    last = q.fn("least", normalise(args[2]), exp.Sub(this=size.copy(), expression=q.n(1)))
    if ctx.dialect == "duckdb":
        sliced = q.fn("list_slice", elements.copy(), exp.Add(this=first, expression=q.n(1)),
                      exp.Add(this=last, expression=q.n(1)))
    else:
        length = exp.Add(this=exp.Sub(this=last, expression=first), expression=q.n(1))
        sliced = q.fn("slice", elements.copy(), q.cast(exp.Add(this=first.copy(), expression=q.n(1)), "int"),
                      q.cast(length, "int"))
    empty = exp.LT(this=last.copy(), expression=first.copy())
    result = q.case((empty, q.dynamic_literal([], ctx.dialect)),
                    default=q.json_array_from_elements(sliced, ctx.dialect))
    return _dyn(_only_arrays([array], result, ctx))


def _set_function(name: str) -> None:
    @scalar(f"set_{name}")
    def build(args: list[Typed], ctx: LowerContext) -> Typed:
        q.arity(f"set_{name}", args, ctx, 2, 64)
        arrays = [to_dynamic(a, ctx) for a in args]
        lists = [_elements(a, ctx) for a in arrays]
        duck = ctx.dialect == "duckdb"
        result = q.fn("list_distinct" if duck else "array_distinct", lists[0])
        for other in lists[1:]:
            if name == "union":
                result = q.fn("list_distinct" if duck else "array_distinct",
                              q.fn("list_concat" if duck else "concat", result, other))
            elif name == "intersect":
                result = q.fn("list_intersect" if duck else "array_intersect", result, other)
            elif duck:
                keep = q.not_(q.fn("list_contains", other, exp.column("x")))
                result = q.fn("list_filter", result, exp.Lambda(this=keep, expressions=[exp.to_identifier("x")]))
            else:
                result = q.fn("array_except", result, other)
        return _dyn(_only_arrays(arrays, q.json_array_from_elements(result, ctx.dialect), ctx))


for _name in ("union", "intersect", "difference"):
    _set_function(_name)


@scalar("pack_array")
def pack_array(args: list[Typed], ctx: LowerContext) -> Typed:
    texts = [json_value_text(a, ctx) for a in args]
    array = q.fn("list_value" if ctx.dialect == "duckdb" else "array", *texts)
    return _dyn(q.json_array_from_elements(array, ctx.dialect))


@scalar("bag_pack", "pack", "pack_dictionary")
def bag_pack(args: list[Typed], ctx: LowerContext) -> Typed:
    if len(args) % 2:
        raise q.err(ctx, "bag_pack() needs key/value pairs")
    parts: list[exp.Expression] = [q.s("{")]
    for index in range(0, len(args), 2):
        key = Typed(to_string_expr(args[index], ctx.dialect), "string")
        if index:
            parts.append(q.s(","))
        parts += [json_value_text(key, ctx), q.s(":"), json_value_text(args[index + 1], ctx)]
    parts.append(q.s("}"))
    text = q.concat(*parts)
    if ctx.dialect == "duckdb":
        return _dyn(q.fn("json", text))
    return _dyn(q.fn("to_json", q.fn("parse_json", text)))


@scalar("bag_keys")
def bag_keys(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("bag_keys", args, ctx, 1)
    bag = to_dynamic(args[0], ctx).expr
    if ctx.dialect == "duckdb":
        is_object = exp.EQ(this=q.fn("json_type", bag), expression=q.s("OBJECT"))
        return _dyn(q.case((is_object, q.fn("to_json", q.fn("json_keys", bag.copy())))))
    return _dyn(q.fn("to_json", q.fn("json_object_keys", bag)))


_DUCKDB_JSON_TYPES = {"OBJECT": "dictionary", "ARRAY": "array", "VARCHAR": "string", "BIGINT": "long",
                      "UBIGINT": "long", "DOUBLE": "real", "BOOLEAN": "bool", "NULL": "null"}
_SPARK_VARIANT_TYPES = {"OBJECT": "dictionary", "ARRAY": "array", "STRING": "string", "BIGINT": "long",
                        "INT": "long", "SMALLINT": "long", "TINYINT": "long", "DOUBLE": "real",
                        "DECIMAL": "real", "FLOAT": "real", "BOOLEAN": "bool", "VOID": "null"}


@scalar("gettype")
def gettype(args: list[Typed], ctx: LowerContext) -> Typed:
    """Runtime type name; dynamic values report their JSON type (dictionary, array, long...)."""
    q.arity("gettype", args, ctx, 1)
    arg = args[0]
    if arg.kql_type != "dynamic":
        return Typed(q.s(arg.kql_type), "string")
    if ctx.dialect == "duckdb":
        kind = q.fn("json_type", q.cast(arg.expr, "json"))
        whens = [(exp.EQ(this=kind.copy(), expression=q.s(k)), q.s(v)) for k, v in _DUCKDB_JSON_TYPES.items()]
    else:
        schema = q.fn("schema_of_variant", q.fn("try_parse_json", arg.expr))
        prefix = q.fn("regexp_extract", schema, q.s("^([A-Z]+)"), q.n(1))
        whens = [(exp.EQ(this=prefix.copy(), expression=q.s(k)), q.s(v)) for k, v in _SPARK_VARIANT_TYPES.items()]
    return Typed(q.case(*whens, default=q.s("null")), "string")


@scalar("bag_has_key")
def bag_has_key(args: list[Typed], ctx: LowerContext) -> Typed:
    """True when the top-level property bag has the key (false for non-bags)."""
    q.arity("bag_has_key", args, ctx, 2)
    bag = to_dynamic(args[0], ctx).expr
    key = to_string_expr(args[1], ctx.dialect)
    if ctx.dialect == "duckdb":
        is_object = exp.EQ(this=q.fn("json_type", bag), expression=q.s("OBJECT"))
        found = q.fn("list_contains", q.fn("json_keys", bag.copy()), key)
        return Typed(q.bool_or_false(exp.And(this=is_object, expression=found)), "bool")
    return Typed(q.bool_or_false(q.fn("array_contains", q.fn("json_object_keys", bag), key)), "bool")


@scalar("array_reverse")
def array_reverse(args: list[Typed], ctx: LowerContext) -> Typed:
    q.arity("array_reverse", args, ctx, 1)
    array = to_dynamic(args[0], ctx)
    reversed_list = q.fn("list_reverse" if ctx.dialect == "duckdb" else "reverse", _elements(array, ctx))
    return _dyn(_only_arrays([array], q.json_array_from_elements(reversed_list, ctx.dialect), ctx))


@scalar("extract_json", "extractjson")
def extract_json(args: list[Typed], ctx: LowerContext) -> Typed:
    """extract_json(path, json[, type]): the element as text (unquoted strings, JSON otherwise)."""
    q.arity("extract_json", args, ctx, 2, 3)
    path = q.str_literal_value(args[0])
    if path is None:
        raise q.err(ctx, "extract_json() needs a constant JSONPath", unsupported=True)
    text = q.cast(args[1].expr, "varchar")
    if ctx.dialect == "duckdb":
        value = q.fn("json_extract_string", q.try_cast(text, "json"), q.s(path))
    else:
        value = q.fn("get_json_object", text, q.s(path))
    result = Typed(q.coalesce(value, q.s("")), "string")
    if len(args) == 3:
        target = q.str_literal_value(args[2]) or args[2].kql_type
        from entrawatch.kql.functions.conversion import convert_to  # noqa: PLC0415 - import cycle

        return convert_to(Typed(value, "string"), target, ctx)
    return result


@scalar("column_ifexists", "columnifexists")
def column_ifexists(args: list[Typed], ctx: LowerContext) -> Typed:
    raise q.err(ctx, "column_ifexists() must be resolved by the binder (it needs the table schema)",
                unsupported=True)
