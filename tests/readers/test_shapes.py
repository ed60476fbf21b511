"""Every input shape, from small hand-written fixtures: detection, routing, mapping, quarantine."""

from __future__ import annotations

import gzip
import json
import shutil
import zipfile
from pathlib import Path

import pytest
from reader_oracle import FIXTURES, rows

from entrawatch.errors import ReaderError
from entrawatch.readers import ingest_paths


def _one(warehouse, table: str, record_id: str) -> dict:
    found = rows(warehouse, f'SELECT * FROM "{table}" WHERE "Id" = ?', [record_id])
    assert len(found) == 1, f"{record_id} not in {table}"
    return found[0]


def _reasons(warehouse) -> dict[int | None, str]:
    return {r["LineNumber"]: r["Reason"] for r in rows(warehouse, 'SELECT * FROM "_Quarantine"')}


def test_diagnostic_lines_route_by_category_and_quarantine_the_rest(warehouse):
    report = ingest_paths([FIXTURES / "diag_pt1h.json"], warehouse)
    assert report.files[0].shape == "diagnostic"
    per = report.per_table
    assert per["SigninLogs"].inserted == 1 and per["SigninLogs"].quarantined == 1
    assert per["AADNonInteractiveUserSignInLogs"].inserted == 1
    assert per["AuditLogs"].inserted == 1
    assert per["AADRiskyUsers"].quarantined == 1
    assert all(c.reconciles for c in per.values())
    reasons = _reasons(warehouse)
    # blank line 2 is skipped but still counted: line numbers are the file's own
    assert reasons[5] == "malformed JSON"
    assert reasons[6] == "unsupported category RiskyUsers"
    assert reasons[7].startswith("cannot convert not a time to datetime")
    assert reasons[8] == "record is not a JSON object"
    bad_time = rows(warehouse, 'SELECT "Field", "RawText", "RecordIndex" FROM "_Quarantine" WHERE "LineNumber" = 7')[0]
    assert bad_time["Field"] == "time" and "fx-diag-badtime" in bad_time["RawText"] and bad_time["RecordIndex"] == 5

    row = _one(warehouse, "SigninLogs", "fx-diag-1")
    assert row["ResultType"] == "50126" and row["ResultDescription"] == "Invalid username or password."
    assert row["ResourceIdentity"] == "797f4846-ba00-4fd7-ba43-dac1f8f63013"
    assert row["Location"] == "NL" and json.loads(row["LocationDetails"])["city"] == "Amsterdam"
    assert json.loads(row["RiskEventTypes_V2"]) == ["unfamiliarFeatures"]
    assert row["ProcessingTimeInMilliseconds"] == "42" and row["Level"] == "4"
    assert row["TimeGenerated"].isoformat() == "2025-03-10T08:00:05.123456+00:00"
    assert row["CreatedDateTime"].isoformat() == "2025-03-10T07:59:01.500000+00:00"
    assert row["AADTenantId"] == "11111111-1111-1111-1111-111111111111"
    extra = json.loads(row["_Extra"])
    assert extra["properties"] == {"unknownNewField": {"nested": [1, 2]}}
    assert extra["callerIpAddress"] == "203.0.113.9"

    ni = _one(warehouse, "AADNonInteractiveUserSignInLogs", "fx-diag-2")
    assert ni["ProcessingTimeInMs"] == "7" and ni["DurationMs"] == 0 and ni["AutonomousSystemNumber"] == "64500"
    assert json.loads(ni["DeviceDetail"]) == {"operatingSystem": "Windows10"}  # string column, JSON text
    audit = _one(warehouse, "AuditLogs", "fx-audit-1")
    assert audit["Category"] == "RoleManagement" and audit["AADOperationType"] == "Assign"
    assert audit["OperationName"] == "Add member to role"
    assert json.loads(audit["InitiatedBy"])["user"]["userPrincipalName"] == "admin@contoso.example"


def test_records_envelope_from_event_hub(warehouse):
    report = ingest_paths([FIXTURES / "eventhub_message.json"], warehouse)
    assert report.files[0].shape == "diagnostic"
    sp = _one(warehouse, "AADServicePrincipalSignInLogs", "fx-eh-sp-1")
    assert sp["ServicePrincipalName"] == "build-agent" and sp["ServicePrincipalCredentialKeyId"] == "key-1"
    assert sp["ConditionalAccessPolicies"] == "[]"
    mi = _one(warehouse, "AADManagedIdentitySignInLogs", "fx-eh-mi-1")
    assert json.loads(mi["ManagedServiceIdentity"])["msiType"] == "systemAssigned"


