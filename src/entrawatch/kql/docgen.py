"""Generates docs/kql.md, the KQL support matrix, from the operator and function tables.

Run ``python -m entrawatch.kql.docgen > docs/kql.md`` after changing a table. When run from a
checkout, the case counts per operator come from tests/kql/cases/*.py. A test checks that the
operator table, this page and the case table name the same operators.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import entrawatch.kql.functions  # noqa: F401  (fills the registries)
from entrawatch.kql.lowering_api import AGGREGATE_FUNCTIONS, OPERATORS, SCALAR_FUNCTIONS
from entrawatch.kql.operator_table import OPERATOR_LOWERINGS
from entrawatch.kql.parser import OPERATOR_ALIASES, OPERATOR_PARSERS, UNSUPPORTED_OPERATORS
from entrawatch.kql.scalars import CORE_FIRST

#: Operators the parser knows but refuses with KqlUnsupportedError, with the reason shown.
REFUSED_NOTES: dict[str, str] = {}

#: Operators supported only in part, with what is covered (shown in the status column).
PARTIAL_NOTES = {
    "evaluate": "`bag_unpack` only (columns found by a probe query in `kql.run`, or a `bag_unpack_columns` "
                "hint); other plugins are refused",
}

#: Tabular sources and statements (not pipe operators), with a note each.
SOURCES = [
    ("let (scalar, tabular)", "tabular lets are inlined at each use; scalar lets lowered once"),
    ("let f = (params) { body }", "user-defined functions with typed and default parameters, tabular (*) params"),
    ("table(name)", "constant names only (the Sentinel aadFunc pattern)"),
    ("materialize(T)", "inlined (engines cache common sub-plans themselves)"),
    ("toscalar(T)", "first column of the first row, as a scalar sub-query"),
    ("union", "kind=outer/inner, isfuzzy=true, withsource=; same-named columns of different types become "
              "Name_type"),
    ("datatable", "typed columns and literal rows"),
    ("print", "unnamed columns are print_0, print_1, ..."),
    ("range", "integer ranges"),
    ("externaldata", "local CSV/TSV (DuckDB and Spark) and JSON lines (DuckDB); URLs are refused"),
]

CORE_FUNCTIONS = {
    "iff / iif / case": "used when the function table lacks them",
    "column_ifexists": "resolved at compile time against the input columns",
    "toscalar": "scalar sub-query",
    "row_number / prev / next": "window functions over the serialized order (after sort/top/serialize)",
    "now / ago": "bound to the `now` argument of compile/run",
    "typeof(T)": "a type argument (`extract(re, 1, s, typeof(long))`): evaluates to the type name",
    "row_window_session": "exact sequential session starts after sort/serialize (`kql/windows.py`)",
    "series_decompose_anomalies": "pure-SQL list lambdas; `(flags, score, baseline) = ...` in extend/project "
                                  "(`kql/series.py`)",
}

KNOWN_DIFFERENCES = [
    "Column names are matched case-insensitively by DuckDB and Spark; two columns whose names differ only in "
    "case cannot coexist (Kusto allows it).",
    "`innerunique` keeps an arbitrary left row per key, as Kusto does, but not necessarily the same one.",
    "`take_any(x)` returns the group's smallest non-null value, and `take_any` of several columns or `*` the row"
    " with the smallest (non-dynamic) values (Kusto's pick is arbitrary), so every run and engine agree; only a"
    " `take_any` of dynamic columns alone still picks an arbitrary row. `arg_max`/`arg_min` break ties on"
    " the key by the row's other (non-dynamic) values, so the same row wins on every run and engine.",
    "`mv-expand` of a property bag (object) fails at run time with an explicit engine error "
    "(arrays, scalars and nulls expand as in Kusto).",
    "`parse` kind=simple anchors the pattern at the start (and at the end when it ends with a column); "
    "kind=relaxed is treated like simple; flags= is refused.",
    "`evaluate` supports `bag_unpack` only. Its columns come from the data: `kql.run()` runs one extra "
    "query (`SELECT DISTINCT key, json type` over the pipeline so far) before compiling; `kql.compile()` "
    "needs `bag_unpack_columns={key: kql_type}` or raises KqlUnsupportedError. Output: input columns without "
    "the bag, then one column per key in key order; Kusto's `: (Col:type, ...)` output schema is not parsed.",
    "`make-series` needs a datetime axis and a timespan step; missing `from`/`to` come from the whole input "
    "(`bin(min(axis), step)`, last bin containing `max(axis)`); the axis array holds ISO-8601 UTC text (Kusto's "
    "JSON form); groups with no row in the range are absent, as in Kusto.",
    "`series_decompose_anomalies`: seasonality -1 (auto-detect, Kusto's default) is treated as no seasonality; "
    "percentiles interpolate linearly; the score is the Tukey-fence distance in IQR units. Flags and baseline "
    "follow the documented algorithm (see Design notes).",
    "`mv-apply`: where/extend/project/project-away/-rename/-reorder/parse/mv-expand/summarize/count/distinct/"
    "take/top/sort(+take)/serialize inside; an empty array keeps its row only under `summarize` without `by` "
    "and `count` (count 0, empty make_list/make_set, null for other aggregates such as sum), as Kusto runs "
    "the sub-query on an empty sub-table.",
    "`serialize` without a prior sort numbers rows in the engine's read order (DuckDB `row_number() OVER ()`, "
    "Spark `monotonically_increasing_id()`): stable for one plan, as Kusto's is for one run.",
    "Dotted access (`x.y`) needs a `dynamic` value: on string columns holding JSON it is a KqlSemanticError, "
    "as in Kusto; use `parse_json()`/`todynamic()` first.",
    "Spark needs Spark 4 (VARIANT functions `try_parse_json`/`try_variant_get`) for dynamic values.",
    "Negative array indexes (`arr[-1]`) and non-literal indexes are refused.",
]


def case_counts(root: Path) -> dict[str, int]:
    """Operator -> number of cases using it, from tests/kql/cases (empty outside a checkout)."""
    counts: dict[str, int] = {}
    cases_dir = root / "tests" / "kql" / "cases"
    if not cases_dir.is_dir():
        return counts
    text = "\n".join(p.read_text("utf-8") for p in sorted(cases_dir.glob("*.py")))
    for name in OPERATOR_PARSERS:
        spellings = [name] + [alias for alias, target in OPERATOR_ALIASES.items() if target == name]
        pattern = r"\|\s*(?:" + "|".join(re.escape(s) for s in spellings) + r")(?![\w-])"
        counts[name] = len(re.findall(pattern, text))
    return counts


def render(root: Path | None = None) -> str:
    root = root or Path.cwd()
    counts = case_counts(root)
    out: list[str] = [
        "# KQL support matrix",
        "",
        "<!-- Generated by `python -m entrawatch.kql.docgen > docs/kql.md`; edit docgen.py, not this file. -->",
        "",
        "entrawatch compiles Kusto (KQL) queries to DuckDB or Spark SQL: lexer -> parser (AST with line:column) -> "
        "schema-aware binder -> sqlglot expressions -> SQL. Anything not listed here is refused with "
        "`KqlUnsupportedError` (with line:column) rather than answered wrongly.",
        "",
        "```python",
        "from entrawatch import kql",
        "sql = kql.compile(query, schema_or_warehouse, dialect=\"duckdb\", now=None)",
        "table = kql.run(query, warehouse, now=None)   # pyarrow.Table, Kusto column names",
        "sql = kql.compile(q, schema, bag_unpack_columns={\"Name\": \"string\"})  # evaluate bag_unpack without data",
        "```",
        "",
        "CLI: `entrawatch query 'KQL' [--db FILE] [--format table|json|csv] [--now ISO] [--show-sql] "
        "[--dialect duckdb|spark]`.",
        "",
        "## Tabular operators",
        "",
        "| operator | status | cases |",
        "|---|---|---|",
    ]
    for name in OPERATOR_PARSERS:
        status = "supported" if name in OPERATOR_LOWERINGS and name not in REFUSED_NOTES else \
            f"refused: {REFUSED_NOTES.get(name, 'not lowered')}"
        if name in PARTIAL_NOTES and status == "supported":
            status = f"supported: {PARTIAL_NOTES[name]}"
        aliases = [a for a, t in OPERATOR_ALIASES.items() if t == name and a != name]
        label = f"`{name}`" + (f" (alias {', '.join(f'`{a}`' for a in aliases)})" if aliases else "")
        out.append(f"| {label} | {status} | {counts.get(name, '')} |")
    out += ["", "Refused with `KqlUnsupportedError`: " + ", ".join(f"`{n}`" for n in sorted(UNSUPPORTED_OPERATORS))
            + ".", "", "## Sources and statements", "", "| construct | notes |", "|---|---|"]
    out += [f"| `{name}` | {note} |" for name, note in SOURCES]
    out += ["", "## Scalar operators", "",
            "Core: literals (string, verbatim `@\"..\"`, `h\"..\"`, `datetime()`, `time()`/`timespan()`, "
            "`1d 2h 30m 10s 100ms`, `dynamic()`, typed nulls such as `int(null)`, `guid()`), `+ - * / %` "
            "(integer division truncates), datetime/timespan arithmetic, `== != < <= > >=` with Kusto's implicit "
            "conversions (a number compared with a string column is compared as text for `==`/`!=`, as a number "
            "otherwise; dynamic values compare as their string or number), `and or`, `between`/`!between` "
            "(timespan upper bound allowed), `in`/`!in` (lists, dynamic arrays, let-bound arrays, sub-queries), "
            "dotted and indexed access into dynamic values.", "",
            "From the operator table: " + ", ".join(f"`{n}`" for n in sorted(OPERATORS)) + ".", "",
            "## Scalar functions", "", ", ".join(f"`{n}`" for n in sorted(set(SCALAR_FUNCTIONS) - CORE_FIRST)) + ".",
            "", "Lowered by the core:", ""]
    out += [f"- `{name}`: {note}" for name, note in CORE_FUNCTIONS.items()]
    out += ["", "## Aggregates", "", ", ".join(f"`{n}`" for n in sorted(AGGREGATE_FUNCTIONS)) + ".", "",
            "Core: `arg_max`/`arg_min` (with columns or `*`) and `take_any`/`any` with several columns or `*`, "
            "lowered to one engine aggregate over a struct so all values come from the same row.", "",
            "## Column naming (as Kusto)", "",
            "- aggregates: `count_`, `dcount_IPAddress`, `max_TimeGenerated`; a repeated name gets `1`, `2`...",
            "- unnamed expressions: a column keeps its name; `a.b.c` becomes `a_b_c`; `bin(T, 1h)`, `tostring(x)` "
            "and other conversions take their first argument's name; anything else is `Column1`, `Column2`...",
            "- `print` columns: `print_0`, `print_1`...; join duplicates: `Name1`; union type conflicts: `Name_type`.",
            "", "## Known differences", ""]
    out += [f"- {line}" for line in KNOWN_DIFFERENCES]
    out += ["", DESIGN_NOTES]
    return "\n".join(out) + "\n"


DESIGN_NOTES = """## Design notes

