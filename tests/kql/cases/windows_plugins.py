"""Cases: bag_unpack, row_window_session, make-series bounds, percentiles, typeof(), serialize,
mv-apply breadth (issue 3), with their error cases."""

from __future__ import annotations

from kql_harness import Case

# Kusto's documented row_window_session example (ID, Timestamp -> SessionStarted).
SESSIONS = {"columns": {"ID": "string", "Timestamp": "datetime"}, "rows": [
    ("1", "2024-04-11T10:00:00Z"), ("2", "2024-04-11T10:18:00Z"), ("1", "2024-04-11T11:00:00Z"),
    ("3", "2024-04-11T11:30:00Z"), ("2", "2024-04-11T13:30:00Z"), ("2", "2024-04-11T10:16:00Z")]}
# Events every 4 minutes: 5m neighbour gaps never break, so only the 10m from-first chain does.
CHAIN = {"columns": {"t": "datetime", "k": "long"}, "rows": [
    ("2025-01-01T00:00:00Z", 1), ("2025-01-01T00:04:00Z", 1), ("2025-01-01T00:08:00Z", 1),
    ("2025-01-01T00:12:00Z", 1), ("2025-01-01T00:16:00Z", 1), ("2025-01-01T00:20:00Z", 1),
    ("2025-01-01T00:40:00Z", 1), (None, 1), ("2025-01-01T00:41:00Z", 1)]}
BAGS = {"columns": {"id": "long", "d": "dynamic"}, "rows": [
    (1, {"Name": "John", "Age": 20, "Tags": ["a"]}), (2, {"Name": "Dave", "Age": 40, "x y": True}),
    (3, None), (4, [1, 2]), (5, {"Name": "Ann", "Age": 30.5})]}

