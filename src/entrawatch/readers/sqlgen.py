"""The normalizer as SQL: field mapping, type coercion, ``_Extra`` and quarantine reasons, generated
from the schema and :mod:`entrawatch.readers.mapping`.

Why SQL: a per-record Python normalizer cannot keep up with DuckDB's own JSON reader, so records
travel as raw JSON text and DuckDB does the parsing, mapping and casting in parallel. The SQL is
written as templates holding only our own identifiers and JSON paths; sqlglot parses them and
substitutes quoted identifiers and string literals for the placeholders, so no input data is ever
spliced into a statement (values arrive as ``?`` parameters or as rows of the staged batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import orjson
import sqlglot
from sqlglot import exp

from entrawatch import schema
from entrawatch.readers import mapping
from entrawatch.readers.mapping import DIAG, GRAPH, LA

#: US-style timestamps: ``1/9/2007 9:41:00 AM``, ``9/19/2023, 1:45:17.287 PM``, optional ``+01:00``.
US_TIME_RE = (
    r"^(\d{1,2})/(\d{1,2})/(\d{4}),?\s+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"\s*([AaPp][Mm])?\s*(Z|[+-]\d{2}:?\d{2})?$"
)

STAGE = "_ew_stage"
INCOMING = "_ew_incoming"


def _parse(sql: str, **values: exp.Expression | str) -> exp.Expression:
    """Parse a template of our own SQL and substitute placeholders with expressions."""
    tree = sqlglot.parse_one(sql, dialect="duckdb")
    subs = {k: (exp.Literal.string(v) if isinstance(v, str) else v) for k, v in values.items()}
    return exp.replace_placeholders(tree, **subs)


def ident(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def json_path(path: Sequence[str]) -> str:
    """A DuckDB JSON path with every key quoted (keys like ``@odata.type`` contain dots)."""
    return "$" + "".join("." + orjson.dumps(key).decode() for key in path)


def time_expr(text: exp.Expression) -> exp.Expression:
    """Text -> TIMESTAMPTZ (UTC): ISO 8601 through DuckDB's cast, US-style through a regex.

    Naive times are UTC; fractions beyond microseconds are truncated (DuckDB's rule, kept for
    the US form too); unparseable text gives NULL, which the caller turns into a quarantine reason.
    """
    return _parse(
        """
        CASE WHEN trim(:t) LIKE '____-__-__%' THEN TRY_CAST(trim(:t) AS TIMESTAMPTZ)
        ELSE (
          SELECT CAST(TRY(make_timestamp(
                   TRY_CAST(r.y AS BIGINT), TRY_CAST(r.mo AS BIGINT), TRY_CAST(r.d AS BIGINT),
                   CASE WHEN r.ap = '' THEN TRY_CAST(r.h AS BIGINT)
                        ELSE TRY_CAST(r.h AS BIGINT) % 12 + CASE WHEN upper(r.ap) = 'PM' THEN 12 ELSE 0 END END,
                   TRY_CAST(r.mi AS BIGINT), coalesce(TRY_CAST(nullif(r.s, '') AS BIGINT), 0))
                 + to_microseconds(coalesce(TRY_CAST(nullif(left(rpad(r.f, 6, '0'), 6), '000000') AS BIGINT), 0))
                 - to_minutes(CASE WHEN r.tz IN ('', 'Z') THEN 0 ELSE
                     (CASE WHEN left(r.tz, 1) = '-' THEN -1 ELSE 1 END)
                     * (TRY_CAST(substr(r.tz, 2, 2) AS BIGINT) * 60 + TRY_CAST(right(r.tz, 2) AS BIGINT)) END))
                 AS TIMESTAMPTZ)
          FROM (SELECT regexp_extract(trim(:t), :re, ['mo', 'd', 'y', 'h', 'mi', 's', 'f', 'ap', 'tz']) AS r)
        ) END
        """,
        t=text,
        re=US_TIME_RE,
    )


def convert(kql_type: str, value: exp.Expression) -> exp.Expression:
    """A JSON value -> the column's DuckDB type. Strings of typed columns are parsed, '' is null."""
    text = _parse("nullif(:v ->> '$', '')", v=value)
    if kql_type in ("string", "guid"):
        return _parse(":v ->> '$'", v=value)
    if kql_type in ("long", "int"):
        target = "BIGINT" if kql_type == "long" else "INTEGER"
        return _parse(
            f"CASE WHEN regexp_full_match(:s, '\\s*-?[0-9]+(\\.0*)?\\s*') THEN TRY_CAST(TRY_CAST(:s AS DECIMAL(38, 6)) AS {target}) END",
            s=text,
        )
    if kql_type in ("real", "decimal"):
        return _parse("TRY_CAST(:s AS DOUBLE)", s=text)
    if kql_type == "bool":
        return _parse(
            "CASE lower(trim(:s)) WHEN 'true' THEN TRUE WHEN 'false' THEN FALSE WHEN '1' THEN TRUE WHEN '0' THEN FALSE END",
            s=text,
        )
    if kql_type == "datetime":
        return time_expr(text)
    if kql_type == "timespan":
        return _parse("TRY_CAST(:s AS INTERVAL)", s=text)
    if kql_type == "dynamic":
        # Log Analytics exports carry dynamic columns as JSON text: store the parsed value.
        return _parse(
            """CASE WHEN json_type(:v) = 'VARCHAR' AND regexp_matches(:v ->> '$', '^\\s*[\\[{]')
                         AND json_valid(:v ->> '$') THEN CAST(:v ->> '$' AS JSON) ELSE :v END""",
            v=value,
        )
    raise ValueError(f"no conversion for KQL type {kql_type}")


