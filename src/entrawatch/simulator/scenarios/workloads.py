"""Attacks on applications, service principals, managed identities and tenant trust (audit + workload sign-ins)."""

from __future__ import annotations

import random

from entrawatch.simulator import data
from entrawatch.simulator import events as ev
from entrawatch.simulator.baseline import consent_event
from entrawatch.simulator.scenarios.kit import Context, Outcome, minutes
from entrawatch.simulator.tenant import Credential, Place, ServicePrincipal, User
from entrawatch.simulator.util import US_PER_DAY, guid

_ADD_SP_CREDS = "Add service principal credentials"


def _key_change(name: str, old: list[Credential], new: list[Credential]) -> list[dict]:
    return [ev.prop("KeyDescription", ev.key_description(old), ev.key_description(new)),
            ev.prop("Included Updated Properties", None, "KeyDescription")]


def credential_audit(rng: random.Random, t: int, actor: dict, sp: ServicePrincipal, old: list[Credential],
                     new: list[Credential], *, on_application: bool, user_agent: str | None = None) -> ev.Event:
    """The audit record of a credential change, on the application object or on the service principal."""
    if on_application:
        target = {"id": sp.application_object_id, "displayName": sp.name, "type": "Application",
                  "modifiedProperties": _key_change(sp.name, old, new)}
        return ev.audit(rng, t, ev.CERTS_AND_SECRETS, "ApplicationManagement", "Update", actor, [target],
                        additional=[{"key": "AppId", "value": sp.app_id}], user_agent=user_agent)
    target = {"id": sp.object_id, "displayName": sp.name, "type": "ServicePrincipal",
              "modifiedProperties": [*_key_change(sp.name, old, new),
                                     ev.prop("TargetId.ServicePrincipalNames", None, sp.app_id)]}
    return ev.audit(rng, t, _ADD_SP_CREDS, "ApplicationManagement", "Update", actor, [target],
                    additional=[{"key": "AppId", "value": sp.app_id}], user_agent=user_agent)


def _new_secret(rng: random.Random, label: str, active_from: int) -> Credential:
    return Credential(guid(rng), "Password", label, "", active_from)


def _sp_uses(ctx: Context, rng: random.Random, sp: ServicePrincipal, t: int, count: int, ip: str, place: Place,
             cred: Credential, out: Outcome, every_minutes: float = 9) -> None:
    for k in range(count):
        resource = sp.resources[k % len(sp.resources)]
        out.events.append(ev.sp_signin(ctx.tenant, rng, t + minutes(k * every_minutes), sp, resource, ip, place,
                                       key_id=cred.key_id, cert_thumbprint=cred.thumbprint or None))


def _secret_added_then_used(ctx: Context, rng: random.Random, t: int, actor: dict, sp: ServicePrincipal,
                            secret: Credential, ip: str, place: Place, out: Outcome, *, on_application: bool,
                            after_minutes: float, uses: int) -> None:
    """The core of the credential attacks: a secret is added (from PowerShell), then the app signs in with it.

    The audit record keeps the credentials the object already had in ``KeyDescription``'s old value, and the
    sign-ins come from the address that added the secret: the pair is what the credential rules correlate.
    """
    out.events.append(credential_audit(rng, t, actor, sp, list(sp.credentials), [*sp.credentials, secret],
                                       on_application=on_application, user_agent=data.POWERSHELL_UA))
    _sp_uses(ctx, rng, sp, t + minutes(after_minutes), uses, ip, place, secret, out)


def _new_app(rng: random.Random, name: str, resources: tuple[str, ...], ip: str, place: Place) -> ServicePrincipal:
    return ServicePrincipal(app_id=guid(rng), object_id=guid(rng), application_object_id=guid(rng), name=name,
                            credentials=[], ips=(ip,), place=place, resources=resources, interval_minutes=60,
                            user_agent=data.MSAL_SP_UAS[1])


