"""The simulated tenant: people, devices, networks, applications, service principals, managed identities.

Built once from the seed and the user count, before any event is generated, so that every generator and every
scenario sees the same directory. Everything here is small (a few KB per user) and immutable once built; the
per-hour generators keep their own mutable session state elsewhere.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import cached_property

from entrawatch.simulator import data
from entrawatch.simulator.util import guid, ip_in, rng_for, thumbprint


@dataclass(frozen=True)
class Place:
    """Where an address geolocates: what the sign-in's ``location`` and ASN say."""

    country: str
    city: str
    state: str
    latitude: float
    longitude: float
    asn: int

    def location(self) -> dict:
        """Shared, never mutated: every event from this place points at the same dict."""
        return self._location

    @cached_property
    def _location(self) -> dict:
        return {"city": self.city, "state": self.state, "countryOrRegion": self.country,
                "geoCoordinates": {"latitude": self.latitude, "longitude": self.longitude}}


@dataclass(frozen=True)
class Device:
    device_id: str
    display_name: str
    operating_system: str
    browser: str
    user_agent: str
    is_compliant: bool
    is_managed: bool
    trust_type: str  # "Azure AD joined", "Hybrid Azure AD joined", "Azure AD registered", ""
    is_phone: bool

    def detail(self) -> dict:
        return self._detail

    @cached_property
    def refresh_detail(self) -> dict:
        """deviceDetail of a token refresh: desktop apps report the rich client, not the browser."""
        from entrawatch.simulator.data import RICH_CLIENT_BROWSER

        return dict(self._detail, browser=self.browser if self.is_phone else RICH_CLIENT_BROWSER)

    @cached_property
    def _detail(self) -> dict:
        return {"deviceId": self.device_id, "displayName": self.display_name,
                "operatingSystem": self.operating_system, "browser": self.browser,
                "isCompliant": self.is_compliant, "isManaged": self.is_managed, "trustType": self.trust_type}


@dataclass
class User:
    index: int
    user_id: str
    upn: str
    display_name: str
    user_type: str  # "Member" or "Guest"
    department: str
    country: str
    home: Place
    home_ip: str
    office_ip: str
    utc_offset: int
    work_start: int  # local hour
    work_end: int
    devices: tuple[Device, ...]
    roles: tuple[str, ...] = ()
    enabled: bool = True
    legacy_client: str | None = None  # users still on IMAP/SMTP/ActiveSync
    weekend_worker: bool = False
    home_tenant_id: str = ""

    @property
    def is_admin(self) -> bool:
        return bool(self.roles)


@dataclass
class Credential:
    key_id: str
    kind: str  # "Password" or "AsymmetricX509Cert"
    display_name: str
    thumbprint: str = ""
    active_from: int = 0  # microseconds; rotation scenarios add credentials that start mid-run


@dataclass
class ServicePrincipal:
    """A custom application's service principal: who it is, where it calls from, how often."""

    app_id: str
    object_id: str
    application_object_id: str
    name: str
    credentials: list[Credential]
    ips: tuple[str, ...]
    place: Place
    resources: tuple[str, ...]
    interval_minutes: int
    user_agent: str
    active_until: int | None = None  # no baseline sign-ins after this instant (dormancy scenarios)
    active_hours: tuple[int, int] = (0, 24)


@dataclass
class ManagedIdentity:
    name: str
    object_id: str
    app_id: str
    msi_type: str  # "systemAssigned" / "userAssigned"
    resource_id: str  # Azure resource it is attached to
    ip: str
    place: Place
    resources: tuple[str, ...]
    interval_minutes: int


@dataclass(frozen=True)
class CAPolicy:
    policy_id: str
    name: str
    grant: tuple[str, ...]
    session: tuple[str, ...]
    state: str  # "enabled", "reportOnly", "disabled"


@dataclass
class Tenant:
    tenant_id: str
    workspace_id: str
    domain: str
    extra_domains: tuple[str, ...]
    users: list[User]
    service_principals: list[ServicePrincipal]
    managed_identities: list[ManagedIdentity]
    ca_policies: tuple[CAPolicy, ...]
    office_ips: dict[str, str]
    admins: list[User] = field(default_factory=list)
    # Service-principal object ids of the first-party resources in this tenant.
    resource_sp_ids: dict[str, str] = field(default_factory=dict)
    ca_cache: dict = field(default_factory=dict)  # outcome -> (status, policies), filled by events.ca


def place_for(country_code: str, rng: random.Random) -> tuple[Place, data.Network]:
    country = data.COUNTRIES[country_code]
    city = rng.choice(country.cities)
    isp = rng.choice(country.isps)
    return Place(country_code, city.name, city.state, city.latitude, city.longitude, isp.asn), isp


