"""SQL over the archive's tables: channels, videos, audio, captions and per-video step outcomes.

Each function takes an open connection; the caller's `with conn:` block is the transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg.types.json import Jsonb

from ytingest.core.audio_files import DownloadedAudio
from ytingest.core.identifiers import ChannelSpec, video_id_for
from ytingest.core.listing import ListedVideo
from ytingest.core.text import clean_text
from ytingest.settings import get_settings
from ytingest.store.bulk import copy_rows


@dataclass(frozen=True)
class ChannelRow:
    key: str
    url: str
    kind: str
    feed_url: str | None
    youtube_channel_id: str | None
    title: str | None
    listed_at: dt.datetime | None

    def spec(self) -> ChannelSpec:
        return ChannelSpec(self.key, self.url, self.kind, self.feed_url, self.youtube_channel_id)  # type: ignore[arg-type]


@dataclass(frozen=True)
class VideoRow:
    video_id: str
    url: str
    media_url: str | None
    title: str
    partition_date: dt.date | None


class ChannelConflict(ValueError):
    """The key or URL is already registered for a different channel."""


def add_channel(conn: psycopg.Connection, spec: ChannelSpec, origin: str = "cli") -> bool:
    """Register a channel; True when it is new. Re-adding the same key and URL is a no-op."""
    row = conn.execute(
        "SELECT key, url, removed_at IS NOT NULL FROM channels WHERE key = %s OR url = %s", (spec.key, spec.url)
    ).fetchone()
    if row is not None:
        if row[:2] == (spec.key, spec.url):
            if spec.feed_url:
                conn.execute("UPDATE channels SET feed_url = %s WHERE key = %s", (spec.feed_url, spec.key))
            if row[2] and origin == "cli":  # added again by hand after a removal (the file does not revive it)
                conn.execute("UPDATE channels SET removed_at = NULL WHERE key = %s", (spec.key,))
                return True
            return False
        raise ChannelConflict(
            f"channel key {spec.key!r} or URL {spec.url!r} is already registered as {row[0]!r} -> {row[1]!r}"
        )
    conn.execute(
        "INSERT INTO channels (key, url, kind, feed_url, youtube_channel_id, origin) VALUES (%s, %s, %s, %s, %s, %s)",
        (spec.key, spec.url, spec.kind, spec.feed_url, spec.youtube_channel_id, origin),
    )
    return True


_CHANNEL_COLUMNS = "key, url, kind, feed_url, youtube_channel_id, title, listed_at"


def channels(conn: psycopg.Connection) -> list[ChannelRow]:
    """The channels being polled (not removed)."""
    rows = conn.execute(f"SELECT {_CHANNEL_COLUMNS} FROM channels WHERE removed_at IS NULL ORDER BY key").fetchall()
    return [ChannelRow(*row) for row in rows]


def channel_by_url(conn: psycopg.Connection, url: str) -> ChannelRow | None:
    row = conn.execute(f"SELECT {_CHANNEL_COLUMNS} FROM channels WHERE url = %s", (url,)).fetchone()
    return ChannelRow(*row) if row else None


def channel(conn: psycopg.Connection, key: str) -> ChannelRow | None:
    row = conn.execute(f"SELECT {_CHANNEL_COLUMNS} FROM channels WHERE key = %s", (key,)).fetchone()
    return ChannelRow(*row) if row else None


def record_listing(
    conn: psycopg.Connection,
    channel_key: str,
    videos: Iterable[ListedVideo],
    title: str | None,
    youtube_channel_id: str | None,
) -> int:
    """Upsert a channel's full listing. An exact date is never overwritten by an estimate."""
    count = record_videos(conn, channel_key, videos)
    conn.execute(
        "UPDATE channels SET listed_at = now(), title = COALESCE(%s, title),"
        " youtube_channel_id = COALESCE(youtube_channel_id, %s) WHERE key = %s",
        (clean_text(title, get_settings().title_max_chars) if title else None, youtube_channel_id, channel_key),
    )
    return count


def record_videos(conn: psycopg.Connection, channel_key: str, videos: Iterable[ListedVideo]) -> int:
    """Upsert videos of a channel. A video's partition date is set the first time it has a date and
    kept from then on: later, better dates change `published_*` only, never the partition."""
    rows = listing_rows(videos, get_settings().title_max_chars)
    upsert_listing_rows(conn, channel_key, rows)
    return len(rows)


def listing_rows(videos: Iterable[ListedVideo], title_limit: int) -> list[tuple]:
    """One row per distinct video id (the first listed wins), text cleaned for storage."""
    rows: dict[str, tuple] = {}
    for video in videos:
        video_id = video_id_for(video.extractor, video.source_id, video.url, video.origin)
        if video_id in rows:
            continue
        published_date = video.published.date() if video.published else None
        rows[video_id] = (
            video_id, clean_text(video.source_id), video.url, video.media_url, clean_text(video.title, title_limit),
            video.published, published_date, video.date_exact, video.duration_seconds, published_date,
        )  # fmt: skip
    return list(rows.values())


