"""The lowering side of the operator table: KQL operator name -> lowering function.

Kept beside :data:`entrawatch.kql.parser.OPERATOR_PARSERS`; a test checks both tables, the
docs page and the case table name the same operators.
"""

from __future__ import annotations

from entrawatch.kql import expand, joins, make_series, mv_apply, summarize, tabular

OPERATOR_LOWERINGS: dict[str, tabular.Lowering] = {
    "where": tabular.lower_where,
    "extend": tabular.lower_extend,
    "project": tabular.lower_project,
    "project-away": tabular.lower_project_away,
    "project-keep": tabular.lower_project_keep,
    "project-rename": tabular.lower_project_rename,
    "project-reorder": tabular.lower_project_reorder,
    "summarize": summarize.lower_summarize,
    "distinct": tabular.lower_distinct,
    "count": tabular.lower_count,
    "take": tabular.lower_take,
    "top": tabular.lower_top,
    "sort": tabular.lower_sort,
    "join": joins.lower_join,
    "lookup": joins.lower_lookup,
    "union": joins.lower_union_op,
    "as": tabular.lower_as,
    "invoke": tabular.lower_invoke,
    "mv-expand": expand.lower_mv_expand,
    "mv-apply": mv_apply.lower_mv_apply,
    "make-series": make_series.lower_make_series,
    "parse": expand.lower_parse,
    "serialize": tabular.lower_serialize,
    "evaluate": expand.lower_evaluate,
    "getschema": tabular.lower_getschema,
}