def _app_created(rng: random.Random, t: int, actor: dict, sp: ServicePrincipal) -> list[ev.Event]:
    return [
        ev.audit(rng, t, "Add application", "ApplicationManagement", "Add", actor,
                 [{"id": sp.application_object_id, "displayName": sp.name, "type": "Application",
                   "modifiedProperties": [ev.prop("AppId", None, sp.app_id),
                                          ev.prop("DisplayName", None, sp.name)]}]),
        ev.audit(rng, t + 2_000_000, "Add service principal", "ApplicationManagement", "Add", actor,
                 [{"id": sp.object_id, "displayName": sp.name, "type": "ServicePrincipal",
                   "modifiedProperties": [ev.prop("AccountEnabled", None, [True]),
                                          ev.prop("AppPrincipalId", None, [sp.app_id]),
                                          ev.prop("DisplayName", None, [sp.name])]}],
                 additional=[{"key": "AppId", "value": sp.app_id}]),
    ]


def dormant_sp_new_secret(ctx: Context, rng: random.Random, t0: int) -> Outcome:
    sp = ctx.service_principal(rng, always_on=True)
    history = (t0 - ctx.start) >= 35 * US_PER_DAY
    sp.active_until = ctx.start + 3 * US_PER_DAY if history else ctx.start
    (actor,) = ctx.cast(rng, 1, admin=True)
    ip, place, country = ctx.attacker(rng, "RU")
    secret = _new_secret(rng, "backup", t0)
    out = Outcome([], accounts=[actor.upn], ips=[ip], countries=[country], apps=[sp.name, sp.app_id],
                  service_principals=[sp.object_id])
    if not history:
        out.notes.append("the service principal is dormant from the start of the simulated period (runs shorter "
                         "than ~38 days cannot show 30 days of silence after activity)")
    _secret_added_then_used(ctx, rng, t0, ev.user_actor(actor, ip), sp, secret, ip, place, out,
                            on_application=False, after_minutes=47, uses=8)
    return out


def first_credential_then_use(ctx: Context, rng: random.Random, t0: int) -> Outcome:
    (actor,) = ctx.cast(rng, 1, admin=False)
    ip, place, country = ctx.attacker(rng, "NL")
    sp = _new_app(rng, "Graph Helper Utility", ("graph",), ip, place)
    secret = _new_secret(rng, "key1", t0)
    out = Outcome([], accounts=[actor.upn], ips=[ip], countries=[country], apps=[sp.name, sp.app_id],
                  service_principals=[sp.object_id])
    actor_json = ev.user_actor(actor, ip)
    out.events.extend(_app_created(rng, t0 - minutes(95), actor_json, sp))
    _secret_added_then_used(ctx, rng, t0, actor_json, sp, secret, ip, place, out, on_application=True,
                            after_minutes=12, uses=6)
    return out


def credential_after_admin_consent(ctx: Context, rng: random.Random, t0: int) -> Outcome:
    admins = ctx.cast(rng, 2, admin=True)
    ip, place, country = ctx.attacker(rng, "RO")
    sp = _new_app(rng, "Mailbox Archiver Pro", ("graph", "exchange"), ip, place)
    consenter, adder = admins[0], admins[-1]
    secret = _new_secret(rng, "automation", t0)
    out = Outcome([], accounts=sorted({consenter.upn, adder.upn}), ips=[consenter.office_ip, ip],
                  countries=[country], apps=[sp.name, sp.app_id], service_principals=[sp.object_id])
    out.events.append(consent_event(rng, t0 - minutes(190), consenter, sp.name, sp.object_id, sp.app_id,
                                    "Mail.ReadWrite Files.ReadWrite.All User.Read", admin=True,
                                    resource_sp_id=ctx.tenant.resource_sp_ids["graph"]))
    out.events[-1].props["initiatedBy"]["user"]["ipAddress"] = consenter.office_ip
    _secret_added_then_used(ctx, rng, t0, ev.user_actor(adder, ip), sp, secret, ip, place, out,
                            on_application=False, after_minutes=25, uses=4)
    return out


