"""Builders of single events in the canonical internal form: the diagnostic-settings ``properties`` object.

One event is built once, as the camelCase object Entra puts in a diagnostic record's ``properties`` (the Graph
``signIn`` / ``directoryAudit`` resource with Log Analytics' capitalised ``userType`` and integer CA condition
flags); every output shape is derived from it in ``shapes.py``. Builders are plain functions returning fresh
dicts: nested values that never change (CA policy lists, empty lists) are shared between events on purpose,
because nothing downstream mutates an event and sharing keeps generation fast and memory flat.

An :class:`Event` carries the event time (``created``), the time Azure Monitor stamps it (``generated``,
30-180 s later for sign-ins like in real exports; equal for audit), the target table and the object.
"""

from __future__ import annotations

import random
from functools import cache

import orjson

from entrawatch.simulator import data
from entrawatch.simulator.tenant import (
    CAPolicy,
    Device,
    ManagedIdentity,
    Place,
    ServicePrincipal,
    Tenant,
    User,
)
from entrawatch.simulator.util import US_PER_SECOND, guid, iso, token_id

SIGNIN = "SigninLogs"
NONINTERACTIVE = "AADNonInteractiveUserSignInLogs"
SERVICE_PRINCIPAL = "AADServicePrincipalSignInLogs"
MANAGED_IDENTITY = "AADManagedIdentitySignInLogs"
AUDIT = "AuditLogs"
TABLES = (SIGNIN, NONINTERACTIVE, SERVICE_PRINCIPAL, MANAGED_IDENTITY, AUDIT)

_EMPTY: list = []


class Event:
    """One log record. Template-based events keep only their differences until they are serialized.

    Most events are copies of a session or workload template with a few fields changed; storing just those
    fields (``delta``) over a shared ``base`` keeps an hour's batch several times smaller in memory. ``props``
    builds the full object on each access, so callers read it once per use and never mutate a derived one.
    """

    __slots__ = ("_base", "_delta", "_props", "created", "generated", "table")

    def __init__(self, generated: int, created: int, table: str, props: dict | None = None, *,
                 base: dict | None = None, delta: dict | None = None) -> None:
        self.generated = generated
        self.created = created
        self.table = table
        self._props = props
        self._base = base
        self._delta = delta

    @property
    def props(self) -> dict:
        props = self._props
        if props is None:
            props = self._base.copy()  # type: ignore[union-attr]
            props.update(self._delta)  # type: ignore[arg-type]
        return props


def ingest_delay(rng: random.Random) -> int:
    return 33 * US_PER_SECOND + int(rng.random() * 150 * US_PER_SECOND)


_USER_PROCESSING = [{"key": "Legacy TLS (TLS 1.0, 1.1, 3DES)", "value": "False"},
                    {"key": "Is CAE Token", "value": "False"}]
_CA_REQUIREMENT = [{"requirementProvider": "multiConditionalAccess", "detail": "Conditional Access"}]
_TOKEN_PROTECTION = {"signInSessionStatus": "unbound", "signInSessionStatusCode": 1002}


@cache
def audiences(resource_id: str) -> list[dict]:
    return [{"applicationId": resource_id, "audienceReasons": "none"}]


# --- conditional access -------------------------------------------------------------------------------------

#: Outcomes a sign-in can have against the tenant's policies (by policy name -> result).
CA_OUTCOMES = {
    "mfa": {"Require MFA for all users": "success"},
    "mfa_admin": {"Require MFA for all users": "success", "Require compliant device for administrators": "success"},
    "legacy_excluded": {},
    "legacy_blocked": {"Block legacy authentication": "failure"},
    "country_blocked": {"Block access from sanctioned countries": "failure"},
    "compliance_failed": {"Require MFA for all users": "success",
                          "Require compliant device for administrators": "failure"},
    "not_evaluated": None,
}