- **Pipeline, not one SELECT.** Every pipe step wraps the previous one as a sub-query
  (`SELECT ... FROM (<previous>) AS _kN`), so `take 10 | where x` filters the ten rows. DuckDB
  and Spark flatten the nesting; measured overhead is in `benchmarks/kql.py`.
- **Unread columns are pruned after lowering** (`prune.py`). A table scan projects every column
  (~100 for SigninLogs, strings as `COALESCE(col, '')`) because the next step may read any of
  them. The engines drop unused columns too, but only after parsing, binding and planning all of
  them: on DuckDB that was several ms per scan, the main reason compiled rules trailed
  hand-written SQL (password spray 1.26x, a two-scan join 1.18x). The pass walks the final tree
  from the outermost SELECT down and removes the projections no reader references; it only ever
  over-estimates what is needed (any name seen anywhere in a SELECT, nested sub-queries
  included, counts for every source), and keeps projections that may change rows: under
  `DISTINCT`, set-returning calls (`unnest`/`explode`), an aggregate without `GROUP BY` whose
  other outputs are constants, SELECTs with ordinals. `UNION ALL` legs are pruned by position;
  a CTE keeps the union of its readers' needs. The rules' SQL shrank from 899k to 330k
  characters in total, at no measurable compile cost. `tests/kql/test_prune.py` runs each guard
  against DuckDB with and without the pass.
