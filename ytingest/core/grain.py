"""A partition's dates under PARTITION_GRAIN: the calendar month (or the day) a video's partition date
falls in, and the partition key that names it. Month keys (`2024-06`) never read as day keys
(`2024-06-01`), so materialisations of one grain are never taken for the other's."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

KEY_FORMATS = {"month": "%Y-%m", "day": "%Y-%m-%d"}

Span = tuple[dt.date, dt.date]  # first and last date, both included


def window(grain: str, day: dt.date) -> Span:
    """The dates of the partition holding `day`."""
    if grain == "day":
        return day, day
    first = day.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return first, following - dt.timedelta(days=1)


def key(grain: str, day: dt.date) -> str:
    return window(grain, day)[0].strftime(KEY_FORMATS[grain])


def window_of_key(grain: str, partition_key: str) -> Span:
    return window(grain, dt.datetime.strptime(partition_key, KEY_FORMATS[grain]).date())


def merged(spans: Iterable[Span]) -> list[Span]:
    """Spans joined where they touch or overlap: a run over twelve months reads one date range."""
    out: list[Span] = []
    for first, last in sorted(spans):
        if out and first <= out[-1][1] + dt.timedelta(days=1):
            out[-1] = (out[-1][0], max(out[-1][1], last))
        else:
            out.append((first, last))
    return out
