"""Derive every source shape from the one canonical event (reference/entra-logs.md 2.5, 3.2, 3.5).

* diagnostic: the Azure Monitor envelope around ``properties`` (what a storage account or Event Hub receives);
* graph: the Microsoft Graph beta ``signIn`` / ``directoryAudit`` object (``signInEventTypes``, lower-case
  ``userType``, CA condition flags as names, ``Z`` timestamps);
* loganalytics: a Log Analytics row with the exact column names and types of ``entrawatch.schema``;
* portal: a row of the Entra admin center CSV download (lossy by nature, like the real thing).

Conversions read the event and build new containers; they never mutate the shared event.
"""

from __future__ import annotations

from functools import cache

import orjson

from entrawatch import schema
from entrawatch.simulator import data
from entrawatch.simulator.events import (
    AUDIT,
    MANAGED_IDENTITY,
    NONINTERACTIVE,
    SERVICE_PRINCIPAL,
    SIGNIN,
    Event,
)
from entrawatch.simulator.util import iso

CATEGORY = {SIGNIN: "SignInLogs", NONINTERACTIVE: "NonInteractiveUserSignInLogs",
            SERVICE_PRINCIPAL: "ServicePrincipalSignInLogs", MANAGED_IDENTITY: "ManagedIdentitySignInLogs",
            AUDIT: "AuditLogs"}
EVENT_TYPE = {SIGNIN: "interactiveUser", NONINTERACTIVE: "nonInteractiveUser",
              SERVICE_PRINCIPAL: "servicePrincipal", MANAGED_IDENTITY: "managedIdentity"}


def _identity(event: Event) -> str | None:
    p = event.props
    if event.table in (SIGNIN, NONINTERACTIVE):
        return p["userDisplayName"]
    if event.table == AUDIT:
        by = p["initiatedBy"]
        if "user" in by:
            return by["user"]["userPrincipalName"]
        return by["app"]["displayName"]
    return None


def _audit_ip(props: dict) -> str | None:
    user = props["initiatedBy"].get("user")
    return user.get("ipAddress") if user else None


# --- diagnostic settings ----------------------------------------------------------------------------------

def diagnostic(event: Event, tenant_id: str) -> dict:
    p = event.props
    env: dict = {"time": iso(event.generated), "resourceId": f"/tenants/{tenant_id}/providers/Microsoft.aadiam"}
    if event.table == AUDIT:
        env.update(operationName=p["activityDisplayName"], operationVersion="1.0", category="AuditLogs",
                   tenantId=tenant_id, resultSignature="None", resultDescription="", durationMs=0,
                   callerIpAddress=_audit_ip(p) or "", correlationId=p["correlationId"], identity=_identity(event),
                   Level=4, properties=p)
        return env
    table = event.table
    code = p["status"]["errorCode"]
    if table in (SIGNIN, NONINTERACTIVE):
        env = {"time": env["time"], "resourceId": env["resourceId"], "operationName": "Sign-in activity",
               "operationVersion": "1.0", "category": CATEGORY[table], "tenantId": tenant_id,
               "resultType": str(code), "resultSignature": "FAILURE" if code else "SUCCESS"}
        if code:
            env["resultDescription"] = p["status"].get("failureReason", "")
        env["durationMs"] = 0
        env["callerIpAddress"] = p["ipAddress"]
        env["correlationId"] = p["correlationId"]
        env["identity"] = p["userDisplayName"]
        env["Level"] = 4
        env["location"] = p["location"]["countryOrRegion"]
        env["properties"] = p
        return env
    env.update(operationName="Sign-in activity", operationVersion="1.0", category=CATEGORY[table],
               tenantId=tenant_id, resultType=str(code), resultSignature="FAILURE" if code else "SUCCESS")
    if code:
        env["resultDescription"] = p["status"].get("failureReason", "")
    env["durationMs"] = 0
    if table != MANAGED_IDENTITY:
        env["callerIpAddress"] = p["ipAddress"]
    env["correlationId"] = p["correlationId"]
    env["Level"] = 4
    if table != MANAGED_IDENTITY:
        env["location"] = p["location"]["countryOrRegion"]
    env["properties"] = p
    return env


# --- Microsoft Graph --------------------------------------------------------------------------------------

_CONDITION_NAMES = {0: "none", 1: "application", 2: "users", 3: "application,users"}


def graph(event: Event) -> dict:
    p = event.props
    if event.table == AUDIT:
        obj = dict(p)
        obj["activityDateTime"] = iso(event.created)
        return obj
    obj = dict(p)
    obj["createdDateTime"] = iso(event.created)
    obj["signInEventTypes"] = [EVENT_TYPE[event.table]]
    if "userType" in obj:
        obj["userType"] = obj["userType"].lower()
    policies = p.get("appliedConditionalAccessPolicies")
    if policies:
        obj["appliedConditionalAccessPolicies"] = [
            dict(pol, conditionsSatisfied=_CONDITION_NAMES.get(pol["conditionsSatisfied"], "none"),
                 conditionsNotSatisfied=_CONDITION_NAMES.get(pol["conditionsNotSatisfied"], "none"))
            for pol in policies]
    if "authenticationDetails" in obj and obj["authenticationDetails"]:
        obj["authenticationDetails"] = [{k: v for k, v in step.items() if k not in ("StatusSequence",
                                                                                     "RequestSequence")}
                                        for step in obj["authenticationDetails"]]
    return obj


