"""Frame the next chunk while DuckDB normalizes the current one.

Framing is Python (GIL-bound); DuckDB releases the GIL while a statement runs. Reading one chunk
ahead in a thread lets the two overlap, at the cost of one extra chunk in memory (bounded by
``framing.CHUNK_BYTES``). Exceptions raised by the producer (an unreadable or truncated file)
are re-raised in the consumer, so callers see exactly what the plain iterator would raise.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

T = TypeVar("T")

_DONE = object()


def prefetch(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """Yield ``items`` in order, producing up to ``depth`` of them ahead in a daemon thread."""
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple[object, BaseException | None]) -> bool:
        """Hand one entry over; False when the consumer has gone away."""
        while not stop.is_set():
            try:
                slots.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((_DONE, None))
        except BaseException as err:  # noqa: BLE001 - handed to the consumer, re-raised there
            put((_DONE, err))

    worker = threading.Thread(target=produce, name="entrawatch-framing", daemon=True)
    worker.start()
    try:
        while True:
            item, err = slots.get()
            if err is not None:
                raise err
            if item is _DONE:
                return
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)
