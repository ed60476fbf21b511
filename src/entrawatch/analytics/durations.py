"""Durations as Sentinel rule files write them.

Sentinel's own repository writes ``queryFrequency: 1h`` / ``queryPeriod: 14d`` (KQL timespan
shorthand) while ARM templates and the REST API write ISO-8601 (``PT1H``, ``P14D``). Both appear
in rule files found in the wild, so both are accepted; anything else is a validation error rather
than a guess.
"""

from __future__ import annotations

import re
from datetime import timedelta

_ISO = re.compile(
    r"^P(?!$)(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
_SHORT = re.compile(r"^(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>d|h|m|s|ms|tick|microsecond|min|sec|day|hr)$")
_SHORT_UNITS = {
    "d": timedelta(days=1),
    "day": timedelta(days=1),
    "h": timedelta(hours=1),
    "hr": timedelta(hours=1),
    "m": timedelta(minutes=1),
    "min": timedelta(minutes=1),
    "s": timedelta(seconds=1),
    "sec": timedelta(seconds=1),
    "ms": timedelta(milliseconds=1),
    "microsecond": timedelta(microseconds=1),
    "tick": timedelta(microseconds=0.1),
}


def parse_duration(text: object) -> timedelta:
    """Parse ``PT1H``/``P14D``/``P1DT2H30M`` or ``1h``/``14d``/``30m``; raise ``ValueError`` otherwise.

    ISO-8601 years and months are refused on purpose: their length depends on the calendar, and a
    rule window must be a fixed span for backfill to be deterministic.
    """
    if isinstance(text, timedelta):
        return text
    if not isinstance(text, str):
        raise ValueError(f"expected a duration such as PT1H or 1h, got {text!r}")
    value = text.strip()
    match = _ISO.match(value.upper())
    if match:
        parts = {k: float(v) for k, v in match.groupdict().items() if v is not None}
        return timedelta(
            weeks=parts.get("weeks", 0),
            days=parts.get("days", 0),
            hours=parts.get("hours", 0),
            minutes=parts.get("minutes", 0),
            seconds=parts.get("seconds", 0),
        )
    match = _SHORT.match(value.lower())
    if match:
        return float(match.group("value")) * _SHORT_UNITS[match.group("unit")]
    raise ValueError(f"not an ISO-8601 (PT1H, P14D) or KQL (1h, 14d) duration: {text!r}")


def format_duration(span: timedelta) -> str:
    """ISO-8601 text for a span (``PT1H``, ``P14D``, ``P1DT2H``), used in reports and JSON."""
    total = int(span.total_seconds())
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    text = "P" + (f"{days}D" if days else "")
    clock = (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + (f"{seconds}S" if seconds else "")
    if clock:
        text += "T" + clock
    return text if text != "P" else "PT0S"