def test_graph_page_routes_by_sign_in_event_type(warehouse):
    report = ingest_paths([FIXTURES / "graph_page.json"], warehouse)
    assert report.files[0].shape == "graph"
    interactive = _one(warehouse, "SigninLogs", "fx-graph-1")
    assert interactive["ResourceIdentity"] == "00000003-0000-0000-c000-000000000000"
    assert json.loads(interactive["ConditionalAccessPolicies"]) == [{"id": "p1", "result": "success"}]
    assert interactive["Location"] == "FR" and interactive["OperationName"] == "Sign-in activity"
    assert interactive["TimeGenerated"] == interactive["CreatedDateTime"]
    assert _one(warehouse, "AADNonInteractiveUserSignInLogs", "fx-graph-2")["ProcessingTimeInMs"] == "12"
    sp = _one(warehouse, "AADServicePrincipalSignInLogs", "fx-graph-3")
    assert sp["ResultType"] == "7000215" and sp["ResultDescription"] == "Invalid client secret"
    _one(warehouse, "AADManagedIdentitySignInLogs", "fx-graph-4")


def test_graph_lines_with_audit_and_aggregated_rows(warehouse):
    report = ingest_paths([FIXTURES / "graph_lines.jsonl"], warehouse)
    assert report.files[0].shape == "graph"
    ni = _one(warehouse, "AADNonInteractiveUserSignInLogs", "fx-gl-1")
    assert ni["ResultType"] == "50074" and ni["_Aggregated"] is False
    audit = _one(warehouse, "AuditLogs", "fx-gl-audit")
    assert audit["ActivityDisplayName"] == "Add service principal credentials"
    assert audit["TimeGenerated"].isoformat() == "2025-03-12T01:02:00+00:00"
    summary = _one(warehouse, "AADNonInteractiveUserSignInLogs", "fx-gl-summary")
    assert summary["_Aggregated"] is True
    assert json.loads(summary["_Extra"])["signInCount"] == 37


def test_log_analytics_json_export_table_from_file_name_and_derived_ids(warehouse):
    report = ingest_paths([FIXTURES / "AADNonInteractiveUserSignInLogs_export.json"], warehouse)
    assert report.files[0].shape == "loganalytics"
    assert report.per_table["AADNonInteractiveUserSignInLogs"].inserted == 2
    first = _one(warehouse, "AADNonInteractiveUserSignInLogs", "fx-la-1")
    assert first["LocationDetails"] == '{"countryOrRegion":"US"}' and first["TenantId"] == "ws-1"
    derived = rows(warehouse, 'SELECT * FROM "AADNonInteractiveUserSignInLogs" WHERE "Id" LIKE \'ew-%\'')
    assert len(derived) == 1 and derived[0]["ResultType"] == "50126"
    assert json.loads(derived[0]["AppliedEventListeners"]) == [{"eventType": "x"}]  # dynamic parsed
    again = ingest_paths([FIXTURES / "AADNonInteractiveUserSignInLogs_export.json"], warehouse)
    assert again.totals.inserted == 0 and again.totals.duplicates == 2  # derived ids are deterministic


def test_log_analytics_portal_csv_export(warehouse):
    report = ingest_paths([FIXTURES / "la_portal_export.csv"], warehouse)
    assert report.files[0].shape == "loganalytics"
    row = _one(warehouse, "SigninLogs", "fx-csv-1")
    assert row["TimeGenerated"].isoformat() == "2023-09-19T13:45:17.287000+00:00"
    assert row["CreatedDateTime"].isoformat() == "2023-09-19T13:42:37+00:00"
    assert row["IsInteractive"] is True and row["DurationMs"] == 0
    assert json.loads(row["LocationDetails"])["city"] == "Seattle" and json.loads(row["Status"]) == {"errorCode": 0}
    second = _one(warehouse, "SigninLogs", "fx-csv-2")
    assert second["TimeGenerated"].isoformat() == "2023-09-19T03:10:00+00:00"
    assert second["LocationDetails"] is None and second["IsInteractive"] is False


def test_portal_csv_download(warehouse):
    report = ingest_paths([FIXTURES / "InteractiveSignIns_2025-03-01_2025-03-02.csv"], warehouse)
    assert report.files[0].shape == "portal"
    row = _one(warehouse, "SigninLogs", "fx-portal-1")
    assert row["_SourceShape"] == "portal"
    assert row["UserPrincipalName"] == "frank@contoso.example" and row["AppId"] == "c44b4083-3bb0-49c1-b47d-974e53cbdf3c"
    assert row["ResultType"] == "50126" and row["Location"] == "US"
    assert row["ResourceIdentity"] == "797f4846-ba00-4fd7-ba43-dac1f8f63013"
    assert json.loads(row["LocationDetails"]) == {"city": "Redmond", "state": "Washington", "countryOrRegion": "US"}
    assert json.loads(row["DeviceDetail"])["browser"] == "Edge 120"
    assert row["TimeGenerated"].isoformat() == "2025-03-01T10:00:00+00:00"
    assert json.loads(row["_Extra"])["Status (portal)"] == "Failure"


