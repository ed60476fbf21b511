"""A Rich progress display with records/s, shown only when asked for (the CLI on a terminal)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress as RichProgress


class Progress:
    """Counts records; draws a live line once ingestion has run for more than a second."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.records = 0
        self.started = time.monotonic()
        self._bar: RichProgress | None = None
        self._task = None

    def advance(self, records: int) -> None:
        self.records += records
        if not self.enabled:
            return
        elapsed = time.monotonic() - self.started
        if self._bar is None and elapsed > 1.0:
            # imported here: Rich costs ~40 ms to import, which every library ingest paid
            from rich.progress import Progress as RichProgress
            from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

            self._bar = RichProgress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                                     transient=True)
            self._bar.start()
            self._task = self._bar.add_task("ingesting")
        if self._bar is not None and self._task is not None:
            rate = self.records / elapsed if elapsed else 0.0
            self._bar.update(self._task, description=f"{self.records:,} records  {rate:,.0f} records/s")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
