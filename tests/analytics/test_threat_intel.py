"""STIX 2.1 pattern parsing and threat-intelligence import into ThreatIntelligenceIndicator."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from entrawatch.analytics.stix_pattern import Comparison, StixPatternError, parse_pattern
from entrawatch.ti import TI_TABLE, import_indicators

TI_DIR = Path(__file__).parent / "fixtures" / "ti"


@pytest.mark.parametrize(("pattern", "expected"), [
    ("[ipv4-addr:value = '1.2.3.4']", [Comparison("ipv4-addr", "value", "=", "1.2.3.4")]),
    ("[email-addr:value = 'o\\'brien@x.example']", [Comparison("email-addr", "value", "=", "o'brien@x.example")]),
    ("[domain-name:value IN ('a.example', 'b.example')]",
     [Comparison("domain-name", "value", "IN", ("a.example", "b.example"))]),
    ("[url:value = 'http://x/'] OR ([ipv6-addr:value = '2001:db8::1'] AND [x:y != 3]) WITHIN 60 SECONDS",
     [Comparison("url", "value", "=", "http://x/"), Comparison("ipv6-addr", "value", "=", "2001:db8::1"),
      Comparison("x", "y", "!=", 3)]),
    ("[file:hashes.'SHA-256' = 'ab' AND file:name NOT LIKE 'x%']",
     [Comparison("file", "hashes.SHA-256", "=", "ab"), Comparison("file", "name", "LIKE", "x%", negated=True)]),
    ("[network-traffic:dst_ref.value = '9.9.9.9'] START t'2025-01-01T00:00:00Z' STOP t'2025-02-01T00:00:00Z'",
     [Comparison("network-traffic", "dst_ref.value", "=", "9.9.9.9")]),
    ("[x:extensions[0].v = true]", [Comparison("x", "extensions[0].v", "=", True)]),
])
def test_patterns(pattern, expected):
    assert parse_pattern(pattern) == expected


@pytest.mark.parametrize("pattern", ["[ipv4-addr:value = '1.2.3.4'", "ipv4-addr:value = '1'", "[a:b = ]",
                                     "[a:b = 'x'] [c:d = 'y']", "[a:b ~ 'x']", "[a:b = 'unterminated]"])
def test_bad_patterns(pattern):
    with pytest.raises(StixPatternError):
        parse_pattern(pattern)


def _rows(wh):
    return wh.query(f'SELECT * FROM "{TI_TABLE}" ORDER BY "IndicatorId"').to_pylist()


def test_stix_bundle_import(warehouse):
    report = import_indicators(TI_DIR / "bundle.json", warehouse)
    assert report.read == 5 and report.inserted == 5 and len(report.skipped) == 2
    rows = {r["IndicatorId"]: r for r in _rows(warehouse)}
    spray = rows["indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"]
    assert spray["NetworkIP"] == "203.0.113.9" and spray["ConfidenceScore"] == 85 and spray["Active"] is True
    assert spray["SourceSystem"] == "Example Feed" and spray["Tags"] == "spray,entra"
    assert spray["ExpirationDateTime"] == datetime(2026, 2, 1, 10, tzinfo=UTC)
    assert spray["TimeGenerated"] == datetime(2025, 2, 2, 10, tzinfo=UTC)
    assert spray["ThreatType"] == "malicious-activity" and spray["Description"] == "IP seen spraying passwords"
    multi = [r for key, r in rows.items() if key.startswith("indicator--a932fcc6")]
    assert sorted((r["EmailSenderAddress"] or "", r["DomainName"] or "", r["Url"] or "") for r in multi) == [
        ("", "", "https://login-microsoftonline.example/common/oauth2"),
        ("", "login-microsoftonline.example", ""),
        ("o'brien@evil.example", "", "")]
    assert all(r["Active"] is False for r in multi)
    file_hash = rows["indicator--11111111-e032-476c-826f-cb970a5a1ade"]
    assert (file_hash["FileHashType"], file_hash["FileHashValue"][:6]) == ("SHA-256", "aec070")


def test_import_is_idempotent(warehouse):
    import_indicators(TI_DIR / "bundle.json", warehouse)
    again = import_indicators(TI_DIR / "bundle.json", warehouse)
    assert (again.inserted, again.duplicates) == (0, 5) and len(_rows(warehouse)) == 5


def test_csv_with_sentinel_columns(warehouse):
    report = import_indicators(TI_DIR / "indicators.csv", warehouse)
    assert (report.read, report.inserted, len(report.skipped)) == (2, 1, 1)
    (row,) = _rows(warehouse)
    assert row["NetworkIP"] == "198.51.100.77" and row["ThreatType"] == "Botnet" and row["ConfidenceScore"] == 70
    assert row["Description"] == "Known botnet node, seen 2025" and row["Active"] is True
    assert row["ExpirationDateTime"] == datetime(2026, 1, 1, tzinfo=UTC)
    assert import_indicators(TI_DIR / "indicators.csv", warehouse).inserted == 0


def test_csv_with_type_and_value(warehouse):
    import_indicators(TI_DIR / "typed.csv", warehouse)
    got = sorted((r["NetworkIP"] or r["DomainName"] or r["Url"] or r["EmailSenderAddress"], r["ThreatType"])
                 for r in _rows(warehouse))
    assert got == [("192.0.2.44", "C2"), ("attacker@bad.example", "Phishing"), ("bad.example", "Phishing"),
                   ("https://bad.example/x", "Phishing")]


def test_feed_style_csv_gets_aliases_and_a_default_expiry(warehouse):
    report = import_indicators(TI_DIR / "feed.csv", warehouse)
    assert (report.read, report.inserted, report.skipped) == (2, 2, [])
    rows = {r["NetworkIP"] or r["EmailSenderAddress"]: r for r in _rows(warehouse)}
    ip = rows["203.0.113.4"]
    assert (ip["ConfidenceScore"], ip["ThreatType"], ip["SourceSystem"]) == (80, "password-spray", "example-feed")
    assert ip["TimeGenerated"] == datetime(2025, 3, 6, tzinfo=UTC)
    assert ip["ExpirationDateTime"] == datetime(2025, 6, 4, tzinfo=UTC)  # 90 days after TimeGenerated
    assert rows["spray@bad.example"]["TimeGenerated"] == datetime(2025, 2, 1, tzinfo=UTC)