def rare_consent_offline_access(ctx: Context, rng: random.Random, t0: int) -> Outcome:
    (user,) = ctx.cast(rng, 1, admin=False)
    ip, place, country = ctx.attacker(rng, "US")
    app = data.App(guid(rng), "PDF Converter Online", ("graph",))
    sp_id = guid(rng)
    correlation = guid(rng)
    out = Outcome([], accounts=[user.upn], ips=[user.home_ip, ip], countries=[country], apps=[app.name, app.app_id],
                  service_principals=[sp_id])
    sp = ServicePrincipal(app.app_id, sp_id, guid(rng), app.name, [], (ip,), place, ("graph",), 60, "")
    out.events.append(_app_created(rng, t0 - minutes(1), ev.app_actor(None, "Microsoft Online Services", guid(rng)),
                                   sp)[1])
    out.events.append(consent_event(rng, t0, user, app.name, sp_id, app.app_id,
                                    "offline_access Mail.Read Files.Read User.Read", admin=False,
                                    resource_sp_id=ctx.tenant.resource_sp_ids["graph"], correlation_id=correlation))
    out.events.append(ev.audit(rng, t0 + 1_000_000, "Add delegated permission grant", "ApplicationManagement",
                               "Assign", ev.user_actor(user, user.home_ip),
                               [{"id": ctx.tenant.resource_sp_ids["graph"], "displayName": "Microsoft Graph",
                                 "type": "ServicePrincipal",
                                 "modifiedProperties": [ev.prop("DelegatedPermissionGrant.Scope", None,
                                                                "offline_access Mail.Read Files.Read User.Read"),
                                                        ev.prop("DelegatedPermissionGrant.ConsentType", None,
                                                                "Principal")]},
                                {"id": sp_id, "displayName": app.name, "type": "ServicePrincipal",
                                 "modifiedProperties": []}], correlation_id=correlation))
    device = ctx.attacker_device(rng)
    for k in range(6):  # the app uses the refresh token it was granted, from its own servers
        out.events.append(ctx.signin(rng, t0 + minutes(20 + k * 30), user, app, ip, place, device=device,
                                     interactive=False, auth="none", resource="graph",
                                     user_agent=data.MSAL_SP_UAS[1]))
    return out


def federation_change_then_signin(ctx: Context, rng: random.Random, t0: int) -> Outcome:
    (actor,) = ctx.cast(rng, 1, admin=True)
    users = ctx.cast(rng, 2, admin=False)
    ip, place, country = ctx.attacker(rng, "RU")
    domain = ctx.tenant.extra_domains[0]
    issuer = f"http://{guid(rng)[:8]}.sts-login.example/adfs/services/trust"
    actor_json = ev.user_actor(actor, ip)
    upns = [f"{u.upn.split('@')[0]}@{domain}" for u in users]
    out = Outcome([], accounts=[actor.upn, *upns], ips=[ip], countries=[country], apps=[domain, "OfficeHome"])
    out.events.append(ev.audit(rng, t0, "Set domain authentication", "DirectoryManagement", "Update", actor_json,
                               [{"id": guid(rng), "displayName": domain, "type": "Directory",
                                 "modifiedProperties": [ev.prop("LiveType", "Managed", "Federated"),
                                                        ev.prop("Included Updated Properties", None,
                                                                "LiveType")]}],
                               user_agent=data.POWERSHELL_UA))
    out.events.append(ev.audit(rng, t0 + minutes(1), "Set federation settings on domain", "DirectoryManagement",
                               "Update", actor_json,
                               [{"id": guid(rng), "displayName": domain, "type": "Directory",
                                 "modifiedProperties": [
                                     ev.prop("IssuerUri", None, issuer),
                                     ev.prop("PassiveLogOnUri", None, issuer.replace("/services/trust", "/ls/")),
                                     ev.prop("SigningCertificate", None, guid(rng).replace("-", "") * 2),
                                     ev.prop("FederatedIdpMfaBehavior", None, "acceptIfMfaDoneByFederatedIdp")]}],
                               user_agent=data.POWERSHELL_UA))
    device = ctx.attacker_device(rng)
    for i, (user, upn) in enumerate(zip(users, upns, strict=True)):
        session = guid(rng)
        t = t0 + minutes(35 + 22 * i)
        out.events.append(ctx.signin(rng, t, user, "OfficeHome", ip, place, device=device, session_id=session,
                                     auth="mfa", issuer_type="ADFederationServices", issuer_name=issuer, upn=upn))
        out.events.append(ctx.signin(rng, t + minutes(8), user, "Microsoft Office", ip, place, device=device,
                                     session_id=session, interactive=False, auth="none",
                                     issuer_type="ADFederationServices", issuer_name=issuer, upn=upn))
    return out


