"""Normal tenant activity, generated one hour at a time so memory stays flat however long the run.

Each user gets a plan per *local* day (drawn when their local midnight passes): interactive sign-ins inside
working hours, the sessions they open, and the odd typo or interrupt. Sessions then produce non-interactive
token refreshes every hour they are open (same ``sessionId``, device and address), which is what makes the
non-interactive stream 10-50 times the interactive one. Service principals call on fixed schedules from fixed
addresses; managed identities from Azure datacenter addresses; administrators leave audit records in office
hours. Every hour draws from its own RNG (``rng_for(seed, "hour", n)``) so output is reproducible.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from entrawatch.simulator import data
from entrawatch.simulator import events as ev
from entrawatch.simulator.tenant import Device, Place, Tenant, User
from entrawatch.simulator.util import US_PER_DAY, US_PER_HOUR, US_PER_MINUTE, guid, rng_for

#: Background apps of a desktop session and of a phone session: (app name, resource key, refresh probability/h).
LAPTOP_REFRESH = (
    ("Microsoft Teams", "teams", 0.9), ("Microsoft Teams", "graph", 0.7), ("Microsoft Office", "exchange", 0.85),
    ("Microsoft Office", "graph", 0.5), ("OneDrive SyncEngine", "spo", 0.8),
    ("Microsoft Authentication Broker", "drs", 0.45),
)
PHONE_REFRESH = (("Outlook Mobile", "exchange", 0.55), ("Microsoft Teams", "teams", 0.35))
FIRST_APPS = ("OfficeHome", "Microsoft Teams", "Microsoft Office", "One Outlook Web")
LATER_APPS = ("OfficeHome", "One Outlook Web", "Microsoft Teams", "Microsoft Office", "OneDrive SyncEngine")
ADMIN_APPS = ("Azure Portal", "Azure Portal", "Microsoft Graph Command Line Tools", "Microsoft Azure CLI",
              "Microsoft Azure PowerShell")
NI_FAILURES = (50173, 70044, 700082)


@dataclass
class Session:
    device: Device
    session_id: str
    start: int
    end: int
    ip: str
    place: Place
    refresh: tuple[tuple[str, str, float], ...]
    template: ev.Event | None = None  # the session's first refresh: the shape of all later ones
    correlations: dict = field(default_factory=dict)  # app -> correlation id (a client reuses it)


@dataclass
class UserState:
    day: int = -10**9
    plan: list = field(default_factory=list)  # (time, kind, payload) sorted by time
    sessions: list = field(default_factory=list)


def _local_day(hour_start: int, user: User) -> int:
    return (hour_start + user.utc_offset * US_PER_HOUR) // US_PER_DAY


class Baseline:
    """Generates one hour of normal activity at a time; keeps per-user session state between hours."""

    def __init__(self, tenant: Tenant, seed: int, start: int, quiet: dict[str, list[tuple[int, int]]]) -> None:
        self.tenant = tenant
        self.seed = seed
        self.start = start
        self.states = [UserState() for _ in tenant.users]
        self.quiet = quiet  # upn -> windows in which a scenario writes that user's activity itself
        self.apps = data.FIRST_PARTY_APPS
        self.disabled_announced = False
        self.templates: dict[tuple, ev.Event] = {}
        self.app_parts: dict[tuple[str, str], dict] = {}

    # --- users -------------------------------------------------------------------------------------------

    def _plan_day(self, user: User, state: UserState, day: int, rng: random.Random) -> None:
        state.day = day
        state.plan = []
        state.sessions = [s for s in state.sessions if s.end > day * US_PER_DAY - user.utc_offset * US_PER_HOUR]
        midnight = day * US_PER_DAY - user.utc_offset * US_PER_HOUR  # local midnight in UTC
        weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; Monday == 0
        if not user.enabled:
            if rng.random() < 0.2:  # a leaver's forgotten phone or laptop still tries, with one app
                t = midnight + rng.randint(6, 20) * US_PER_HOUR + rng.randint(0, US_PER_HOUR - 1)
                state.plan.append((t, "disabled", None))
            return
        working = weekday < 5 or (user.weekend_worker and rng.random() < 0.3)
        if user.user_type == "Guest":
            working = weekday < 5 and rng.random() < 0.2
        phone = next((d for d in user.devices if d.is_phone), None)
        if phone is not None and user.user_type == "Member":
            state.sessions.append(Session(phone, guid(rng), midnight, midnight + US_PER_DAY, user.home_ip, user.home,
                                          PHONE_REFRESH))
        if not working:
            return
        at_office = rng.random() < 0.6
        ip = user.office_ip if at_office else user.home_ip
        first = midnight + user.work_start * US_PER_HOUR + rng.randint(-30 * US_PER_MINUTE, 45 * US_PER_MINUTE)
        work_end = midnight + user.work_end * US_PER_HOUR + rng.randint(-30, 60) * US_PER_MINUTE
        laptop = user.devices[0]
        session = Session(laptop, guid(rng), first, work_end + rng.randint(0, 90) * US_PER_MINUTE, ip, user.home,
                          LAPTOP_REFRESH if user.user_type == "Member" else LAPTOP_REFRESH[:2])
        state.sessions.append(session)
        first_app = rng.choice(FIRST_APPS) if user.user_type == "Member" else "Microsoft Teams"
        state.plan.append((first, "interactive", (first_app, "mfa", session)))
        later = rng.randint(1, 4)
        for _ in range(later):
            t = rng.randint(first + 10 * US_PER_MINUTE, max(first + 11 * US_PER_MINUTE, work_end))
            pool = ADMIN_APPS if user.is_admin and rng.random() < 0.5 else LATER_APPS
            state.plan.append((t, "interactive", (rng.choice(pool), "claim", session)))
        if user.legacy_client:
            for hour in range(user.work_start, user.work_end):
                if rng.random() < 0.7:
                    state.plan.append((midnight + hour * US_PER_HOUR + rng.randint(0, US_PER_HOUR - 1), "legacy",
                                       ip))
        state.plan.sort(key=lambda item: item[0])

    def _interactive(self, user: User, t: int, payload: tuple, rng: random.Random, out: list) -> None:
        app_name, auth, session = payload
        app = self.apps[app_name]
        resource = app.resources[0]
        device = session.device
        outcome = "mfa_admin" if user.is_admin else "mfa"
        common = dict(interactive=True, session_id=session.session_id, ca_outcome=outcome)
        roll = rng.random()
        if roll < 0.035:  # a mistyped password first
            out.append(ev.user_signin(self.tenant, rng, t - rng.randint(8, 50) * 1_000_000, user, device, app,
                                      resource, session.ip, session.place, error=50126, auth="bad_password",
                                      requirement="singleFactorAuthentication", **dict(common,
                                                                                       ca_outcome="not_evaluated")))
        elif roll < 0.05:  # "keep me signed in" interrupt
            out.append(ev.user_signin(self.tenant, rng, t - rng.randint(2, 9) * 1_000_000, user, device, app, resource,
                                      session.ip, session.place, error=50140, auth="mfa", **common))
        elif auth == "mfa" and roll < 0.09:  # strong authentication required, then MFA
            out.append(ev.user_signin(self.tenant, rng, t - rng.randint(10, 40) * 1_000_000, user, device, app,
                                      resource, session.ip, session.place, error=50074, auth="mfa_required",
                                      **common))
        elif roll < 0.092:
            out.append(ev.user_signin(self.tenant, rng, t - rng.randint(30, 90) * 1_000_000, user, device, app,
                                      resource, session.ip, session.place, error=50072, auth="mfa_required",
                                      **common))
        elif roll < 0.094:
            out.append(ev.user_signin(self.tenant, rng, t - rng.randint(60, 240) * 1_000_000, user, device, app,
                                      resource, session.ip, session.place, error=50055, auth="password",
                                      requirement="singleFactorAuthentication", **common))
        out.append(ev.user_signin(self.tenant, rng, t, user, device, app, resource, session.ip, session.place,
                                  auth=auth, **common))

    def _user_hour(self, user: User, state: UserState, hour_start: int, hour_end: int, rng: random.Random,
                   out: list) -> None:
        day = _local_day(hour_start, user)
        if day != state.day:
            self._plan_day(user, state, day, rng)
        plan = state.plan
        while plan and plan[0][0] < hour_end:
            t, kind, payload = plan.pop(0)
            if t < hour_start:
                continue
            if kind == "interactive":
                self._interactive(user, t, payload, rng, out)
            elif kind == "legacy":
                app = self.apps["Office 365 Exchange Online"]
                out.append(ev.user_signin(self.tenant, rng, t, user, user.devices[0], app, "exchange", payload,
                                          user.home, interactive=False, session_id="", auth="password",
                                          requirement="singleFactorAuthentication", ca_outcome="legacy_excluded",
                                          client_app=user.legacy_client, user_agent="", protocol="ropc",
                                          incoming_token="none"))
            elif kind == "disabled":
                device = user.devices[-1]
                app = self.apps["Outlook Mobile" if device.is_phone else "Microsoft Teams"]
                out.append(ev.user_signin(self.tenant, rng, t, user, device, app, app.resources[0], user.home_ip,
                                          user.home, interactive=False, session_id=guid(rng), error=50057,
                                          auth="none", requirement="singleFactorAuthentication",
                                          ca_outcome="not_evaluated"))
        tenant = self.tenant
        for session in state.sessions:
            if session.end <= hour_start or session.start >= hour_end:
                continue
            lo = max(session.start + US_PER_MINUTE, hour_start)
            hi = min(session.end, hour_end)
            if hi <= lo:
                continue
            for app_name, resource, probability in session.refresh:
                if rng.random() >= probability:
                    continue
                t = lo + int(rng.random() * (hi - lo))
                if rng.random() < 0.012:
                    out.append(ev.user_signin(tenant, rng, t, user, session.device, self.apps[app_name], resource,
                                              session.ip, session.place, interactive=False,
                                              session_id=session.session_id, error=NI_FAILURES[int(rng.random() * 3)],
                                              auth="none", ca_outcome="mfa_admin" if user.is_admin else "mfa"))
                    continue
                correlation = session.correlations.get(app_name)
                if correlation is None:
                    correlation = session.correlations[app_name] = guid(rng)
                if session.template is None:
                    session.template = ev.user_signin(
                        tenant, rng, t, user, session.device, self.apps[app_name], resource, session.ip,
                        session.place, interactive=False, session_id=session.session_id, auth="none",
                        ca_outcome="mfa_admin" if user.is_admin else "mfa", correlation_id=correlation)
                    out.append(session.template)
                    continue
                out.append(ev.from_template(session.template, rng, t, 40, 360, self._app_part(app_name, resource),
                                            correlation))
        state.sessions = [s for s in state.sessions if s.end > hour_end]

    def _app_part(self, app_name: str, resource: str) -> dict:
        """The app- and resource-specific fields of a refresh, shared by every session (memory stays flat)."""
        key = (app_name, resource)
        part = self.app_parts.get(key)
        if part is None:
            app = self.apps[app_name]
            resource_id, resource_name = data.RESOURCES[resource]
            part = self.app_parts[key] = {
                "appId": app.app_id, "appDisplayName": app.name, "resourceDisplayName": resource_name,
                "resourceId": resource_id, "resourceServicePrincipalId": self.tenant.resource_sp_ids[resource],
                "conditionalAccessAudiences": ev.audiences(resource_id)}
        return part

    # --- workloads ---------------------------------------------------------------------------------------

    def _sp_hour(self, hour_start: int, rng: random.Random, out: list) -> None:
        hour_of_day = (hour_start // US_PER_HOUR) % 24
        for index, sp in enumerate(self.tenant.service_principals):
            if sp.active_until is not None and hour_start >= sp.active_until:
                continue
            lo, hi = sp.active_hours
            if not lo <= hour_of_day < hi:
                continue
            step = sp.interval_minutes * US_PER_MINUTE
            phase = (index * 7 * US_PER_MINUTE + sp.interval_minutes * 13_000_000) % step
            t = hour_start - (hour_start % step) + phase
            while t < hour_start:
                t += step
            while t < hour_start + US_PER_HOUR:
                for resource in sp.resources:
                    jitter = int(rng.random() * 20_000_000)
                    error = 7000215 if rng.random() < 0.004 else 0
                    ip = sp.ips[0] if len(sp.ips) == 1 else rng.choice(sp.ips)
                    created = t + jitter
                    cred = next(c for c in reversed(sp.credentials) if c.active_from <= created)
                    key = (sp.object_id, resource, ip, cred.key_id)
                    out.append(self._copy(key, error, rng, created, 5, 115) or self._keep(key, error, ev.sp_signin(
                        self.tenant, rng, created, sp, resource, ip, sp.place, error=error, key_id=cred.key_id,
                        cert_thumbprint=cred.thumbprint)))
                t += step

    def _mi_hour(self, hour_start: int, rng: random.Random, out: list) -> None:
        for index, mi in enumerate(self.tenant.managed_identities):
            step = mi.interval_minutes * US_PER_MINUTE
            t = hour_start + (index * 3 * US_PER_MINUTE) % step
            while t < hour_start + US_PER_HOUR:
                for resource in mi.resources:
                    error = 7000232 if rng.random() < 0.002 else 0
                    created = t + int(rng.random() * 5_000_000)
                    key = (mi.object_id, resource)
                    out.append(self._copy(key, error, rng, created, 0, 1) or self._keep(key, error, ev.mi_signin(
                        self.tenant, rng, created, mi, resource, mi.ip, mi.place, error=error)))
                t += step

    # A workload's scheduled sign-ins: the first success per key (workload, resource, ...) becomes the template that
    # later ones copy with fresh ids and times (``events.from_template``, the hot path); failures are built in
    # full and never become templates, so a template always describes a success. Callers write
    # ``self._copy(...) or self._keep(..., build(...))`` so the full build is only evaluated on a miss.

    def _copy(self, key: tuple, error: int, rng: random.Random, created: int, min_ms: int,
              spread_ms: int) -> ev.Event | None:
        """A copy of ``key``'s template, or None when there is none yet or this sign-in fails."""
        template = None if error else self.templates.get(key)
        return None if template is None else ev.from_template(template, rng, created, min_ms, spread_ms)

    def _keep(self, key: tuple, error: int, event: ev.Event) -> ev.Event:
        """Return a fully built sign-in, remembering it as ``key``'s template when it succeeded."""
        if not error:
            self.templates[key] = event
        return event

    def _audit_hour(self, hour_start: int, rng: random.Random, out: list) -> None:
        tenant = self.tenant
        if not self.disabled_announced:
            self.disabled_announced = True
            for user in tenant.users:
                if not user.enabled:
                    admin = rng.choice(tenant.admins)
                    t = hour_start + rng.randint(0, US_PER_HOUR - 1)
                    out.append(ev.audit(rng, t, "Disable account", "UserManagement", "Update",
                                        ev.user_actor(admin, admin.office_ip),
                                        [{"id": user.user_id, "displayName": None, "type": "User",
                                          "userPrincipalName": user.upn,
                                          "modifiedProperties": [ev.prop("AccountEnabled", [True], [False]),
                                                                 ev.prop("Included Updated Properties", None,
                                                                         "AccountEnabled")]}]))
        hour_of_day = (hour_start // US_PER_HOUR) % 24
        weekday = (hour_start // US_PER_DAY + 3) % 7
        if weekday >= 5 or not 7 <= hour_of_day < 20:
            return
        count = rng.randint(0, max(1, len(tenant.users) // 150))
        members = tenant.users
        for _ in range(count):
            admin = rng.choice(tenant.admins)
            t = hour_start + rng.randint(0, US_PER_HOUR - 1)
            target = rng.choice(members)
            kind = rng.random()
            if kind < 0.45:
                field_name = rng.choice(("JobTitle", "Department", "TelephoneNumber", "UsageLocation"))
                out.append(ev.audit(rng, t, "Update user", "UserManagement", "Update",
                                    ev.user_actor(admin, admin.office_ip),
                                    [{"id": target.user_id, "displayName": None, "type": "User",
                                      "userPrincipalName": target.upn,
                                      "modifiedProperties": [ev.prop(field_name, [], [target.department]),
                                                             ev.prop("Included Updated Properties", None,
                                                                     field_name)]}],
                                    user_agent=data.DEVICE_PROFILES[0][2]))
            elif kind < 0.75:
                group = f"sg-{target.department.lower()}"
                out.append(ev.audit(rng, t, "Add member to group", "GroupManagement", "Assign",
                                    ev.user_actor(admin, admin.office_ip),
                                    [{"id": target.user_id, "displayName": None, "type": "User",
                                      "userPrincipalName": target.upn,
                                      "modifiedProperties": [ev.prop("Group.DisplayName", None, group)]},
                                     {"id": guid(rng), "displayName": group, "type": "Group",
                                      "modifiedProperties": []}]))
            elif kind < 0.9:
                out.append(self._routine_consent(rng, t, target))
            elif kind < 0.93:  # a member invites a partner contact; they never use admin tools
                partner = rng.choice(("fabrikam.com", "northwindtraders.com", "adatum.com"))
                email = f"{rng.choice(data.FIRST_NAMES).lower()}.{rng.choice(data.LAST_NAMES).lower()}@{partner}"
                ext_upn = f"{email.replace('@', '_')}#EXT#@{tenant.extra_domains[1]}"
                out.append(ev.audit(rng, t, "Invite external user", "UserManagement", "Add",
                                    ev.user_actor(target, target.office_ip),
                                    [{"id": guid(rng), "displayName": email.split("@")[0], "type": "User",
                                      "userPrincipalName": ext_upn,
                                      "modifiedProperties": [ev.prop("UserType", None, "Guest"),
                                                             ev.prop("InvitedUserEmailAddress", None, email)]}],
                                    service="B2B Invited Users", user_agent=data.DEVICE_PROFILES[0][2]))
            elif kind < 0.97:
                sp = rng.choice(tenant.service_principals)
                out.append(ev.audit(rng, t, "Update application", "ApplicationManagement", "Update",
                                    ev.user_actor(admin, admin.office_ip),
                                    [{"id": sp.application_object_id, "displayName": sp.name, "type": "Application",
                                      "modifiedProperties": [ev.prop("AppAddress", [], [f"https://{sp.name.split()[0].lower()}.contoso-sim.com/auth"]),
                                                             ev.prop("Included Updated Properties", None,
                                                                     "AppAddress")]}]))
            else:
                role = rng.choice(("Reports Reader", "Helpdesk Administrator", "Global Reader"))
                out.append(ev.audit(rng, t, "Add member to role", "RoleManagement", "Assign",
                                    ev.user_actor(admin, admin.office_ip),
                                    [{"id": target.user_id, "displayName": None, "type": "User",
                                      "userPrincipalName": target.upn,
                                      "modifiedProperties": [ev.prop("Role.DisplayName", None, role),
                                                             ev.prop("Role.WellKnownObjectName", None,
                                                                     role.replace(" ", ""))]},
                                     {"id": guid(rng), "displayName": role, "type": "Role",
                                      "modifiedProperties": []}]))

    def _routine_consent(self, rng: random.Random, t: int, user: User) -> ev.Event:
        """Users consenting to well-known SaaS apps with basic scopes: the baseline rare-consent rules learn."""
        app_name, app_id = rng.choice((("Zoom", "6a87d2e2-5f4b-4c47-9d7b-7f7d9d0d8a11"),
                                       ("Adobe Acrobat", "b8f3a2c4-4f0b-4b7e-9a53-5cf1a2a1e7d2"),
                                       ("Miro", "e4c8c9d1-9a3c-4e0e-8b63-2f2f9a2c6b31")))
        return consent_event(rng, t, user, app_name, guid(rng), app_id, "User.Read openid profile email",
                             admin=False, resource_sp_id=self.tenant.resource_sp_ids["graph"])

    # --- the hour ----------------------------------------------------------------------------------------

    def hour(self, hour_start: int) -> list[ev.Event]:
        rng = rng_for(self.seed, "hour", hour_start // US_PER_HOUR)
        out: list[ev.Event] = []
        hour_end = hour_start + US_PER_HOUR
        quiet = self.quiet
        for user, state in zip(self.tenant.users, self.states, strict=True):
            windows = quiet.get(user.upn)
            if windows and any(lo < hour_end and hour_start < hi for lo, hi in windows):
                continue
            self._user_hour(user, state, hour_start, hour_end, rng, out)
        self._sp_hour(hour_start, rng, out)
        self._mi_hour(hour_start, rng, out)
        self._audit_hour(hour_start, rng, out)
        return out


def consent_event(rng: random.Random, t: int, user: User, app_name: str, sp_id: str, app_id: str, scope: str, *,
                  admin: bool, resource_sp_id: str, correlation_id: str | None = None) -> ev.Event:
    """'Consent to application' with the ConsentContext / ConsentAction properties detections parse."""
    consent_type = "AllPrincipals" if admin else "Principal"
    principal = "" if admin else user.user_id
    grant = (f"[] => [[Id: {guid(rng).replace('-', '')[:22]}, ClientId: {sp_id}, PrincipalId: {principal}, "
             f"ResourceId: {resource_sp_id}, ConsentType: {consent_type}, Scope: {scope}, "
             f"CreatedDateTime: , LastModifiedDateTime ]]; ")
    return ev.audit(
        rng, t, "Consent to application", "ApplicationManagement", "Assign", ev.user_actor(user, user.home_ip),
        [{"id": sp_id, "displayName": app_name, "type": "ServicePrincipal",
          "modifiedProperties": [
              ev.prop("ConsentContext.IsAdminConsent", None, str(admin)),
              ev.prop("ConsentContext.IsAppOnly", None, "False"),
              ev.prop("ConsentContext.OnBehalfOfAll", None, str(admin)),
              ev.prop("ConsentContext.Tags", None, "WindowsAzureActiveDirectoryIntegratedApp"),
              ev.prop("ConsentAction.Permissions", None, grant),
              ev.prop("TargetId.ServicePrincipalNames", None, app_id),
          ]}],
        additional=[{"key": "AppId", "value": app_id}], user_agent=data.DEVICE_PROFILES[0][2],
        correlation_id=correlation_id,
    )
