"""The normalizer as SQL: routing, field mapping, type coercion, ``_Extra`` and quarantine reasons,
generated from the schema and :mod:`entrawatch.readers.mapping`.

Why SQL: a per-record Python normalizer cannot keep up with DuckDB's own JSON reader, so records
travel as raw JSON text and DuckDB parses, maps and casts them in parallel. Two statements per
chunk: *stage* (validate, parse once into a STRUCT, route) and, per target table, *normalize*
(convert, compute ``_Extra`` and the quarantine reason). See docs/ingest.md, Design notes.
"""

from __future__ import annotations

from functools import cache

from sqlglot import exp

from entrawatch import schema
from entrawatch.readers import mapping
from entrawatch.readers.extraction import ID_PATH, STRUCT_COLUMN, Extraction, family_extraction
from entrawatch.readers.mapping import DIAG, GRAPH, LA
from entrawatch.readers.sqlexpr import (
    EXTRA_FUNCTION,
    INCOMING,
    STAGE,
    convert,
    extra_expr,
    extra_plan,
    ident,
    parse,
    time_expr,
)

__all__ = ["BLOCK_LINES", "EXTRA_FUNCTION", "INCOMING", "LISTED_ROWS", "STAGE", "extra_patches", "normalize_sql", "parse_times_sql", "stage_block_sql", "stage_sql"]


# -- routing -------------------------------------------------------------------------------------

def _case_map(value: exp.Expression, pairs: dict[str, str]) -> exp.Expression:
    case = exp.Case(this=value)
    for key, target in pairs.items():
        case = case.when(exp.Literal.string(key), exp.Literal.string(target))
    return case


def _route_key(family: str, key: str, text: bool = True) -> exp.Expression:
    """A routing key of the record, as text (or as its JSON value)."""
    plan = family_extraction(family)
    return plan.text((key,)) if text else plan.json((key,))


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
        target = parse("coalesce(:f, :k, :o, :c, :u)", f=forced, k=known, o=other, c=category.copy(),
                        u=mapping.UNKNOWN_TABLE)
        reason = parse(
            "CASE WHEN :f IS NOT NULL THEN NULL WHEN :c IS NULL THEN 'missing category' "
            "WHEN :k IS NULL THEN 'unsupported category ' || :c END",
            f=forced.copy(), c=category.copy(), k=known.copy(),
        )
        return target, reason
    if family == GRAPH:
        def has(key: str) -> exp.Expression:
            return parse(":v IS NOT NULL", v=_route_key(family, key))

        def event_type(name: str) -> exp.Expression:
            return parse("list_contains(TRY_CAST(TRY_CAST(:v AS JSON) AS VARCHAR[]), :n)",
                          v=_route_key(family, "signInEventTypes"), n=name)

        odata = k("@odata.type")
        case = (
            exp.Case()
            .when(parse(":o ILIKE '%directoryAudit'", o=odata), exp.Literal.string("AuditLogs"))
            .when(parse(":o IS NOT NULL AND NOT (:o ILIKE '%signIn')", o=odata), exp.Null())
            .when(parse(":a AND (:b OR :c OR :d)", a=has("activityDisplayName"), b=has("initiatedBy"),
                         c=has("targetResources"), d=has("loggedByService")), exp.Literal.string("AuditLogs"))
            .when(parse("NOT :c", c=has("createdDateTime")), exp.Null())
            .when(event_type("managedIdentity"), exp.Literal.string("AADManagedIdentitySignInLogs"))
            .when(event_type("servicePrincipal"), exp.Literal.string("AADServicePrincipalSignInLogs"))
            .when(event_type("nonInteractiveUser"), exp.Literal.string("AADNonInteractiveUserSignInLogs"))
            .when(event_type("interactiveUser"), exp.Literal.string("SigninLogs"))
            .when(parse("coalesce(:m ->> '$.msiType', 'none') <> 'none'",
                         m=_route_key(family, "managedServiceIdentity")),
                  exp.Literal.string("AADManagedIdentitySignInLogs"))
            .when(parse("coalesce(:u, '') = '' AND coalesce(:p, '') = '' AND coalesce(:s, '') <> ''",
                         u=k("userId"), p=k("userPrincipalName"), s=k("servicePrincipalId")),
                  exp.Literal.string("AADServicePrincipalSignInLogs"))
            .when(parse(":i = 'false'", i=k("isInteractive")), exp.Literal.string("AADNonInteractiveUserSignInLogs"))
            .else_(exp.Literal.string("SigninLogs"))
        )
        target = parse("coalesce(:f, :c, :u)", f=forced, c=case, u=mapping.UNKNOWN_TABLE)
        reason = parse(
            "CASE WHEN :f IS NULL AND :c IS NULL THEN 'unrecognised Graph object (not a signIn or directoryAudit)' END",
            f=forced.copy(), c=case.copy(),
        )
        return target, reason
    known_tables = {t: t for t in (*schema.SIGNIN_TABLES, schema.AUDIT_TABLE)}
    type_col = k("Type")
    known_type = _case_map(type_col, known_tables)
    by_category = _case_map(k("Category"), schema.CATEGORY_TO_TABLE)
    by_columns = parse(
        "CASE WHEN :a IS NOT NULL OR :b IS NOT NULL OR :c IS NOT NULL THEN 'AuditLogs' END",
        a=_route_key(family, "ActivityDateTime"), b=_route_key(family, "ActivityDisplayName"),
        c=_route_key(family, "InitiatedBy"),
    )
    target = parse("coalesce(:f, :k, :c, :a, :n, :t, :u)", f=forced, k=known_type, t=type_col.copy(), c=by_category,
                    a=by_columns, n=ident("name_table"), u=mapping.UNKNOWN_TABLE)
    reason = parse(
        "CASE WHEN coalesce(:f, :k, :c, :a, :n) IS NOT NULL THEN NULL "
        "WHEN :t IS NOT NULL THEN 'unsupported table ' || :t "
        "ELSE 'no table: the row has no Type column and the file name names no table (use --table)' END",
        f=forced.copy(), k=known_type.copy(), t=type_col.copy(), c=by_category.copy(), a=by_columns.copy(),
        n=ident("name_table"),
    )
    return target, reason


