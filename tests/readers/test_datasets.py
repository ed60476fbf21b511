"""Every third-party sample ingests into the right table; invalid ones quarantine; counts reconcile."""

from __future__ import annotations

from collections import Counter

import pytest
from reader_oracle import Ingested, expected_for, find_datasets, load_records, readme_counts, rows

from entrawatch import schema

DATASETS = find_datasets()
README = readme_counts(DATASETS)


def _report_for(ingested: Ingested, rel: str):
    matches = [f for f in ingested.report.files if f.path.endswith(rel)]
    assert len(matches) == 1, f"{rel} was not ingested exactly once"
    return matches[0]


def test_readme_lists_every_dataset_file():
    on_disk = {str(p.relative_to(DATASETS)) for p in DATASETS.rglob("*") if p.is_file() and p.name != "README.md"}
    assert set(README) == on_disk


@pytest.mark.parametrize("rel", sorted(README))
def test_dataset_file_lands_in_the_expected_tables(ingested_datasets: Ingested, rel: str):
    records_in_readme, unparseable = README[rel]
    file_report = _report_for(ingested_datasets, rel)
    assert file_report.error is None
    records = load_records(DATASETS / rel)
    if unparseable:
        # A broken JSON document: nothing stored, one quarantined record that says why.
        assert records is None and records_in_readme == 0
        assert sum(c.read for c in file_report.per_table.values()) == 1
        assert sum(c.quarantined for c in file_report.per_table.values()) == 1
        reasons = rows(ingested_datasets.warehouse,
                       'SELECT "Reason", "RawText" FROM "_Quarantine" WHERE "SourceFile" = ?',
                       [file_report.path])
        assert len(reasons) == 1 and reasons[0]["Reason"].startswith("malformed JSON document")
        assert "line" in reasons[0]["Reason"] and reasons[0]["RawText"]
        return
    assert records is not None and len(records) == records_in_readme
    expected = expected_for(rel, records)
    got = file_report.per_table
    assert {t: c.read for t, c in got.items()} == dict(expected.read)
    for table, counts in got.items():
        assert counts.reconciles, (table, counts)
        assert counts.inserted + counts.duplicates == expected.keyed[table], table
        assert counts.quarantined == expected.quarantined[table], table
        # Duplicates inside the file are exactly the repeated ids (the rest were seen in other files).
        assert counts.duplicates >= len(expected.ids.get(table, [])) - len(set(expected.ids.get(table, [])))


def test_every_valid_record_is_stored_under_its_id(ingested_datasets: Ingested):
    stored: dict[str, set[str]] = {}
    for table in (*schema.SIGNIN_TABLES, schema.AUDIT_TABLE):
        stored[table] = {r["Id"] for r in rows(ingested_datasets.warehouse, f'SELECT "Id" FROM "{table}"')}
    expected_ids: dict[str, set[str]] = {}
    for rel, (_, unparseable) in README.items():
        if unparseable:
            continue
        for table, ids in expected_for(rel, load_records(DATASETS / rel)).ids.items():
            expected_ids.setdefault(table, set()).update(ids)
    for table, ids in expected_ids.items():
        if table.startswith("SigninLogs") or table in stored:
            missing = {i for i in ids if i not in stored[table]}
            # LA rows without an Id get a derived one; all the samples carry their own.
            assert not missing, (table, sorted(missing)[:3])


def test_quarantine_reasons_name_the_problem(ingested_datasets: Ingested):
    reasons = Counter(r["Reason"] for r in rows(ingested_datasets.warehouse, 'SELECT "Reason" FROM "_Quarantine"'))
    assert reasons["unsupported category MicrosoftGraphActivityLogs"] == 25 + 6
    assert reasons["unsupported category RiskyUsers"] == 1 + 2
    assert reasons["unsupported category UserRiskEvents"] == 1 + 2
    assert reasons["unsupported category ADFSSignInLogs"] == 1
    assert reasons["missing id"] == 11  # the time-format corner cases carry only time and category
    located = rows(ingested_datasets.warehouse,
                   'SELECT "LineNumber", "Field" FROM "_Quarantine" WHERE "Reason" = \'missing id\' ORDER BY 1')
    assert [r["LineNumber"] for r in located] == list(range(1, 12))
    assert {r["Field"] for r in located} == {"properties.id"}


