"""Cases: Sentinel-style constructs (string operators, functions in context, sources, naming)."""

from __future__ import annotations

from pathlib import Path

from kql_harness import Case

INDICATORS = (Path(__file__).parent / "data" / "indicators.csv").as_posix()

CASES = [
    # --- string operators through the operator table --------------------------------------------
    Case("op_has_case_insensitive", "SigninLogs | where AppDisplayName has 'portal' | count", [(3,)]),
    Case("op_not_has", "SigninLogs | where AppDisplayName !has 'portal' | count", [(2,)]),
    Case("op_contains", "SigninLogs | where UserPrincipalName contains 'ALICE' | count", [(2,)]),
    Case("op_contains_cs", "SigninLogs | where UserPrincipalName contains_cs 'Alice' | count", [(1,)]),
    Case("op_eq_tilde", "SigninLogs | where UserPrincipalName =~ 'ALICE@contoso.com' | count", [(2,)]),
    Case("op_not_eq_tilde", "SigninLogs | where UserPrincipalName !~ 'alice@contoso.com' | count", [(3,)]),
    Case("op_in_tilde", "SigninLogs | where UserPrincipalName in~ ('ALICE@CONTOSO.COM', 'dave@contoso.com') | count",
         [(3,)]),
    Case("op_not_in_tilde", "SigninLogs | where UserPrincipalName !in~ ('ALICE@CONTOSO.COM') | count", [(3,)]),
    Case("op_startswith", "SigninLogs | where IPAddress startswith '203.' | count", [(2,)]),
    Case("op_endswith", "SigninLogs | where UserPrincipalName endswith '@contoso.com' | count", [(5,)]),
    Case("op_has_any", "SigninLogs | where AppDisplayName has_any ('office', 'nothing') | count", [(2,)]),
    Case("op_has_all", "SigninLogs | where AppDisplayName has_all ('azure', 'portal') | count", [(3,)]),
    Case("op_matches_regex", "SigninLogs | where IPAddress matches regex @'^10\\.0\\.0\\.[12]$' | count", [(2,)]),
    Case("op_in_on_dynamic_path", "SigninLogs | where tostring(LocationDetails.countryOrRegion) in ('RU', 'DE') "
         "| count", [(3,)]),
    Case("op_has_on_dynamic", "SigninLogs | where LocationDetails has 'Moscow' | count", [(2,)]),
    # --- functions in context --------------------------------------------------------------------
    Case("fn_iff", "T | where a <= 3 | project r = iff(a > 1, 'big', 'small')", [("small",), ("big",), ("big",)]),
    Case("fn_case", "T | project r = case(a == 1, 'one', a == 2, 'two', 'many') | summarize count() by r",
         [("one", 1), ("two", 1), ("many", 3)]),
    Case("fn_isempty_on_empty_string", "T | where isempty(b) | project a", [(4,)]),
    Case("fn_isnotempty", "T | where isnotempty(b) | count", [(4,)]),
    Case("fn_isnull_real", "T | where isnull(c) | project a", [(3,)]),
    Case("fn_strcat", "Users | where Level == 2 | project s = strcat(Department, '/', UserPrincipalName)",
         [("IT/bob@contoso.com",)]),
    Case("fn_tolower_group", "SigninLogs | summarize count() by u = tolower(UserPrincipalName) | where u startswith 'a'",
         [("alice@contoso.com", 2)]),
    Case("fn_split_index", "SigninLogs | where SessionId == 's2' | project dom = tostring(split(UserPrincipalName, "
         "'@')[1])", [("contoso.com",)]),
    Case("fn_array_length", "SigninLogs | project SessionId, n = array_length(ConditionalAccessPolicies) "
         "| where n > 0", [("s1", 1), ("s3", 2)]),
    Case("fn_bin_long", "T | summarize count() by bin(a, 2)", [(0, 1), (2, 2), (4, 2)], columns=["a", "count_"]),
    Case("fn_startofday", "SigninLogs | summarize count() by Day = startofday(TimeGenerated)",
         [("2025-03-10T00:00:00Z", 5)]),
    Case("fn_datetime_diff", "print d = datetime_diff('minute', datetime(2025-03-10 10:30), datetime(2025-03-10 10:00))",
         [(30,)]),
    Case("fn_todatetime_compare", "T | where d > todatetime('2025-03-10T11:00:00Z') | count", [(2,)]),
    Case("fn_toint_string", "SigninLogs | where toint(ResultType) > 50100 | count", [(2,)]),
    Case("fn_coalesce", "T | project x = coalesce(c, 0.0) | summarize sum(x)", [(7.0,)]),
    Case("fn_make_list_count", "SigninLogs | summarize l = make_list(SessionId) | project n = array_length(l)",
         [(5,)]),
    Case("fn_dcountif", "SigninLogs | summarize d = dcountif(IPAddress, ResultType != '0')", [(2,)]),
    Case("fn_min_max_datetime", "SigninLogs | summarize First = min(TimeGenerated), Last = max(TimeGenerated)",
         [("2025-03-10T09:00:00Z", "2025-03-10T11:00:00Z")]),
    Case("fn_avg", "T | summarize avg(a)", [(3.0,)], columns=["avg_a"]),
    Case("fn_not_isempty", "T | where not(isempty(b)) | count", [(4,)]),
    Case("fn_pack_array_expand", "print x = pack_array(1, 2) | mv-expand x | count", [(2,)]),
    Case("fn_bag_pack_member", "print b = bag_pack('k', 'v') | project v = tostring(b.k)", [("v",)]),
    # --- sources -----------------------------------------------------------------------------------
    Case("datatable_source", "datatable(n:long, s:string)[1, 'a', 2, 'b'] | where n > 1 | project s", [("b",)]),
    Case("datatable_types", "datatable(d:datetime, t:timespan, x:dynamic)[datetime(2025-01-01), 1h, "
         "dynamic({'a':1})] | project d, t, v = toint(x.a)", [("2025-01-01T00:00:00Z", "1:00:00", 1)]),
    Case("datatable_join", "let allow = datatable(UserPrincipalName:string)['bob@contoso.com']; SigninLogs "
         "| join kind=leftanti (allow) on UserPrincipalName | count", [(4,)]),
    Case("range_source", "range i from 1 to 5 step 2", [(1,), (3,), (5,)], columns=["i"]),
    Case("externaldata_csv", f"externaldata(ip:string, label:string)[@'{INDICATORS}'] with (format='csv', "
         "ignoreFirstRecord=true) | join kind=inner (SigninLogs | project IPAddress) on $left.ip == "
         "$right.IPAddress | summarize count() by label", [("spray", 2), ("tor", 1)], engines=("duckdb",)),
    Case("print_expression", "print x = 1 + 2, y = strcat('a', 'b')", [(3, "ab")]),
    # --- Sentinel-shaped queries -------------------------------------------------------------------
    Case("sentinel_spray_union_counts", "let lookback = 1d; union isfuzzy=true (SigninLogs | where TimeGenerated > "
         "ago(lookback)), (AADNonInteractiveUserSignInLogs | where TimeGenerated > ago(lookback)) | where ResultType "
         "== '50126' | summarize Users = dcount(UserPrincipalName), Apps = dcount(AppDisplayName) by IPAddress "
         "| where Users >= 3", [("203.0.113.9", 3, 2)]),
    Case("sentinel_aadfunc_pattern", "let aadFunc = (tableName:string) { table(tableName) | where ResultType != '0' "
         "| extend Country = tostring(todynamic(LocationDetails).countryOrRegion) | summarize Fails = count() by "
         "Country, Type = tableName }; let a1 = aadFunc('SigninLogs'); let a2 = aadFunc("
         "'AADNonInteractiveUserSignInLogs'); union isfuzzy=true a1, a2 | sort by Type asc, Country asc",
         [("RU", "AADNonInteractiveUserSignInLogs", 1), ("DE", "SigninLogs", 1), ("RU", "SigninLogs", 2)]),
    Case("sentinel_arg_max_then_join", "SigninLogs | summarize arg_max(TimeGenerated, IPAddress) by "
         "UserPrincipalName | join kind=inner (Users) on UserPrincipalName | project UserPrincipalName, IPAddress, "
         "Department", [("alice@contoso.com", "10.0.0.1", "Finance"), ("bob@contoso.com", "203.0.113.9", "IT"),
                        ("carol@contoso.com", "203.0.113.9", "IT")]),
    Case("sentinel_project_reorder_rename", "SigninLogs | where ResultType == '50126' | project-rename Account = "
         "UserPrincipalName | project-reorder Account, IPAddress | project-away TimeGenerated, AppDisplayName, "
         "SessionId, LocationDetails, ConditionalAccessPolicies, Status, DurationMs, ResultType",
         [("bob@contoso.com", "203.0.113.9"), ("carol@contoso.com", "203.0.113.9")],
         columns=["Account", "IPAddress"]),
    Case("sentinel_extend_then_summarize_bin", "SigninLogs | extend Hour = bin(TimeGenerated, 1h) | summarize "
         "n = count() by Hour | top 1 by n", [("2025-03-10T09:00:00Z", 3)]),
    Case("sentinel_materialize_twice", "let base = materialize(SigninLogs | where ResultType != '0'); "
         "base | summarize c = count() | extend d = toscalar(base | summarize dcount(IPAddress))", [(3, 2)]),
    Case("sentinel_mv_expand_policies", "SigninLogs | mv-expand ConditionalAccessPolicies | where "
         "ConditionalAccessPolicies.result == 'failure' | project UserPrincipalName", [("carol@contoso.com",)]),
    Case("sentinel_ni_status_todynamic", "AADNonInteractiveUserSignInLogs | extend Status = todynamic(Status) "
         "| where Status.errorCode == 50126 | project UserPrincipalName", [("erin@contoso.com",)]),
    Case("sentinel_join_leftouter_counts", "Users | join kind=leftouter (SigninLogs | summarize n = count() by "
         "UserPrincipalName) on UserPrincipalName | project UserPrincipalName, n = coalesce(n, 0)",
         [("alice@contoso.com", 1), ("bob@contoso.com", 1), ("carol@contoso.com", 1), ("frank@contoso.com", 0)]),
    Case("sentinel_between_ago", "SigninLogs | where TimeGenerated between (ago(3h) .. ago(1h)) | count", [(5,)]),
    Case("sentinel_distinct_then_count", "SigninLogs | distinct IPAddress | count", [(4,)]),
    Case("sentinel_in_let_tabular", "let bad = SigninLogs | where ResultType == '50126' | distinct IPAddress; "
         "AADNonInteractiveUserSignInLogs | where IPAddress in (bad) | project UserPrincipalName",
         [("erin@contoso.com",)]),
    Case("sentinel_not_in_let_tabular", "let bad = SigninLogs | where ResultType == '50126' | distinct IPAddress; "
         "AADNonInteractiveUserSignInLogs | where IPAddress !in (bad) | count", [(2,)]),
    Case("sentinel_count_after_summarize", "SigninLogs | summarize by UserPrincipalName | count", [(5,)]),
    Case("sentinel_take_zero", "SigninLogs | take 0", [], columns=list(
        ["TimeGenerated", "UserPrincipalName", "IPAddress", "ResultType", "AppDisplayName", "SessionId",
         "LocationDetails", "ConditionalAccessPolicies", "Status", "DurationMs"])),
]