@cache
def _ca_list(policies: tuple[CAPolicy, ...], outcome: str) -> tuple[str, list[dict]]:
    """(conditionalAccessStatus, appliedConditionalAccessPolicies) for one outcome; cached and shared."""
    results = CA_OUTCOMES[outcome]
    entries = []
    status = "notApplied"
    for pol in policies:
        if results is None:
            result = "notApplied"
        elif pol.state == "reportOnly":
            result = "reportOnlyNotApplied"
        else:
            result = results.get(pol.name, "notApplied")
        if result == "failure":
            status = "failure"
        elif result == "success" and status != "failure":
            status = "success"
        entries.append({
            "id": pol.policy_id, "displayName": pol.name,
            "enforcedGrantControls": list(pol.grant) if result in ("success", "failure") else [],
            "enforcedSessionControls": list(pol.session) if result in ("success", "failure") else [],
            "result": result,
            "conditionsSatisfied": 3 if result in ("success", "failure") else 1 if result == "reportOnlyNotApplied" else 0,
            "conditionsNotSatisfied": 0 if result in ("success", "failure") else 2,
        })
    return status, entries


def ca(tenant: Tenant, outcome: str) -> tuple[str, list[dict]]:
    cached = tenant.ca_cache.get(outcome)
    if cached is None:
        cached = tenant.ca_cache[outcome] = _ca_list(tenant.ca_policies, outcome)
    return cached


# --- authentication details ---------------------------------------------------------------------------------

def auth_details(kind: str, when: str) -> list[dict]:
    """The ``authenticationDetails`` steps for a kind of interactive sign-in."""
    if kind == "none":
        return _EMPTY
    if kind == "claim":
        return [
            {"authenticationStepDateTime": when, "authenticationMethod": "Previously satisfied", "succeeded": True,
             "authenticationStepResultDetail": "First factor requirement satisfied by claim in the token",
             "authenticationStepRequirement": "Primary authentication", "StatusSequence": 0, "RequestSequence": 0},
            {"authenticationStepDateTime": when, "authenticationMethod": "Previously satisfied", "succeeded": True,
             "authenticationStepResultDetail": "MFA requirement satisfied by claim in the token",
             "authenticationStepRequirement": "Multi-factor authentication", "StatusSequence": 0,
             "RequestSequence": 0},
        ]
    password = {"authenticationStepDateTime": when, "authenticationMethod": "Password",
                "authenticationMethodDetail": "Password Hash Sync", "succeeded": kind != "bad_password",
                "authenticationStepResultDetail": "Correct password" if kind != "bad_password" else "Invalid username or password or Invalid on-premise username or password.",
                "authenticationStepRequirement": "Primary authentication", "StatusSequence": 0, "RequestSequence": 1}
    if kind in ("bad_password", "password"):
        return [password]
    mfa_ok = kind == "mfa"
    second = {"authenticationStepDateTime": when, "authenticationMethod": "Mobile app notification",
              "succeeded": mfa_ok,
              "authenticationStepResultDetail": "MFA successfully completed" if mfa_ok else
              ("MFA denied; user declined the authentication" if kind == "mfa_denied" else "MFA required in Azure AD"),
              "authenticationStepRequirement": "Multi-factor authentication", "StatusSequence": 0,
              "RequestSequence": 1}
    return [password, second]


# --- user sign-ins ------------------------------------------------------------------------------------------

