"""Benign look-alikes: normal business that resembles an attack, labelled ``benign`` so precision can be measured."""

from __future__ import annotations

import random

from entrawatch.simulator import data
from entrawatch.simulator import events as ev
from entrawatch.simulator.baseline import consent_event
from entrawatch.simulator.scenarios.kit import Context, Outcome, minutes
from entrawatch.simulator.scenarios.workloads import _app_created, _new_secret, credential_audit
from entrawatch.simulator.tenant import Place, ServicePrincipal
from entrawatch.simulator.util import US_PER_DAY, US_PER_HOUR, US_PER_SECOND, guid


def benign_travel(ctx: Context, rng: random.Random, t0: int) -> Outcome:
    """A three-day business trip: silence during the flight, then normal work from the destination."""
    (user,) = ctx.cast(rng, 1, admin=False)
    destination = next(c for c in data.TRAVEL_COUNTRIES if c != user.country)
    ip, hotel = ctx.residential(rng, destination)
    trip_end = t0 + 3 * US_PER_DAY
    ctx.keep_quiet(user, t0 - 2 * US_PER_HOUR, trip_end)
    laptop = user.devices[0]
    out = Outcome([], accounts=[user.upn], ips=[ip], countries=[destination],
                  apps=["Microsoft Teams", "Microsoft Office"])
    offset = data.COUNTRIES[destination].utc_offset
    arrival = t0 + 12 * US_PER_HOUR
    day = arrival - (arrival + offset * US_PER_HOUR) % US_PER_DAY  # local midnight at the destination
    while day < trip_end:
        start = max(arrival, day + 8 * US_PER_HOUR + rng.randint(0, 60) * 60 * US_PER_SECOND)
        stop = min(trip_end, day + 18 * US_PER_HOUR)
        if start < stop:
            session = guid(rng)
            out.events.append(ctx.signin(rng, start, user, "Microsoft Teams", ip, hotel, device=laptop,
                                         session_id=session, auth="mfa"))
            t = start + minutes(20)
            while t < stop:
                for app, resource in (("Microsoft Teams", "teams"), ("Microsoft Office", "exchange")):
                    out.events.append(ctx.signin(rng, t + rng.randint(0, 600) * US_PER_SECOND, user, app, ip, hotel,
                                                 device=laptop, session_id=session, interactive=False, auth="none",
                                                 resource=resource))
                t += US_PER_HOUR
        day += US_PER_DAY
    return out


def benign_typos(ctx: Context, rng: random.Random, t0: int) -> Outcome:
    (user,) = ctx.cast(rng, 1, admin=False)
    out = Outcome([], accounts=[user.upn], ips=[user.office_ip], countries=[user.country], apps=["OfficeHome"])
    session = guid(rng)
    tries = rng.randint(2, 3)
    for k in range(tries):
        out.events.append(ctx.signin(rng, t0 + k * 25 * US_PER_SECOND, user, "OfficeHome", user.office_ip,
                                     user.home, session_id=session, error=50126, auth="bad_password",
                                     requirement="singleFactorAuthentication", ca_outcome="not_evaluated"))
    out.events.append(ctx.signin(rng, t0 + (tries * 25 + 20) * US_PER_SECOND, user, "OfficeHome", user.office_ip,
                                 user.home, session_id=session, auth="mfa"))
    return out


def benign_shared_vpn(ctx: Context, rng: random.Random, t0: int) -> Outcome:
    country, city, net = data.CORPORATE_VPN
    ip = f"{net.prefix}.{rng.randint(2, 30)}"
    place = Place(country, city.name, city.state, city.latitude, city.longitude, net.asn)
    users = ctx.cast(rng, min(30, max(10, len(ctx.tenant.users) // 8)), admin=False)
    out = Outcome([], accounts=[u.upn for u in users], ips=[ip], countries=[country],
                  apps=["Microsoft Teams", "OfficeHome"])
    for i, user in enumerate(users):
        t = t0 + minutes(i * 300 / len(users)) + rng.randint(0, 120) * US_PER_SECOND
        session = guid(rng)
        out.events.append(ctx.signin(rng, t, user, "OfficeHome", ip, place, session_id=session, auth="mfa"))
        for k in range(3):
            out.events.append(ctx.signin(rng, t + minutes(15 + 40 * k), user, "Microsoft Teams", ip, place,
                                         session_id=session, interactive=False, auth="none", resource="teams"))
    return out


def benign_app_rollout(ctx: Context, rng: random.Random, t0: int) -> Outcome:
    (admin,) = ctx.cast(rng, 1, admin=True)
    users = ctx.cast(rng, min(60, max(12, len(ctx.tenant.users) // 5)), admin=False)
    app = data.App(guid(rng), "Contoso Expenses", ("graph",))
    sp = ServicePrincipal(app.app_id, guid(rng), guid(rng), app.name, [], (admin.office_ip,), admin.home,
                          ("graph",), 60, "")
    out = Outcome([], accounts=[admin.upn] + [u.upn for u in users], ips=[admin.office_ip],
                  countries=[admin.country], apps=[app.name, app.app_id], service_principals=[sp.object_id])
    actor = ev.user_actor(admin, admin.office_ip)
    out.events.extend(_app_created(rng, t0 - minutes(50), actor, sp))
    out.events.append(consent_event(rng, t0 - minutes(30), admin, app.name, sp.object_id, app.app_id,
                                    "User.Read openid profile", admin=True,
                                    resource_sp_id=ctx.tenant.resource_sp_ids["graph"]))
    for i, user in enumerate(users):
        t = t0 + minutes(i * 420 / len(users)) + rng.randint(0, 300) * US_PER_SECOND
        ip = user.office_ip if i % 3 else user.home_ip
        out.events.append(ctx.signin(rng, t, user, app, ip, user.home, auth="claim"))
    return out


def benign_secret_rotation(ctx: Context, rng: random.Random, t0: int) -> Outcome:
    sp = ctx.service_principal(rng, always_on=True)
    (admin,) = ctx.cast(rng, 1, admin=True)
    new = _new_secret(rng, f"{sp.name} secret {rng.randint(2024, 2026)}", t0 + minutes(5))
    out = Outcome([], accounts=[admin.upn], ips=[admin.office_ip, *sp.ips], countries=[admin.country],
                  apps=[sp.name, sp.app_id], service_principals=[sp.object_id])
    out.events.append(credential_audit(rng, t0, ev.user_actor(admin, admin.office_ip), sp, list(sp.credentials),
                                       [*sp.credentials, new], on_application=True,
                                       user_agent=data.DEVICE_PROFILES[0][2]))
    sp.credentials.append(new)  # from now on the baseline signs in with the new secret, from the usual address
    return out