_LISTING_COLUMNS = (
    "video_id, source_id, url, media_url, title, published_at, published_date, date_exact, duration_seconds,"
    " partition_date"
)


def upsert_listing_rows(conn: psycopg.Connection, channel_key: str, rows: list[tuple]) -> None:
    """COPY the listing into a temporary table, then one upsert: a 100k-item feed in seconds, not 200k
    round trips (BATCH_SIZE rows a COPY). A video another channel lists keeps its URL and title: no listing
    rewrites another's."""
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS listing_in (LIKE videos INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    conn.execute("DELETE FROM listing_in")
    copy_rows(conn, f"COPY listing_in ({_LISTING_COLUMNS}) FROM STDIN", rows)
    conn.execute(
        f"""
        INSERT INTO videos AS v ({_LISTING_COLUMNS}) SELECT {_LISTING_COLUMNS} FROM listing_in
        ON CONFLICT (video_id) DO UPDATE SET
            duration_seconds = COALESCE(EXCLUDED.duration_seconds, v.duration_seconds),
            published_at = CASE WHEN v.date_exact AND NOT EXCLUDED.date_exact
                                THEN v.published_at ELSE EXCLUDED.published_at END,
            published_date = CASE WHEN v.date_exact AND NOT EXCLUDED.date_exact
                                  THEN v.published_date ELSE EXCLUDED.published_date END,
            date_exact = v.date_exact OR EXCLUDED.date_exact,
            partition_date = COALESCE(v.partition_date, EXCLUDED.partition_date),
            updated_at = now()
        """
    )
    conn.execute(
        """
        UPDATE videos v SET url = l.url, media_url = COALESCE(l.media_url, v.media_url), title = l.title
        FROM listing_in l
        WHERE v.video_id = l.video_id
          AND (v.url, v.title, v.media_url) IS DISTINCT FROM (l.url, l.title, COALESCE(l.media_url, v.media_url))
          AND NOT EXISTS (SELECT 1 FROM channel_videos cv WHERE cv.video_id = v.video_id AND cv.channel_key <> %s)
        """,
        (channel_key,),
    )
    conn.execute(
        "INSERT INTO channel_videos (channel_key, video_id) SELECT %s, video_id FROM listing_in"
        " ON CONFLICT DO NOTHING",
        (channel_key,),
    )


def partition_dates(conn: psycopg.Connection, video_ids: list[str]) -> dict[str, dt.date]:
    rows = conn.execute("SELECT video_id, partition_date FROM videos WHERE video_id = ANY(%s)", (video_ids,))
    return dict(rows.fetchall())


def known_source_ids(conn: psycopg.Connection, channel_key: str) -> set[str]:
    rows = conn.execute(
        "SELECT v.source_id FROM videos v JOIN channel_videos cv USING (video_id) WHERE cv.channel_key = %s",
        (channel_key,),
    )
    return {row[0] for row in rows}


def set_exact_date(conn: psycopg.Connection, video_id: str, published: dt.datetime, duration: float | None) -> None:
    conn.execute(
        "UPDATE videos SET published_at = %s, published_date = %s, date_exact = true,"
        " partition_date = COALESCE(partition_date, %s), duration_seconds = COALESCE(%s, duration_seconds), updated_at = now() WHERE video_id = %s",
        (published, published.date(), published.date(), duration, video_id),
    )


def estimated_near(
    conn: psycopg.Connection, channel_key: str, spans: list[tuple[dt.date, dt.date]], margin_days: int
) -> list[VideoRow]:
    """Videos whose date is only estimated (or unknown) and might fall inside one of `spans`."""
    low = min(first for first, _ in spans) - dt.timedelta(days=margin_days)
    high = max(last for _, last in spans) + dt.timedelta(days=margin_days)
    rows = conn.execute(
        """
        SELECT v.video_id, v.url, v.media_url, v.title, v.partition_date
        FROM videos v JOIN channel_videos cv USING (video_id)
        WHERE cv.channel_key = %s AND NOT v.date_exact
          AND (v.published_date IS NULL OR v.published_date BETWEEN %s AND %s)
        ORDER BY v.video_id
        """,
        (channel_key, low, high),
    ).fetchall()
    return [VideoRow(*row) for row in rows]


def videos_in_partition(
    conn: psycopg.Connection, channel_key: str, spans: list[tuple[dt.date, dt.date]]
) -> list[VideoRow]:
    """The channel's videos whose partition date lies in one of `spans` (first and last date included)."""
    rows = conn.execute(
        """
        SELECT v.video_id, v.url, v.media_url, v.title, v.partition_date
        FROM videos v JOIN channel_videos cv USING (video_id)
        WHERE cv.channel_key = %s
          AND EXISTS (SELECT 1 FROM unnest(%s::date[], %s::date[]) s(first, last)
                      WHERE v.partition_date BETWEEN s.first AND s.last)
        ORDER BY v.published_at, v.video_id
        """,
        (channel_key, [first for first, _ in spans], [last for _, last in spans]),
    ).fetchall()
    return [VideoRow(*row) for row in rows]


def audio_is_current(conn: psycopg.Connection, video_id: str) -> bool:
    """The audio row exists and its file is still there with the recorded size."""
    row = conn.execute("SELECT path, bytes FROM audio WHERE video_id = %s", (video_id,)).fetchone()
    if row is None:
        return False
    path = Path(row[0])
    return path.exists() and path.stat().st_size == row[1]


def record_audio(conn: psycopg.Connection, video_id: str, audio: DownloadedAudio, sample_rate: int) -> None:
    conn.execute(
        """
        INSERT INTO audio (video_id, path, sample_rate, channels, duration_seconds, sha256, bytes, source_url)
        VALUES (%s, %s, %s, 1, %s, %s, %s, %s)
        ON CONFLICT (video_id) DO UPDATE SET path = EXCLUDED.path, sample_rate = EXCLUDED.sample_rate,
            duration_seconds = EXCLUDED.duration_seconds, sha256 = EXCLUDED.sha256, bytes = EXCLUDED.bytes,
            source_url = EXCLUDED.source_url, downloaded_at = now()
        """,
        (video_id, str(audio.path), sample_rate, audio.duration_seconds, audio.sha256, audio.bytes, audio.source_url),
    )
    conn.execute("DELETE FROM captions WHERE video_id = %s", (video_id,))
    for caption in audio.captions:
        conn.execute(
            "INSERT INTO captions (video_id, language, kind, format, path, sha256) VALUES (%s, %s, %s, %s, %s, %s)",
            (video_id, caption.language, caption.kind, caption.format, str(caption.path), caption.sha256),
        )


def record_step(
    conn: psycopg.Connection,
    video_id: str,
    asset: str,
    status: str,
    reason: str | None,
    run_id: str | None,
    version: str | None = None,
    inputs: dict[str, int] | None = None,
    permanent: bool = False,
    keep_revision: bool = False,
) -> None:
    """The latest outcome of `asset` for a video; attempts counts every try. A success gets a new
    revision, which the steps that read this one record in their `inputs`; with `keep_revision`, a
    success that changed nothing its readers use keeps the last success's revision, so they are not redone."""
    conn.execute(
        """
        INSERT INTO video_steps (video_id, asset, status, reason, run_id, version, inputs, permanent, revision)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s,
                CASE WHEN %s = 'succeeded' THEN nextval('video_step_revisions') END)
        ON CONFLICT (video_id, asset) DO UPDATE SET status = EXCLUDED.status, reason = EXCLUDED.reason,
            run_id = EXCLUDED.run_id, version = EXCLUDED.version, inputs = EXCLUDED.inputs,
            permanent = EXCLUDED.permanent,
            revision = CASE WHEN %s AND video_steps.status = 'succeeded' AND EXCLUDED.status = 'succeeded'
                            THEN video_steps.revision ELSE EXCLUDED.revision END,
            attempts = video_steps.attempts + 1, updated_at = now()
        """,
        (video_id, asset, status, reason, run_id, version, Jsonb(inputs or {}), permanent, status, keep_revision),
    )


@dataclass(frozen=True)
class StepStatus:
    status: str
    reason: str | None
    version: str | None
    revision: int | None = None
    inputs: dict[str, int] = field(default_factory=dict)
    permanent: bool = False


def step_statuses(conn: psycopg.Connection, asset: str, video_ids: list[str]) -> dict[str, StepStatus]:
    rows = conn.execute(
        "SELECT video_id, status, reason, version, revision, inputs, permanent FROM video_steps"
        " WHERE asset = %s AND video_id = ANY(%s)",
        (asset, video_ids),
    ).fetchall()
    return {row[0]: StepStatus(*row[1:]) for row in rows}


@dataclass(frozen=True)
class LedgerRow:
    channel_key: str
    video_id: str
    partition_date: dt.date
    asset: str | None  # None: no step has run for the video
    status: StepStatus | None


def ledger(conn: psycopg.Connection, channel_keys: list[str], since: dt.date) -> list[LedgerRow]:
    """Every step outcome of the channels' videos dated `since` or later, and a row for each such video
    no step has run for."""
    rows = conn.execute(
        """
        SELECT cv.channel_key, v.video_id, v.partition_date, s.asset, s.status, s.reason, s.version, s.revision,
               s.inputs, s.permanent
        FROM videos v JOIN channel_videos cv USING (video_id) LEFT JOIN video_steps s USING (video_id)
        WHERE cv.channel_key = ANY(%s) AND v.partition_date >= %s
        ORDER BY cv.channel_key, v.partition_date, v.video_id
        """,
        (channel_keys, since),
    ).fetchall()
    return [
        LedgerRow(key, video, day, asset, StepStatus(*rest) if asset is not None else None)
        for key, video, day, asset, *rest in rows
    ]
