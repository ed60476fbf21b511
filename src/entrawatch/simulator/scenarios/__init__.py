"""The scenario catalogue (ids fixed by docs/contracts.md) and their deterministic placement in time.

Placement: scenario *i* of the catalogue lands at a golden-ratio fraction of the window that starts after the
baseline history it needs and ends a few hours before the period does, snapped to a scenario-specific hour of
day. Spreading by the golden ratio keeps scenarios apart for any period length, and the catalogue order (not
the selection) decides the slot, so ``--scenarios a,b`` places ``a`` exactly where ``all`` would.
"""

from __future__ import annotations

from entrawatch.errors import SimulatorError
from entrawatch.simulator import events as ev
from entrawatch.simulator.scenarios import benign, identity, workloads
from entrawatch.simulator.scenarios.kit import Builder, Context, Outcome, ScenarioSpec
from entrawatch.simulator.util import US_PER_DAY, US_PER_HOUR, US_PER_MINUTE, iso_seconds, rng_for

# The tables a scenario writes to (``ScenarioSpec.streams``), one name per combination the table uses.
U = (ev.SIGNIN, ev.NONINTERACTIVE)
S = (ev.SIGNIN,)
N = (ev.NONINTERACTIVE,)
A = (ev.AUDIT,)
SP = (ev.SERVICE_PRINCIPAL,)
MI = (ev.MANAGED_IDENTITY,)
A_U, A_S, A_N, A_SP = (*A, *U), (*A, *S), (*A, *N), (*A, *SP)

