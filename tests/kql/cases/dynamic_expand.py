"""Cases: dynamic member access, mv-expand, parse, naming of dotted paths."""

from __future__ import annotations

from kql_harness import Case

CASES = [
    # --- dynamic access ----------------------------------------------------------------------
    Case("dyn_dot_compare_string", "SigninLogs | where LocationDetails.countryOrRegion == 'RU' | count", [(2,)]),
    Case("dyn_dot_ne_string", "SigninLogs | where LocationDetails.countryOrRegion != 'RU' | count", [(3,)]),
    Case("dyn_bracket_key", "SigninLogs | where LocationDetails['city'] == 'Moscow' | count", [(2,)]),
    Case("dyn_array_index", "SigninLogs | extend First = tostring(ConditionalAccessPolicies[0].result) "
         "| where isnotempty(First) | project SessionId, First", [("s1", "success"), ("s3", "failure")]),
    Case("dyn_nested_path_extend_name", "SigninLogs | where SessionId == 's1' | extend LocationDetails.city "
         "| project LocationDetails_city", [("Seattle",)]),
    Case("dyn_project_path_name", "SigninLogs | where SessionId == 's1' | project LocationDetails.countryOrRegion",
         [("US",)], columns=["LocationDetails_countryOrRegion"]),
    Case("dyn_number_compare", "SigninLogs | where Status.errorCode == 50126 | count", [(2,)]),
    Case("dyn_number_gt", "SigninLogs | where Status.errorCode > 0 | count", [(3,)]),
    Case("dyn_missing_member_is_null", "SigninLogs | where SessionId == 's5' | extend c = LocationDetails.city "
         "| project isnull(c)", [(True,)]),
    Case("dyn_parse_json_string_column", "AADNonInteractiveUserSignInLogs | extend c = "
         "tostring(parse_json(LocationDetails).countryOrRegion) | summarize count() by c", [("US", 1), ("NL", 1), ("RU", 1)]),
    Case("dyn_todynamic_index", "AADNonInteractiveUserSignInLogs | where todynamic(LocationDetails)['city'] == "
         "'Amsterdam' | project IPAddress", [("192.0.2.50",)]),
    Case("dyn_column_from_T", "T | where f.k == 'v2' | project a", [(2,)]),
    Case("dyn_array_in_bag", "T | where f.arr[0] == 1 | project a", [(1,)]),
    Case("dyn_literal_member", "print x = dynamic({'a': {'b': 7}}).a.b", [(7,)]),
    Case("dyn_tostring_object", "print s = tostring(dynamic({'a': 1}).a)", [("1",)]),
    Case("dyn_key_with_space", "print x = tostring(dynamic({'a b': 'v'})['a b'])", [("v",)]),
    # --- mv-expand -----------------------------------------------------------------------------
    Case("mv_expand_array", "T | mv-expand f.arr | project a, arr = f_arr", [(1, 1), (1, 2), (3, "a"), (4, None),
                                                                             (5, 3)]),
    Case("mv_expand_column_typeof", "SigninLogs | mv-expand ConditionalAccessPolicies | extend r = "
         "tostring(ConditionalAccessPolicies.result) | project SessionId, r",
         [("s1", "success"), ("s3", "failure"), ("s3", "notApplied")]),
    Case("mv_expand_named_to_typeof", "T | mv-expand x = f.arr to typeof(long) | where isnotnull(x) | project a, x",
         [(1, 1), (1, 2), (5, 3)]),
    Case("mv_expand_to_typeof_string", "print d = dynamic(['a', 'b']) | mv-expand d to typeof(string) | project d",
         [("a",), ("b",)]),
    Case("mv_expand_itemindex", "print d = dynamic([10, 20, 30]) | mv-expand with_itemindex=i d | project i, d",
         [(0, 10), (1, 20), (2, 30)]),
    Case("mv_expand_parallel", "print a = dynamic([1, 2, 3]), b = dynamic(['x']) | mv-expand a, b",
         [(1, "x"), (2, None), (3, None)]),
    Case("mv_expand_limit", "print d = dynamic([1, 2, 3]) | mv-expand d limit 2 | project d", [(1,), (2,)]),
    Case("mv_expand_empty_array_drops_row", "print d = dynamic([]) | mv-expand d | count", [(0,)]),
    Case("mv_expand_null_keeps_row", "print d = dynamic(null), k = 1 | mv-expand d | project k", [(1,)]),
    Case("mv_expand_scalar_value", "print d = dynamic(5) | mv-expand d | project d", [(5,)]),
    Case("mv_expand_split", "print s = 'a,b,c' | mv-expand p = split(s, ',') to typeof(string) | project p",
         [("a",), ("b",), ("c",)]),
    Case("mvexpand_legacy", "print d = dynamic([1, 2]) | mvexpand d | count", [(2,)]),
    # --- parse ----------------------------------------------------------------------------------
    Case("parse_simple", "print s = 'user=alice id=42 rest' | parse s with 'user=' User ' id=' Id:long ' ' * "
         "| project User, Id", [("alice", 42)]),
    Case("parse_leading_star", "print s = 'xx key=v1;' | parse s with * 'key=' V ';' | project V", [("v1",)]),
    Case("parse_no_match", "print s = 'nothing here' | parse s with 'user=' User ' id=' Id:long | project User, Id",
         [("", None)]),
    Case("parse_regex", "print s = 'ip 10.1.2.3 port 443' | parse kind=regex s with 'ip ' Ip:string ' port ' "
         "Port:long | project Ip, Port", [("10.1.2.3", 443)]),
    Case("parse_special_chars", "print s = 'a.b(c)' | parse s with 'a.b(' X ')' | project X", [("c",)]),
]

CASES += [
    # --- mv-apply --------------------------------------------------------------------------------
    Case("mv_apply_summarize", "T | where a in (1, 5) | mv-apply x = f.arr to typeof(long) on (summarize total = sum(x)) "
         "| project a, total", [(1, 3), (5, 3)]),
    Case("mv_apply_where", "SigninLogs | mv-apply p = ConditionalAccessPolicies on (where tostring(p.result) == "
         "'failure') | project SessionId, r = tostring(p.displayName)", [("s3", "MFA")]),
    Case("mv_apply_top", "print k = 1, l = dynamic([5, 9, 2]) | mv-apply e = l to typeof(long) on (top 1 by e) "
         "| project k, e", [(1, 9)]),
    Case("mv_apply_take_with_sort", "print l = dynamic([5, 9, 2]) | mv-apply e = l to typeof(long) on "
         "(sort by e asc | take 2) | summarize s = sum(e)", [(7,)]),
    Case("mv_apply_extend", "print l = dynamic([1, 2]) | mv-apply e = l to typeof(long) on (extend d = e * 10) "
         "| project d", [(10,), (20,)]),
    # --- getschema -----------------------------------------------------------------------------------
    Case("getschema_columns", "Users | getschema | project ColumnName, ColumnType",
         [("UserPrincipalName", "string"), ("Department", "string"), ("Level", "long")]),
]