def _json_object_patch(entries: dict[tuple[str, ...], exp.Expression]) -> exp.Expression:
    """Nested ``json_object`` calls that set each path to the given JSON value (merge-patch form)."""
    tree: dict = {}
    for path, value in entries.items():
        node = tree
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value

    def build(node: dict) -> exp.Expression:
        args: list[exp.Expression] = []
        for key, value in node.items():
            args += [exp.Literal.string(key), build(value) if isinstance(value, dict) else value]
        return exp.Anonymous(this="json_object", expressions=args)

    return build(tree)


def extra_expr(family: str, table: str, j: exp.Expression) -> exp.Expression:
    """``_Extra``: the record minus the fields a column took (RFC 7396 merge patch with nulls).

    Unconditional removals are one constant patch; a fallback source leaves ``_Extra`` only when
    every higher-priority source of its column was null, which is a second, per-row patch.
    """
    constant: dict = {}
    conditional: dict[tuple[str, ...], exp.Expression] = {}
    for path, earlier in mapping.removable_paths(family, table):
        if not earlier:
            node = constant
            for key in path[:-1]:
                node = node.setdefault(key, {})
            node[path[-1]] = None
        else:
            all_null = exp.and_(*[_parse("(:j -> :p) IS NULL OR json_type(:j -> :p) = 'NULL'", j=j, p=json_path(p))
                                  for p in earlier])
            conditional[path] = exp.Case().when(all_null, _parse("CAST(NULL AS JSON)")).else_(
                _parse(":j -> :p", j=j, p=json_path(path)))
    if family == LA:
        # The Type column is the table name; a different source Type (a mislabelled export) is kept.
        constant.pop("Type", None)
        conditional[("Type",)] = _parse("CASE WHEN (:j ->> '$.Type') = :t THEN CAST(NULL AS JSON) ELSE :j -> '$.Type' END",
                                        j=j, t=table)
    result = _parse("json_merge_patch(:j, :patch)", j=j, patch=orjson.dumps(constant).decode())
    if conditional:
        result = _parse("json_merge_patch(:r, :c)", r=result, c=_json_object_patch(conditional))
    return _parse("nullif(:r, '{}')", r=result)


# -- routing -------------------------------------------------------------------------------------

#: Keys read for routing, per family: extracted once per record (one JSON parse) as ``rk``.
ROUTE_KEYS = {
    DIAG: ("category",),
    GRAPH: ("@odata.type", "activityDisplayName", "initiatedBy", "targetResources", "loggedByService",
            "createdDateTime", "signInEventTypes", "managedServiceIdentity", "userId", "userPrincipalName",
            "servicePrincipalId", "isInteractive"),
    LA: ("Type", "Category", "ActivityDateTime", "ActivityDisplayName", "InitiatedBy"),
}


def _case_map(value: exp.Expression, pairs: dict[str, str]) -> exp.Expression:
    case = exp.Case(this=value)
    for key, target in pairs.items():
        case = case.when(exp.Literal.string(key), exp.Literal.string(target))
    return case