#: One entry a scenario, in catalogue order: a scenario's position is its placement slot, so new ids go at the
#: end. Line 1: id, label, ATT&CK technique, streams, baseline days a detection needs before it, builder;
#: line 2: what happens (truth ``description``); line 3: what a detection should see (truth ``expected``).
_TABLE: tuple[tuple[str, str, str, tuple[str, ...], float, Builder, str, str], ...] = (
    ("password_spray", "attack", "T1110.003", U, 0.5, identity.password_spray,
     "One address tries one password against many accounts: interactive 50126 failures plus IMAP/SMTP basic-auth attempts in the non-interactive log; one account's password works and hits MFA (50076).",
     "Password spray: one IP, many distinct accounts failing with 50126 within 20-minute windows."),
    ("distributed_password_cracking", "attack", "T1110.001", U, 0.5, identity.distributed_password_cracking,
     "One account receives 36-45 failed passwords from ten addresses in six countries over three hours, ending in lockout (50053).",
     "Distributed password cracking: >30 failures for one user from >=3 locations."),
    ("portal_brute_force", "attack", "T1110.001", S, 1.0, identity.portal_brute_force,
     "14-22 failed sign-ins to Azure Portal from one address within 16 minutes, then a success.",
     "Brute force against Azure Portal: >=10 failures followed by a success, same user and IP."),
    ("mfa_fatigue", "attack", "T1621", U, 0.5, identity.mfa_fatigue,
     "Repeated MFA prompts (50074 interrupts, 500121 'MFA denied; user declined the authentication') for 40 minutes, then the user approves; the attacker's session refreshes tokens.",
     "MFA fatigue / explicit MFA deny: repeated 500121 denials then a success from the same IP."),
    ("disabled_account_attempts", "attack", "T1078", U, 0.5, identity.disabled_account_attempts,
     "One address tries three disabled accounts against four applications (50057) and also holds a working account.",
     "Sign-ins to disabled accounts (50057) across >=3 applications from one IP."),
    ("refresh_token_replay", "attack", "T1550.001", U, 2.0, identity.refresh_token_replay,
     "A session starts at the office; two hours of its non-interactive refreshes also come from a foreign country and ASN with the same SessionId while the interactive side stays home.",
     "Token replay: one SessionId used from two countries/ASNs; non-interactive from a new country."),
    ("aitm_session_theft", "attack", "T1557", U, 1.0, identity.aitm_session_theft,
     "Adversary-in-the-middle: the victim passes MFA through a proxy on hosting infrastructure, then the stolen session cookie is used from another country with a different client.",
     "AiTM: interactive success from a hosting IP, then same-session token use from another IP/country."),
    ("legacy_protocol_success", "attack", "T1078", U, 0.5, identity.legacy_protocol_success,
     "Successful POP3 and IMAP4 (basic authentication, ROPC) sign-ins from a foreign address by a user who never used legacy protocols.",
     "Successful legacy-protocol sign-in (ClientAppUsed IMAP4/POP3)."),
    ("aad_powershell_nonaad_resource", "attack", "T1078.004", U, 0.0, identity.aad_powershell_nonaad_resource,
     "Azure AD PowerShell (1b730954-...) used to get tokens for Azure Resource Manager, Exchange and SharePoint.",
     "Azure AD PowerShell accessing a non-directory resource (ResourceIdentity not AAD/Graph)."),
    ("ca_bypass_attempts", "attack", "T1078", S, 0.5, identity.ca_bypass_attempts,
     "Ten sign-ins blocked by conditional access (53003) for one user from four countries, no MFA success.",
     "Conditional-access failures for one user from several IPs."),
    ("dormant_sp_new_secret", "attack", "T1098.001", A_SP, 1.0, workloads.dormant_sp_new_secret,
     "A service principal with no sign-ins for 30+ days gets a new client secret from a foreign address; 47 minutes later it signs in with that secret from the same new address.",
     "Secret added to a dormant service principal, then sign-ins from a new IP with the new key id."),
    ("first_credential_then_use", "attack", "T1098.001", A_SP, 0.0, workloads.first_credential_then_use,
     "A user registers an app, adds its first secret (KeyDescription old value []) and the app signs in with it.",
     "First credential added to an application that had none, then used."),
    ("credential_after_admin_consent", "attack", "T1098.001", A_SP, 0.0, workloads.credential_after_admin_consent,
     "An admin consents tenant-wide to a mail-reading app; three hours later another admin adds a secret to its service principal from a foreign address.",
     "Credential added after admin consent to the same application."),
    ("rare_consent_offline_access", "attack", "T1528", A_N, 2.0, workloads.rare_consent_offline_access,
     "A user consents (Principal) to a never-seen app with offline_access Mail.Read Files.Read; the app then refreshes tokens for the user from its own servers.",
     "Rare app consent with offline_access and mail/file scopes."),
    ("federation_change_then_signin", "attack", "T1484.002", A_U, 0.0, workloads.federation_change_then_signin,
     "A secondary domain is switched from Managed to Federated with an attacker's token issuer; users of that domain then sign in with tokens from that issuer (ADFederationServices).",
     "Domain federation settings changed ('Set domain authentication' LiveType Federated), then federated sign-ins."),
    ("mi_token_non_azure_ip", "attack", "T1078.004", MI, 0.5, workloads.mi_token_non_azure_ip,
     "A managed identity's tokens are requested from a non-Azure hosting address.",
     "Managed-identity sign-in from an IP outside Azure datacenter ranges."),
    ("sp_new_country", "attack", "T1078.004", SP, 2.0, workloads.sp_new_country,
     "A service principal that always calls from its home region signs in from a new country with its existing credential.",
     "Service principal authentication from a country it never used."),
    ("guest_invite_then_powershell", "attack", "T1078.004", A_U, 0.0, workloads.guest_invite_then_powershell,
     "A guest is invited, and 26 minutes later that guest signs in with Azure AD PowerShell.",
     "External guest invitation followed by Azure AD PowerShell sign-in."),
    ("seamless_sso_spray", "attack", "T1110.003", N, 0.0, identity.seamless_sso_spray,
     "Seamless SSO endpoint spray: 81016/81018 failures across many users from one address in 40 minutes.",
     "Seamless SSO password spray: ResultType 81xxx across >5 accounts from one IP."),
    ("new_country_auth", "attack", "T1078", U, 3.0, identity.new_country_auth,
     "A user signs in successfully from a country never seen for the tenant's staff.",
     "Authentication from a new country for the user."),
    ("impossible_travel", "attack", "T1078", U, 1.0, identity.impossible_travel,
     "The same user signs in at the office and 27 minutes later from another continent, in both interactive and non-interactive logs.",
     "Impossible travel: far-apart countries within minutes for one user."),
    ("benign_travel", "benign", "T1078", U, 3.0, benign.benign_travel,
     "A user flies abroad (12 h of silence) and works normally from a hotel for three days with the same compliant laptop.",
     "Benign: should not be reported as compromise (looks like new country)."),
    ("benign_typos", "benign", "T1110", S, 0.0, benign.benign_typos,
     "A user mistypes their password 2-3 times at the office, then succeeds with MFA.",
     "Benign: a few failures from the user's usual IP and device."),
    ("benign_shared_vpn", "benign", "T1110.003", U, 0.0, benign.benign_shared_vpn,
     "Many users sign in successfully through one corporate VPN egress within five hours.",
     "Benign: one IP with many accounts, all successful (not a spray)."),
    ("benign_app_rollout", "benign", "T1528", A_S, 0.0, benign.benign_app_rollout,
     "An admin registers and consents to a new internal app; a large share of staff signs in to it the same day.",
     "Benign: new app with many first-time users (not rare consent)."),
    ("benign_secret_rotation", "benign", "T1098.001", A_SP, 1.0, benign.benign_secret_rotation,
     "Scheduled secret rotation on an active service principal; it keeps signing in from its usual address with the new secret.",
     "Benign: credential added to an active service principal used from its usual IP."),
)


