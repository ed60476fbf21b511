"""Window arithmetic: the frequency grid from a fixed epoch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from entrawatch.analytics.scheduler import EPOCH, Window, align_down, count_windows, windows

H = timedelta(hours=1)
D = timedelta(days=1)


def test_windows_end_on_the_grid_and_cover_start_exclusive_end_inclusive():
    start = datetime(2025, 3, 1, 0, 30, tzinfo=UTC)
    end = datetime(2025, 3, 1, 4, 0, tzinfo=UTC)
    result = list(windows(H, 2 * H, start, end))
    assert [w.end.hour for w in result] == [1, 2, 3, 4]
    assert result[0] == Window(datetime(2025, 2, 28, 23, tzinfo=UTC), datetime(2025, 3, 1, 1, tzinfo=UTC))
    assert count_windows(H, start, end) == 4


def test_grid_is_independent_of_the_run_start():
    end = datetime(2025, 3, 31, tzinfo=UTC)
    whole = list(windows(6 * H, D, end - 30 * D, end))
    pieces = []
    for day in range(30):
        pieces += windows(6 * H, D, end - (30 - day) * D, end - (29 - day) * D)
    assert whole == pieces and len(whole) == 120


def test_align_down_uses_the_epoch():
    moment = datetime(2025, 3, 1, 13, 47, tzinfo=UTC)
    assert align_down(moment, D) == datetime(2025, 3, 1, tzinfo=UTC)
    assert align_down(moment, timedelta(minutes=20)) == datetime(2025, 3, 1, 13, 40, tzinfo=UTC)
    assert (align_down(moment, timedelta(hours=7)) - EPOCH) % timedelta(hours=7) == timedelta(0)


def test_naive_datetimes_are_utc_and_empty_ranges_give_nothing():
    naive = datetime(2025, 3, 1, 5)
    assert list(windows(H, H, naive, naive)) == []
    assert count_windows(H, naive, naive - H) == 0
    assert next(windows(H, H, naive - H, naive)).end == datetime(2025, 3, 1, 5, tzinfo=UTC)
