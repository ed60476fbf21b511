"""Every scenario is in truth.json, and the written logs show exactly what its label says happened."""

from __future__ import annotations

import re
from collections import defaultdict

import orjson
import pytest

from entrawatch.simulator import ATTACK_IDS, BENIGN_IDS, SCENARIO_IDS, data

SIGNIN_TABLES = ("SigninLogs", "AADNonInteractiveUserSignInLogs", "AADServicePrincipalSignInLogs",
                 "AADManagedIdentitySignInLogs")


def _when(props: dict) -> str:
    return (props.get("createdDateTime") or props["activityDateTime"])[:19]


def _entry(simulated, scenario_id: str) -> dict:
    return next(s for s in simulated.truth["scenarios"] if s["id"] == scenario_id)


def _in_span(simulated, entry: dict, table: str) -> list[dict]:
    lo, hi = entry["start"][:19], entry["end"][:19]
    return [env["properties"] for env in simulated.by_table(table) if lo <= _when(env["properties"]) <= hi]


def _mentions(props: dict, entry: dict) -> bool:
    ents = entry["entities"]
    text = orjson.dumps(props).decode()
    return any(value in text for key in ("accounts", "ips", "service_principals") for value in ents[key])


def test_truth_lists_every_scenario_with_the_contract_fields(simulated) -> None:
    truth = simulated.truth
    assert truth["generator"] == "entrawatch-simulator"
    assert [s["id"] for s in truth["scenarios"]] == list(SCENARIO_IDS)
    assert len(ATTACK_IDS) >= 20 and len(BENIGN_IDS) >= 5
    for s in truth["scenarios"]:
        assert s["label"] == ("benign" if s["id"] in BENIGN_IDS else "attack")
        assert re.fullmatch(r"T\d{4}(\.\d{3})?", s["technique"])
        assert truth["start"] <= s["start"] <= s["end"] <= truth["end"]
        assert set(s["entities"]) == {"accounts", "ips", "apps", "service_principals", "countries"}
        assert s["description"] and s["expected"] and s["streams"]


@pytest.mark.parametrize("scenario_id", SCENARIO_IDS)
def test_scenario_entities_appear_in_each_stream_within_its_span(simulated, scenario_id: str) -> None:
    entry = _entry(simulated, scenario_id)
    for table in entry["streams"]:
        hits = [p for p in _in_span(simulated, entry, table) if _mentions(p, entry)]
        assert hits, f"{scenario_id}: nothing in {table} between {entry['start']} and {entry['end']}"


def _signins(simulated, entry: dict, *tables: str) -> list[dict]:
    tables = tables or SIGNIN_TABLES[:2]
    return [p for t in tables for p in _in_span(simulated, entry, t)]