#: Python's ``str.strip()`` whitespace (every ``c`` with ``c.isspace()``; a test checks the list), so SQL
#: framing strips lines exactly as the Python fallback does.
STRIP_CHARS = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
               "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")

#: Framing of line blocks (:class:`~entrawatch.readers.framing.LineBlock`) in SQL: split on ``\\n``, strip each
#: line like Python (whitespace, then leading BOMs), drop blank lines, number lines and records.
#: A line already starting with ``{`` and ending with ``}`` is left alone: ``trim`` with a character
#: set cost ~20 ms per MB (measured), and such a line has nothing to strip.
#: Reads the view ``_ew_block(block, _file, first_line, first_idx, name_table)``: one row per block,
#: several when small files are prepared together (``_file`` numbers them; records are numbered
#: per file).
BLOCK_LINES = "_ew_block"
#: The rows a ``listed_only`` normalize statement computes: an Arrow table (``_file``, ``idx``) by that
#: name, found by DuckDB's replacement scan (``normalize._arrow_over``).
LISTED_ROWS = "_ew_rows"


def _block_source() -> str:
    """Lines of each block, numbered without copying their text: the positions of the non-blank
    lines are one filtered list of integers, unnested side by side with a ``range`` that numbers
    the records, and each record is read from the split list by its position.

    Measured per 64 MB block on one thread: 0.052 s, against 0.077 s when the lines themselves were
    filtered (``list_filter`` copies every kept string, ~a fifth of an ingest's page faults) and
    more when a ``row_number()`` window numbered them (it sorted the lines with their text).
    """
    def stripped(line: str) -> str:
        # A line already ``{…}`` is left alone: trim with a character set costs ~20 ms per MB.
        return (f"CASE WHEN starts_with({line}, '{{') AND ends_with({line}, '}}') THEN {line} "
                f"ELSE ltrim(trim({line}, {strip}), chr(65279)) END")

    strip = exp.Literal.string(STRIP_CHARS).sql(dialect="duckdb")
    return (
        f"(SELECT _file, name_table, first_line + i - 1 AS line, first_idx + k - 1 AS idx, {stripped('t[i]')} AS raw, "
        "FALSE AS agg "
        "FROM (SELECT _file, name_table, first_line, first_idx, t, unnest(numbers) AS i, "
        "unnest(range(1, len(numbers) + 1)) AS k "
        "FROM (SELECT _file, name_table, first_line, first_idx, t, "
        f"list_filter(range(1, len(t) + 1), lambda j: {stripped('t[j]')} <> '') AS numbers "
        f"FROM (SELECT _file, name_table, first_line, first_idx, string_split(block, chr(10)) AS t FROM {BLOCK_LINES}))))"
    )


