"""Attacks on user identities: credential guessing, MFA abuse, token theft, odd locations and clients."""

from __future__ import annotations

import random

from entrawatch.simulator import data
from entrawatch.simulator.scenarios.kit import Context, Outcome, minutes
from entrawatch.simulator.tenant import User
from entrawatch.simulator.util import US_PER_HOUR, US_PER_SECOND, guid

_FAIL = dict(auth="bad_password", requirement="singleFactorAuthentication", ca_outcome="not_evaluated")


def password_spray(ctx: Context, rng: random.Random, t0: int) -> Outcome:
    ip, place, country = ctx.attacker(rng, "RU")
    device = ctx.attacker_device(rng)
    victims = ctx.cast(rng, min(28, max(12, len(ctx.tenant.users) // 10)), admin=False)
    out = Outcome([], accounts=[u.upn for u in victims], ips=[ip], countries=[country],
                  apps=["OfficeHome", "Office 365 Exchange Online"])
    for i, user in enumerate(victims):
        t = t0 + minutes(i * 36 / len(victims)) + rng.randint(0, 50) * US_PER_SECOND
        out.events.append(ctx.signin(rng, t, user, "OfficeHome", ip, place, device=device, error=50126, **_FAIL))
        if i % 2 == 0:  # the same spray over basic authentication, which lands in the non-interactive log
            client = "IMAP4" if i % 4 == 0 else "Authenticated SMTP"
            out.events.append(ctx.signin(rng, t + minutes(2), user, "Office 365 Exchange Online", ip, place,
                                         device=device, interactive=False, error=50126, client_app=client,
                                         user_agent="", protocol="ropc", incoming_token="none", **_FAIL))
    # One password was right: the tenant's MFA requirement interrupts it.
    out.events.append(ctx.signin(rng, t0 + minutes(40), victims[0], "OfficeHome", ip, place, device=device,
                                 error=50076, auth="mfa_required"))
    return out


def distributed_password_cracking(ctx: Context, rng: random.Random, t0: int) -> Outcome:
    (user,) = ctx.cast(rng, 1, admin=False)
    sources = [ctx.attacker(rng, c) for c in ("RU", "CN", "NG", "VN", "RO", "IR", "RU", "CN", "VN", "NG")]
    out = Outcome([], accounts=[user.upn], ips=sorted({ip for ip, _, _ in sources}),
                  countries=sorted({c for _, _, c in sources}), apps=["Microsoft Office", "OfficeHome"])
    attempts = rng.randint(36, 45)
    for i in range(attempts):
        ip, place, _ = sources[i % len(sources)]
        t = t0 + minutes(i * 170 / attempts) + rng.randint(0, 59) * US_PER_SECOND
        app = "Microsoft Office" if i % 3 else "OfficeHome"
        error = 50053 if i >= attempts - 3 else 50126
        out.events.append(ctx.signin(rng, t, user, app, ip, place, device=ctx.attacker_device(rng),
                                     interactive=i % 5 != 4, error=error, **_FAIL))
    return out


def portal_brute_force(ctx: Context, rng: random.Random, t0: int) -> Outcome:
    (user,) = ctx.cast(rng, 1, admin=True)
    ip, place, country = ctx.attacker(rng, "NL")
    device = ctx.attacker_device(rng)
    out = Outcome([], accounts=[user.upn], ips=[ip], countries=[country], apps=["Azure Portal"])
    failures = rng.randint(14, 22)
    session = guid(rng)
    for i in range(failures):
        t = t0 + minutes(i * 16 / failures) + rng.randint(0, 20) * US_PER_SECOND
        out.events.append(ctx.signin(rng, t, user, "Azure Portal", ip, place, device=device, error=50126,
                                     session_id=session, **_FAIL))
    out.events.append(ctx.signin(rng, t0 + minutes(18), user, "Azure Portal", ip, place, device=device,
                                 session_id=session, auth="mfa", ca_outcome="mfa"))
    return out


def mfa_fatigue(ctx: Context, rng: random.Random, t0: int) -> Outcome:
    (user,) = ctx.cast(rng, 1, admin=False)
    ip, place, country = ctx.attacker(rng, "RO")
    device = ctx.attacker_device(rng)
    session = guid(rng)
    out = Outcome([], accounts=[user.upn], ips=[ip], countries=[country], apps=["OfficeHome", "One Outlook Web"])
    prompts = rng.randint(10, 16)
    for i in range(prompts):
        t = t0 + minutes(i * 40 / prompts)
        out.events.append(ctx.signin(rng, t, user, "OfficeHome", ip, place, device=device, session_id=session,
                                     error=50074, auth="mfa_required"))
        out.events.append(ctx.signin(rng, t + 35 * US_PER_SECOND, user, "OfficeHome", ip, place, device=device,
                                     session_id=session, error=500121, auth="mfa_denied"))
    done = t0 + minutes(44)
    out.events.append(ctx.signin(rng, done, user, "OfficeHome", ip, place, device=device, session_id=session,
                                 auth="mfa"))
    for k in range(6):
        out.events.append(ctx.signin(rng, done + minutes(5 + k * 9), user, "One Outlook Web", ip, place,
                                     device=device, session_id=session, interactive=False, auth="none",
                                     resource="exchange"))
    return out


def disabled_account_attempts(ctx: Context, rng: random.Random, t0: int) -> Outcome:
    disabled = ctx.cast(rng, 3, enabled=False)
    (insider,) = ctx.cast(rng, 1, admin=False)
    ip, place, country = ctx.attacker(rng, "VN")
    device = ctx.attacker_device(rng)
    apps = ["OfficeHome", "Microsoft Teams", "One Outlook Web", "Azure Portal"]
    out = Outcome([], accounts=[u.upn for u in disabled] + [insider.upn], ips=[ip], countries=[country], apps=apps)
    t = t0
    for user in disabled:
        for app in apps:
            t += rng.randint(20, 200) * US_PER_SECOND
            out.events.append(ctx.signin(rng, t, user, app, ip, place, device=device, error=50057,
                                         auth="password", requirement="singleFactorAuthentication",
                                         ca_outcome="not_evaluated"))
        out.events.append(ctx.signin(rng, t + minutes(1), user, "Microsoft Office", ip, place, device=device,
                                     interactive=False, error=50057, auth="none", ca_outcome="not_evaluated"))
    # The same address also holds one working account: the ratio the Sentinel rule computes.
    out.events.append(ctx.signin(rng, t + minutes(6), insider, "OfficeHome", ip, place, device=device, auth="mfa"))
    return out


def refresh_token_replay(ctx: Context, rng: random.Random, t0: int) -> Outcome:
    (user,) = ctx.cast(rng, 1, admin=False)
    ip, place, country = ctx.attacker(rng, "CN")
    laptop = user.devices[0]
    session = guid(rng)
    out = Outcome([], accounts=[user.upn], ips=[ip], countries=[country],
                  apps=["Microsoft Teams", "Microsoft Office"])
    out.events.append(ctx.signin(rng, t0, user, "Microsoft Teams", user.office_ip, user.home, device=laptop,
                                 session_id=session, auth="mfa"))
    for k in range(1, 6):  # the legitimate client keeps refreshing from the office
        out.events.append(ctx.signin(rng, t0 + k * US_PER_HOUR, user, "Microsoft Teams", user.office_ip, user.home,
                                     device=laptop, session_id=session, interactive=False, auth="none",
                                     resource="teams"))
    for k in range(9):  # the stolen refresh token, replayed from elsewhere in the same session
        t = t0 + minutes(70 + k * 20) + rng.randint(0, 90) * US_PER_SECOND
        app = "Microsoft Office" if k % 2 else "Microsoft Teams"
        out.events.append(ctx.signin(rng, t, user, app, ip, place, device=laptop, session_id=session,
                                     interactive=False, auth="none", resource="exchange" if k % 2 else "graph",
                                     user_agent=data.ATTACKER_UAS[0]))
    return out


def aitm_session_theft(ctx: Context, rng: random.Random, t0: int) -> Outcome:
    (user,) = ctx.cast(rng, 1, admin=False)
    proxy_ip, proxy_place, proxy_country = ctx.attacker(rng, "US")
    ip, place, country = ctx.attacker(rng, "NG")
    session = guid(rng)
    out = Outcome([], accounts=[user.upn], ips=[proxy_ip, ip], countries=[proxy_country, country],
                  apps=["OfficeHome", "One Outlook Web", "Microsoft Office"])
    # The victim completes MFA on the phishing proxy: the sign-in comes from the proxy with the victim's browser.
    out.events.append(ctx.signin(rng, t0, user, "OfficeHome", proxy_ip, proxy_place, device=user.devices[0],
                                 session_id=session, auth="mfa"))
    thief = ctx.attacker_device(rng)
    for k in range(8):
        t = t0 + minutes(6 + k * 11)
        app = "One Outlook Web" if k % 2 == 0 else "Microsoft Office"
        out.events.append(ctx.signin(rng, t, user, app, ip, place, device=thief, session_id=session,
                                     interactive=False, auth="none", resource="exchange" if k % 2 == 0 else "graph"))
    return out


def legacy_protocol_success(ctx: Context, rng: random.Random, t0: int) -> Outcome:
    (user,) = ctx.cast(rng, 1, admin=False)
    ip, place, country = ctx.attacker(rng, "CN")
    out = Outcome([], accounts=[user.upn], ips=[ip], countries=[country], apps=["Office 365 Exchange Online"])
    legacy = dict(auth="password", requirement="singleFactorAuthentication", ca_outcome="legacy_excluded",
                  user_agent="", protocol="ropc", incoming_token="none")
    out.events.append(ctx.signin(rng, t0, user, "Office 365 Exchange Online", ip, place, client_app="POP3", **legacy))
    for k in range(5):
        out.events.append(ctx.signin(rng, t0 + minutes(3 + k * 12), user, "Office 365 Exchange Online", ip, place,
                                     interactive=False, client_app="IMAP4", **legacy))
    return out


def aad_powershell_nonaad_resource(ctx: Context, rng: random.Random, t0: int) -> Outcome:
    (user,) = ctx.cast(rng, 1, admin=False)
    ip, place, country = ctx.attacker(rng, "US")
    app = data.FIRST_PARTY_APPS["Azure Active Directory PowerShell"]
    session = guid(rng)
    out = Outcome([], accounts=[user.upn], ips=[ip], countries=[country], apps=[app.app_id, app.name])
    common = dict(device=ctx.attacker_device(rng), session_id=session, user_agent=data.POWERSHELL_UA,
                  client_app="Mobile Apps and Desktop clients")
    out.events.append(ctx.signin(rng, t0, user, app, ip, place, resource="aad", auth="mfa", **common))
    for k, resource in enumerate(("arm", "exchange", "arm", "spo")):
        out.events.append(ctx.signin(rng, t0 + minutes(4 + k * 7), user, app, ip, place, resource=resource,
                                     interactive=k == 0, auth="claim" if k == 0 else "none", **common))
    return out


def ca_bypass_attempts(ctx: Context, rng: random.Random, t0: int) -> Outcome:
    (user,) = ctx.cast(rng, 1, admin=False)
    sources = [ctx.attacker(rng, c) for c in ("IR", "RU", "CN", "NG")]
    out = Outcome([], accounts=[user.upn], ips=[ip for ip, _, _ in sources],
                  countries=sorted({c for _, _, c in sources}), apps=["Microsoft Office"])
    for k in range(10):
        ip, place, _ = sources[k % len(sources)]
        out.events.append(ctx.signin(rng, t0 + minutes(k * 11), user, "Microsoft Office", ip, place,
                                     device=ctx.attacker_device(rng), error=53003, auth="password",
                                     ca_outcome="country_blocked"))
    return out


def seamless_sso_spray(ctx: Context, rng: random.Random, t0: int) -> Outcome:
    ip, place, country = ctx.attacker(rng, "IR")
    device = ctx.attacker_device(rng)
    victims = ctx.cast(rng, min(15, max(7, len(ctx.tenant.users) // 20)), admin=False)
    out = Outcome([], accounts=[u.upn for u in victims], ips=[ip], countries=[country], apps=["Microsoft Office"])
    for i, user in enumerate(victims):
        t = t0 + minutes(i * 38 / len(victims))
        out.events.append(ctx.signin(rng, t, user, "Microsoft Office", ip, place, device=device, interactive=False,
                                     error=81016 if i % 4 else 81018, protocol="seamlessSso",
                                     incoming_token="none", **_FAIL))
    return out


def _far_country(user: User, candidates: tuple[str, ...], ctx: Context, rng: random.Random) -> str:
    from entrawatch.simulator.tenant import place_for

    scored = sorted(candidates, key=lambda c: (-ctx.distance_km(user.home, place_for(c, random.Random(c))[0]), c))
    return scored[0] if scored[0] != user.country else scored[1]


def new_country_auth(ctx: Context, rng: random.Random, t0: int) -> Outcome:
    (user,) = ctx.cast(rng, 1, admin=False)
    country = _far_country(user, ("NG", "VN", "IR"), ctx, rng)
    ip, place, country = ctx.attacker(rng, country)
    session = guid(rng)
    device = ctx.attacker_device(rng)
    out = Outcome([], accounts=[user.upn], ips=[ip], countries=[country], apps=["One Outlook Web"],
                  notes=["may also raise impossible-travel alerts: the user's phone keeps refreshing from home"])
    out.events.append(ctx.signin(rng, t0, user, "One Outlook Web", ip, place, device=device, session_id=session,
                                 auth="mfa"))
    for k in range(3):
        out.events.append(ctx.signin(rng, t0 + minutes(10 + 15 * k), user, "One Outlook Web", ip, place,
                                     device=device, session_id=session, interactive=False, auth="none"))
    return out


def impossible_travel(ctx: Context, rng: random.Random, t0: int) -> Outcome:
    (user,) = ctx.cast(rng, 1, admin=False)
    far = _far_country(user, ("AU", "JP", "BR", "CN", "RU"), ctx, rng)
    if far in data.ATTACKER_NETWORKS:
        ip, place, _ = ctx.attacker(rng, far)
    else:
        ip, place = ctx.residential(rng, far)
    out = Outcome([], accounts=[user.upn], ips=[user.office_ip, ip], countries=[user.country, far],
                  apps=["Microsoft Teams", "OfficeHome"])
    session = guid(rng)
    out.events.append(ctx.signin(rng, t0, user, "Microsoft Teams", user.office_ip, user.home,
                                 session_id=session, auth="mfa"))
    out.events.append(ctx.signin(rng, t0 + minutes(6), user, "Microsoft Teams", user.office_ip, user.home,
                                 session_id=session, interactive=False, auth="none", resource="teams"))
    other = guid(rng)
    device = ctx.attacker_device(rng)
    out.events.append(ctx.signin(rng, t0 + minutes(27), user, "OfficeHome", ip, place, device=device,
                                 session_id=other, auth="mfa"))
    out.events.append(ctx.signin(rng, t0 + minutes(31), user, "Microsoft Teams", ip, place, device=device,
                                 session_id=other, interactive=False, auth="none", resource="graph"))
    out.events.append(ctx.signin(rng, t0 + minutes(38), user, "Microsoft Teams", user.office_ip, user.home,
                                 session_id=session, interactive=False, auth="none", resource="teams"))
    return out