CASES = [
    # --- evaluate bag_unpack -------------------------------------------------------------------------
    Case("bag_unpack_columns_and_types", "Bags | where id in (1, 2) | evaluate bag_unpack(d)",
         [(1, 20, "John", ["a"], None), (2, 40, "Dave", None, True)],
         columns=["id", "Age", "Name", "Tags", "x y"], tables={"Bags": BAGS}),
    Case("bag_unpack_mixed_types_dynamic", "Bags | evaluate bag_unpack(d) | project id, Age, Name",
         [(1, 20, "John"), (2, 40, "Dave"), (3, None, ""), (4, None, ""), (5, 30.5, "Ann")],
         tables={"Bags": BAGS}),
    Case("bag_unpack_prefix_ignored", "Bags | where id == 1 | evaluate bag_unpack(d, 'p_', 'error', "
         "dynamic(['Tags', 'x y']))", [(1, 20, "John")], columns=["id", "p_Age", "p_Name"], tables={"Bags": BAGS}),
    Case("bag_unpack_shared_table", "T | evaluate bag_unpack(f) | project a, k, n, arr",
         [(1, "v1", 1, [1, 2]), (2, "v2", 2, []), (3, "v3", None, ["a"]), (4, "", None, None), (5, "", 5, [3])]),
    Case("bag_unpack_replace_source", "T | extend k = 'old' | evaluate bag_unpack(f, '', 'replace_source') "
         "| where a == 1 | project k", [("v1",)]),
    Case("bag_unpack_keep_source", "T | extend k = 'old' | evaluate bag_unpack(f, '', 'keep_source') "
         "| where a == 1 | project k, n", [("old", 1)]),
    Case("bag_unpack_after_parse_json", "print s = '{\"u\":\"alice\",\"n\":3}' | extend b = parse_json(s) "
         "| evaluate bag_unpack(b) | project u, n", [("alice", 3)]),
    # --- row_window_session --------------------------------------------------------------------------
    Case("row_window_session_docs_example", "Sessions | sort by ID asc, Timestamp asc | extend SessionStarted = "
         "row_window_session(Timestamp, 1h, 5m, ID != prev(ID))",
         [("1", "2024-04-11T10:00:00Z", "2024-04-11T10:00:00Z"), ("1", "2024-04-11T11:00:00Z", "2024-04-11T11:00:00Z"),
          ("2", "2024-04-11T10:16:00Z", "2024-04-11T10:16:00Z"), ("2", "2024-04-11T10:18:00Z", "2024-04-11T10:16:00Z"),
          ("2", "2024-04-11T13:30:00Z", "2024-04-11T13:30:00Z"), ("3", "2024-04-11T11:30:00Z", "2024-04-11T11:30:00Z")],
         tables={"Sessions": SESSIONS}),
    Case("row_window_session_from_first_chain", "Chain | serialize | project s = row_window_session(t, 10m, 5m)",
         [("2025-01-01T00:00:00Z",), ("2025-01-01T00:00:00Z",), ("2025-01-01T00:00:00Z",),
          ("2025-01-01T00:12:00Z",), ("2025-01-01T00:12:00Z",), ("2025-01-01T00:12:00Z",),
          ("2025-01-01T00:40:00Z",), (None,), ("2025-01-01T00:41:00Z",)], tables={"Chain": CHAIN}),
    # a descending order: each value is below the previous one, so neither distance rule fires
    Case("row_window_session_descending_never_breaks", "Sessions | where ID == '2' | sort by Timestamp desc "
         "| extend s = row_window_session(Timestamp, 1h, 5m) | project s",
         [("2024-04-11T13:30:00Z",), ("2024-04-11T13:30:00Z",), ("2024-04-11T13:30:00Z",)],
         tables={"Sessions": SESSIONS}),
    # --- make-series bounds from the data --------------------------------------------------------------
    Case("make_series_default_bounds", "SigninLogs | make-series n = count() on TimeGenerated step 1h by AppDisplayName",
         [("Office 365", [1, 1, 0], ["2025-03-10T09:00:00.0000000Z", "2025-03-10T10:00:00.0000000Z",
                                     "2025-03-10T11:00:00.0000000Z"]),
          ("Azure Portal", [2, 0, 1], ["2025-03-10T09:00:00.0000000Z", "2025-03-10T10:00:00.0000000Z",
                                       "2025-03-10T11:00:00.0000000Z"])]),
    Case("make_series_default_to", "SigninLogs | make-series n = count() on TimeGenerated from "
         "datetime(2025-03-10 08:00) step 2h | project n", [([3, 2],)]),
    Case("make_series_axis_back_to_datetime", "SigninLogs | make-series n = count() on TimeGenerated step 1h "
         "| mv-expand TimeGenerated to typeof(datetime), n to typeof(long) | where n > 1 | project TimeGenerated, n",
         [("2025-03-10T09:00:00Z", 3)]),
    # --- percentiles / typeof / serialize ---------------------------------------------------------------
    Case("percentiles_several_columns", "T | summarize percentiles(a, 50, 95) by e | where e == true",
         [(True, 1, 3)], columns=["e", "percentile_a_50", "percentile_a_95"]),
    Case("percentiles_named", "T | summarize (p10, p90) = percentiles(g, 10, 90)", [(10, 50)], columns=["p10", "p90"]),
    Case("typeof_in_extract", "print x = extract('id=([0-9]+)', 1, 'user id=42', typeof(long)) | extend t = gettype(x)",
         [(42, "long")]),
    Case("typeof_real_in_extract", "print x = extract('v=(.*)', 1, 'v=2.5', typeof(real))", [(2.5,)]),
    Case("serialize_without_sort", "Users | serialize | extend r = row_number() | summarize max(r), dcount(r)",
         [(4, 4)]),
    Case("serialize_without_sort_prev", "print x = 1 | serialize | extend p = prev(x) | project p", [(None,)]),
    # --- mv-apply breadth and empty arrays ---------------------------------------------------------------
    Case("mv_apply_empty_array_summarize_keeps_row", "T | where a in (1, 2) | mv-apply x = f.arr to typeof(long) "
         "on (summarize n = count(), l = make_list(x)) | project a, n, l", [(1, 2, [1, 2]), (2, 0, [])]),
    Case("mv_apply_empty_array_where_drops_row", "T | where a in (1, 2) | mv-apply x = f.arr to typeof(long) "
         "on (where x > 0) | project a, x", [(1, 1), (1, 2)]),
    Case("mv_apply_count", "print k = 1, l = dynamic(['a', 'b']) | mv-apply e = l on (count) | project k, Count",
         [(1, 2)]),
    Case("mv_apply_distinct", "print k = 1, l = dynamic([1, 1, 2]) | mv-apply e = l to typeof(long) on (distinct e) "
         "| project k, e", [(1, 1), (1, 2)]),
    Case("mv_apply_rename_then_extend", "print l = dynamic([1, 2, 3]) | mv-apply e = l to typeof(long) on "
         "(where e > 1 | project-rename v = e | extend w = v * 2) | project v, w", [(2, 4), (3, 6)]),
    Case("mv_apply_replaces_expanded_column", "print k = 7, l = dynamic([5, 9]) | mv-apply l to typeof(long) on "
         "(top 1 by l)", [(7, 9)], columns=["k", "l"]),
]

