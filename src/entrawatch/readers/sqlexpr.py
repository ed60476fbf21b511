"""SQL expression builders for the normalizer: time parsing, type coercion, ``_Extra``.

Templates hold only our own SQL; sqlglot parses them (cached) and substitutes quoted identifiers
and string literals for the ``:name`` placeholders, so no input data is spliced into a statement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import orjson
import sqlglot
from sqlglot import exp

from entrawatch.readers import mapping
from entrawatch.readers.mapping import LA

#: US-style timestamps: ``1/9/2007 9:41:00 AM``, ``9/19/2023, 1:45:17.287 PM``, optional ``+01:00``.
US_TIME_RE = (
    r"^(\d{1,2})/(\d{1,2})/(\d{4}),?\s+(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?"
    r"\s*([AaPp][Mm])?\s*(Z|[+-]\d{2}:?\d{2})?$"
)

STAGE = "_ew_stage"
INCOMING = "_ew_incoming"
#: ``ew_extra(raw, 'family/table', selector)``: ``_Extra`` cut by the C scanner, a scalar function
#: registered on ingest connections by ``entrawatch.readers.remainder.register``.
EXTRA_FUNCTION = "ew_extra"


@cache
def _template(sql: str) -> exp.Expression:
    return sqlglot.parse_one(sql, dialect="duckdb")


def parse(sql: str, **values: exp.Expression | str) -> exp.Expression:
    """Parse a template of our own SQL and substitute placeholders with expressions."""
    tree = _template(sql).copy()
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
    The regex match is bound once through a one-element ``list_transform`` lambda: the scalar
    subquery this replaced was decorrelated into a join per datetime column (~0.45 s CPU per
    200 MB of sign-ins, measured), although only US-style rows ever reach this branch.
    """
    return parse(
        """
        CASE WHEN trim(:t) LIKE '____-__-__%' THEN TRY_CAST(trim(:t) AS TIMESTAMPTZ)
        ELSE list_transform([regexp_extract(trim(:t), :re, ['mo', 'd', 'y', 'h', 'mi', 's', 'f', 'ap', 'tz'])], lambda r:
          CAST(TRY(make_timestamp(
                   TRY_CAST(r.y AS BIGINT), TRY_CAST(r.mo AS BIGINT), TRY_CAST(r.d AS BIGINT),
                   CASE WHEN r.ap = '' THEN TRY_CAST(r.h AS BIGINT)
                        ELSE TRY_CAST(r.h AS BIGINT) % 12 + CASE WHEN upper(r.ap) = 'PM' THEN 12 ELSE 0 END END,
                   TRY_CAST(r.mi AS BIGINT), coalesce(TRY_CAST(nullif(r.s, '') AS BIGINT), 0))
                 + to_microseconds(coalesce(TRY_CAST(nullif(left(rpad(r.f, 6, '0'), 6), '000000') AS BIGINT), 0))
                 - to_minutes(CASE WHEN r.tz IN ('', 'Z') THEN 0 ELSE
                     (CASE WHEN left(r.tz, 1) = '-' THEN -1 ELSE 1 END)
                     * (TRY_CAST(substr(r.tz, 2, 2) AS BIGINT) * 60 + TRY_CAST(right(r.tz, 2) AS BIGINT)) END))
                 AS TIMESTAMPTZ))[1]
        END
        """,
        t=text,
        re=US_TIME_RE,
    )


def convert(kql_type: str, text: exp.Expression, value: exp.Expression | None = None) -> exp.Expression:
    """Source -> the column's DuckDB type. ``text`` is the value as text (JSON text for objects),
    ``value`` the JSON value (needed for dynamic columns). '' in a typed column is null.
    """
    if kql_type in ("string", "guid"):
        return text
    nonempty = parse("nullif(:v, '')", v=text)
    if kql_type in ("long", "int"):
        target = "BIGINT" if kql_type == "long" else "INTEGER"
        return parse(
            f"CASE WHEN regexp_full_match(:s, '\\s*-?[0-9]+(\\.0*)?\\s*') THEN TRY_CAST(TRY_CAST(:s AS DECIMAL(38, 6)) AS {target}) END",
            s=nonempty,
        )
    if kql_type in ("real", "decimal"):
        return parse("TRY_CAST(:s AS DOUBLE)", s=nonempty)
    if kql_type == "bool":
        return parse(
            "CASE lower(trim(:s)) WHEN 'true' THEN TRUE WHEN 'false' THEN FALSE WHEN '1' THEN TRUE WHEN '0' THEN FALSE END",
            s=nonempty,
        )
    if kql_type == "datetime":
        return time_expr(nonempty)
    if kql_type == "timespan":
        return parse("TRY_CAST(:s AS INTERVAL)", s=nonempty)
    if kql_type == "dynamic":
        if value is None:
            raise ValueError("dynamic columns need the JSON value")
        # Log Analytics exports carry dynamic columns as JSON text: store the parsed value. The
        # value is minified JSON text, so a string starts with '"': testing that first character
        # avoids json_type parsing every (often large) object just to learn it is not a string.
        # Nested CASEs, not AND: a conjunction in a projection evaluates every operand on every
        # row, so the unquoting ``->>`` would parse every object value (measured in the stage).
        return parse(
            """CASE WHEN NOT starts_with(CAST(:v AS VARCHAR), '"') THEN :v
                    WHEN regexp_matches(:v ->> '$', '^\\s*[\\[{]') AND json_valid(:v ->> '$')
                    THEN CAST(:v ->> '$' AS JSON) ELSE :v END""",
            v=value,
        )
    raise ValueError(f"no conversion for KQL type {kql_type}")