def test_reingest_inserts_nothing_and_reconciles(ingested_datasets: Ingested):
    first, again = ingested_datasets.report, ingested_datasets.again
    assert first.totals.reconciles and again.totals.reconciles
    assert again.totals.inserted == 0
    assert again.totals.read == first.totals.read
    assert again.totals.duplicates == first.totals.inserted + first.totals.duplicates
    assert again.totals.quarantined == first.totals.quarantined
    quarantine_rows = rows(ingested_datasets.warehouse, 'SELECT count(*) AS n FROM "_Quarantine"')[0]["n"]
    assert quarantine_rows == first.totals.quarantined  # RecordHash makes quarantine idempotent too


def test_graph_signin_fields_map_to_log_analytics_columns(ingested_datasets: Ingested):
    row = rows(ingested_datasets.warehouse,
               'SELECT * FROM "SigninLogs" WHERE "Id" = \'b01b1726-0147-425e-a7f7-21f252050400\'')[0]
    assert row["_SourceShape"] == "graph"
    # the example has "status": {} -- no error code, so no ResultType; Location comes from location
    assert row["ResultType"] is None and row["Status"] == "{}" and row["Location"] == "US"
    assert row["UserPrincipalName"] == "jdoe@contoso.com" and row["ResourceIdentity"] is not None
    assert row["AppDisplayName"] == "Azure Portal" and row["IPAddress"] == "131.107.159.37"
    assert row["CreatedDateTime"].isoformat() == "2018-11-06T18:48:33.852714+00:00"
    assert row["TimeGenerated"] == row["CreatedDateTime"]
    assert row["Category"] == "SignInLogs" and row["Type"] == "SigninLogs"


def test_diagnostic_fields_map_to_log_analytics_columns(ingested_datasets: Ingested):
    import json

    row = rows(ingested_datasets.warehouse,
               'SELECT * FROM "SigninLogs" WHERE "Id" = \'94cb51df-08a4-4a74-b42b-1210a7a12a00\'')[0]
    assert row["ResourceIdentity"] == "797f4846-ba00-4fd7-ba43-dac1f8f63013"
    assert row["ResourceId"] == "/tenants/4d3bac44-0230-4732-9e70-cc00736f0a97/providers/Microsoft.aadiam"
    assert row["TimeGenerated"].isoformat() == "2025-04-11T16:17:00.739774+00:00"
    assert row["Location"] == "US" and json.loads(row["LocationDetails"])["city"] == "Westfield"
    assert json.loads(row["ConditionalAccessPolicies"])[1]["result"] == "reportOnlyNotApplied"
    assert row["Level"] == "4" and row["ResultType"] == "0" and row["IsInteractive"] is True
    assert row["ProcessingTimeInMilliseconds"] == "58"
    ni = rows(ingested_datasets.warehouse, 'SELECT "LocationDetails", "ProcessingTimeInMs", "Status" '
                                           'FROM "AADNonInteractiveUserSignInLogs" LIMIT 1')[0]
    # String-typed JSON columns in the non-interactive table hold JSON text, as Log Analytics does.
    assert isinstance(json.loads(ni["LocationDetails"]), dict) and isinstance(json.loads(ni["Status"]), dict)
    assert ni["ProcessingTimeInMs"] is not None


def test_log_analytics_rows_keep_their_types(ingested_datasets: Ingested):
    import json

    audit = rows(ingested_datasets.warehouse,
                 'SELECT * FROM "AuditLogs" WHERE "Id" = \'Directory_10065ffb-8199-48bc-8ff5-912cb5b8295a_AUMVX_13992832\'')[0]
    assert audit["_SourceShape"] == "loganalytics"
    # dynamic columns arrive as JSON text in the export and are stored as JSON values
    assert json.loads(audit["TargetResources"])[0]["displayName"] == "SimuLandApp"
    assert json.loads(audit["_Extra"])["targetDisplayName"] == "SimuLandApp"