def user_signin(
    tenant: Tenant, rng: random.Random, created: int, user: User, device: Device, app: data.App, resource: str,
    ip: str, place: Place, *, interactive: bool, session_id: str, error: int = 0, details: str = "",
    auth: str = "claim", requirement: str = "multiFactorAuthentication", ca_outcome: str = "mfa",
    client_app: str | None = None, user_agent: str | None = None, correlation_id: str | None = None,
    issuer_type: str = "AzureAD", issuer_name: str = "", risk: str = "none", risk_events: list | None = None,
    incoming_token: str | None = None, protocol: str = "none", upn: str | None = None,
) -> Event:
    """One interactive or non-interactive user sign-in (SigninLogs / AADNonInteractiveUserSignInLogs)."""
    resource_id, resource_name = data.RESOURCES[resource]
    when = iso(created, "+00:00")
    event_id = guid(rng)
    ca_status, ca_policies = ca(tenant, ca_outcome)
    status: dict = {"errorCode": error}
    if error:
        status["failureReason"] = data.ERRORS.get(error, "Other.")
        status["additionalDetails"] = details or ("MFA denied; user declined the authentication"
                                                  if error == 500121 else "")
    guest = user.user_type == "Guest"
    if client_app is None:
        client_app = "Browser" if interactive and not device.is_phone else "Mobile Apps and Desktop clients"
    if user_agent is None:
        user_agent = device.user_agent if interactive or device.is_phone else data.RICH_CLIENT_UA
    detail = device.detail() if interactive else device.refresh_detail
    methods = ["Password", "Mobile app notification"] if auth == "mfa" else (["Password"] if auth in (
        "password", "bad_password", "mfa_denied", "mfa_required") else _EMPTY)
    props = {
        "id": event_id,
        "createdDateTime": when,
        "userDisplayName": user.display_name,
        "userPrincipalName": upn or user.upn,
        "userId": user.user_id,
        "appId": app.app_id,
        "appDisplayName": app.name,
        "ipAddress": ip,
        "status": status,
        "clientAppUsed": client_app,
        "userAgent": user_agent,
        "deviceDetail": detail,
        "location": place.location(),
        "correlationId": correlation_id or guid(rng),
        "conditionalAccessStatus": ca_status,
        "appliedConditionalAccessPolicies": ca_policies,
        "authenticationContextClassReferences": _EMPTY,
        "originalRequestId": event_id,
        "isInteractive": interactive,
        "tokenIssuerName": issuer_name,
        "tokenIssuerType": issuer_type,
        "authenticationProcessingDetails": _USER_PROCESSING,
        "networkLocationDetails": _EMPTY,
        "clientCredentialType": "none",
        "processingTimeInMilliseconds": 40 + int(rng.random() * 360),
        "riskDetail": "none",
        "riskLevelAggregated": risk,
        "riskLevelDuringSignIn": risk,
        "riskState": "atRisk" if risk not in ("none", "low") else "none",
        "riskEventTypes": risk_events or _EMPTY,
        "riskEventTypes_v2": risk_events or _EMPTY,
        "resourceDisplayName": resource_name,
        "resourceId": resource_id,
        "resourceTenantId": tenant.tenant_id,
        "homeTenantId": user.home_tenant_id,
        "homeTenantName": "" if not guest else user.upn.split("@")[1].split(".")[0].title(),
        "tenantId": tenant.tenant_id,
        "authenticationDetails": auth_details(auth, when) if interactive else _EMPTY,
        "authenticationMethodsUsed": methods,
        "authenticationRequirementPolicies": _EMPTY if ca_status == "notApplied" else _CA_REQUIREMENT,
        "sessionLifetimePolicies": _EMPTY,
        "authenticationRequirement": requirement,
        "servicePrincipalId": "",
        "userType": user.user_type,
        "flaggedForReview": False,
        "isTenantRestricted": False,
        "autonomousSystemNumber": place.asn,
        "crossTenantAccessType": "b2bCollaboration" if guest else "none",
        "uniqueTokenIdentifier": token_id(rng),
        "incomingTokenType": incoming_token or ("none" if interactive else "refreshToken"),
        "authenticationProtocol": protocol,
        "resourceServicePrincipalId": tenant.resource_sp_ids[resource],
        "tokenProtectionStatusDetails": _TOKEN_PROTECTION,
        "originalTransferMethod": "none",
        "isThroughGlobalSecureAccess": False,
        "conditionalAccessAudiences": audiences(resource_id),
        "sessionId": session_id,
        "appOwnerTenantId": data.MICROSOFT_TENANT_ID,
        "resourceOwnerTenantId": data.MICROSOFT_TENANT_ID,
        "signInIdentifier": (upn or user.upn) if interactive else "",
        "signInIdentifierType": "userPrincipalName" if interactive else "",
        "alternateSignInName": upn or user.upn,
    }
    generated = created + ingest_delay(rng)
    return Event(generated, created, SIGNIN if interactive else NONINTERACTIVE, props)