def mi_token_non_azure_ip(ctx: Context, rng: random.Random, t0: int) -> Outcome:
    mi = rng.choice(ctx.tenant.managed_identities)
    ip, place, country = ctx.attacker(rng, "NL")
    out = Outcome([], ips=[ip], countries=[country], apps=[mi.name, mi.app_id], service_principals=[mi.object_id])
    for k in range(6):
        resource = mi.resources[k % len(mi.resources)]
        out.events.append(ev.mi_signin(ctx.tenant, rng, t0 + minutes(k * 9), mi, resource, ip, place))
    return out


def sp_new_country(ctx: Context, rng: random.Random, t0: int) -> Outcome:
    sp = ctx.service_principal(rng, always_on=True)
    ip, place, country = ctx.attacker(rng, "VN")
    out = Outcome([], ips=[ip], countries=[country], apps=[sp.name, sp.app_id], service_principals=[sp.object_id])
    _sp_uses(ctx, rng, sp, t0, 8, ip, place, sp.credentials[0], out, every_minutes=14)
    return out


def guest_invite_then_powershell(ctx: Context, rng: random.Random, t0: int) -> Outcome:
    (inviter,) = ctx.cast(rng, 1, admin=False)
    ip, place, country = ctx.attacker(rng, "NL")
    email = "mallory.ops@partner-portal.example"
    ext_upn = f"{email.replace('@', '_')}#EXT#@{ctx.tenant.extra_domains[1]}"
    guest = User(index=-1, user_id=guid(rng), upn=email, display_name="Mallory Ops", user_type="Guest",
                 department="", country=country, home=place, home_ip=ip, office_ip=ip, utc_offset=1, work_start=9,
                 work_end=17, devices=(ctx.attacker_device(rng),), home_tenant_id=guid(rng))
    out = Outcome([], accounts=[inviter.upn, email, ext_upn], ips=[ip], countries=[country],
                  apps=["Azure Active Directory PowerShell", data.FIRST_PARTY_APPS[
                      "Azure Active Directory PowerShell"].app_id])
    out.events.append(ev.audit(rng, t0, "Invite external user", "UserManagement", "Add",
                               ev.user_actor(inviter, inviter.office_ip),
                               [{"id": guest.user_id, "displayName": guest.display_name, "type": "User",
                                 "userPrincipalName": ext_upn,
                                 "modifiedProperties": [ev.prop("UserType", None, "Guest"),
                                                        ev.prop("InvitedUserEmailAddress", None, email)]}],
                               service="B2B Invited Users", user_agent=data.DEVICE_PROFILES[0][2]))
    app = data.FIRST_PARTY_APPS["Azure Active Directory PowerShell"]
    session = guid(rng)
    common = dict(device=guest.devices[0], session_id=session, user_agent=data.POWERSHELL_UA,
                  client_app="Mobile Apps and Desktop clients")
    t = t0 + minutes(26)
    out.events.append(ctx.signin(rng, t, guest, app, ip, place, resource="aad", auth="mfa", **common))
    for k in range(3):
        out.events.append(ctx.signin(rng, t + minutes(3 + 6 * k), guest, app, ip, place, resource="graph",
                                     interactive=False, auth="none", **common))
    return out