def _route_key(family: str, key: str, text: bool = True) -> exp.Expression:
    """``rk[i]`` (the JSON value of a routing key), as text when ``text``."""
    value = _parse("rk[:i]", i=exp.Literal.number(ROUTE_KEYS[family].index(key)))
    return _parse(":v ->> '$'", v=value) if text else value


def route_exprs(family: str) -> tuple[exp.Expression, exp.Expression]:
    """(target table, reason) for a staged record in ``family``; reason NULL means routable.

    They read ``rk`` (see :data:`ROUTE_KEYS`), ``forced_table`` (``table=``, may be NULL) and
    ``name_table`` (table named by the file name), columns of the staging query.
    """
    forced = ident("forced_table")
    k = lambda key: _route_key(family, key)  # noqa: E731
    if family == DIAG:
        category = k("category")
        known = _case_map(category, schema.CATEGORY_TO_TABLE)
        other = _case_map(category.copy(), mapping.UNSUPPORTED_CATEGORY_TABLES)
        target = _parse("coalesce(:f, :k, :o, :c, :u)", f=forced, k=known, o=other, c=category.copy(),
                        u=mapping.UNKNOWN_TABLE)
        reason = _parse(
            "CASE WHEN :f IS NOT NULL THEN NULL WHEN :c IS NULL THEN 'missing category' "
            "WHEN :k IS NULL THEN 'unsupported category ' || :c END",
            f=forced.copy(), c=category.copy(), k=known.copy(),
        )
        return target, reason
    if family == GRAPH:
        def has(key: str) -> exp.Expression:
            return _parse(":v IS NOT NULL", v=_route_key(family, key, text=False))

        def event_type(name: str) -> exp.Expression:
            return _parse("list_contains(TRY_CAST(:v AS VARCHAR[]), :n)",
                          v=_route_key(family, "signInEventTypes", text=False), n=name)

        odata = k("@odata.type")
        case = (
            exp.Case()
            .when(_parse(":o ILIKE '%directoryAudit'", o=odata), exp.Literal.string("AuditLogs"))
            .when(_parse(":o IS NOT NULL AND NOT (:o ILIKE '%signIn')", o=odata), exp.Null())
            .when(_parse(":a AND (:b OR :c OR :d)", a=has("activityDisplayName"), b=has("initiatedBy"),
                         c=has("targetResources"), d=has("loggedByService")), exp.Literal.string("AuditLogs"))
            .when(_parse("NOT :c", c=has("createdDateTime")), exp.Null())
            .when(event_type("managedIdentity"), exp.Literal.string("AADManagedIdentitySignInLogs"))
            .when(event_type("servicePrincipal"), exp.Literal.string("AADServicePrincipalSignInLogs"))
            .when(event_type("nonInteractiveUser"), exp.Literal.string("AADNonInteractiveUserSignInLogs"))
            .when(event_type("interactiveUser"), exp.Literal.string("SigninLogs"))
            .when(_parse("coalesce(:m ->> '$.msiType', 'none') <> 'none'",
                         m=_route_key(family, "managedServiceIdentity", text=False)),
                  exp.Literal.string("AADManagedIdentitySignInLogs"))
            .when(_parse("coalesce(:u, '') = '' AND coalesce(:p, '') = '' AND coalesce(:s, '') <> ''",
                         u=k("userId"), p=k("userPrincipalName"), s=k("servicePrincipalId")),
                  exp.Literal.string("AADServicePrincipalSignInLogs"))
            .when(_parse(":i = 'false'", i=k("isInteractive")), exp.Literal.string("AADNonInteractiveUserSignInLogs"))
            .else_(exp.Literal.string("SigninLogs"))
        )
        target = _parse("coalesce(:f, :c, :u)", f=forced, c=case, u=mapping.UNKNOWN_TABLE)
        reason = _parse(
            "CASE WHEN :f IS NULL AND :c IS NULL THEN 'unrecognised Graph object (not a signIn or directoryAudit)' END",
            f=forced.copy(), c=case.copy(),
        )
        return target, reason
    known_tables = {t: t for t in (*schema.SIGNIN_TABLES, schema.AUDIT_TABLE)}
    type_col = k("Type")
    known_type = _case_map(type_col, known_tables)
    by_category = _case_map(k("Category"), schema.CATEGORY_TO_TABLE)
    by_columns = _parse(
        "CASE WHEN :a IS NOT NULL OR :b IS NOT NULL OR :c IS NOT NULL THEN 'AuditLogs' END",
        a=_route_key(family, "ActivityDateTime", text=False), b=_route_key(family, "ActivityDisplayName", text=False),
        c=_route_key(family, "InitiatedBy", text=False),
    )
    target = _parse("coalesce(:f, :k, :c, :a, :n, :t, :u)", f=forced, k=known_type, t=type_col.copy(), c=by_category,
                    a=by_columns, n=ident("name_table"), u=mapping.UNKNOWN_TABLE)
    reason = _parse(
        "CASE WHEN coalesce(:f, :k, :c, :a, :n) IS NOT NULL THEN NULL "
        "WHEN :t IS NOT NULL THEN 'unsupported table ' || :t "
        "ELSE 'no table: the row has no Type column and the file name names no table (use --table)' END",
        f=forced.copy(), k=known_type.copy(), t=type_col.copy(), c=by_category.copy(), a=by_columns.copy(),
        n=ident("name_table"),
    )
    return target, reason


