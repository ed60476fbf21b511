"""Cases: summarize (names, bin, arg_max/arg_min/take_any), sort, top, serialize and windows."""

from __future__ import annotations

from kql_harness import Case

CASES = [
    # --- summarize ---------------------------------------------------------------------------
    Case("summarize_count_default_name", "T | summarize count()", [(5,)], columns=["count_"]),
    Case("summarize_count_by", "T | summarize count() by b", [("x", 2), ("y", 1), ("", 1), ("Z", 1)],
         columns=["b", "count_"]),
    Case("summarize_by_first", "T | summarize n = count(), m = max(a) by b | where b == 'x'", [("x", 2, 3)],
         columns=["b", "n", "m"]),
    Case("summarize_default_agg_names", "SigninLogs | summarize dcount(IPAddress), max(TimeGenerated), "
         "min(DurationMs), sum(DurationMs)",
         [(4, "2025-03-10T11:00:00Z", 60, 355)],
         columns=["dcount_IPAddress", "max_TimeGenerated", "min_DurationMs", "sum_DurationMs"]),
    Case("summarize_no_rows_no_by", "Empty | summarize count(), max(a)", [(0, None)]),
    Case("summarize_no_rows_with_by", "Empty | summarize count() by b", []),
    Case("summarize_by_only", "SigninLogs | summarize by AppDisplayName", [("Office 365",), ("Azure Portal",)]),
    Case("summarize_bin_hour", "SigninLogs | summarize count() by bin(TimeGenerated, 1h)",
         [("2025-03-10T09:00:00Z", 3), ("2025-03-10T10:00:00Z", 1), ("2025-03-10T11:00:00Z", 1)],
         columns=["TimeGenerated", "count_"]),
    Case("summarize_bin_named", "SigninLogs | summarize c = count() by Hour = bin(TimeGenerated, 2h)",
         [("2025-03-10T08:00:00Z", 3), ("2025-03-10T10:00:00Z", 2)], columns=["Hour", "c"]),
    Case("summarize_unnamed_by_expr", "T | summarize count() by a % 2", [(1, 3), (0, 2)],
         columns=["Column1", "count_"]),
    Case("summarize_then_where", "SigninLogs | where ResultType == '50126' | summarize FailedUsers = "
         "dcount(UserPrincipalName), Attempts = count() by IPAddress, bin(TimeGenerated, 1h) "
         "| where FailedUsers > 1", [("203.0.113.9", "2025-03-10T09:00:00Z", 2, 2)],
         columns=["IPAddress", "TimeGenerated", "FailedUsers", "Attempts"]),
    Case("summarize_expression_of_aggs", "T | summarize ratio = todouble(sum(a)) / count()", [(3.0,)]),
    Case("summarize_countif_sumif", "T | summarize c = countif(a > 2), s = sumif(a, b == 'x')", [(3, 4)]),
    Case("summarize_make_set", "SigninLogs | where ResultType == '50126' | summarize s = make_set(IPAddress)",
         [(["203.0.113.9"],)]),
    Case("summarize_by_dynamic_path", "SigninLogs | summarize count() by tostring(LocationDetails.countryOrRegion)",
         [("US", 2), ("RU", 2), ("DE", 1)], columns=["LocationDetails_countryOrRegion", "count_"]),
    Case("summarize_by_string_null_is_empty", "SigninLogs | extend X = tostring(LocationDetails.city) "
         "| summarize count() by X", [("Seattle", 1), ("Moscow", 2), ("Redmond", 1), ("", 1)]),
    Case("summarize_duplicate_default_name", "T | summarize count(), count()", [(5, 5)],
         columns=["count_", "count_1"]),
    Case("arg_max_star", "SigninLogs | summarize arg_max(TimeGenerated, *) by AppDisplayName "
         "| project AppDisplayName, TimeGenerated, UserPrincipalName, IPAddress",
         [("Office 365", "2025-03-10T10:05:00Z", "Alice@Contoso.com", "10.0.0.2"),
          ("Azure Portal", "2025-03-10T11:00:00Z", "dave@contoso.com", "198.51.100.7")]),
    Case("arg_max_columns_order", "SigninLogs | summarize arg_max(TimeGenerated, UserPrincipalName) by ResultType",
         [("0", "2025-03-10T10:05:00Z", "Alice@Contoso.com"), ("50126", "2025-03-10T09:20:00Z", "carol@contoso.com"),
          ("50074", "2025-03-10T11:00:00Z", "dave@contoso.com")],
         columns=["ResultType", "TimeGenerated", "UserPrincipalName"]),
    Case("arg_min_columns", "SigninLogs | summarize arg_min(TimeGenerated, IPAddress) by AppDisplayName",
         [("Office 365", "2025-03-10T09:00:00Z", "10.0.0.1"), ("Azure Portal", "2025-03-10T09:10:00Z", "203.0.113.9")]),
    Case("arg_max_star_no_by", "T | summarize arg_max(a, *)",
         [(5, "Z", -1.0, "2025-03-10T11:59:00Z", False, {"k": None, "n": 5, "arr": [3]}, 50, "1 day, 0:00:00")],
         columns=["a", "b", "c", "d", "e", "f", "g", "s"]),
    Case("arg_max_ignores_null_key", "T | summarize arg_max(c, a)", [(4.0, 4)]),
    # Kusto picks an arbitrary row among ties; entrawatch orders ties by the other values so a rule
    # fires with the same row on every run and engine (both tied rows are listed in reverse order).
    Case("arg_max_ties_pick_the_largest_other_values",
         "datatable(g:string, k:long, v:string)['x', 2, 'b', 'x', 2, 'c', 'x', 1, 'z', 'x', 2, 'a'] "
         "| summarize arg_max(k, v) by g", [("x", 2, "c")]),
    Case("arg_min_ties_pick_the_smallest_other_values",
         "datatable(g:string, k:long, v:string)['x', 1, 'c', 'x', 1, 'a', 'x', 2, '0', 'x', 1, 'b'] "
         "| summarize arg_min(k, v) by g", [("x", 1, "a")]),
    Case("arg_max_with_other_aggs", "SigninLogs | summarize arg_max(TimeGenerated, IPAddress), n = count() "
         "by AppDisplayName", [("Office 365", "2025-03-10T10:05:00Z", "10.0.0.2", 2),
                               ("Azure Portal", "2025-03-10T11:00:00Z", "198.51.100.7", 3)],
         columns=["AppDisplayName", "TimeGenerated", "IPAddress", "n"]),
    Case("arg_max_by_column_renamed", "Users | summarize arg_max(Level, UserPrincipalName) by UserPrincipalName "
         "| where UserPrincipalName == 'bob@contoso.com'", [("bob@contoso.com", 2, "bob@contoso.com")],
         columns=["UserPrincipalName", "Level", "UserPrincipalName1"]),
    Case("arg_max_named_columns", "Users | summarize (TopLevel, Who) = arg_max(Level, UserPrincipalName)",
         [(3, "alice@contoso.com")], columns=["TopLevel", "Who"]),
    Case("take_any_star_single_group", "Users | where Department == 'Finance' | summarize take_any(*) by Department",
         [("Finance", "alice@contoso.com", 3)], columns=["Department", "UserPrincipalName", "Level"]),
    Case("take_any_several", "Users | where Level == 3 | summarize take_any(UserPrincipalName, Department)",
         [("alice@contoso.com", "Finance")], columns=["UserPrincipalName", "Department"]),
    # Several columns: the row with the smallest values (Kusto's pick is arbitrary), the same row on every
    # run and engine, so an alert built from it keeps its id.
    Case("take_any_several_picks_one_row_deterministically",
         "datatable(g:string, a:string, b:long)['x', 'b', 1, 'x', 'a', 2, 'x', 'a', 1, 'x', 'c', 0, 'y', 'q', 5] "
         "| summarize take_any(a, b) by g", [("x", "a", 1), ("y", "q", 5)], columns=["g", "a", "b"]),
    Case("take_any_star_picks_one_row_deterministically",
         "datatable(g:string, a:string, b:long)['x', 'b', 1, 'x', 'a', 2, 'x', 'a', 1, 'x', 'c', 0] "
         "| summarize take_any(*) by g", [("x", "a", 1)], columns=["g", "a", "b"]),
    # --- sort / top ------------------------------------------------------------------------------
    Case("sort_default_desc", "T | sort by a | project a", [(5,), (4,), (3,), (2,), (1,)]),
    Case("sort_asc", "T | order by a asc | project a", [(1,), (2,), (3,), (4,), (5,)]),
    Case("sort_desc_nulls_last", "T | sort by c | project a", [(4,), (2,), (1,), (5,), (3,)]),
    Case("sort_asc_nulls_first", "T | sort by c asc | project a", [(3,), (5,), (1,), (2,), (4,)]),
    Case("sort_explicit_nulls", "T | sort by c asc nulls last | project a", [(5,), (1,), (2,), (4,), (3,)]),
    Case("sort_two_keys", "T | sort by b asc, a desc | project b, a",
         [("", 4), ("Z", 5), ("x", 3), ("x", 1), ("y", 2)]),
    Case("sort_then_project_keeps_order", "T | sort by a asc | project b", [("x",), ("y",), ("x",), ("",), ("Z",)]),
    Case("sort_then_extend_where_keeps_order", "T | sort by a desc | extend k = a * 10 | where k > 15 | project k",
         [(50,), (40,), (30,), (20,)]),
    Case("sort_by_expression", "T | sort by a % 3 asc, a asc | project a", [(3,), (1,), (4,), (2,), (5,)]),
    Case("sort_then_project_away_key", "T | sort by a asc | project-away a, c, d, e, f, g, s",
         [("x",), ("y",), ("x",), ("",), ("Z",)]),
    Case("sort_then_rename_key", "T | sort by a asc | project-rename A = a | project A", [(1,), (2,), (3,), (4,), (5,)]),
    Case("top_default_desc", "T | top 2 by a | project a", [(5,), (4,)]),
    Case("top_asc", "T | top 2 by a asc | project a", [(1,), (2,)]),
    Case("top_nulls_last", "T | top 3 by c | project a", [(4,), (2,), (1,)]),
    Case("top_then_where", "T | top 3 by a | where a != 4 | project a", [(5,), (3,)]),
    Case("sort_then_take", "T | sort by a asc | take 2 | project a", [(1,), (2,)]),
    Case("sort_then_summarize_unordered", "T | sort by a asc | summarize count() by e", [(True, 2), (False, 2), (None, 1)]),
    Case("sort_datetime", "SigninLogs | sort by TimeGenerated asc | take 2 | project SessionId", [("s1",), ("s2",)]),
    Case("sort_string_ordinal", "Users | sort by UserPrincipalName desc | project UserPrincipalName",
         [("frank@contoso.com",), ("carol@contoso.com",), ("bob@contoso.com",), ("alice@contoso.com",)]),
    # --- serialize / windows -----------------------------------------------------------------------
    Case("row_number_after_sort", "T | sort by a asc | extend rn = row_number() | project a, rn",
         [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5)]),
    Case("prev_next", "T | sort by a asc | extend p = prev(a), n = next(a) | project a, p, n",
         [(1, None, 2), (2, 1, 3), (3, 2, 4), (4, 3, 5), (5, 4, None)]),
    Case("prev_offset_default", "T | sort by a asc | extend p = prev(a, 2, -1) | project p",
         [(-1,), (-1,), (1,), (2,), (3,)]),
    Case("serialize_with_expr", "T | sort by a desc | serialize rn = row_number() | project a, rn",
         [(5, 1), (4, 2), (3, 3), (2, 4), (1, 5)]),
    Case("prev_time_gap", "SigninLogs | where AppDisplayName == 'Azure Portal' | sort by TimeGenerated asc "
         "| extend gap = TimeGenerated - prev(TimeGenerated) | project SessionId, gap",
         [("s2", None), ("s3", "0:10:00"), ("s5", "1:40:00")]),
]