# --- Log Analytics ----------------------------------------------------------------------------------------

_SIGNIN_RENAMES = {
    "IPAddress": "ipAddress", "ResourceIdentity": "resourceId", "LocationDetails": "location",
    "ConditionalAccessPolicies": "appliedConditionalAccessPolicies", "RiskEventTypes_V2": "riskEventTypes_v2",
    "ProcessingTimeInMs": "processingTimeInMilliseconds", "ProcessingTimeInMilliseconds": "processingTimeInMilliseconds",
}
_AUDIT_RENAMES = {"AADOperationType": "operationType"}
_SKIP = {n for n, _ in schema.PROVENANCE_COLUMNS} | {"_BilledSize", "_IsBillable"}


@cache
def _la_columns(table: str) -> tuple[tuple[str, str, str], ...]:
    """(column, kql type, source key) for the columns the canonical event can fill directly."""
    renames = _AUDIT_RENAMES if table == AUDIT else _SIGNIN_RENAMES
    cols = []
    for col in schema.table(table).columns:
        if col.name in _SKIP:
            continue
        key = renames.get(col.name, col.name[0].lower() + col.name[1:])
        cols.append((col.name, col.kql_type, key))
    return tuple(cols)


def _la_value(value: object, kql_type: str) -> object:
    if value is None:
        return None
    if kql_type == "string":
        if isinstance(value, dict | list):
            return orjson.dumps(value).decode()
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value) if not isinstance(value, str) else value
    return value


def log_analytics(event: Event, tenant_id: str, workspace_id: str) -> dict:
    p = event.props
    table = event.table
    row: dict = {}
    for col, kql_type, key in _la_columns(table):
        if key in p:
            value = _la_value(p[key], kql_type)
            if value is not None:
                row[col] = value
    row.update(TenantId=workspace_id, AADTenantId=tenant_id, SourceSystem="Azure AD", OperationVersion="1.0",
               TimeGenerated=iso(event.generated), Type=table, Level="4", DurationMs=0,
               ResourceId=f"/tenants/{tenant_id}/providers/Microsoft.aadiam", ResourceGroup="Microsoft.aadiam")
    if table == AUDIT:
        row.update(OperationName=p["activityDisplayName"], Category=p["category"], ResultSignature="None",
                   ActivityDateTime=iso(event.created), Identity=_identity(event) or "", Resource="Microsoft.aadiam",
                   ResourceProvider="Microsoft.aadiam", ResultType="", ResultDescription="")
        return _keep(row, table)
    code = p["status"]["errorCode"]
    row.update(OperationName="Sign-in activity", Category=CATEGORY[table], ResultType=str(code),
               ResultSignature="FAILURE" if code else "SUCCESS", ResultDescription=p["status"].get("failureReason", ""),
               Location=p["location"]["countryOrRegion"], CreatedDateTime=iso(event.created))
    identity = _identity(event)
    row["Identity"] = identity if identity is not None else p.get("servicePrincipalName", "")
    if table in (SIGNIN, NONINTERACTIVE):
        row["IsRisky"] = p["riskLevelDuringSignIn"] not in ("none", "low", "hidden")
        if table == NONINTERACTIVE:
            row["SignInEventTypes"] = orjson.dumps([EVENT_TYPE[table]]).decode()
        else:
            row.update(RiskLevel=p["riskLevelDuringSignIn"], Resource="Microsoft.aadiam",
                       ResourceProvider="Microsoft.aadiam", AppliedConditionalAccessPolicies="")
    return _keep(row, table)


@cache
def _column_names(table: str) -> frozenset[str]:
    return frozenset(schema.table(table).column_names)


def _keep(row: dict, table: str) -> dict:
    names = _column_names(table)
    return {k: v for k, v in row.items() if k in names}


# --- portal CSV -------------------------------------------------------------------------------------------

USER_HEADERS = (
    "Date (UTC)", "Request ID", "User agent", "Correlation ID", "User ID", "User", "Username", "User type",
    "Cross tenant access type", "Incoming token type", "Authentication Protocol", "Unique token identifier",
    "Original transfer method", "Client credential type", "Token Protection - Sign In Session",
    "Token Protection - Sign In Session StatusCode", "Application", "Application ID ", "App owner tenant ID",
    "Resource", "Resource ID ", "Resource tenant ID", "Resource owner tenant ID", "Home tenant ID",
    "Home tenant name", "IP address", "Location", "Status", "Sign-in error code", "Failure reason", "Client app",
    "Device ID", "Browser", "Operating System", "Compliant", "Managed", "Join Type",
    "Multifactor authentication result", "Multifactor authentication auth method",
    "Multifactor authentication auth detail", "Authentication requirement", "Sign-in identifier", "Session ID",
    "IP address (seen by resource)", "Through Global Secure Access", "Global Secure Access IP address",
    "Autonomous system  number", "Flagged for review", "Token issuer type", "Incoming token type",
    "Token issuer name", "Latency", "Conditional Access", "Managed Identity type", "Associated Resource Id",
    "Federated Token Id", "Federated Token Issuer",
)
SP_HEADERS = (
    "Date (UTC)", "Request ID", "Correlation ID", "Service principal ID", "Service principal name",
    "Credential key ID", "Credential thumbprint", "Application", "Application ID ", "App owner tenant ID",
    "Resource", "Resource ID ", "Resource tenant ID", "Resource owner tenant ID", "Home tenant ID",
    "Home tenant name", "IP address", "Location", "Status", "Sign-in error code", "Failure reason",
    "Conditional Access",
)
MI_HEADERS = SP_HEADERS + ("Managed Identity type", "Associated Resource Id", "Federated Token Id",
                           "Federated Token Issuer")
