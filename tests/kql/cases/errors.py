"""Error cases: syntax errors, unknown names and unsupported constructs, with line:column."""

from __future__ import annotations

from kql_harness import Case

CASES = [
    Case("err_unknown_table", "NoSuchTable | count", error=("KqlSemanticError", "unknown table 'NoSuchTable'", 1, 1)),
    Case("err_unknown_column", "T\n| where zz == 1", error=("KqlSemanticError", "unknown column or variable 'zz'", 2, 9)),
    Case("err_itemindex_clashes_with_column", "print i = 7, d = dynamic([1, 2]) | mv-expand with_itemindex=i d",
         error=("KqlSemanticError", "with_itemindex=i: a column named 'i' already exists", 1, 36)),
    Case("err_itemindex_clashes_with_expanded", "print d = dynamic([1, 2]) | mv-expand with_itemindex=d d",
         error=("KqlSemanticError", "with_itemindex=d: a column named 'd' already exists", 1, 29)),
    Case("err_unknown_operator", "T | frobnicate", error=("KqlSyntaxError", "unknown query operator 'frobnicate'", 1, 5)),
    Case("err_trailing_pipe", "T | where a == 1 |", error=("KqlSyntaxError", "expected an operator name", 1, 19)),
    Case("err_unterminated_string", "T | where b == 'abc", error=("KqlSyntaxError", "unterminated string", 1, 16)),
    Case("err_bad_char", "T | where a == 1 ^ 2", error=("KqlSyntaxError", "unexpected character", 1, 18)),
    Case("err_missing_paren", "T | where (a == 1", error=("KqlSyntaxError", "expected ')'", 1, 18)),
    Case("err_unsupported_operator", "T | render timechart",
         error=("KqlUnsupportedError", "the 'render' operator is not supported", 1, 5)),
    Case("err_unknown_function", "T | extend x = frob(a)", error=("KqlUnsupportedError", "function frob()", 1, 16)),
    Case("err_aggregate_outside_summarize", "T | extend x = count()",
         error=("KqlSemanticError", "can only be used in summarize", 1, 16)),
    Case("err_member_on_string", "AADNonInteractiveUserSignInLogs | where LocationDetails.city == 'x'",
         error=("KqlSemanticError", "member access needs a dynamic value", 1, 56)),
    Case("err_where_not_bool", "T | where a", error=("KqlSemanticError", "where needs a bool predicate", 1, 11)),
    Case("err_project_away_unknown", "T | project-away nope",
         error=("KqlSemanticError", "unknown column 'nope'", 1, 5)),
    Case("err_join_key_missing", "T | join (Users) on a",
         error=("KqlSemanticError", "join key 'a' is not a column of the right side", 1, 21)),
    Case("err_prev_unserialized", "T | extend p = prev(a)", error=("KqlSemanticError", "serialized row set", 1, 16)),
    Case("err_summarize_by_dynamic", "T | summarize count() by f",
         error=("KqlSemanticError", "cannot group by a dynamic value", 1, 26)),
    Case("err_compare_types", "T | where d == 1", error=("KqlSemanticError", "cannot compare datetime with long", 1, 13)),
    Case("err_and_non_bool", "T | where a and e", error=("KqlSemanticError", "'and' needs bool operands", 1, 11)),
    Case("err_evaluate_bag_unpack", "T | evaluate bag_unpack(f)",
         error=("KqlUnsupportedError", "bag_unpack() needs the data to know its columns", 1, 14)),
    Case("err_externaldata_url", "externaldata(a:string)[@'https://example.com/x.csv'] | count",
         error=("KqlUnsupportedError", "only read local files", 1, 1)),
    Case("err_let_without_query", "let x = 1;", error=("KqlSyntaxError", "no tabular expression", 1, 11)),
    Case("err_bad_datetime", "print datetime(2025-13-45)", error=("KqlSyntaxError", "invalid datetime", 1, 7)),
    Case("err_bad_timespan_unit", "print 5parsecs", error=("KqlSyntaxError", "unknown timespan unit", 1, 8)),
    Case("err_function_missing_arg", "let f = (x:long) { x }; print f()",
         error=("KqlSemanticError", "missing argument 'x'", 1, 31)),
    Case("err_negative_index", "T | extend x = f.arr[-1]", error=("KqlUnsupportedError", "negative array indexes", 1, 21)),
    Case("err_row_window_session", "T | extend s = row_window_session(d, 1h, 5m)",
         error=("KqlSemanticError", "row_window_session() needs a serialized row set", 1, 16)),
    Case("err_table_nonconstant", "T | where a == 1 | union table(b)",
         error=("KqlUnsupportedError", "constant table name", 1, 32)),
    Case("err_second_line_column", "T\n| extend x = 1\n| where y > 2",
         error=("KqlSemanticError", "unknown column or variable 'y'", 3, 9)),
    Case("err_set_statement", "set querytrace; T", error=("KqlUnsupportedError", "'set' statement", 1, 1)),
    Case("err_union_all_missing", "union isfuzzy=true Nope1, Nope2",
         error=("KqlSemanticError", "none of the tables exist", 1, 1)),
    Case("err_sort_dynamic", "T | sort by f", error=("KqlSemanticError", "cannot sort by a dynamic value", 1, 13)),
    Case("err_duplicate_project", "T | project a, a", error=("KqlSemanticError", "projected twice", 1, 5)),
    Case("err_datatable_shape", "datatable(a:long, b:string)[1]", error=("KqlSemanticError", "whole rows", 1, 1)),
]

CASES += [
    Case("err_make_series_long_axis", "T | make-series count() on a step 1h",
         error=("KqlUnsupportedError", "datetime axes with a timespan step", 1, 5)),
    Case("err_mv_apply_getschema", "print l = dynamic([1]) | mv-apply e = l on (getschema)",
         error=("KqlUnsupportedError", "'getschema' inside mv-apply", 1, 45)),
]

CASES += [
    Case("err_unknown_type_typeof", "T | mv-expand x = f.arr to typeof(sstring)",
         error=("KqlSyntaxError", "unknown type 'sstring'", 1, 35)),
    Case("err_unknown_param_type", "let f = (x:foo) { x }; print f(1)", error=("KqlSyntaxError", "unknown type 'foo'", 1, 12)),
]
