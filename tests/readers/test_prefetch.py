"""The framing prefetcher must be invisible: same items, same order, same exceptions."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from entrawatch.readers.prefetch import prefetch


def _numbers(n: int, fail_at: int | None = None) -> Iterator[int]:
    for i in range(n):
        if i == fail_at:
            raise EOFError("truncated")
        yield i


def test_items_arrive_in_order() -> None:
    assert list(prefetch(_numbers(500), depth=2)) == list(range(500))


def test_producer_error_is_raised_after_the_items_before_it() -> None:
    seen: list[int] = []
    with pytest.raises(EOFError, match="truncated"):
        for item in prefetch(_numbers(10, fail_at=7)):
            seen.append(item)
    assert seen == list(range(7))


def test_consumer_leaving_early_stops_the_producer() -> None:
    before = threading.active_count()
    items = prefetch(_numbers(10_000))
    assert next(items) == 0
    items.close()  # e.g. the normalizer raised: the thread must not stay blocked on a full queue
    assert threading.active_count() == before
