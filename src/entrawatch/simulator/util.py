"""Small deterministic helpers: seeded RNGs, identifiers and fast timestamp formatting.

Every random choice flows from ``rng_for(seed, label)``: string seeds go through SHA-512 inside
``random.Random``, so they do not depend on ``PYTHONHASHSEED`` and the same labels give the same stream on
every run and platform. Times are integers (microseconds since the Unix epoch, UTC) end to end; formatting
caches the date-hour prefix because it is the hot path when writing millions of events.
"""

from __future__ import annotations

import binascii
import random
from datetime import UTC, datetime, timedelta

US_PER_SECOND = 1_000_000
US_PER_MINUTE = 60 * US_PER_SECOND
US_PER_HOUR = 60 * US_PER_MINUTE
US_PER_DAY = 24 * US_PER_HOUR


def rng_for(seed: int, *labels: object) -> random.Random:
    """A random stream private to one purpose (scenario, hour, tenant part), stable across runs."""
    return random.Random(":".join([str(seed), *map(str, labels)]))


_URLSAFE = bytes.maketrans(b"+/", b"-_")
_VARIANT = {c: "89ab"[int(c, 16) & 3] for c in "0123456789abcdef"}


def guid(rng: random.Random) -> str:
    """A version-4-looking GUID drawn from ``rng`` (uuid.uuid4 would read the OS entropy pool)."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


def token_id(rng: random.Random) -> str:
    """A uniqueTokenIdentifier: 16 random bytes, URL-safe base64 without padding (22 characters)."""
    raw = binascii.b2a_base64(rng.getrandbits(128).to_bytes(16, "big"), newline=False)
    return raw[:22].translate(_URLSAFE).decode("ascii")


def thumbprint(rng: random.Random) -> str:
    """A certificate SHA-1 thumbprint (40 upper-case hex digits)."""
    return f"{rng.getrandbits(160):040X}"


def to_us(moment: datetime) -> int:
    """Microseconds since the epoch for an aware datetime."""
    delta = moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86400 + delta.seconds) * US_PER_SECOND + delta.microseconds


def from_us(us: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)


_MINUTE_PREFIX: dict[int, str] = {}


def iso(us: int, suffix: str = "Z") -> str:
    """ISO 8601 with seven fractional digits like Entra writes (``2025-04-11T16:15:30.5431350Z``).

    The date-hour-minute prefix is cached: this runs twice per event, millions of times per run.
    """
    minute, rest = divmod(us, US_PER_MINUTE)
    prefix = _MINUTE_PREFIX.get(minute)
    if prefix is None:
        if len(_MINUTE_PREFIX) > 20_000:
            _MINUTE_PREFIX.clear()
        prefix = from_us(minute * US_PER_MINUTE).strftime("%Y-%m-%dT%H:%M:")
        _MINUTE_PREFIX[minute] = prefix
    second, micro = divmod(rest, US_PER_SECOND)
    return f"{prefix}{second:02d}.{micro:06d}0{suffix}"


def iso_seconds(us: int) -> str:
    """ISO 8601 to the second (truth.json, file names)."""
    return from_us(us - us % US_PER_SECOND).strftime("%Y-%m-%dT%H:%M:%SZ")


def below(rng: random.Random, n: int) -> int:
    """A uniform integer in [0, n): ``randint`` costs four times as much and this is the hot path."""
    return int(rng.random() * n)


def ip_in(prefix: str, rng: random.Random, low: int = 1, high: int = 254) -> str:
    return f"{prefix}.{rng.randint(low, high)}"