PORTAL_FILES = {SIGNIN: "InteractiveSignIns", NONINTERACTIVE: "NonInteractiveSignIns",
                SERVICE_PRINCIPAL: "ApplicationSignIns", MANAGED_IDENTITY: "MSISignIns"}
PORTAL_HEADERS = {SIGNIN: USER_HEADERS, NONINTERACTIVE: USER_HEADERS, SERVICE_PRINCIPAL: SP_HEADERS,
                  MANAGED_IDENTITY: MI_HEADERS}


def _portal_status(code: int) -> str:
    if code == 0:
        return "Success"
    return "Interrupted" if code in data.INTERRUPT_CODES else "Failure"


def _where(loc: dict) -> str:
    return ", ".join(part for part in (loc.get("city"), loc.get("state"), loc.get("countryOrRegion")) if part)


def _b(value: object) -> str:
    return "" if value is None else ("true" if value else "false")


def portal_row(event: Event) -> list[str]:
    p = event.props
    code = p["status"]["errorCode"]
    when = iso(event.created)[:19] + "Z"
    common_tail = [p["resourceDisplayName"], p["resourceId"], p.get("resourceTenantId", ""),
                   p.get("resourceOwnerTenantId", ""), p.get("homeTenantId", p.get("tenantId", "")),
                   p.get("homeTenantName", ""), p["ipAddress"], _where(p["location"]), _portal_status(code),
                   str(code), p["status"].get("failureReason", "") or "Other." if code else "",
                   p["conditionalAccessStatus"]]
    if event.table in (SERVICE_PRINCIPAL, MANAGED_IDENTITY):
        row = [when, p["id"], p["correlationId"], p["servicePrincipalId"], p["servicePrincipalName"],
               p.get("servicePrincipalCredentialKeyId", ""), p.get("servicePrincipalCredentialThumbprint", ""),
               p.get("appDisplayName", p["servicePrincipalName"]), p["appId"], p.get("appOwnerTenantId", ""),
               *common_tail]
        if event.table == MANAGED_IDENTITY:
            msi = p["managedServiceIdentity"]
            row += [msi["msiType"], msi["associatedResourceId"], msi["federatedTokenId"], msi["federatedTokenIssuer"]]
        return row
    dev = p["deviceDetail"]
    steps = p.get("authenticationDetails") or []
    mfa = next((s for s in steps if s.get("authenticationStepRequirement") == "Multi-factor authentication"), None)
    return [
        when, p["id"], p["userAgent"], p["correlationId"], p["userId"], p["userDisplayName"], p["userPrincipalName"],
        p["userType"], p["crossTenantAccessType"], p["incomingTokenType"], p["authenticationProtocol"],
        p["uniqueTokenIdentifier"], p["originalTransferMethod"], p["clientCredentialType"],
        p["tokenProtectionStatusDetails"]["signInSessionStatus"],
        str(p["tokenProtectionStatusDetails"]["signInSessionStatusCode"]), p["appDisplayName"], p["appId"],
        p["appOwnerTenantId"], p["resourceDisplayName"], p["resourceId"], p["resourceTenantId"],
        p["resourceOwnerTenantId"], p["homeTenantId"], p["homeTenantName"], p["ipAddress"], _where(p["location"]),
        _portal_status(code), str(code), p["status"].get("failureReason", ""), p["clientAppUsed"],
        dev["deviceId"], dev["browser"], dev["operatingSystem"], _b(dev.get("isCompliant")),
        _b(dev.get("isManaged")), dev.get("trustType", ""),
        ("" if mfa is None else ("MFA successfully completed" if mfa["succeeded"] else
                                 mfa["authenticationStepResultDetail"])),
        "" if mfa is None else mfa["authenticationMethod"], "", p["authenticationRequirement"],
        p["signInIdentifier"], p["sessionId"], "", _b(p["isThroughGlobalSecureAccess"]), "",
        str(p["autonomousSystemNumber"]), _b(p["flaggedForReview"]), p["tokenIssuerType"], p["incomingTokenType"],
        p["tokenIssuerName"], str(p["processingTimeInMilliseconds"]), p["conditionalAccessStatus"], "", "", "", "",
    ]
