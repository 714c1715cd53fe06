"""Synthetic archive rows (channels, videos) for the benches that start from stored data rather than media."""

from __future__ import annotations

import datetime as dt
import re

import psycopg

DAY = dt.date(2026, 11, 3)


def add_channels(conn: psycopg.Connection, keys: list[str]) -> None:
    conn.cursor().executemany(
        "INSERT INTO channels (key, url, kind, origin) VALUES (%s, %s, 'feed', 'bench')",
        [(key, f"http://127.0.0.1:9/{key}.rss") for key in keys],
    )


def add_videos(conn: psycopg.Connection, channel_of: dict[str, str], day: dt.date = DAY) -> None:
    """`channel_of`: video id -> channel key; every video published on `day`."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO videos (video_id, source_id, url, title, published_date, partition_date, date_exact)"
            " VALUES (%s, %s, %s, %s, %s, %s, true)",
            [(v, v, f"http://127.0.0.1:9/watch/{v}", f"Bench video {v}", day, day) for v in channel_of],
        )
        cur.executemany("INSERT INTO channel_videos (channel_key, video_id) VALUES (%s, %s)", [(c, v) for v, c in channel_of.items()])


def word_marks(text: str, start: float) -> list:
    """Word marks as the pipeline stores them (a word every 0.3 s, each sentence opening a unit), so hits
    are placed on their moment at the cost a real archive pays."""
    from ytingest.core.moments import Mark

    words = list(re.finditer(r"\S+", text))
    return [
        Mark(m.start(), start + n * 0.3, start + n * 0.3 + 0.25, None, n == 0 or words[n - 1].group().endswith((".", "?", "!")))
        for n, m in enumerate(words)
    ]