def test_password_spray_many_accounts_fail_from_one_ip_within_20_minutes(simulated) -> None:
    entry = _entry(simulated, "password_spray")
    (ip,) = entry["entities"]["ips"]
    fails = [p for p in _signins(simulated, entry) if p["ipAddress"] == ip and p["status"]["errorCode"] == 50126]
    windows = defaultdict(set)
    for p in fails:
        minute = int(p["createdDateTime"][11:13]) * 60 + int(p["createdDateTime"][14:16])
        windows[(p["createdDateTime"][:10], minute // 20)].add(p["userPrincipalName"])
    assert max(len(v) for v in windows.values()) >= 5
    assert {p["clientAppUsed"] for p in fails if not p["isInteractive"]} <= {"IMAP4", "Authenticated SMTP"}


def test_distributed_cracking_many_failures_from_many_countries(simulated) -> None:
    entry = _entry(simulated, "distributed_password_cracking")
    (upn,) = entry["entities"]["accounts"]
    fails = [p for p in _signins(simulated, entry) if p["userPrincipalName"] == upn and p["status"]["errorCode"]]
    assert len(fails) > 30
    assert len({p["location"]["countryOrRegion"] for p in fails}) >= 3


def test_portal_brute_force_ends_in_success(simulated) -> None:
    entry = _entry(simulated, "portal_brute_force")
    (upn,), (ip,) = entry["entities"]["accounts"], entry["entities"]["ips"]
    rows = sorted((p for p in _signins(simulated, entry, "SigninLogs")
                   if p["userPrincipalName"] == upn and p["ipAddress"] == ip), key=_when)
    assert all(p["appDisplayName"] == "Azure Portal" for p in rows)
    assert sum(p["status"]["errorCode"] == 50126 for p in rows) >= 10
    assert rows[-1]["status"]["errorCode"] == 0


def test_mfa_fatigue_denials_then_approval(simulated) -> None:
    entry = _entry(simulated, "mfa_fatigue")
    (upn,) = entry["entities"]["accounts"]
    rows = sorted((p for p in _signins(simulated, entry, "SigninLogs") if p["userPrincipalName"] == upn), key=_when)
    denials = [p for p in rows if p["status"]["errorCode"] == 500121]
    assert len(denials) >= 5
    assert all("MFA denied; user declined the authentication" in p["status"]["additionalDetails"] for p in denials)
    assert rows[-1]["status"]["errorCode"] == 0 and _when(rows[-1]) > _when(denials[-1])


def test_disabled_accounts_tried_across_three_apps_from_one_ip(simulated) -> None:
    entry = _entry(simulated, "disabled_account_attempts")
    (ip,) = entry["entities"]["ips"]
    apps = defaultdict(set)
    for p in _signins(simulated, entry):
        if p["ipAddress"] == ip and p["status"]["errorCode"] == 50057:
            apps[p["userPrincipalName"]].add(p["appDisplayName"])
    assert len(apps) >= 3 and all(len(a) >= 3 for a in apps.values())


def test_refresh_token_replay_one_session_two_countries(simulated) -> None:
    entry = _entry(simulated, "refresh_token_replay")
    (upn,) = entry["entities"]["accounts"]
    rows = [p for p in _signins(simulated, entry) if p["userPrincipalName"] == upn]
    by_session = defaultdict(set)
    for p in rows:
        if not p["isInteractive"]:
            by_session[p["sessionId"]].add(p["location"]["countryOrRegion"])
    assert any(len(c) >= 2 for c in by_session.values())
    assert entry["entities"]["countries"][0] not in {p["location"]["countryOrRegion"] for p in rows
                                                     if p["isInteractive"]}


def test_aitm_session_used_from_a_second_ip(simulated) -> None:
    entry = _entry(simulated, "aitm_session_theft")
    proxy, thief = entry["entities"]["ips"]
    rows = _signins(simulated, entry)
    (login,) = [p for p in rows if p["isInteractive"] and p["ipAddress"] == proxy]
    assert any(p["sessionId"] == login["sessionId"] and p["ipAddress"] == thief for p in rows)


def test_legacy_and_powershell_and_ca_signatures(simulated) -> None:
    legacy = _entry(simulated, "legacy_protocol_success")
    assert any(p["clientAppUsed"] in data.LEGACY_CLIENTS + ("POP3",) and p["status"]["errorCode"] == 0
               for p in _signins(simulated, legacy) if p["userPrincipalName"] in legacy["entities"]["accounts"])
    ps = _entry(simulated, "aad_powershell_nonaad_resource")
    assert any(p["appId"] == "1b730954-1685-4b74-9bfd-dac224a7b894" and p["status"]["errorCode"] == 0
               and p["resourceId"] not in ("00000002-0000-0000-c000-000000000000", "00000003-0000-0000-c000-000000000000")
               for p in _signins(simulated, ps))
    ca = _entry(simulated, "ca_bypass_attempts")
    blocked = [p for p in _signins(simulated, ca, "SigninLogs")
               if p["userPrincipalName"] in ca["entities"]["accounts"] and p["status"]["errorCode"] == 53003]
    assert len({p["ipAddress"] for p in blocked}) >= 3
    assert all(p["conditionalAccessStatus"] == "failure" for p in blocked)


def _key_ids(value: str | None) -> set[str]:
    return set(re.findall(r"KeyIdentifier=([0-9a-f-]+)", value or ""))


def _sp_signins(simulated, entry: dict) -> list[dict]:
    """Every sign-in of the scenario's one service principal over the whole run: the workload checks compare
    what it did before and after the scenario, not only inside the scenario's span."""
    (sp_id,) = entry["entities"]["service_principals"]
    return [env["properties"] for env in simulated.by_table("AADServicePrincipalSignInLogs")
            if env["properties"]["servicePrincipalId"] == sp_id]


def _credential_change(simulated, entry: dict) -> tuple[dict, dict]:
    audits = [p for p in _in_span(simulated, entry, "AuditLogs") if "KeyDescription" in orjson.dumps(p).decode()]
    (change,) = audits
    (prop,) = [m for m in change["targetResources"][0]["modifiedProperties"] if m["displayName"] == "KeyDescription"]
    return change, prop


def test_dormant_sp_gets_secret_then_signs_in_with_it(simulated) -> None:
    entry = _entry(simulated, "dormant_sp_new_secret")
    change, prop = _credential_change(simulated, entry)
    assert change["activityDisplayName"] == "Add service principal credentials"
    added = _key_ids(prop["newValue"]) - _key_ids(prop["oldValue"])
    sp_rows = _sp_signins(simulated, entry)
    assert all(_when(p) > _when(change) for p in sp_rows), "a dormant SP must not sign in before the change"
    assert sp_rows and {p["servicePrincipalCredentialKeyId"] for p in sp_rows} <= added


def test_first_credential_has_empty_old_value_and_is_used(simulated) -> None:
    entry = _entry(simulated, "first_credential_then_use")
    change, prop = _credential_change(simulated, entry)
    assert prop["oldValue"] == "[]" and change["activityDisplayName"].startswith("Update application")
    keys = {p["servicePrincipalCredentialKeyId"] for p in _signins(simulated, entry, "AADServicePrincipalSignInLogs")}
    assert keys & _key_ids(prop["newValue"])


def test_credential_after_admin_consent_order(simulated) -> None:
    entry = _entry(simulated, "credential_after_admin_consent")
    (sp_id,) = entry["entities"]["service_principals"]
    audits = sorted((p for p in _in_span(simulated, entry, "AuditLogs") if p["targetResources"][0]["id"] == sp_id),
                    key=_when)
    assert [a["activityDisplayName"] for a in audits] == ["Consent to application", "Add service principal credentials"]
    props = {m["displayName"]: m["newValue"] for m in audits[0]["targetResources"][0]["modifiedProperties"]}
    assert props["ConsentContext.IsAdminConsent"] == '"True"'


def test_rare_consent_offline_access_scopes(simulated) -> None:
    entry = _entry(simulated, "rare_consent_offline_access")
    (consent,) = [p for p in _in_span(simulated, entry, "AuditLogs")
                  if p["activityDisplayName"] == "Consent to application"
                  and p["targetResources"][0]["id"] in entry["entities"]["service_principals"]]
    perms = next(m["newValue"] for m in consent["targetResources"][0]["modifiedProperties"]
                 if m["displayName"] == "ConsentAction.Permissions")
    assert "offline_access" in perms and "Mail.Read" in perms and "ConsentType: Principal" in perms
    app = consent["targetResources"][0]["displayName"]
    earlier = [env for env in simulated.by_table("AuditLogs") if env["properties"]["activityDisplayName"] ==
               "Consent to application" and env["properties"]["targetResources"][0]["displayName"] == app]
    assert len(earlier) == 1, "the consented app must be rare (never consented before)"


def test_federation_change_then_federated_signins(simulated) -> None:
    entry = _entry(simulated, "federation_change_then_signin")
    audits = _in_span(simulated, entry, "AuditLogs")
    (auth,) = [a for a in audits if a["activityDisplayName"] == "Set domain authentication"]
    live = next(m for m in auth["targetResources"][0]["modifiedProperties"] if m["displayName"] == "LiveType")
    assert "Federated" in live["newValue"]
    federated = [p for p in _signins(simulated, entry) if p["tokenIssuerType"] == "ADFederationServices"]
    assert federated and all(_when(p) > _when(auth) for p in federated)


def test_workload_identity_anomalies(simulated) -> None:
    mi = _entry(simulated, "mi_token_non_azure_ip")
    azure = tuple(prefix + "." for _, _, prefix in data.AZURE_REGIONS)
    rows = [p for p in _signins(simulated, mi, "AADManagedIdentitySignInLogs")
            if p["servicePrincipalId"] in mi["entities"]["service_principals"]]
    assert any(not p["ipAddress"].startswith(azure) for p in rows)
    spc = _entry(simulated, "sp_new_country")
    before = {p["location"]["countryOrRegion"] for p in _sp_signins(simulated, spc) if _when(p) < spc["start"][:19]}
    assert before and spc["entities"]["countries"][0] not in before


def test_guest_invite_then_powershell(simulated) -> None:
    entry = _entry(simulated, "guest_invite_then_powershell")
    (invite,) = [a for a in _in_span(simulated, entry, "AuditLogs") if a["activityDisplayName"] ==
                 "Invite external user" and a["targetResources"][0]["userPrincipalName"] in entry["entities"]["accounts"]]
    guest = [p for p in _signins(simulated, entry) if p["userType"] == "Guest"
             and p["appId"] == "1b730954-1685-4b74-9bfd-dac224a7b894"]
    assert guest and all(_when(invite) < _when(p) for p in guest)


def test_seamless_sso_spray_codes(simulated) -> None:
    entry = _entry(simulated, "seamless_sso_spray")
    rows = [p for p in _signins(simulated, entry, "AADNonInteractiveUserSignInLogs")
            if str(p["status"]["errorCode"]).startswith("81")]
    assert len({p["userPrincipalName"] for p in rows}) > 5 and len({p["ipAddress"] for p in rows}) == 1


def test_new_country_and_impossible_travel(simulated) -> None:
    entry = _entry(simulated, "new_country_auth")
    (upn,) = entry["entities"]["accounts"]
    (country,) = entry["entities"]["countries"]
    earlier = {env["properties"]["location"]["countryOrRegion"] for t in SIGNIN_TABLES[:2] for env in
               simulated.by_table(t) if env["properties"]["userPrincipalName"] == upn
               and _when(env["properties"]) < entry["start"][:19]}
    assert earlier and country not in earlier
    travel = _entry(simulated, "impossible_travel")
    rows = [p for p in _signins(simulated, travel) if p["userPrincipalName"] in travel["entities"]["accounts"]]
    assert len({p["location"]["countryOrRegion"] for p in rows}) >= 2


def test_benign_lookalikes_are_clean(simulated) -> None:
    typos = _entry(simulated, "benign_typos")
    rows = sorted(_signins(simulated, typos, "SigninLogs"), key=_when)
    rows = [p for p in rows if p["userPrincipalName"] in typos["entities"]["accounts"]]
    assert 2 <= sum(p["status"]["errorCode"] == 50126 for p in rows) <= 3 and rows[-1]["status"]["errorCode"] == 0
    vpn = _entry(simulated, "benign_shared_vpn")
    (ip,) = vpn["entities"]["ips"]
    through = [p for p in _signins(simulated, vpn) if p["ipAddress"] == ip]
    assert len({p["userPrincipalName"] for p in through}) >= 10
    assert all(p["status"]["errorCode"] == 0 for p in through)
    rollout = _entry(simulated, "benign_app_rollout")
    app_rows = [p for p in _signins(simulated, rollout, "SigninLogs") if p["appId"] in rollout["entities"]["apps"]]
    assert len({p["userPrincipalName"] for p in app_rows}) >= 10
    travel = _entry(simulated, "benign_travel")
    abroad = [p for p in _signins(simulated, travel) if p["userPrincipalName"] in travel["entities"]["accounts"]]
    assert abroad and all(p["status"]["errorCode"] == 0 and p["deviceDetail"]["deviceId"] for p in abroad)


def test_secret_rotation_keeps_signing_in_from_usual_ip_with_new_key(simulated) -> None:
    entry = _entry(simulated, "benign_secret_rotation")
    change, prop = _credential_change(simulated, entry)
    old, new = _key_ids(prop["oldValue"]), _key_ids(prop["newValue"])
    assert old and len(new - old) == 1
    later = [p for p in _sp_signins(simulated, entry)
             if _when(p) > _when(change)[:16] + ":59" and p["createdDateTime"][:19] > entry["end"][:19]]
    assert later and {p["servicePrincipalCredentialKeyId"] for p in later} == new - old
    assert {p["ipAddress"] for p in later} <= set(entry["entities"]["ips"])
