"""SQL for managing channels: removing one (or deleting its data) and each feed's polling health."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import psycopg


@dataclass(frozen=True)
class ChannelHealth:
    key: str
    kind: str
    url: str
    feed_url: str | None
    poll_error: str | None
    failing_since: dt.datetime | None


def channel_health(conn: psycopg.Connection) -> list[ChannelHealth]:
    rows = conn.execute(
        "SELECT key, kind, url, feed_url, poll_error, poll_failing_since FROM channels WHERE removed_at IS NULL ORDER BY key"
    ).fetchall()
    return [ChannelHealth(*row) for row in rows]


def record_poll(conn: psycopg.Connection, channel_key: str, error: str | None) -> None:
    """The outcome of polling a channel's feed: the latest error and since when it has been failing."""
    conn.execute(
        "UPDATE channels SET poll_error = %s,"
        " poll_failing_since = CASE WHEN %s::text IS NULL THEN NULL ELSE COALESCE(poll_failing_since, now()) END"
        " WHERE key = %s",
        (error, error, channel_key),
    )


def remove_channel(conn: psycopg.Connection, channel_key: str) -> bool:
    """Stop polling a channel; its videos and everything derived from them stay. False if unknown."""
    done = conn.execute(
        "UPDATE channels SET removed_at = COALESCE(removed_at, now()) WHERE key = %s RETURNING key", (channel_key,)
    ).fetchone()
    return done is not None


def delete_channel(conn: psycopg.Connection, channel_key: str) -> list[Path]:
    """Delete a channel with the videos no other channel lists (and, by cascade, all derived rows);
    the audio and caption files of those videos, for the caller to remove after the commit."""
    files = conn.execute(
        """
        SELECT f.path FROM (SELECT video_id, path FROM audio UNION ALL SELECT video_id, path FROM captions) f
        JOIN channel_videos cv USING (video_id)
        WHERE cv.channel_key = %s
          AND NOT EXISTS (SELECT 1 FROM channel_videos o WHERE o.video_id = f.video_id AND o.channel_key <> %s)
        """,
        (channel_key, channel_key),
    ).fetchall()
    conn.execute(
        """
        DELETE FROM videos v USING channel_videos cv
        WHERE cv.video_id = v.video_id AND cv.channel_key = %s
          AND NOT EXISTS (SELECT 1 FROM channel_videos o WHERE o.video_id = v.video_id AND o.channel_key <> %s)
        """,
        (channel_key, channel_key),
    )
    conn.execute("DELETE FROM channels WHERE key = %s", (channel_key,))
    return [Path(path) for (path,) in files]