- **Epoch microseconds back to a timestamp** use `make_timestamptz(micros)` on DuckDB
  (`_sql.from_epoch_micros`, behind `bin()`, `ago()` with a variable span, `datetime_add`...),
  not `TIMESTAMPTZ '1970-01-01' + to_microseconds(x)`: that addition goes through ICU's calendar
  per row and was ~3x slower than the bucketing itself, which is why `bin(TimeGenerated, 1h)`
  lost to `time_bucket`. Now the integer floor plus `make_timestamptz` is as fast as
  `time_bucket` and keeps Kusto's 0001-01-01 bin origin for every span (time_bucket's origin is
  2000-01-03, which agrees only for spans dividing 730,121 days).
- **Speed against hand-written SQL** (`benchmarks/kql.py`: five rule-like queries, 1M rows,
  compiled and hand-written SQL run interleaved, median of 31 per-round ratios, 3 runs with the
  load printed). With column pruning and `make_timestamptz` (the two notes above) every ratio was
  0.97-1.02 in every run (CPU-time ratios 0.99-1.04; 2 cores, load average 11-15). An A/B in one
  process, old and new SQL in the same rounds (load 9-10): password spray 1.32/1.29 -> 1.03/1.04,
  countries per user 1.10/1.09 -> 1.00/1.02, arg_max 1.10/1.20 -> 1.00/0.98, top pairs 1.20/1.21
  -> 1.01/1.02, join 1.23/1.20 -> 0.99/1.00. Attribution (password spray, join): pruning alone
  1.25 -> 1.10 and 1.18 -> 1.02; `make_timestamptz` alone changes nothing while the wide scan
  dominates, and takes password spray from 1.10 to 1.04 once it is gone. Suspects ruled out:
  `now` as a bind parameter (the folded bound still reaches the Seq Scan filter; template ratios
  match literal ones), an outer `WHERE` instead of `HAVING` (same plan: a filter above the
  aggregate), `dcount` (both are `COUNT(DISTINCT)`), `COALESCE` around group keys (within noise;
  it is Kusto's null-is-'' rule). The nesting itself still makes planning alone 1.2-1.8x slower
  than the flat hand-written SQL, which no longer shows in run times of 30-220 ms.
- **Row order.** SQL sub-queries drop ORDER BY, so `sort`/`top` keep their keys as a pending
  order on the relation; `where` carries it, projections first materialise it as a hidden
  `__kql_ord` row number, and the outermost SELECT applies it. `prev()/next()/row_number()` use
  that order. `summarize`, `join`, `union`, `distinct`, `mv-expand` produce unordered results.
- **Kusto strings are never null.** Table scans read string columns as `COALESCE(col, '')`,
  computed strings are coalesced when stored, and outer joins/unions fill missing strings
  with `''`. This makes `!=`, `isempty()`, grouping and join keys behave as in Kusto.
- **Representations** (shared with the function tables, `lowering_api.py`): timespan = BIGINT
  microseconds (DuckDB INTERVAL columns are converted at the scan), datetime = UTC timestamp,
  dynamic = JSON text. Member chains become one JSON path (`$.a.b[0]`): DuckDB `json_extract`,
  Spark 4 `try_variant_get(try_parse_json(...))`.
- **Implicit conversions** live in `scalars.ScalarLowerer.coerce_pair`; `ResultType == 0` on a
  string column compares text, `Status.errorCode == 50126` compares numbers.
- **Multi-column aggregates** (`arg_max(T, *)`, `take_any(*)`) aggregate a struct with
  `ARG_MAX`/`MAX_BY` (`take_any`: `ARG_MIN`/`MIN_BY` over the row's non-dynamic values) and unpack it in an
  outer SELECT: no self-join, one row's values, the same row on every run and engine.
- **Lets become CTEs; functions are expanded at compile time.** A top-level tabular let (or
  `materialize()`) is lowered once, at its first reference, to `WITH _letN AS (...)`, and every
  reference reads `_letN`. Inlining a copy per reference made lets that build on each other grow
  exponentially (the new-country rule: 137k characters of SQL, ~9 s to compile; now ~29k chars
  for the largest rule). Still inlined: lets inside function bodies (they may read the caller's
  columns through scalar parameters, which a top-level WITH cannot see), lets ending in a pending
  sort (a CTE does not keep row order) and bare table scans (so `where` still reaches the scan).
  Kusto re-evaluates a non-materialized let per reference; for deterministic queries the result
  is the same. User functions are expanded per call with parameters bound, which is what makes
  `table(tableName)` inside Sentinel's per-table functions resolvable.
- **`now` as a bind parameter.** `compile_query(..., now_param=True)` renders `now()`/`ago()` as
  a bind parameter (DuckDB `CAST($1 AS TIMESTAMPTZ)`, Spark `CAST(? AS TIMESTAMP)`) instead of a
  literal; `CompiledQuery.now_params` says how many positional values to bind, all the same
  instant. Detection (`analytics/prepared.py`) compiles each rule once and binds each window's
  end (Spark: this form). `ago(<constant span>)` is folded to
  a literal only when `now` is a literal; in a template it stays `now - span`, which DuckDB folds
  after binding (parameters are bound before optimisation), so time filters still reach the scan.
  DuckDB gets `$1` everywhere rather than a `?` per use because `GROUP BY` expressions must match
  the SELECT list and two `?` are two parameters; Spark binds `?` into the tree before analysis.
  `compile_query(..., now_variable=name)` (DuckDB) reads `now` from `getvariable(name)` instead:
  detection `PREPARE`s each rule once per cursor and per window runs `SET VARIABLE` (bound
  parameter) + `EXECUTE`, which skips DuckDB's binder/optimiser (~half of a window's cost on
  small windows). Variables and prepared statements are per cursor, so threads cannot mix `now`.
- **Tables, not ifs.** `parser.OPERATOR_PARSERS` and `operator_table.OPERATOR_LOWERINGS` list
  the operators; functions come from `lowering_api` registries filled by `kql/functions/`.
  Core-owned calls that need the binder (`column_ifexists`, `toscalar`, `prev`...) are listed
  in `scalars.CORE_FIRST`.
- **Data-dependent columns** (`evaluate bag_unpack`, `plugins.py`): the compiler takes an optional
  `probe` (SQL -> rows). `kql.run()` passes one that runs on the warehouse, so the keys of the bag
  column after the preceding pipeline are discovered with DuckDB `json_each` / Spark 4
  `variant_explode` + `schema_of_variant`, typed as Kusto types a slot (one JSON type -> that type,
  mixed or all-null -> dynamic), then the query is compiled with them. Keys are data: they reach
  SQL only as literals (JSON paths) and quoted identifiers. Cost: one extra scan of the input.
- **row_window_session** (`windows.py`): the neighbour/restart rules look one row back, so a
  running `SUM` of break flags numbers segments exactly; inside a segment the from-first rule is a
  greedy chain, computed by folding the segment's values so far (`list_reduce` / `aggregate`) on
  each row. Exact; O(L^2) per segment of L rows (segments end at every neighbour gap, so L stays
  small for sign-in data). The call is hoisted out of extend/project into staged sub-queries
  (window functions cannot nest) and replaced by a helper column that is dropped afterwards.
  Measured (`benchmarks/kql_windows.py`, 200k rows, 500 users, worst case: no neighbour gap so
  segments of ~400 rows): ~50k rows/s on DuckDB. A per-segment fold producing all starts at
  once would remove the quadratic term; not done yet.
- **series_decompose_anomalies** (`series.py`), pure SQL with list lambdas, no UDF: seasonal =
  median of the learning points at the same phase; trend over the de-seasoned series (`linefit`
  least squares, default; `avg`; `none`); baseline = seasonal + trend; residual = x - baseline;
  Tukey fence on the learning residuals (`ctukey` 10th/90th percentiles, default; `tukey`
  25th/75th), flag +-1 beyond Q +- k*IQR (k = threshold, 1.5). `test_points` are excluded from
  learning. `tests/kql/test_series.py` checks flags and baseline against a plain-Python
  reference. Each output column (flags, score, baseline) recomputes the decomposition: ~0.3 s per
  output for a 30-point series with period 7 on DuckDB (measured, loaded 2-core box; mostly lambda
  planning), so fine for per-entity series in a rule, not for millions of series (benchmark:
  make-series 1h over 200k rows into 500 user series + anomalies, 2.8 s on DuckDB).
- **mv-apply** numbers input rows (`__kql_row`), expands, applies the sub-query with `__kql_row`
  as an extra key, and joins the record's other columns back by `__kql_row`; `summarize` without
  `by` LEFT JOINs from all records so empty arrays keep a row.
- **Errors.** `KqlSyntaxError` (lexer/parser), `KqlSemanticError` (unknown names, type errors),
  `KqlUnsupportedError` (valid KQL we refuse) all carry line:column and a caret snippet.
"""


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
