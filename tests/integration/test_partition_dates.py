"""A video's partition date is given once, when it is first seen with a date, and never moves: later
(better) dates are stored as data only."""

import datetime as dt

import psycopg

from ytingest.core.listing import ListedVideo
from ytingest.store import catalog

FIRST = dt.datetime(2026, 5, 10, 12, tzinfo=dt.UTC)


def _listed(published, exact):
    return ListedVideo("abcdefghijk", "youtube", "https://www.youtube.com/watch?v=abcdefghijk", "A video", published, exact)


def _row(conn):
    return conn.execute("SELECT partition_date, published_date, date_exact FROM videos").fetchone()


def test_partition_date_is_kept_when_better_dates_arrive(archive):
    with psycopg.connect(archive) as conn:
        conn.execute("INSERT INTO channels (key, url, kind) VALUES ('c', 'https://example.com/c', 'other')")
        catalog.record_videos(conn, "c", [_listed(None, False)])
        assert _row(conn) == (None, None, False)  # no date yet: no partition
        catalog.record_videos(conn, "c", [_listed(FIRST, False)])  # an estimate ("3 days ago")
        assert _row(conn) == (FIRST.date(), FIRST.date(), False)
        exact = FIRST - dt.timedelta(days=2)
        catalog.set_exact_date(conn, catalog.videos_in_partition(conn, "c", [(FIRST.date(), FIRST.date())])[0].video_id, exact, None)
        catalog.record_videos(conn, "c", [_listed(exact + dt.timedelta(days=1), True)])  # a feed's exact date
        partition, published, is_exact = _row(conn)
        assert partition == FIRST.date() and published == exact.date() + dt.timedelta(days=1) and is_exact
        assert [v.partition_date for v in catalog.videos_in_partition(conn, "c", [(FIRST.date(), FIRST.date())])] == [FIRST.date()]