CASES += [
    Case("err_bag_unpack_not_dynamic", "T | evaluate bag_unpack(b)",
         error=("KqlSemanticError", "needs a dynamic column", 1, 25)),
    Case("err_bag_unpack_not_column", "T | evaluate bag_unpack(f.k)",
         error=("KqlSemanticError", "expects a column of the input", 1, 26)),
    Case("err_bag_unpack_conflict_option", "T | evaluate bag_unpack(f, '', 'merge')",
         error=("KqlSemanticError", "columnsConflict must be one of", 1, 32)),
    Case("err_evaluate_other_plugin", "T | evaluate pivot(b)",
         error=("KqlUnsupportedError", "evaluate pivot() is not supported", 1, 14)),
    Case("err_row_window_session_type", "T | sort by a asc | extend s = row_window_session(a, 1h, 5m)",
         error=("KqlSemanticError", "needs a datetime expression", 1, 51)),
    Case("err_row_window_session_arity", "T | sort by a asc | extend s = row_window_session(d)",
         error=("KqlSemanticError", "expects 3 or 4 arguments", 1, 32)),
    Case("err_typeof_bad_type", "print x = extract('(a)', 1, 'a', typeof(foo))",
         error=("KqlSemanticError", "typeof() expects a scalar type name", 1, 34)),
    Case("err_percentiles_non_constant", "T | summarize percentiles(a, g, 95)",
         error=("KqlSemanticError", "constant percentage", 1, 15)),
]

SPIKE = "dynamic([10, 11, 12, 13, 14, 15, 16, 40, 18, 19])"
CASES += [
    # --- series_decompose_anomalies (algorithm in kql/series.py; numpy cross-check in test_series.py) ---
    Case("series_anomalies_linefit_spike", f"print a = series_decompose_anomalies({SPIKE})",
         [([0, 0, 0, 0, 0, 0, 0, 1, 0, 0],)]),
    Case("series_anomalies_seasonal_avg", "print s = dynamic([1, 2, 1, 2, 1, 2, 1, 20, 1, 2, 1, 2]) "
         "| project a = series_decompose_anomalies(s, 1.5, 2, 'avg')", [([0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0],)]),
    Case("series_anomalies_negative_dip", "print a = series_decompose_anomalies(dynamic([5, 5, 6, 5, 5, -20, 5, 6, 5, 5]), "
         "1.5, 0, 'avg')", [([0, 0, 0, 0, 0, -1, 0, 0, 0, 0],)]),
    Case("series_anomalies_baseline_of_line", "print s = dynamic([1, 2, 3, 4, 5]) "
         "| extend (flags, score, baseline) = series_decompose_anomalies(s, 1.5, 0) | project flags, baseline",
         [([0, 0, 0, 0, 0], [1.0, 2.0, 3.0, 4.0, 5.0])]),
    Case("series_anomalies_after_make_series", "SigninLogs | make-series n = count() on TimeGenerated step 1h "
         "| extend (flags, score) = series_decompose_anomalies(n, 1.5, 0, 'none') | project flags",
         [([0, 0, 0],)]),
]
CASES += [
    Case("err_series_anomalies_not_constant", f"T | extend x = series_decompose_anomalies({SPIKE}, c)",
         error=("KqlUnsupportedError", "threshold must be a constant", 1, 94)),
    Case("err_series_anomalies_trend", f"print x = series_decompose_anomalies({SPIKE}, 1.5, 0, 'cubic')",
         error=("KqlSemanticError", "trend must be one of", 1, 11)),
    Case("err_series_anomalies_not_dynamic", "T | extend x = series_decompose_anomalies(a)",
         error=("KqlSemanticError", "needs a dynamic array", 1, 43)),
    Case("err_series_anomalies_too_many_names", f"T | extend (a, b, c, d) = series_decompose_anomalies({SPIKE})",
         error=("KqlSemanticError", "returns 3 columns", 1, 12)),
]