@cache
def stage_sql(family: str) -> str:
    """SQL that stages raw records: validity, object check, routing (each record parsed ~3 times).

    Parameters: forced table (or NULL), table named by the file name (or NULL).
    """
    target, reason = route_exprs(family)
    keys = exp.Array(expressions=[exp.Literal.string(json_path((key,))) for key in ROUTE_KEYS[family]])
    return _parse(
        f"""
        SELECT line, idx, raw, agg,
               CASE WHEN is_object THEN :target END AS _target,
               CASE WHEN NOT ok THEN 'malformed JSON'
                    WHEN NOT is_object THEN 'record is not a JSON object'
                    ELSE :reason END AS _reason
        FROM (SELECT line, idx, raw, agg, ok, is_object, forced_table, name_table,
                     CASE WHEN is_object THEN raw -> :keys END AS rk
              FROM (SELECT line, idx, raw, agg, ok, coalesce(ok AND json_type(raw) = 'OBJECT', FALSE) AS is_object
                    FROM (SELECT line, idx, raw, agg, coalesce(json_valid(raw), FALSE) AS ok FROM {INCOMING}
                          WHERE raw IS NOT NULL AND trim(raw) <> '')),
                   (SELECT CAST(? AS VARCHAR) AS forced_table, CAST(? AS VARCHAR) AS name_table))
        """,
        target=target,
        reason=reason,
        keys=keys,
    ).sql(dialect="duckdb")


