"""Where every Log Analytics column comes from, per source family (reference/entra-logs.md 2.5, 3.2, 3.5).

This table is the single statement of the field mapping: the SQL normalizer is generated from it,
``_Extra`` is computed from it (a source field that is *removable* in some column's source list is
taken out of ``_Extra``; everything else stays there), and the lossless test reads it to check that
every source leaf is reproduced by a column or by ``_Extra``.

A :class:`Source` is a JSON path into the record (tuple of keys). ``removable=False`` marks a
*derived* value: the column is filled from it, but the leaf is kept where it already is (inside a
stored parent object, or in ``_Extra``), so nothing is lost when two source fields compete.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from entrawatch import schema

#: Source families: how the record is laid out. Shapes map onto them (portal JSON is Graph-shaped,
#: portal CSV is renamed into Log Analytics columns in the framing layer).
DIAG = "diag"
GRAPH = "graph"
LA = "la"

#: Table -> diagnostic-settings category (inverse of schema.CATEGORY_TO_TABLE).
TABLE_TO_CATEGORY = {t: c for c, t in schema.CATEGORY_TO_TABLE.items()}

#: Categories the reference names but entrawatch has no schema for: quarantined, reported under
#: the Log Analytics table they would land in (reference/entra-logs.md 3.1).
UNSUPPORTED_CATEGORY_TABLES = {
    "ProvisioningLogs": "AADProvisioningLogs",
    "ADFSSignInLogs": "ADFSSignInLogs",
    "RiskyUsers": "AADRiskyUsers",
    "UserRiskEvents": "AADUserRiskEvents",
    "RiskyServicePrincipals": "AADRiskyServicePrincipals",
    "ServicePrincipalRiskEvents": "AADServicePrincipalRiskEvents",
    "NetworkAccessTrafficLogs": "NetworkAccessTraffic",
    "EnrichedOffice365AuditLogs": "EnrichedMicrosoft365AuditLogs",
    "MicrosoftGraphActivityLogs": "MicrosoftGraphActivityLogs",
}

#: Report key for records whose table cannot be determined at all.
UNKNOWN_TABLE = "(unknown)"


@dataclass(frozen=True)
class Source:
    """One candidate source of a column: a JSON path, and whether the leaf moves out of ``_Extra``."""

    path: tuple[str, ...]
    removable: bool = True


# Graph / diagnostic ``properties`` key -> LA column where the name is not simply PascalCase.
_SIGNIN_RENAMES = {
    "IPAddress": "ipAddress",
    "IPAddressFromResourceProvider": "ipAddressFromResourceProvider",
    "ResourceIdentity": "resourceId",
    "LocationDetails": "location",
    "ConditionalAccessPolicies": "appliedConditionalAccessPolicies",
    "RiskEventTypes_V2": "riskEventTypes_v2",
    "ProcessingTimeInMs": "processingTimeInMilliseconds",
}

_AUDIT_RENAMES = {"AADOperationType": "operationType"}

# Columns filled from the diagnostic envelope (or constants), never from a same-named property.
_ENVELOPE_ONLY = {
    "TimeGenerated", "Type", "TenantId", "AADTenantId", "Category", "OperationName", "OperationVersion",
    "ResultType", "ResultSignature", "ResultDescription", "DurationMs", "Level", "Location", "Identity",
    "ResourceId", "Resource", "ResourceGroup", "ResourceProvider", "SourceSystem", "_BilledSize",
    "_IsBillable", "AppliedConditionalAccessPolicies",
}

_AUDIT_ENVELOPE_ONLY = _ENVELOPE_ONLY | {"AADOperationType"}


def _camel(column: str) -> str:
    return column[0].lower() + column[1:]


def _props(family: str) -> tuple[str, ...]:
    return ("properties",) if family == DIAG else ()


def _is_signin(table: str) -> bool:
    return table in schema.SIGNIN_TABLES


@cache
def column_sources(family: str, table: str) -> dict[str, tuple[Source, ...]]:
    """``{column: (Source, ...)}`` in priority order for one source family and target table.

    Columns absent from the result have no source in that family (they stay null, or are
    constants filled by the normalizer: ``Type``, and ``Category``/``OperationName`` for Graph).
    """
    tbl = schema.table(table)
    names = [c for c in tbl.column_names if c not in {n for n, _ in schema.PROVENANCE_COLUMNS}]
    if family == LA:
        result = {c: (Source((c,)),) for c in names if c != "Type"}
        event_time = "ActivityDateTime" if table == schema.AUDIT_TABLE else "CreatedDateTime"
        result["TimeGenerated"] = (Source(("TimeGenerated",)), Source((event_time,), removable=False))
        return result
    p = _props(family)
    audit = table == schema.AUDIT_TABLE
    renames = _AUDIT_RENAMES if audit else _SIGNIN_RENAMES
    result: dict[str, tuple[Source, ...]] = {}
    for col in names:
        if col in (_AUDIT_ENVELOPE_ONLY if audit else _ENVELOPE_ONLY):
            continue
        result[col] = (Source((*p, renames.get(col, _camel(col)))),)
    if audit:
        result["AADOperationType"] = (Source((*p, "operationType")),)
        result["Category"] = (Source((*p, "category")),)
        if family == DIAG:
            result["Category"] += (Source(("category",), removable=False),)
    # Correlation id lives in both envelope and properties; the envelope copy stays in _Extra.
    if family == DIAG:
        result["CorrelationId"] = (Source((*p, "correlationId")), Source(("correlationId",), removable=False))
        env = {
            "OperationName": "operationName", "OperationVersion": "operationVersion",
            "ResultType": "resultType", "ResultSignature": "resultSignature",
            "ResultDescription": "resultDescription", "DurationMs": "durationMs",
            "Identity": "identity", "Location": "location", "ResourceId": "resourceId",
            "AADTenantId": "tenantId",
        }
        for col, key in env.items():
            if col in names:
                result[col] = (Source((key,)),)
        if not audit:
            result["Category"] = (Source(("category",)),)
        result["Level"] = (Source(("Level",)), Source(("level",)))
        result["TenantId"] = (Source(("tenantId",), removable=False),)
    # Derived fallbacks: values LA computes from the event itself.
    time_key = "activityDateTime" if audit else "createdDateTime"
    result["TimeGenerated"] = (
        *((Source(("time",)),) if family == DIAG else ()),
        Source((*p, time_key), removable=False),
    )
    if audit:
        result["OperationName"] = (*result.get("OperationName", ()), Source((*p, "activityDisplayName"), removable=False))
    else:
        result["ResultType"] = (*result.get("ResultType", ()), Source((*p, "status", "errorCode"), removable=False))
        result["ResultDescription"] = (
            *result.get("ResultDescription", ()), Source((*p, "status", "failureReason"), removable=False),
        )
        result["Location"] = (
            *result.get("Location", ()), Source((*p, "location", "countryOrRegion"), removable=False),
        )
        who = "userDisplayName" if table in ("SigninLogs", "AADNonInteractiveUserSignInLogs") else "servicePrincipalName"
        result["Identity"] = (*result.get("Identity", ()), Source((*p, who), removable=False))
    return {c: s for c, s in result.items() if c in names}


def removable_paths(family: str, table: str) -> list[tuple[tuple[str, ...], list[tuple[str, ...]]]]:
    """``[(path, earlier_paths)]``: ``path`` leaves ``_Extra`` when every path in ``earlier_paths`` is null.

    ``earlier_paths`` are the higher-priority sources of the same column: a fallback that was not
    used (because a better source had a value) is kept in ``_Extra`` so nothing is lost.
    """
    result: list[tuple[tuple[str, ...], list[tuple[str, ...]]]] = []
    for sources in column_sources(family, table).values():
        for i, src in enumerate(sources):
            if src.removable:
                result.append((src.path, [s.path for s in sources[:i]]))
    return result


# -- portal CSV downloads (reference/entra-logs.md 3.5) ------------------------------------------

#: Portal CSV header (normalised: trimmed, single spaces, lower case) -> LA column.
PORTAL_HEADERS = {
    "date (utc)": "CreatedDateTime",
    "request id": "Id",
    "user agent": "UserAgent",
    "correlation id": "CorrelationId",
    "user id": "UserId",
    "user": "UserDisplayName",
    "username": "UserPrincipalName",
    "user type": "UserType",
    "cross tenant access type": "CrossTenantAccessType",
    "incoming token type": "IncomingTokenType",
    "authentication protocol": "AuthenticationProtocol",
    "unique token identifier": "UniqueTokenIdentifier",
    "original transfer method": "OriginalTransferMethod",
    "client credential type": "ClientCredentialType",
    "application": "AppDisplayName",
    "application id": "AppId",
    "app owner tenant id": "AppOwnerTenantId",
    "resource": "ResourceDisplayName",
    "resource id": "ResourceIdentity",
    "resource tenant id": "ResourceTenantId",
    "resource owner tenant id": "ResourceOwnerTenantId",
    "home tenant id": "HomeTenantId",
    "home tenant name": "HomeTenantName",
    "ip address": "IPAddress",
    "sign-in error code": "ResultType",
    "failure reason": "ResultDescription",
    "client app": "ClientAppUsed",
    "authentication requirement": "AuthenticationRequirement",
    "sign-in identifier": "SignInIdentifier",
    "session id": "SessionId",
    "ip address (seen by resource)": "IPAddressFromResourceProvider",
    "through global secure access": "IsThroughGlobalSecureAccess",
    "global secure access ip address": "GlobalSecureAccessIpAddress",
    "autonomous system number": "AutonomousSystemNumber",
    "flagged for review": "FlaggedForReview",
    "token issuer type": "TokenIssuerType",
    "token issuer name": "TokenIssuerName",
    "latency": "ProcessingTimeInMilliseconds",
    "conditional access": "ConditionalAccessStatus",
    "service principal id": "ServicePrincipalId",
    "service principal name": "ServicePrincipalName",
    "credential key id": "ServicePrincipalCredentialKeyId",
    "credential thumbprint": "ServicePrincipalCredentialThumbprint",
    # old portal export format
    "createddatetime": "CreatedDateTime",
    "userprincipalname": "UserPrincipalName",
    "userdisplayname": "UserDisplayName",
    "appdisplayname": "AppDisplayName",
    "ipaddress": "IPAddress",
    "riskstate": "RiskState",
    "risklevelduringsignin": "RiskLevelDuringSignIn",
    "risklevelaggregated": "RiskLevelAggregated",
    "conditionalaccessstatus": "ConditionalAccessStatus",
}

#: Headers that mark a portal download (any one of them suffices).
PORTAL_MARKERS = {"date (utc)", "request id", "sign-in error code"}

#: Headers of the aggregated (grouped) portal views: a row that carries a count is a summary,
#: not one event. Graph's summarized sign-ins carry ``signInCount``/``aggregatedEventDateTime``.
AGGREGATE_MARKERS = {"sign-in count", "sign-ins", "count", "number of sign-ins", "signincount", "aggregatedeventdatetime"}

#: File-name patterns of portal downloads -> table (reference/entra-logs.md 3.5).
PORTAL_FILE_TABLES = (
    (re.compile(r"noninteractive", re.I), "AADNonInteractiveUserSignInLogs"),
    (re.compile(r"interactive", re.I), "SigninLogs"),
    (re.compile(r"application|serviceprincipal", re.I), "AADServicePrincipalSignInLogs"),
    (re.compile(r"msi|managedidentit", re.I), "AADManagedIdentitySignInLogs"),
)


def normalise_header(header: str) -> str:
    """Trim, collapse inner whitespace and lower-case a CSV header (portal headers are sloppy)."""
    return " ".join(header.split()).lower()


def table_from_name(name: str) -> str | None:
    """A table named by a file name: an exact LA table name, a category, or a portal download name."""
    base = name.rsplit("/", 1)[-1].rsplit("!", 1)[-1]
    stem = re.split(r"[._ ]", base, maxsplit=1)[0] if base else ""
    for tbl in sorted((*schema.SIGNIN_TABLES, schema.AUDIT_TABLE), key=len, reverse=True):
        if tbl.lower() in base.lower():
            return tbl
    lowered = base.lower().replace("_", "").replace("-", "")
    for category, tbl in schema.CATEGORY_TO_TABLE.items():
        if stem.lower() == category.lower() or f"insightslogs{category.lower()}" in lowered:
            return tbl
    for pattern, tbl in PORTAL_FILE_TABLES:
        if pattern.search(base):
            return tbl
    return None