def attacker_ip(country_code: str, rng: random.Random) -> tuple[str, Place]:
    """An attacker address in a documentation range that geolocates to ``country_code``."""
    net = data.ATTACKER_NETWORKS[country_code]
    low, high = data.ATTACKER_HOST_RANGES[country_code]
    country = data.COUNTRIES.get(country_code)
    if country is not None:
        city = rng.choice(country.cities)
        place = Place(country_code, city.name, city.state, city.latitude, city.longitude, net.asn)
    else:  # pragma: no cover - every attacker country has a COUNTRIES entry
        place = Place(country_code, "", "", 0.0, 0.0, net.asn)
    return ip_in(net.prefix, rng, low, high), place


def _weighted_country(rng: random.Random) -> str:
    codes = [c for c, _ in data.HOME_COUNTRY_WEIGHTS]
    weights = [w for _, w in data.HOME_COUNTRY_WEIGHTS]
    return rng.choices(codes, weights)[0]


def _devices(rng: random.Random, first: str, last: str, guest: bool) -> tuple[Device, ...]:
    os_name, browser, ua = rng.choice(data.DEVICE_PROFILES)
    if guest:
        return (Device("", "", os_name, browser, ua, False, False, "", False),)
    join = rng.choices(("Azure AD joined", "Hybrid Azure AD joined", "Azure AD registered"), (60, 30, 10))[0]
    compliant = rng.random() < 0.9
    name = f"{'LT' if os_name == 'Windows10' else 'MB'}-{first[:3].upper()}{last[:3].upper()}{rng.randint(10, 99)}"
    laptop = Device(guid(rng), name, os_name, browser, ua, compliant, True, join, False)
    if rng.random() < 0.6:
        p_os, p_browser, p_ua = rng.choice(data.PHONE_PROFILES)
        phone = Device(guid(rng), f"{first}'s phone", p_os, p_browser, p_ua, compliant, True,
                       "Azure AD registered", True)
        return (laptop, phone)
    return (laptop,)


ADMIN_ROLES = ("Global Administrator", "Application Administrator", "Security Administrator",
               "User Administrator", "Exchange Administrator", "Privileged Role Administrator")