@cache
def stage_block_sql(family: str) -> str:
    """:func:`stage_sql` reading line blocks (:data:`BLOCK_LINES`) instead of :data:`INCOMING`:
    framing and staging in one statement (no per-line Python, one materialisation). Parameter:
    the forced table."""
    return _stage_sql(family, _block_source())


@cache
def stage_sql(family: str) -> str:
    """SQL that stages the records of :data:`INCOMING`; see :func:`_stage_sql`."""
    return _stage_sql(family, INCOMING)


@cache
def _stage_sql(family: str, source: str) -> str:
    """SQL that stages raw records: validity, one parse into a STRUCT, routing.

    A record starting with ``{`` is parsed once with ``TRY(json_transform)``; only when that
    fails is ``json_valid`` asked (malformed vs a valid object the transform refused, which is
    transformed again without TRY so the error surfaces as before). That second transform is a
    ``CASE`` branch, not ``coalesce(parsed, …)``: written as ``coalesce`` over the ``TRY`` result
    it doubled the stage's CPU (0.35 vs 0.18 s per 64 MB block, measured), although a plain
    ``coalesce`` is lazy. Whitespace tests use ``starts_with`` first: framing already strips
    records, so the copying ``trim`` rarely runs.

    ``source`` has the columns ``_file`` (which file of a batch), ``name_table`` (the table the
    file name names, or NULL), ``line``, ``idx``, ``raw``, ``agg``. Parameter: the forced table (or NULL).
    """
    target, reason = route_exprs(family)
    plan = family_extraction(family)
    return parse(
        f"""
        SELECT _file, line, idx, raw, agg, :rid AS _rid,
               CASE WHEN is_object THEN :target END AS _target,
               CASE WHEN NOT ok THEN 'malformed JSON'
                    WHEN NOT is_object THEN 'record is not a JSON object'
                    ELSE :reason END AS _reason
        FROM (SELECT _file, line, idx, raw, agg, ok, is_object, forced_table, name_table,
                     CASE WHEN parsed IS NOT NULL THEN parsed WHEN is_object THEN json_transform(raw, :spec) END AS {STRUCT_COLUMN}
              FROM (SELECT _file, name_table, line, idx, raw, agg, parsed, ok, ok AND braced AS is_object
                    FROM (SELECT _file, name_table, line, idx, raw, agg, parsed, braced,
                                 CASE WHEN parsed IS NOT NULL THEN TRUE ELSE coalesce(json_valid(raw), FALSE) END AS ok
                          FROM (SELECT _file, name_table, line, idx, raw, agg, braced,
                                       CASE WHEN braced THEN TRY(json_transform(raw, :spec)) END AS parsed
                                FROM (SELECT _file, name_table, line, idx, raw, agg,
                                             CASE WHEN starts_with(raw, '{{') THEN TRUE ELSE starts_with(ltrim(raw), '{{') END AS braced
                                      FROM {source} WHERE raw IS NOT NULL)
                                WHERE CASE WHEN braced THEN TRUE ELSE trim(raw) <> '' END))),
                   (SELECT CAST(? AS VARCHAR) AS forced_table))
        """,
        target=target,
        reason=reason,
        rid=_record_id(family, plan),
        spec=plan.struct_spec(),
    ).sql(dialect="duckdb")


