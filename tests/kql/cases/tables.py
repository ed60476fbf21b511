"""Shared case tables, loaded once into DuckDB and Spark for the whole KQL suite.

Small on purpose: every row exists for a behaviour some case checks (nulls, empty strings,
case differences, ties broken by a second key, a dynamic column and its string twin).
"""

from __future__ import annotations

T = {
    "columns": {"a": "long", "b": "string", "c": "real", "d": "datetime", "e": "bool", "f": "dynamic",
                "g": "int", "s": "timespan"},
    "rows": [
        (1, "x", 1.5, "2025-03-10T10:00:00Z", True, {"k": "v1", "n": 1, "arr": [1, 2]}, 10, 3_600_000_000),
        (2, "y", 2.5, "2025-03-10T11:30:00Z", False, {"k": "v2", "n": 2, "arr": []}, 20, 60_000_000),
        (3, "x", None, "2025-03-09T08:00:00Z", True, {"k": "v3", "arr": ["a"]}, None, None),
        (4, "", 4.0, None, None, None, 40, 0),
        (5, "Z", -1.0, "2025-03-10T11:59:00Z", False, {"k": None, "n": 5, "arr": [3]}, 50, 86_400_000_000),
    ],
}

SIGNIN_COLUMNS = {
    "TimeGenerated": "datetime", "UserPrincipalName": "string", "IPAddress": "string", "ResultType": "string",
    "AppDisplayName": "string", "SessionId": "string", "LocationDetails": "dynamic",
    "ConditionalAccessPolicies": "dynamic", "Status": "dynamic", "DurationMs": "long",
}

SigninLogs = {
    "columns": SIGNIN_COLUMNS,
    "rows": [
        ("2025-03-10T09:00:00Z", "alice@contoso.com", "10.0.0.1", "0", "Office 365", "s1",
         {"countryOrRegion": "US", "city": "Seattle"}, [{"displayName": "MFA", "result": "success"}],
         {"errorCode": 0}, 120),
        ("2025-03-10T09:10:00Z", "bob@contoso.com", "203.0.113.9", "50126", "Azure Portal", "s2",
         {"countryOrRegion": "RU", "city": "Moscow"}, [], {"errorCode": 50126}, 80),
        ("2025-03-10T09:20:00Z", "carol@contoso.com", "203.0.113.9", "50126", "Azure Portal", "s3",
         {"countryOrRegion": "RU", "city": "Moscow"},
         [{"displayName": "MFA", "result": "failure"}, {"displayName": "Block", "result": "notApplied"}],
         {"errorCode": 50126}, 95),
        ("2025-03-10T10:05:00Z", "Alice@Contoso.com", "10.0.0.2", "0", "Office 365", "s4",
         {"countryOrRegion": "US", "city": "Redmond"}, [], {"errorCode": 0}, 60),
        ("2025-03-10T11:00:00Z", "dave@contoso.com", "198.51.100.7", "50074", "Azure Portal", "s5",
         {"countryOrRegion": "DE"}, [], {"errorCode": 50074}, None),
    ],
}

AADNonInteractiveUserSignInLogs = {
    "columns": {**SIGNIN_COLUMNS, "LocationDetails": "string", "ConditionalAccessPolicies": "string",
                "Status": "string"},
    "rows": [
        ("2025-03-10T09:05:00Z", "alice@contoso.com", "10.0.0.1", "0", "Office 365", "s1",
         '{"countryOrRegion":"US","city":"Seattle"}', "[]", '{"errorCode":0}', 10),
        ("2025-03-10T09:15:00Z", "alice@contoso.com", "192.0.2.50", "0", "Office 365", "s1",
         '{"countryOrRegion":"NL","city":"Amsterdam"}', "[]", '{"errorCode":0}', 12),
        ("2025-03-10T09:25:00Z", "erin@contoso.com", "203.0.113.9", "50126", "Exchange", "s9",
         '{"countryOrRegion":"RU"}', "[]", '{"errorCode":50126}', 7),
    ],
}

Users = {
    "columns": {"UserPrincipalName": "string", "Department": "string", "Level": "long"},
    "rows": [
        ("alice@contoso.com", "Finance", 3),
        ("bob@contoso.com", "IT", 2),
        ("carol@contoso.com", "IT", 1),
        ("frank@contoso.com", "HR", 1),
    ],
}

Empty = {"columns": {"a": "long", "b": "string"}, "rows": []}

SHARED = {
    "T": T,
    "SigninLogs": SigninLogs,
    "AADNonInteractiveUserSignInLogs": AADNonInteractiveUserSignInLogs,
    "Users": Users,
    "Empty": Empty,
}