def build_tenant(seed: int, users: int) -> Tenant:
    """Deterministic directory for ``users`` people (at least 20 so every scenario finds its cast)."""
    rng = rng_for(seed, "tenant")
    tenant_id = guid(rng)
    workspace_id = guid(rng)
    domain = "contoso-sim.com"
    extra_domains = ("sales.contoso-sim.com", "contoso-sim.onmicrosoft.com")
    office_ips: dict[str, str] = {}
    for code, _ in data.HOME_COUNTRY_WEIGHTS:
        country = data.COUNTRIES[code]
        office_ips[code] = ip_in(country.isps[0].prefix, rng, 1, 40)  # offices use the low hosts

    people: list[User] = []
    seen_upns: set[str] = set()
    n_users = max(20, users)
    guest_count = max(2, n_users // 40)
    for index in range(n_users):
        first = rng.choice(data.FIRST_NAMES)
        last = rng.choice(data.LAST_NAMES)
        guest = index >= n_users - guest_count
        base = f"{first}.{last}".lower()
        upn_local = base
        suffix = 1
        while f"{upn_local}@{domain}" in seen_upns:
            suffix += 1
            upn_local = f"{base}{suffix}"
        upn = f"{upn_local}@{domain}"
        if guest:
            partner = rng.choice(("fabrikam.com", "northwindtraders.com", "adatum.com"))
            upn = f"{upn_local}@{partner}"
        seen_upns.add(upn)
        country = _weighted_country(rng)
        home, isp = place_for(country, rng)
        home_ip = ip_in(isp.prefix, rng, 41, 254)
        start = rng.choice((7, 8, 8, 9, 9, 10))
        person = User(
            index=index, user_id=guid(rng), upn=upn, display_name=f"{first} {last}",
            user_type="Guest" if guest else "Member", department=rng.choice(data.DEPARTMENTS),
            country=country, home=home, home_ip=home_ip, office_ip=office_ips[country],
            utc_offset=data.COUNTRIES[country].utc_offset, work_start=start, work_end=start + rng.choice((8, 9, 9, 10)),
            devices=_devices(rng, first, last, guest), weekend_worker=rng.random() < 0.08,
            home_tenant_id=guid(rng) if guest else tenant_id,
        )
        people.append(person)

    members = [u for u in people if u.user_type == "Member"]
    # Admins: about 3 % of members, at least three, drawn from IT first.
    admin_count = max(3, n_users * 3 // 100)
    ordered = sorted(members, key=lambda u: (u.department != "IT", u.index))
    admins = ordered[:admin_count]
    for i, adm in enumerate(admins):
        adm.roles = (ADMIN_ROLES[i % len(ADMIN_ROLES)],)
    # Disabled accounts (leavers) and legacy-protocol holdouts.
    leavers = [u for u in members if not u.roles][-max(3, n_users // 100):]
    for u in leavers:
        u.enabled = False
    holdouts = [u for u in members if u.enabled and not u.roles][: max(2, n_users // 150)]
    for u in holdouts:
        u.legacy_client = rng.choice(data.LEGACY_CLIENTS[:2])

    sps = _service_principals(rng, max(6, min(len(data.CUSTOM_APP_NAMES), n_users // 40 + 6)))
    mis = _managed_identities(rng, max(4, min(len(data.MI_NAMES), n_users // 60 + 4)))
    policies = (
        CAPolicy(guid(rng), "Require MFA for all users", ("Mfa",), (), "enabled"),
        CAPolicy(guid(rng), "Block legacy authentication", ("Block",), (), "enabled"),
        CAPolicy(guid(rng), "Require compliant device for administrators", ("RequireCompliantDevice",), (),
                 "enabled"),
        CAPolicy(guid(rng), "Block access from sanctioned countries", ("Block",), (), "enabled"),
        CAPolicy(guid(rng), "Microsoft-managed: Multifactor authentication and reauthentication for risky sign-ins",
                 ("Mfa",), ("SignInFrequency",), "reportOnly"),
    )
    tenant = Tenant(tenant_id, workspace_id, domain, extra_domains, people, sps, mis, policies, office_ips,
                    admins=admins)
    for key in data.RESOURCES:
        tenant.resource_sp_ids[key] = guid(rng)
    return tenant


def _service_principals(rng: random.Random, count: int) -> list[ServicePrincipal]:
    result = []
    resource_sets = (("graph",), ("graph", "exchange"), ("arm",), ("keyvault", "storage"), ("graph", "spo"),
                     ("o365mgmt",), ("arm", "keyvault"))
    for i in range(count):
        name = data.CUSTOM_APP_NAMES[i % len(data.CUSTOM_APP_NAMES)]
        if rng.random() < 0.5:
            region_country, city, prefix = rng.choice(data.AZURE_REGIONS)
            asn = data.AZURE_ASN
        else:
            region_country, city, net = rng.choice(data.HOSTING)
            prefix, asn = net.prefix, net.asn
        place = Place(region_country, city.name, city.state, city.latitude, city.longitude, asn)
        ips = tuple(ip_in(prefix, rng, 10, 250) for _ in range(rng.choice((1, 1, 2))))
        if rng.random() < 0.5:
            cred = Credential(guid(rng), "AsymmetricX509Cert", f"CN={name.replace(' ', '')}", thumbprint(rng))
        else:
            cred = Credential(guid(rng), "Password", f"{name} secret")
        result.append(ServicePrincipal(
            app_id=guid(rng), object_id=guid(rng), application_object_id=guid(rng), name=name,
            credentials=[cred], ips=ips, place=place, resources=rng.choice(resource_sets),
            interval_minutes=rng.choice((15, 30, 30, 60, 60, 120)), user_agent=rng.choice(data.MSAL_SP_UAS),
            active_hours=(0, 24) if rng.random() < 0.7 else (1, 5),
        ))
    return result


def _managed_identities(rng: random.Random, count: int) -> list[ManagedIdentity]:
    result = []
    sub = guid(rng)
    for i in range(count):
        name = data.MI_NAMES[i % len(data.MI_NAMES)]
        region_country, city, prefix = rng.choice(data.AZURE_REGIONS)
        place = Place(region_country, city.name, city.state, city.latitude, city.longitude, data.AZURE_ASN)
        msi_type = "systemAssigned" if rng.random() < 0.6 else "userAssigned"
        provider = "Microsoft.Web/sites" if name.startswith(("func", "app", "logic")) else \
            "Microsoft.Compute/virtualMachines"
        resource_id = f"/subscriptions/{sub}/resourceGroups/rg-{name.split('-')[1]}/providers/{provider}/{name}"
        result.append(ManagedIdentity(
            name=name, object_id=guid(rng), app_id=guid(rng), msi_type=msi_type, resource_id=resource_id,
            ip=ip_in(prefix, rng, 10, 250), place=place,
            resources=rng.choice((("keyvault",), ("storage",), ("graph",), ("arm", "keyvault"))),
            interval_minutes=rng.choice((5, 10, 15, 30, 60)),
        ))
    return result