def from_template(template: Event, rng: random.Random, created: int, min_ms: int, spread_ms: int,
                  overrides: dict | None = None, correlation_id: str | None = None) -> Event:
    """A new event shaped like ``template`` (same actor, app, device, place) with fresh ids and times.

    The hot path: a session's hourly refreshes and a workload's scheduled token requests differ only in their
    identifiers and timestamps, so copying a template dict is several times cheaper than building one. The
    correlation id is kept: a client reuses it across the refreshes of one session, as real exports show.
    """
    event_id = guid(rng)
    delta = dict(overrides) if overrides else {}
    delta["id"] = event_id
    if template.table in (SIGNIN, NONINTERACTIVE):
        delta["originalRequestId"] = event_id
    delta["createdDateTime"] = iso(created, "+00:00")
    if correlation_id is not None:
        delta["correlationId"] = correlation_id
    delta["uniqueTokenIdentifier"] = token_id(rng)
    delta["processingTimeInMilliseconds"] = min_ms + int(rng.random() * spread_ms)
    return Event(created + ingest_delay(rng), created, template.table, base=template.props, delta=delta)


# --- service principals and managed identities ---------------------------------------------------------------

def _workload_props(tenant: Tenant, rng: random.Random, created: int, *, app_id: str, principal_name: str,
                    principal_id: str, resource: str, ip: str, place: Place, error: int,
                    failure_details: str | None, ca_status: str, ca_policies: list[dict],
                    processing_details: list[dict], credential_type: str, processing_ms: tuple[int, int],
                    key_id: str, thumbprint: str, managed_identity: dict | None) -> dict:
    """The ``properties`` of a workload sign-in, shared by both workload tables and in Entra's field order.

    Service principal and managed identity records carry the same fields except three: a managed identity has
    no ``appDisplayName`` and adds ``managedServiceIdentity`` and ``conditionalAccessAudiences``. Building both
    here keeps the two tables' common columns from drifting apart; the field order and the order of the random
    draws (id, correlation id, processing time, token id) are part of the byte-identical output.
    """
    resource_id, resource_name = data.RESOURCES[resource]
    status: dict = {"errorCode": error}
    if error:
        status["failureReason"] = data.ERRORS.get(error, "Other.")
        if failure_details is not None:
            status["additionalDetails"] = failure_details
    min_ms, spread_ms = processing_ms
    props = {"id": guid(rng), "createdDateTime": iso(created, "+00:00"), "appId": app_id}
    if managed_identity is None:
        props["appDisplayName"] = principal_name
    props.update({
        "ipAddress": ip,
        "status": status,
        "location": place.location(),
        "correlationId": guid(rng),
        "conditionalAccessStatus": ca_status,
        "appliedConditionalAccessPolicies": ca_policies,
        "isInteractive": False,
        "tokenIssuerType": "AzureAD",
        "authenticationProcessingDetails": processing_details,
        "clientCredentialType": credential_type,
        "processingTimeInMilliseconds": min_ms + int(rng.random() * spread_ms) if spread_ms else min_ms,
        "riskDetail": "none",
        "riskLevelAggregated": "none",
        "riskLevelDuringSignIn": "none",
        "riskState": "none",
        "resourceDisplayName": resource_name,
        "resourceId": resource_id,
        "resourceServicePrincipalId": tenant.resource_sp_ids[resource],
        "servicePrincipalName": principal_name,
        "servicePrincipalId": principal_id,
        "servicePrincipalCredentialKeyId": key_id,
        "servicePrincipalCredentialThumbprint": thumbprint,
        "federatedCredentialId": "",
    })
    if managed_identity is not None:
        props["managedServiceIdentity"] = managed_identity
    props.update({
        "uniqueTokenIdentifier": token_id(rng),
        "incomingTokenType": "none",
        "authenticationProtocol": "none",
        "crossTenantAccessType": "none",
        "tenantId": tenant.tenant_id,
        "resourceTenantId": tenant.tenant_id,
        "appOwnerTenantId": tenant.tenant_id,
        "resourceOwnerTenantId": data.MICROSOFT_TENANT_ID,
    })
    if managed_identity is not None:
        props["conditionalAccessAudiences"] = _EMPTY
    props["autonomousSystemNumber"] = place.asn
    return props


