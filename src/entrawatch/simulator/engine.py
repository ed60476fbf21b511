"""``simulate()``: build the tenant, place the scenarios, then stream hour by hour to the chosen shape.

The loop keeps one hour of baseline events plus a small carry-over (events created late in an hour whose
``TimeGenerated`` falls into the next) in memory; scenario events are few and built up-front. Within an hour
events are sorted by TimeGenerated with a stable sort over a deterministic generation order, so output order
never depends on dict or set iteration. Nothing reads the wall clock except the default start (midnight UTC seven days before "today" is
*not* used: the default start is a fixed date so that omitting ``--start`` stays reproducible).
"""

from __future__ import annotations

import csv
import gc
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import attrgetter
from pathlib import Path

import orjson

from entrawatch.errors import SimulatorError
from entrawatch.simulator import scenarios as catalogue
from entrawatch.simulator.baseline import Baseline
from entrawatch.simulator.events import TABLES, Event
from entrawatch.simulator.scenarios.kit import Context
from entrawatch.simulator.tenant import build_tenant
from entrawatch.simulator.util import US_PER_DAY, US_PER_HOUR, iso_seconds, to_us
from entrawatch.simulator.writers import FORMATS, make_writer

#: Fixed default start (a Monday), so runs without --start are reproducible.
DEFAULT_START = datetime(2025, 3, 3, tzinfo=UTC)


@dataclass
class SimulationConfig:
    users: int = 500
    days: int = 7
    seed: int = 7
    start: datetime | str | None = None
    scenarios: str | list[str] = "all"
    benign_lookalikes: bool = True
    format: str = "diagnostic"
    threat_intel: bool = True

    def start_datetime(self) -> datetime:
        if self.start is None:
            return DEFAULT_START
        if isinstance(self.start, str):
            try:
                value = datetime.fromisoformat(self.start.replace("Z", "+00:00"))
            except ValueError as err:
                raise SimulatorError(f"--start is not an ISO 8601 date/time: {self.start!r}") from err
        else:
            value = self.start
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


@dataclass
class SimulationResult:
    out_dir: Path
    truth_path: Path
    counts: dict[str, int]
    files: list[Path] = field(default_factory=list)
    threat_intel_path: Path | None = None
    tenant_id: str = ""
    bytes_written: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _validate(config: SimulationConfig) -> None:
    if config.users < 1:
        raise SimulatorError("--users must be at least 1")
    if not 1 <= config.days <= 400:
        raise SimulatorError("--days must be between 1 and 400")
    if config.format not in FORMATS:
        raise SimulatorError(f"unknown format {config.format!r}: use one of {', '.join(FORMATS)}")