H = ["2025-03-10T09:00:00.0000000Z", "2025-03-10T10:00:00.0000000Z", "2025-03-10T11:00:00.0000000Z"]
CASES += [
    # --- make-series -------------------------------------------------------------------------------
    Case("make_series_by", "SigninLogs | make-series n = count() default = 0 on TimeGenerated from "
         "datetime(2025-03-10 09:00) to datetime(2025-03-10 12:00) step 1h by AppDisplayName",
         [("Office 365", [1, 1, 0], H), ("Azure Portal", [2, 0, 1], H)],
         columns=["AppDisplayName", "n", "TimeGenerated"]),
    Case("make_series_no_by", "SigninLogs | make-series n = count(), d = dcount(IPAddress) on TimeGenerated from "
         "datetime(2025-03-10 08:00) to datetime(2025-03-10 11:30) step 1h",
         [([0, 3, 1, 1], [0, 2, 1, 1], ["2025-03-10T08:00:00.0000000Z", *H])]),
    Case("make_series_default", "SigninLogs | make-series n = sum(DurationMs) default = -1 on TimeGenerated from "
         "datetime(2025-03-10 09:00) to datetime(2025-03-10 11:00) step 30m by UserPrincipalName "
         "| where UserPrincipalName == 'bob@contoso.com' | project n", [([80, -1, -1, -1],)]),
    Case("make_series_mv_expand_back", "SigninLogs | make-series n = count() on TimeGenerated from "
         "datetime(2025-03-10 09:00) to datetime(2025-03-10 12:00) step 1h | mv-expand n to typeof(long), "
         "TimeGenerated to typeof(datetime) | project TimeGenerated, n",
         [("2025-03-10T09:00:00Z", 3), ("2025-03-10T10:00:00Z", 1), ("2025-03-10T11:00:00Z", 1)]),
]
