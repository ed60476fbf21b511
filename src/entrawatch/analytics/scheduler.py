"""Window arithmetic: which ``[end - queryPeriod, end)`` windows a rule is evaluated over.

Window ends sit on a grid of ``queryFrequency`` steps from a fixed epoch (1970-01-01T00:00Z), not
from the moment a run starts. That makes backfill deterministic: running 30 days at once or one
day at a time visits exactly the same windows, so it produces the same alerts, and a window is the
same one a live scheduler started on that grid would have run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, order=True)
class Window:
    """One evaluation: KQL ``now()`` is bound to ``end``; the rule may look back ``end - start``."""

    start: datetime
    end: datetime


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def align_down(moment: datetime, step: timedelta) -> datetime:
    """The latest grid point ``EPOCH + k*step`` at or before ``moment``."""
    moment = _utc(moment)
    steps = (moment - EPOCH) // step
    return EPOCH + steps * step


def windows(frequency: timedelta, period: timedelta, start: datetime, end: datetime) -> Iterator[Window]:
    """Windows whose end lies in ``(start, end]`` on the frequency grid, oldest first."""
    if frequency <= timedelta(0):
        raise ValueError("queryFrequency must be positive")
    start, end = _utc(start), _utc(end)
    window_end = align_down(start, frequency) + frequency
    last = align_down(end, frequency)
    while window_end <= last:
        yield Window(window_end - period, window_end)
        window_end += frequency


def count_windows(frequency: timedelta, start: datetime, end: datetime) -> int:
    """How many windows ``windows`` yields (for progress bars) without building them."""
    first = align_down(_utc(start), frequency) + frequency
    last = align_down(_utc(end), frequency)
    return max(0, (last - first) // frequency + 1)