def simulate(config: SimulationConfig, out_dir: str | Path,
             progress: Callable[[int, int, int], None] | None = None, *, discard: bool = False) -> SimulationResult:
    """Write a simulated tenant's logs in ``config.format`` plus ``truth.json`` (and ``threat_intel.csv``).

    ``progress(hours_done, hours_total, events_written)`` is called once per simulated hour. ``discard=True``
    generates and serializes everything but writes no log file (benchmarks that measure the generator, not
    the disk); truth.json is still written.
    """
    _validate(config)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start_dt = config.start_datetime()
    start = to_us(start_dt)
    end = start + config.days * US_PER_DAY
    tenant = build_tenant(config.seed, config.users)
    ctx = Context(tenant, start, end)
    specs = catalogue.select(config.scenarios, config.benign_lookalikes)
    skipped: list[dict] = []
    scenario_events, truth_entries = catalogue.build_all(specs, ctx, config.seed, skipped)
    baseline = Baseline(tenant, config.seed, start, ctx.quiet)
    writer = make_writer(config.format, out, tenant.tenant_id, tenant.workspace_id, start, end, discard=discard)
    counts = dict.fromkeys(TABLES, 0)
    carry: list[Event] = []
    pending = scenario_events
    cursor = 0
    hours = config.days * 24
    written = 0
    gc_was_enabled = gc.isenabled()
    gc.disable()  # the loop makes millions of acyclic dicts; cyclic GC passes over them cost ~25 % CPU
    try:
        for index in range(hours):
            hour_start = start + index * US_PER_HOUR
            hour_end = hour_start + US_PER_HOUR
            batch = carry
            batch.extend(e for e in baseline.hour(hour_start) if start <= e.created < end)
            while cursor < len(pending) and pending[cursor].created < hour_end:
                batch.append(pending[cursor])
                cursor += 1
            batch.sort(key=_generated)  # stable: ties keep the (deterministic) generation order
            split = len(batch)
            if index < hours - 1:
                split = next((i for i, e in enumerate(batch) if e.generated >= hour_end), len(batch))
            ready, carry = batch[:split], batch[split:]
            writer.write_batch(ready)
            for event in ready:
                counts[event.table] += 1
            written += len(ready)
            if progress is not None:
                progress(index + 1, hours, written)
        files = writer.close()
    except OSError as err:
        writer.close()
        raise SimulatorError(f"cannot write simulator output under {out}: {err}") from err
    finally:
        if gc_was_enabled:
            gc.enable()

    truth = {
        "generator": "entrawatch-simulator", "seed": config.seed, "start": iso_seconds(start),
        "end": iso_seconds(end), "users": len(tenant.users), "days": config.days, "tenant_id": tenant.tenant_id,
        "workspace_id": tenant.workspace_id, "format": config.format, "counts": counts,
        "scenarios": truth_entries, "skipped": skipped,
    }
    truth_path = out / "truth.json"
    truth_path.write_bytes(orjson.dumps(truth, option=orjson.OPT_INDENT_2) + b"\n")
    ti_path = None
    if config.threat_intel:
        ti_path = out / "threat_intel.csv"
        ti_path.write_bytes(threat_intel_csv(truth_entries, start, end).encode("utf-8"))
    return SimulationResult(out, truth_path, counts, files, ti_path, tenant.tenant_id, writer.bytes)


_generated = attrgetter("generated")


#: Scenarios whose addresses a threat-intelligence feed would plausibly already know.
_TI_SCENARIOS = ("password_spray", "mfa_fatigue", "aitm_session_theft", "seamless_sso_spray",
                 "disabled_account_attempts")
TI_COLUMNS = ("indicator_type", "value", "confidence", "threat_type", "description", "first_seen", "last_seen",
              "source")


def threat_intel_csv(truth_entries: list[dict], start: int, end: int) -> str:
    """Indicators for ``entrawatch ti import``: some attack addresses, plus unrelated noise indicators."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(TI_COLUMNS)
    first_seen = iso_seconds(start - 30 * US_PER_DAY)
    for entry in truth_entries:
        if entry["id"] not in _TI_SCENARIOS:
            continue
        for ip in entry["entities"]["ips"][:1]:
            writer.writerow(("ipv4-addr", ip, 80, "password-spray" if "spray" in entry["id"] else "phishing",
                             f"Infrastructure seen in {entry['id'].replace('_', ' ')} campaigns", first_seen,
                             iso_seconds(end), "entrawatch-simulator"))
    noise = (("ipv6-addr", "2001:db8:dead:beef::17", 60, "botnet", "Residential proxy exit node"),
             ("ipv6-addr", "2001:db8:bad:1::5", 50, "scanner", "Mass scanning source"),
             ("domain-name", "login-micr0soft-verify.example", 90, "phishing", "AiTM phishing kit domain"),
             ("url", "https://sso-office365-auth.example/common/oauth2", 85, "phishing", "Credential phishing page"))
    for kind, value, confidence, threat, description in noise:
        writer.writerow((kind, value, confidence, threat, description, first_seen, iso_seconds(end),
                         "entrawatch-simulator"))
    return buffer.getvalue()