def test_portal_json_download(warehouse):
    report = ingest_paths([FIXTURES / "NonInteractiveSignIns_2025-03-01_2025-03-02.json"], warehouse)
    assert report.files[0].shape == "portal"
    assert _one(warehouse, "AADNonInteractiveUserSignInLogs", "fx-portal-json-1")["_SourceShape"] == "portal"


def test_gzip_zip_and_directory_give_the_same_rows(tmp_path: Path, warehouse):
    gz = tmp_path / "PT1H.json.gz"
    gz.write_bytes(gzip.compress((FIXTURES / "diag_pt1h.json").read_bytes(), mtime=0))
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.write(FIXTURES / "graph_page.json", "nested/graph_page.json")
        bundle.writestr("nested/eh.json.gz", gzip.compress((FIXTURES / "eventhub_message.json").read_bytes(), mtime=0))
    report = ingest_paths([gz, archive], warehouse)
    names = [f.path for f in report.files]
    assert names == [str(gz), f"{archive}!nested/eh.json.gz", f"{archive}!nested/graph_page.json"]
    assert _one(warehouse, "SigninLogs", "fx-diag-1")["_SourceFile"] == str(gz)
    assert _one(warehouse, "AADServicePrincipalSignInLogs", "fx-eh-sp-1")["_SourceFile"] == names[1]
    bad = rows(warehouse, 'SELECT "SourceFile" FROM "_Quarantine" WHERE "Reason" = \'malformed JSON\'')
    assert bad == [{"SourceFile": str(gz)}]

    directory = tmp_path / "tree"
    shutil.copytree(FIXTURES, directory / "deep" / "er")
    (directory / "README.md").write_text("# not a log\n")
    again = ingest_paths([directory], warehouse)
    assert len(again.files) == len(list(FIXTURES.iterdir()))  # README.md skipped, recursion works
    assert again.per_table["SigninLogs"].duplicates >= 2  # same records as the gzip/zip: no new rows
    assert all(c.reconciles for c in again.per_table.values())


def test_unreadable_and_bad_arguments(tmp_path: Path, warehouse):
    report = ingest_paths([tmp_path / "missing.json"], warehouse)
    assert report.unreadable and "no such file" in report.files[0].error
    with pytest.raises(ReaderError, match="unknown shape"):
        ingest_paths([FIXTURES], warehouse, shape="csv")
    with pytest.raises(ReaderError, match="unknown table"):
        ingest_paths([FIXTURES], warehouse, table="Signinlogs")


def test_shape_and_table_overrides(warehouse):
    report = ingest_paths([FIXTURES / "graph_lines.jsonl"], warehouse, shape="graph", table="SigninLogs")
    assert report.per_table == {"SigninLogs": report.per_table["SigninLogs"]}
    assert _one(warehouse, "SigninLogs", "fx-gl-1")["_SourceShape"] == "graph"


def _diag(i: int) -> dict:
    return {"time": "2025-03-10T08:00:00Z", "category": "SignInLogs",
            "properties": {"id": f"first-line-{i}", "userPrincipalName": f"u{i}@contoso.com"}}


@pytest.mark.parametrize(("text", "kind", "inserted", "quarantined"), [
    # JSON lines whose first line was cut: that line alone is refused, the records after it are kept
    ('{"time": "2025-03-10T08:00:00Z", "categ\n' + "\n".join(json.dumps(_diag(i)) for i in range(3)) + "\n",
     "lines", 3, 1),
    ("[0\n" + "\n".join(json.dumps(_diag(i)) for i in range(3)) + "\n", "lines", 3, 1),
    # a document spread over lines, one record per line: its records end in commas, so still a document
    ('{"records": [\n' + ",\n".join(json.dumps(_diag(i)) for i in range(3)) + "\n]}\n", "document", 3, 0),
    ("[\n" + ",\n".join(json.dumps(_diag(i)) for i in range(3)) + "\n]\n", "document", 3, 0),
    # one object line after a broken first line is too little evidence: one broken document (its first
    # item is incomplete, so every ijson version refuses it whole)
    ('[{"a":\n' + json.dumps(_diag(0)) + "\n", "document", 0, 1),
])
def test_a_broken_first_line_does_not_swallow_a_json_lines_file(tmp_path: Path, warehouse, text, kind,
                                                                  inserted, quarantined):
    path = tmp_path / "PT1H.json"
    path.write_text(text, encoding="utf-8")
    report = ingest_paths([path], warehouse)
    assert (report.totals.inserted, report.totals.quarantined) == (inserted, quarantined)
    if kind == "lines":
        assert list(_reasons(warehouse).items()) == [(1, "malformed JSON")]
    elif quarantined:
        assert next(iter(_reasons(warehouse).values())).startswith("malformed JSON document")