def sp_signin(tenant: Tenant, rng: random.Random, created: int, sp: ServicePrincipal, resource: str, ip: str,
              place: Place, *, key_id: str | None = None, cert_thumbprint: str | None = None, error: int = 0,
              ca_outcome: str = "not_evaluated") -> Event:
    """A client-credentials token request by a custom application's service principal."""
    cred = sp.credentials[-1] if sp.credentials else None
    if key_id is None and cred is not None:
        key_id = cred.key_id
        cert_thumbprint = cred.thumbprint
    ca_status, ca_policies = ca(tenant, ca_outcome) if ca_outcome != "not_evaluated" else ("notApplied", _EMPTY)
    library = [{"key": "Azure AD App Authentication Library",
                "value": f"Family: MSAL Library: {sp.user_agent.split(' ')[0]}"}]
    props = _workload_props(
        tenant, rng, created, app_id=sp.app_id, principal_name=sp.name, principal_id=sp.object_id,
        resource=resource, ip=ip, place=place, error=error, failure_details="", ca_status=ca_status,
        ca_policies=ca_policies, processing_details=library,
        credential_type="certificate" if cert_thumbprint else "clientSecret", processing_ms=(5, 115),
        key_id=key_id or "", thumbprint=cert_thumbprint or "", managed_identity=None)
    return Event(created + ingest_delay(rng), created, SERVICE_PRINCIPAL, props)


def mi_signin(tenant: Tenant, rng: random.Random, created: int, mi: ManagedIdentity, resource: str, ip: str,
              place: Place, *, error: int = 0) -> Event:
    """A managed identity fetching a token from the instance metadata endpoint."""
    identity = {"msiType": mi.msi_type, "associatedResourceId": mi.resource_id, "federatedTokenId": "",
                "federatedTokenIssuer": ""}
    props = _workload_props(
        tenant, rng, created, app_id=mi.app_id, principal_name=mi.name, principal_id=mi.object_id,
        resource=resource, ip=ip, place=place, error=error, failure_details=None, ca_status="notApplied",
        ca_policies=_EMPTY, processing_details=_EMPTY, credential_type="managedIdentity", processing_ms=(0, 0),
        key_id="", thumbprint="", managed_identity=identity)
    return Event(created + ingest_delay(rng), created, MANAGED_IDENTITY, props)


# --- audit ------------------------------------------------------------------------------------------------

def jstr(value: object) -> str:
    """A modifiedProperties old/new value: JSON text, the way Entra encodes them."""
    return orjson.dumps(value).decode()


def prop(name: str, old: object, new: object) -> dict:
    """One modifiedProperties entry; ``None`` stays JSON null, anything else becomes JSON-encoded text."""
    return {"displayName": name, "oldValue": None if old is None else jstr(old),
            "newValue": None if new is None else jstr(new)}


def user_actor(user: User, ip: str) -> dict:
    return {"user": {"id": user.user_id, "displayName": None, "userPrincipalName": user.upn, "ipAddress": ip,
                     "roles": []}}


def app_actor(app_id: str | None, name: str, sp_id: str) -> dict:
    return {"app": {"appId": app_id, "displayName": name, "servicePrincipalId": sp_id,
                    "servicePrincipalName": None}}


def audit(rng: random.Random, created: int, activity: str, category: str, operation_type: str, initiated_by: dict,
          targets: list[dict], *, additional: list[dict] | None = None, result: str = "success",
          user_agent: str | None = None, correlation_id: str | None = None,
          service: str = "Core Directory") -> Event:
    """A directoryAudit record (AuditLogs)."""
    correlation = correlation_id or guid(rng)
    suffix = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(5))
    details = list(additional or [])
    if user_agent:
        details.insert(0, {"key": "User-Agent", "value": user_agent})
    props = {
        "id": f"Directory_{correlation}_{suffix}_{rng.randint(10_000_000, 999_999_999)}",
        "category": category,
        "correlationId": correlation,
        "result": result,
        "resultReason": "",
        "activityDisplayName": activity,
        "activityDateTime": iso(created, "+00:00"),
        "loggedByService": service,
        "operationType": operation_type,
        "userAgent": user_agent,
        "initiatedBy": initiated_by,
        "targetResources": [dict(t, administrativeUnits=_EMPTY) for t in targets],
        "additionalDetails": details,
    }
    return Event(created, created, AUDIT, props)


def key_description(creds: list) -> list[str]:
    """The ``KeyDescription`` modified-property value: one bracketed string per credential."""
    return [f"[KeyIdentifier={c.key_id},KeyType={c.kind},KeyUsage=Verify,DisplayName={c.display_name}]"
            for c in creds]


CERTS_AND_SECRETS = "Update application \u2013 Certificates and secrets management "