def _spec(scenario_id: str, label: str, technique: str, streams: tuple[str, ...], history_days: float,
          build: Builder, description: str, expected: str) -> ScenarioSpec:
    return ScenarioSpec(scenario_id, label, technique, description, streams, expected, history_days, build)


CATALOGUE: tuple[ScenarioSpec, ...] = tuple(_spec(*entry) for entry in _TABLE)
SCENARIO_IDS = tuple(spec.id for spec in CATALOGUE)
ATTACK_IDS = tuple(spec.id for spec in CATALOGUE if spec.label == "attack")
BENIGN_IDS = tuple(spec.id for spec in CATALOGUE if spec.label == "benign")


def select(scenarios: str | list[str] | tuple[str, ...], benign_lookalikes: bool) -> list[ScenarioSpec]:
    """Resolve ``all`` / ``none`` / a comma list into catalogue entries; unknown ids are an error."""
    if isinstance(scenarios, str):
        text = scenarios.strip()
        wanted = list(SCENARIO_IDS) if text in ("all", "") else [] if text == "none" else \
            [s.strip() for s in text.split(",") if s.strip()]
        explicit = text not in ("all", "", "none")
    else:
        wanted, explicit = list(scenarios), True
    unknown = [s for s in wanted if s not in SCENARIO_IDS]
    if unknown:
        raise SimulatorError(f"unknown scenario id(s): {', '.join(unknown)} (known: {', '.join(SCENARIO_IDS)})")
    chosen = [spec for spec in CATALOGUE if spec.id in wanted]
    if not benign_lookalikes and not explicit:
        chosen = [spec for spec in chosen if spec.label == "attack"]
    return chosen


_GOLDEN = 0.6180339887498949
_LEAD_IN = 6 * US_PER_HOUR  # scenarios start their story up to ~3 h before t0 (app registration, consent)
_TAIL = 8 * US_PER_HOUR  # room after t0 for the longest scenario (benign_travel is clipped to the period)


def build_all(specs: list[ScenarioSpec], ctx: Context, seed: int,
              skipped: list[dict] | None = None) -> tuple[list[ev.Event], list[dict]]:
    """Place and build every selected scenario; return their events (sorted) and truth entries.

    A scenario none of whose events fall inside the period (a one-day run cannot hold a three-day trip) is left
    out of the truth and reported in ``skipped`` instead.
    """
    skipped = skipped if skipped is not None else []
    all_events: list[ev.Event] = []
    truth: list[dict] = []
    for spec in specs:
        slot = SCENARIO_IDS.index(spec.id)
        rng = rng_for(seed, "scenario", spec.id)
        lo = ctx.start + max(int(spec.history_days * US_PER_DAY), _LEAD_IN)
        hi = ctx.end - _TAIL
        notes: list[str] = []
        if hi <= ctx.start:
            raise SimulatorError("the simulated period is too short for scenarios: use at least 1 day")
        if lo >= hi:
            notes.append(f"needs {spec.history_days:g} days of baseline before it; the period is shorter")
            lo = ctx.start + (hi - ctx.start) // 2
        fraction = ((slot + 1) * _GOLDEN) % 1.0
        t0 = lo + int((hi - lo) * fraction)
        t0 -= t0 % US_PER_MINUTE
        t0 += rng.randint(0, 59) * 1_000_000 + rng.randint(0, 999_999)
        outcome: Outcome = spec.build(ctx, rng, t0)
        kept = [e for e in outcome.events if ctx.start <= e.created < ctx.end]
        if not kept:
            skipped.append({"id": spec.id, "reason": "none of its events fit in the simulated period"})
            continue
        all_events.extend(kept)
        truth.append({
            "id": spec.id,
            "label": spec.label,
            "description": spec.description,
            "technique": spec.technique,
            "start": iso_seconds(min(e.created for e in kept)),
            "end": iso_seconds(max(e.created for e in kept) + 1_000_000),
            "entities": {
                "accounts": outcome.accounts, "ips": outcome.ips, "apps": outcome.apps,
                "service_principals": outcome.service_principals, "countries": outcome.countries,
            },
            "streams": sorted({e.table for e in kept}, key=ev.TABLES.index),
            "expected": spec.expected,
            "events": len(kept),
            "notes": notes + outcome.notes,
        })
    all_events.sort(key=lambda e: (e.created, e.props["id"]))
    return all_events, truth