def _record_id(family: str, plan: Extraction) -> exp.Expression:
    """The id the normalizer will store (LA rows without one: the derived hash)."""
    text = plan.text(ID_PATH[family])
    if family == LA:
        return parse("coalesce(:t, 'ew-' || md5(raw))", t=text)
    return text


@cache
def normalize_sql(family: str, table: str, native_extra: bool = False, listed_only: bool = False) -> str:
    """SQL producing canonical rows (plus ``_reason``/``_field``) for staged records routed to ``table``.

    Parameters: source files and source shapes (lists indexed by ``_file``), ingested-at. Reads :data:`STAGE` rows whose ``_target``
    is ``table`` and whose routing reason is NULL. With ``native_extra``, ``_Extra`` is cut by the
    scalar function :data:`~entrawatch.readers.sqlexpr.EXTRA_FUNCTION` (the C scanner of
    ``entrawatch.readers.remainder``, registered on the connection) instead of ``json_merge_patch``:
    the same bytes, 2.7-3.5x faster (benchmarks/extra_alternatives.py). With ``listed_only``, only
    the staged rows whose ``(_file, idx)`` the Arrow table ``_ew_rows`` lists (the rows
    ``readers/rowscan.py`` left unsure, found by DuckDB's replacement scan).
    """
    tbl = schema.table(table)
    plan = family_extraction(family, table)
    sources = mapping.column_sources(family, table)
    provenance = {n for n, _ in schema.PROVENANCE_COLUMNS}
    keep = [ident("_file"), ident("line"), ident("idx"), ident("raw"), ident("agg"), ident(STRUCT_COLUMN)]

    level2: list[exp.Expression] = list(keep)
    for col, srcs in sources.items():
        dynamic = tbl.column(col).kql_type == "dynamic"
        picks = [plan.json(s.path) if dynamic else plan.text(s.path) for s in srcs]
        level2.append(exp.alias_(exp.func("coalesce", *picks) if len(picks) > 1 else picks[0], f"x_{col}",
                                 quoted=True))

    level3: list[exp.Expression] = list(keep)
    checks: list[tuple[str, str, str]] = []
    for col in tbl.columns:
        if col.name in provenance:
            continue
        if col.name == "Type":
            value: exp.Expression = exp.Literal.string(table)
        elif col.name in sources:
            x = ident(f"x_{col.name}")
            value = convert(col.kql_type, x, x)
            level3.append(exp.alias_(x.copy(), f"x_{col.name}", quoted=True))
            if col.kql_type not in ("string", "guid", "dynamic"):
                checks.append((col.name, ".".join(sources[col.name][0].path), col.kql_type))
        elif family == GRAPH and col.name == "Category" and table in mapping.TABLE_TO_CATEGORY:
            value = exp.Literal.string(mapping.TABLE_TO_CATEGORY[table])
        elif family == GRAPH and col.name == "OperationName" and table in schema.SIGNIN_TABLES:
            value = exp.Literal.string("Sign-in activity")
        else:
            value = exp.cast(exp.Null(), col.duckdb_type)
        if col.name == "Id" and family == LA:
            # LA exports may lack Id: a hash of the row keeps re-ingest idempotent.
            value = parse("coalesce(:v, 'ew-' || md5(raw))", v=value)
        level3.append(exp.alias_(value, col.name, quoted=True))

    missing_id = parse('"Id" IS NULL OR "Id" = \'\'')
    reason = exp.Case().when(missing_id, exp.Literal.string("missing id"))
    field = exp.Case().when(missing_id.copy(), exp.Literal.string(".".join(sources["Id"][0].path)))
    missing_time = parse('"TimeGenerated" IS NULL AND nullif("x_TimeGenerated", \'\') IS NULL')
    reason = reason.when(missing_time, exp.Literal.string("missing time"))
    field = field.when(missing_time.copy(), exp.Literal.string(".".join(sources["TimeGenerated"][0].path)))
    for col_name, first, kql_type in checks:
        x = ident(f"x_{col_name}")
        bad = parse("nullif(:x, '') IS NOT NULL AND :c IS NULL", x=x, c=ident(col_name))
        text = parse("'cannot convert ' || left(:x, 200) || ' to ' || :t || ' (column ' || :c || ')'",
                     x=x.copy(), t=kql_type, c=col_name)
        reason = reason.when(bad, text)
        field = field.when(bad.copy(), exp.Literal.string(first))

    out: list[exp.Expression] = []
    for col in tbl.columns:
        if col.name in ("_SourceFile", "_SourceShape"):
            # One value per file of the batch, picked by the record's file number.
            out.append(exp.alias_(parse("list_extract(CAST(? AS VARCHAR[]), \"_file\" + 1)"), col.name, quoted=True))
        elif col.name == "_IngestedAt":
            out.append(exp.alias_(exp.cast(exp.Placeholder(), "TIMESTAMPTZ"), col.name, quoted=True))
        elif col.name == "_Extra" and native_extra:
            selector = extra_plan(family, table, plan.text).selector()
            value = exp.Anonymous(this=EXTRA_FUNCTION, expressions=[ident("raw"), exp.Literal.string(f"{family}/{table}"),
                                                                   selector])
            out.append(exp.alias_(value, col.name, quoted=True))
        elif col.name == "_Extra":
            out.append(exp.alias_(extra_expr(family, table, ident("raw"), plan.text), col.name, quoted=True))
        elif col.name == "_Aggregated":
            out.append(exp.alias_(_aggregated(family, plan), col.name, quoted=True))
        else:
            out.append(ident(col.name))
    out += [exp.alias_(reason, "_reason"), exp.alias_(field, "_field"), ident("_file"), ident("line"), ident("idx"),
            ident("raw")]

    listed = (f" AND EXISTS (SELECT 1 FROM {LISTED_ROWS} AS l WHERE l._file = {STAGE}._file AND l.idx = {STAGE}.idx)"
              if listed_only else "")
    inner = parse(f"SELECT _file, line, idx, raw, agg, json_transform(raw, :spec) AS {STRUCT_COLUMN} FROM {STAGE} "
                  f"WHERE _target = :t AND _reason IS NULL{listed}", t=table, spec=plan.struct_spec())
    l2 = exp.select(*level2).from_(inner.subquery())
    l3 = exp.select(*level3).from_(l2.subquery())
    return exp.select(*out).from_(l3.subquery()).sql(dialect="duckdb")


@cache
def extra_patches(family: str, table: str) -> tuple[dict, ...]:
    """The ``_Extra`` patches of ``table``, indexed by ``ExtraPlan.selector`` (see ``sqlexpr.ExtraPlan``)."""
    return extra_plan(family, table, family_extraction(family, table).text).patches


def _aggregated(family: str, plan: Extraction) -> exp.Expression:
    """Summary rows are flagged, never counted as events (docs/ingest.md, "Aggregated rows")."""
    if family == GRAPH:
        return parse(
            "coalesce(agg, FALSE) OR :a IS NOT NULL OR :b IS NOT NULL OR coalesce(:o ILIKE '%summarized%', FALSE)",
            a=plan.text(("signInCount",)), b=plan.text(("aggregatedEventDateTime",)), o=plan.text(("@odata.type",)),
        )
    return parse("coalesce(agg, FALSE)")


def parse_times_sql() -> str:
    """``SELECT`` that parses the ``t`` column of :data:`INCOMING` (used by tests and tooling)."""
    return exp.select(exp.alias_(time_expr(ident("t")), "ts")).from_(INCOMING).sql(dialect="duckdb")
