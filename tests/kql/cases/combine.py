"""Cases: join kinds, lookup, union (fuzzy, withsource, type conflicts), let, functions, table()."""

from __future__ import annotations

from kql_harness import Case

S = "SigninLogs | project UserPrincipalName, IPAddress"
CASES = [
    # --- join --------------------------------------------------------------------------------
    Case("join_default_innerunique", "Users | join (SigninLogs | project UserPrincipalName, SessionId) "
         "on UserPrincipalName | project UserPrincipalName, Department, SessionId",
         [("alice@contoso.com", "Finance", "s1"), ("bob@contoso.com", "IT", "s2"), ("carol@contoso.com", "IT", "s3")]),
    Case("join_innerunique_dedupes_left", "(SigninLogs | project UserPrincipalName = tolower(UserPrincipalName)) "
         "| join (Users) on UserPrincipalName | summarize count() by UserPrincipalName",
         [("alice@contoso.com", 1), ("bob@contoso.com", 1), ("carol@contoso.com", 1)]),
    Case("join_inner_keeps_duplicates", "(SigninLogs | project UserPrincipalName = tolower(UserPrincipalName)) "
         "| join kind=inner (Users) on UserPrincipalName | summarize count() by UserPrincipalName",
         [("alice@contoso.com", 2), ("bob@contoso.com", 1), ("carol@contoso.com", 1)]),
    Case("join_duplicate_column_suffix", f"Users | join kind=inner ({S}) on UserPrincipalName | take 0", [],
         columns=["UserPrincipalName", "Department", "Level", "UserPrincipalName1", "IPAddress"]),
    Case("join_leftouter", "Users | join kind=leftouter (SigninLogs | where ResultType == '50126' "
         "| project UserPrincipalName, IPAddress) on UserPrincipalName | project UserPrincipalName, IPAddress",
         [("alice@contoso.com", ""), ("bob@contoso.com", "203.0.113.9"), ("carol@contoso.com", "203.0.113.9"),
          ("frank@contoso.com", "")]),
    Case("join_leftouter_nonstring_null", "Users | join kind=leftouter (SigninLogs | project UserPrincipalName, "
         "DurationMs) on UserPrincipalName | where UserPrincipalName == 'frank@contoso.com' | project DurationMs",
         [(None,)]),
    Case("join_rightouter", f"Users | where Level > 1 | join kind=rightouter ({S} | where IPAddress == "
         "'203.0.113.9') on UserPrincipalName | project UserPrincipalName, UserPrincipalName1",
         [("bob@contoso.com", "bob@contoso.com"), ("", "carol@contoso.com")]),
    Case("join_fullouter", "Users | where Level == 3 | join kind=fullouter (SigninLogs | where ResultType == "
         "'50074' | project UserPrincipalName) on UserPrincipalName | project UserPrincipalName, UserPrincipalName1",
         [("alice@contoso.com", ""), ("", "dave@contoso.com")]),
    Case("join_leftanti", f"Users | join kind=leftanti ({S}) on UserPrincipalName", [("frank@contoso.com", "HR", 1)],
         columns=["UserPrincipalName", "Department", "Level"]),
    Case("join_leftsemi", f"Users | join kind=leftsemi ({S}) on UserPrincipalName | project UserPrincipalName",
         [("alice@contoso.com",), ("bob@contoso.com",), ("carol@contoso.com",)]),
    Case("join_rightanti", f"Users | join kind=rightanti ({S}) on UserPrincipalName",
         [("Alice@Contoso.com", "10.0.0.2"), ("dave@contoso.com", "198.51.100.7")],
         columns=["UserPrincipalName", "IPAddress"]),
    Case("join_rightsemi", f"Users | where Level == 1 | join kind=rightsemi ({S}) on UserPrincipalName",
         [("carol@contoso.com", "203.0.113.9")]),
    Case("join_left_right_keys", "Users | join kind=inner (SigninLogs | project Who = UserPrincipalName, SessionId) "
         "on $left.UserPrincipalName == $right.Who | project Who, SessionId",
         [("alice@contoso.com", "s1"), ("bob@contoso.com", "s2"), ("carol@contoso.com", "s3")]),
    Case("join_two_keys", "SigninLogs | join kind=inner (AADNonInteractiveUserSignInLogs) on SessionId, IPAddress "
         "| project SessionId, IPAddress", [("s1", "10.0.0.1")]),
    Case("join_bare_table_right", "Users | join kind=leftsemi SigninLogs on UserPrincipalName | count", [(3,)]),
    Case("join_then_where_on_suffix", "SigninLogs | join kind=inner (AADNonInteractiveUserSignInLogs) on SessionId "
         "| where IPAddress != IPAddress1 | project SessionId, IPAddress1", [("s1", "192.0.2.50")]),
    Case("join_sentinel_ni_country", "AADNonInteractiveUserSignInLogs | extend Country = "
         "tostring(parse_json(LocationDetails).countryOrRegion) | join kind=inner (SigninLogs | project SessionId, "
         "HomeCountry = tostring(LocationDetails.countryOrRegion)) on SessionId | where Country != HomeCountry "
         "| project UserPrincipalName, Country, HomeCountry", [("alice@contoso.com", "NL", "US")]),
    # --- lookup ----------------------------------------------------------------------------------
    Case("lookup_leftouter", "SigninLogs | project UserPrincipalName | lookup (Users) on UserPrincipalName",
         [("alice@contoso.com", "Finance", 3), ("bob@contoso.com", "IT", 2), ("carol@contoso.com", "IT", 1),
          ("Alice@Contoso.com", "", None), ("dave@contoso.com", "", None)],
         columns=["UserPrincipalName", "Department", "Level"]),
    Case("lookup_inner", "SigninLogs | project UserPrincipalName | lookup kind=inner (Users) on UserPrincipalName "
         "| count", [(3,)]),
    # --- union -----------------------------------------------------------------------------------
    Case("union_same_columns", "union (Users | project UserPrincipalName), (SigninLogs | where ResultType == "
         "'50074' | project UserPrincipalName) | count", [(5,)]),
    Case("union_outer_fills_missing", "union (Users | where Level == 3 | project UserPrincipalName, Level), "
         "(SigninLogs | where ResultType == '50074' | project UserPrincipalName, IPAddress)",
         [("alice@contoso.com", 3, ""), ("dave@contoso.com", None, "198.51.100.7")],
         columns=["UserPrincipalName", "Level", "IPAddress"]),
    Case("union_inner_common_columns", "union kind=inner (Users | project UserPrincipalName, Level), "
         "(SigninLogs | project UserPrincipalName, IPAddress) | count", [(9,)]),
    Case("union_type_conflict_suffix", "union SigninLogs, AADNonInteractiveUserSignInLogs | take 0 "
         "| project-keep LocationDetails*", [], columns=["LocationDetails_dynamic", "LocationDetails_string"]),
    Case("union_type_conflict_values", "union (SigninLogs | where SessionId == 's5'), (AADNonInteractiveUserSignInLogs "
         "| where SessionId == 's9') | project SessionId, LocationDetails_dynamic, LocationDetails_string",
         [("s5", {"countryOrRegion": "DE"}, ""), ("s9", None, '{"countryOrRegion":"RU"}')]),
    Case("union_withsource", "union withsource=SourceTable SigninLogs, AADNonInteractiveUserSignInLogs "
         "| summarize count() by SourceTable",
         [("SigninLogs", 5), ("AADNonInteractiveUserSignInLogs", 3)]),
    Case("union_isfuzzy_missing_table", "union isfuzzy=true SigninLogs, NoSuchTable | count", [(5,)]),
    Case("union_pipe_operator", "SigninLogs | union AADNonInteractiveUserSignInLogs | count", [(8,)]),
    Case("union_then_where", "union SigninLogs, AADNonInteractiveUserSignInLogs | where ResultType == '50126' "
         "| count", [(3,)]),
    Case("union_todynamic_branches", "union (SigninLogs | extend Loc = LocationDetails), "
         "(AADNonInteractiveUserSignInLogs | extend Loc = todynamic(LocationDetails)) "
         "| summarize count() by Country = tostring(Loc.countryOrRegion)", [("US", 3), ("RU", 3), ("DE", 1), ("NL", 1)]),
    # --- let / functions ---------------------------------------------------------------------------
    Case("let_scalar", "let threshold = 3; T | where a >= threshold | count", [(3,)]),
    Case("let_timespan", "let lookback = 2h; T | where d > ago(lookback) | count", [(2,)]),
    Case("let_tabular", "let failures = SigninLogs | where ResultType != '0'; failures | count", [(3,)]),
    Case("let_tabular_twice", "let f = SigninLogs | where ResultType == '50126'; f | join kind=inner (f) on "
         "SessionId | count", [(2,)]),
    Case("let_materialize", "let m = materialize(SigninLogs | summarize c = count() by AppDisplayName); "
         "m | where c > 2 | project AppDisplayName", [("Azure Portal",)]),
    Case("let_chain", "let a1 = 2; let a2 = a1 * 2; T | where a == a2 | project a", [(4,)]),
    Case("let_toscalar", "let mx = toscalar(T | summarize max(a)); T | where a == mx | project b", [("Z",)]),
    Case("let_function_scalar", "let double = (x:long) { x * 2 }; T | where a == 2 | project y = double(a)", [(4,)]),
    Case("let_function_default", "let add = (x:long, y:long = 10) { x + y }; print add(1), add(1, 2)", [(11, 3)]),
    Case("let_function_tabular", "let failed = (code:string) { SigninLogs | where ResultType == code }; "
         "failed('50126') | count", [(2,)]),
    Case("let_function_table_name", "let aadFunc = (tableName:string) { table(tableName) | where ResultType == "
         "'50126' | project UserPrincipalName }; union isfuzzy=true aadFunc('SigninLogs'), "
         "aadFunc('AADNonInteractiveUserSignInLogs')",
         [("bob@contoso.com",), ("carol@contoso.com",), ("erin@contoso.com",)]),
    Case("let_function_body_lets", "let f = () { let x = 3; T | where a < x }; f() | count", [(2,)]),
    Case("let_function_tabular_param", "let f = (T1:(*)) { T1 | count }; f(Users)", [(4,)]),
    Case("invoke_function", "let f = (T1:(a:long), n:long) { T1 | where a > n }; T | invoke f(3) | project a",
         [(4,), (5,)]),
    Case("let_function_no_args_name", "let g = () { Users | where Level > 1 }; g | count", [(2,)]),
    Case("table_function_literal", "table('Users') | count", [(4,)]),
    Case("as_operator", "Users | as U | where Level == 1 | count", [(2,)]),
    Case("column_ifexists_present", "Users | project x = column_ifexists('Level', 0) | summarize sum(x)", [(7,)]),
    Case("column_ifexists_missing", "Users | project x = column_ifexists('Nope', 0) | summarize sum(x)", [(0,)]),
]