@dataclass(frozen=True)
class ExtraPlan:
    """How ``_Extra`` (the record minus the fields a column took) is cut from a record.

    ``patches[i]`` is an RFC 7396 merge patch of nulls: the unconditional removals, plus the k-th
    conditional removal for every bit ``k`` set in ``i``. ``conditions[k]`` says, per row, whether
    that removal applies (a fallback source leaves only when every higher-priority source of its
    column was null; an LA ``Type`` only when it names the table). DuckDB's ``json_merge_patch``
    applies a patch in SQL (:func:`extra_expr`); ``entrawatch.readers.remainder`` applies the same
    patches natively, picked by :meth:`selector`.
    """

    patches: tuple[dict, ...]
    conditions: tuple[exp.Expression, ...]

    def selector(self) -> exp.Expression:
        """The index of each row's patch, as a ``UTINYINT``."""
        if not self.conditions:
            return parse("CAST(0 AS UTINYINT)")
        bits = [parse(f"CASE WHEN :c THEN {1 << k} ELSE 0 END", c=c.copy()) for k, c in enumerate(self.conditions)]
        total = bits[0]
        for bit in bits[1:]:
            total = exp.Add(this=total, expression=bit)
        return exp.cast(exp.paren(total), "UTINYINT", dialect="duckdb")


def extra_plan(family: str, table: str, text: Callable[[tuple[str, ...]], exp.Expression]) -> ExtraPlan:
    """The patches and conditions of ``table``'s ``_Extra``; ``text`` reads a source path as text.

    There is at most one condition per table today (``level``, or LA ``Type``); ``k`` conditions
    make ``2**k`` patches, so more than three is refused.
    """
    constant: dict = {}
    conditional: list[tuple[tuple[str, ...], exp.Expression]] = []
    for path, earlier in mapping.removable_paths(family, table):
        if family == LA and path == ("Type",):
            continue
        if not earlier:
            _set_null(constant, path)
        else:
            conditional.append((path, exp.and_(*[parse(":v IS NULL", v=text(p)) for p in earlier])))
    if family == LA:
        # The Type column is the table name; a different source Type (a mislabelled export) is kept.
        conditional.append((("Type",), parse("coalesce(:v = :t, FALSE)", v=text(("Type",)), t=table)))
    if len(conditional) > 3:
        raise ValueError(f"{family}/{table}: too many conditional removals for one CASE per row")
    patches = []
    for index in range(1 << len(conditional)):
        patch = orjson.loads(orjson.dumps(constant))
        for k, (path, _) in enumerate(conditional):
            if index >> k & 1:
                _set_null(patch, path)
        patches.append(patch)
    return ExtraPlan(tuple(patches), tuple(cond for _, cond in conditional))


def extra_expr(family: str, table: str, j: exp.Expression,
               text: Callable[[tuple[str, ...]], exp.Expression]) -> exp.Expression:
    """``_Extra`` in SQL: ``nullif(json_merge_patch(j, patch), '{}')`` with the row's patch.

    For each condition a ``CASE`` picks between the patches with and without that removal, so
    every record still gets exactly one merge patch (DuckDB evaluates a ``CASE`` branch only for
    the rows that take it). Measured (docs/ingest.md): the former ``list_transform([patched],
    lambda e: CASE …)[1]`` cost the same CPU in isolation, but copied every patched record into a
    list (a fifth of an ingest's page faults).
    """
    plan = extra_plan(family, table, text)

    def branch(at: int, index: int) -> exp.Expression:
        if at == len(plan.conditions):
            return parse("json_merge_patch(:j, :patch)", j=j.copy(), patch=orjson.dumps(plan.patches[index]).decode())
        return parse("CASE WHEN :c THEN :yes ELSE :no END", c=plan.conditions[at].copy(),
                     yes=branch(at + 1, index | 1 << at), no=branch(at + 1, index))

    return parse("nullif(:r, '{}')", r=branch(0, 0))


def _set_null(patch: dict, path: tuple[str, ...]) -> None:
    node = patch
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = None
