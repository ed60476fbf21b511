"""What a scenario builder gets to work with: the tenant, a cast of unused users, attacker addresses, helpers.

Scenario builders are small functions ``build(ctx, rng, t0) -> Outcome``. They never touch the baseline's state
directly; they tell the context which users to keep quiet (``ctx.quiet``) or which service principal to keep
dormant, and the baseline honours that. Users are handed out once (``ctx.cast``) so two scenarios never share a
victim and the ground truth stays unambiguous.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from entrawatch.simulator import data
from entrawatch.simulator import events as ev
from entrawatch.simulator.tenant import Device, Place, Tenant, User, attacker_ip, place_for
from entrawatch.simulator.util import US_PER_MINUTE, guid, ip_in


@dataclass
class Outcome:
    """What a scenario produced: its events and the entities the ground truth names."""

    events: list[ev.Event]
    accounts: list[str] = field(default_factory=list)
    ips: list[str] = field(default_factory=list)
    apps: list[str] = field(default_factory=list)
    service_principals: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ScenarioSpec:
    id: str
    label: str  # "attack" or "benign"
    technique: str
    description: str
    streams: tuple[str, ...]
    expected: str
    history_days: float  # baseline days the detection needs before the scenario
    build: Builder


#: A scenario builder: ``build(ctx, rng, t0) -> Outcome``.
Builder = Callable[["Context", random.Random, int], Outcome]


class Context:
    def __init__(self, tenant: Tenant, start: int, end: int) -> None:
        self.tenant = tenant
        self.start = start
        self.end = end
        self.used: set[str] = set()
        self.used_sps: set[str] = set()
        self.quiet: dict[str, list[tuple[int, int]]] = {}

    # --- cast ------------------------------------------------------------------------------------------

    def cast(self, rng: random.Random, count: int, *, enabled: bool = True, admin: bool | None = None,
             guest: bool = False, legacy: bool = False) -> list[User]:
        """``count`` users nobody else used yet, matching the filters, in a seeded order."""
        pool = [u for u in self.tenant.users
                if u.upn not in self.used and u.enabled == enabled and (u.user_type == "Guest") == guest
                and (admin is None or u.is_admin == admin) and (u.legacy_client is not None) == legacy]
        if len(pool) < count:  # small tenants: reuse rather than fail
            pool = [u for u in self.tenant.users if u.enabled == enabled and (u.user_type == "Guest") == guest]
        picked = rng.sample(pool, min(count, len(pool)))
        self.used.update(u.upn for u in picked)
        return picked

    def service_principal(self, rng: random.Random, *, always_on: bool = False):
        pool = [sp for sp in self.tenant.service_principals
                if sp.object_id not in self.used_sps and (not always_on or sp.active_hours == (0, 24))]
        sp = rng.choice(pool or self.tenant.service_principals)
        self.used_sps.add(sp.object_id)
        return sp

    def keep_quiet(self, user: User, lo: int, hi: int) -> None:
        self.quiet.setdefault(user.upn, []).append((lo, hi))

    # --- places ----------------------------------------------------------------------------------------

    @staticmethod
    def attacker(rng: random.Random, country: str | None = None) -> tuple[str, Place, str]:
        code = country or rng.choice(data.ATTACKER_COUNTRIES)
        ip, place = attacker_ip(code, rng)
        return ip, place, code

    @staticmethod
    def residential(rng: random.Random, country: str) -> tuple[str, Place]:
        place, isp = place_for(country, rng)
        return ip_in(isp.prefix, rng, 41, 254), place

    @staticmethod
    def attacker_device(rng: random.Random) -> Device:
        ua = rng.choice(data.ATTACKER_UAS)
        os_name = "Linux" if "Linux" in ua or "python" in ua or "axios" in ua or "Go-" in ua else "Windows10"
        return Device("", "", os_name, "Chrome 124.0.0" if "Chrome" in ua else "", ua, False, False, "", False)

    @staticmethod
    def distance_km(a: Place, b: Place) -> float:
        lat1, lon1, lat2, lon2 = map(math.radians, (a.latitude, a.longitude, b.latitude, b.longitude))
        h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
        return 6371.0 * 2 * math.asin(math.sqrt(h))

    # --- event shortcuts ---------------------------------------------------------------------------------

    def signin(self, rng: random.Random, t: int, user: User, app: str | data.App, ip: str, place: Place, *,
               device: Device | None = None, interactive: bool = True, session_id: str | None = None,
               resource: str | None = None, **kw) -> ev.Event:
        app_obj = app if isinstance(app, data.App) else data.FIRST_PARTY_APPS[app]
        return ev.user_signin(self.tenant, rng, t, user, device or user.devices[0], app_obj,
                              resource or app_obj.resources[0], ip, place, interactive=interactive,
                              session_id=session_id or guid(rng), **kw)


def minutes(n: float) -> int:
    return int(n * US_PER_MINUTE)