@cache
def normalize_sql(family: str, table: str) -> str:
    """SQL producing canonical rows (plus ``_reason``/``_field``) for staged records routed to ``table``.

    Parameters: source file, source shape, ingested-at; it reads :data:`STAGE` rows whose
    ``_target`` is ``table`` and whose routing reason is NULL.
    """
    tbl = schema.table(table)
    sources = mapping.column_sources(family, table)
    paths: list[tuple[str, ...]] = []
    for srcs in sources.values():
        for src in srcs:
            if src.path not in paths:
                paths.append(src.path)
    path_list = exp.Array(expressions=[exp.Literal.string(json_path(p)) for p in paths])
    provenance = {n for n, _ in schema.PROVENANCE_COLUMNS}

    level2: list[exp.Expression] = [ident("line"), ident("idx"), ident("raw"), ident("agg"), ident("j")]
    for col, srcs in sources.items():
        # sqlglot stores bracket indexes 0-based and adds DuckDB's offset of 1 when generating.
        picks = [_parse("nullif(v[:i], CAST('null' AS JSON))", i=exp.Literal.number(paths.index(s.path)))
                 for s in srcs]
        level2.append(exp.alias_(exp.func("coalesce", *picks) if len(picks) > 1 else picks[0], f"x_{col}",
                                 quoted=True))

    level3: list[exp.Expression] = [ident("line"), ident("idx"), ident("raw"), ident("agg"), ident("j")]
    checks: list[tuple[str, str, str]] = []
    for col in tbl.columns:
        if col.name in provenance:
            continue
        if col.name == "Type":
            value: exp.Expression = exp.Literal.string(table)
        elif col.name in sources:
            value = convert(col.kql_type, ident(f"x_{col.name}"))
            level3.append(exp.alias_(ident(f"x_{col.name}"), f"x_{col.name}", quoted=True))
            if col.kql_type not in ("string", "guid", "dynamic"):
                first = ".".join(sources[col.name][0].path)
                checks.append((col.name, first, col.kql_type))
        elif family == GRAPH and col.name == "Category" and table in mapping.TABLE_TO_CATEGORY:
            value = exp.Literal.string(mapping.TABLE_TO_CATEGORY[table])
        elif family == GRAPH and col.name == "OperationName" and table in schema.SIGNIN_TABLES:
            value = exp.Literal.string("Sign-in activity")
        else:
            value = exp.cast(exp.Null(), col.duckdb_type)
        if col.name == "Id" and family == LA:
            # LA exports may lack Id: a hash of the row keeps re-ingest idempotent.
            value = _parse("coalesce(:v, 'ew-' || md5(raw))", v=value)
        level3.append(exp.alias_(value, col.name, quoted=True))

    reason = exp.Case().when(_parse('"Id" IS NULL OR "Id" = \'\''), exp.Literal.string("missing id"))
    field = exp.Case().when(_parse('"Id" IS NULL OR "Id" = \'\''), exp.Literal.string(".".join(sources["Id"][0].path)))
    time_src = ".".join(sources["TimeGenerated"][0].path)
    missing_time = _parse('"TimeGenerated" IS NULL AND nullif("x_TimeGenerated" ->> \'$\', \'\') IS NULL')
    reason = reason.when(missing_time, exp.Literal.string("missing time"))
    field = field.when(missing_time.copy(), exp.Literal.string(time_src))
    for col_name, first, kql_type in checks:
        bad = _parse("nullif(:x ->> '$', '') IS NOT NULL AND :c IS NULL", x=ident(f"x_{col_name}"), c=ident(col_name))
        text = _parse("'cannot convert ' || left(:x ->> '$', 200) || ' to ' || :t || ' (column ' || :c || ')'",
                      x=ident(f"x_{col_name}"), t=kql_type, c=col_name)
        reason = reason.when(bad, text)
        field = field.when(bad.copy(), exp.Literal.string(first))

    out: list[exp.Expression] = []
    for col in tbl.columns:
        if col.name == "_SourceFile":
            out.append(exp.alias_(exp.Placeholder(), col.name, quoted=True))
        elif col.name == "_SourceShape":
            out.append(exp.alias_(exp.Placeholder(), col.name, quoted=True))
        elif col.name == "_IngestedAt":
            out.append(exp.alias_(exp.cast(exp.Placeholder(), "TIMESTAMPTZ"), col.name, quoted=True))
        elif col.name == "_Extra":
            out.append(exp.alias_(extra_expr(family, table, ident("j")), col.name, quoted=True))
        elif col.name == "_Aggregated":
            out.append(exp.alias_(_aggregated(family), col.name, quoted=True))
        else:
            out.append(ident(col.name))
    out += [exp.alias_(reason, "_reason"), exp.alias_(field, "_field"), ident("line"), ident("idx"), ident("raw")]

    inner = _parse(f"SELECT line, idx, raw, agg, raw AS j, raw -> :paths AS v FROM {STAGE} WHERE _target = :t AND _reason IS NULL",
                   paths=path_list, t=table)
    l2 = exp.select(*level2).from_(inner.subquery())
    l3 = exp.select(*level3).from_(l2.subquery())
    return exp.select(*out).from_(l3.subquery()).sql(dialect="duckdb")


def _aggregated(family: str) -> exp.Expression:
    if family == GRAPH:
        return _parse(
            "coalesce(agg, FALSE) OR json_exists(j, '$.signInCount') OR json_exists(j, '$.aggregatedEventDateTime') "
            "OR coalesce((j ->> '$.\"@odata.type\"') ILIKE '%summarized%', FALSE)"
        )
    return _parse("coalesce(agg, FALSE)")


def parse_times_sql() -> str:
    """``SELECT`` that parses the ``t`` column of :data:`INCOMING` (used by tests and the docs)."""
    return exp.select(exp.alias_(time_expr(ident("t")), "ts")).from_(INCOMING).sql(dialect="duckdb")
