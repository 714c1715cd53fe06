"""Sensor `new_videos`: register channels and request runs for the partitions of newly published videos."""

import concurrent.futures
import datetime as dt
import hashlib
import json
import time
from collections import defaultdict
from dataclasses import replace

import dagster as dg

from ingest_assets.dead_runs import release_dead_runs
from ingest_assets.partitions import CHANNELS, partition_key
from resources.media import MediaSource
from resources.postgres import PostgresResource
from ytingest.core import grain as grains
from ytingest.core.channels_file import read_channels_file
from ytingest.core.feeds import FeedEntry, FeedError, parse_feed
from ytingest.core.identifiers import video_id_for, youtube_feed_url
from ytingest.core.listing import ListedVideo
from ytingest.core.media_errors import MediaError
from ytingest.core.urls import is_allowed
from ytingest.settings import Settings, get_settings
from ytingest.store import catalog
from ytingest.store import channels as channel_store

# Feeds show the newest ~15 entries; remembering more than that per channel is enough to never re-request.
SEEN_PER_CHANNEL = 500
POLL_LIMIT = 30
POLL_WORKERS = 8


def build_new_videos_sensor(job, settings: Settings) -> dg.SensorDefinition:
    return dg.sensor(
        name="new_videos",
        job=job,
        minimum_interval_seconds=settings.sensor_interval_seconds,
        default_status=dg.DefaultSensorStatus.RUNNING if settings.sensor_running else dg.DefaultSensorStatus.STOPPED,
        description="Polls each channel's feed; new channels become partitions, new videos become runs.",
    )(new_videos)


def new_videos(context: dg.SensorEvaluationContext, postgres: PostgresResource, media: MediaSource):
    settings = get_settings()
    for run_id in release_dead_runs(context.instance, settings.free_slots_after_run_end_seconds):
        context.log.warning(f"run {run_id} marked failed: the process that ran it is gone")
    declared = read_channels_file(settings.channels_file)
    for problem in declared.errors:
        context.log.error(problem)
    with postgres.connect() as conn:
        for spec in declared.channels:
            try:
                catalog.add_channel(conn, spec, origin="file")
            except catalog.ChannelConflict as exc:
                context.log.error(str(exc))
        rows = catalog.channels(conn)

    known = set(context.instance.get_dynamic_partitions(CHANNELS.name))
    new_channels = [row.key for row in rows if row.key not in known]

    seen: dict[str, list[str]] = json.loads(context.cursor) if context.cursor else {}
    # The partitions that exist: from the start date's to today's (end_offset=1).
    first_date = grains.window(settings.partition_grain, settings.partition_start_date)[0]
    last_date = grains.window(settings.partition_grain, dt.datetime.now(dt.UTC).date())[1]
    wanted: dict[dg.MultiPartitionKey, list[str]] = defaultdict(list)  # partition -> its new videos
    for row, entries in zip(rows, _poll_all(media, rows, settings.fetch_deadline_seconds)):
        if isinstance(entries, Exception):
            # Cursor untouched for this channel: the next tick retries it; the others go on.
            context.log.warning(f"feed of {row.key} failed, retrying next tick: {entries}")
            _record_poll(postgres, row.key, str(entries))
            continue
        _record_poll(postgres, row.key, None)
        already = _already_seen(postgres, seen, row.key)
        fresh = [entry for entry in entries if entry.source_id not in already]
        for video, day in zip(fresh, _record_entries(postgres, row.key, fresh), strict=True):
            if first_date <= day <= last_date:
                wanted[partition_key(row.key, day)].append(video.source_id)
            else:
                context.log.info(f"{row.key}: {video.source_id} published {day}, outside the partitions; skipped")
        # The feed's entries (new or known from the catalog) stay in the cursor, or the next tick would
        # find the catalog's ones missing from it and request them again.
        current = [v.source_id for v in fresh] + [e.source_id for e in entries if e.source_id in already]
        seen[row.key] = list(dict.fromkeys(current + seen.get(row.key, [])))[:SEEN_PER_CHANNEL]

    # One run per partition with new videos; it goes over the month's other videos too, which the ledger
    # finds done (or retries, when they failed).
    run_requests = [
        dg.RunRequest(
            partition_key=key,
            run_key=f"new_videos:{key.keys_by_dimension['channel']}:{key.keys_by_dimension['date']}:{_digest(ids)}",
            tags={"ytingest/trigger": "new_videos"},
        )
        for key, ids in sorted(wanted.items())
    ]
    return dg.SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[CHANNELS.build_add_request(new_channels)] if new_channels else [],
        cursor=json.dumps(seen, sort_keys=True),
    )


def _poll_all(
    media: MediaSource, rows: list[catalog.ChannelRow], deadline_seconds: float
) -> list[list[ListedVideo] | Exception]:
    """Every channel's entries (or why not), polled at once: one slow or hung feed delays no other, and
    each is given up at its deadline (the fetch's own, and this wait's for listings yt-dlp makes)."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=POLL_WORKERS, thread_name_prefix="poll")
    try:
        futures = [pool.submit(_poll, media, row) for row in rows]
        rounds = -(-len(rows) // POLL_WORKERS)  # fetches end at their own deadline; this wait is a backstop
        until = time.monotonic() + (deadline_seconds + 5) * max(rounds, 1)
        results: list[list[ListedVideo] | Exception] = []
        for future in futures:
            try:
                results.append(future.result(timeout=max(0.0, until - time.monotonic())))
            except concurrent.futures.TimeoutError:
                results.append(MediaError(f"timed out: no answer within {deadline_seconds:.0f}s"))
            except (MediaError, FeedError) as exc:
                results.append(exc)
        return results
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _poll(media: MediaSource, row: catalog.ChannelRow) -> list[ListedVideo]:
    """The channel's newest entries, with id, URL, title and publication time."""
    feed_url = row.feed_url or (youtube_feed_url(row.youtube_channel_id) if row.youtube_channel_id else None)
    if feed_url:
        # No retries inside a tick: the next tick is the retry, and a dead feed must not stall the others.
        entries = parse_feed(media.fetch(feed_url, retries=0), feed_url).entries
        return [_listed(e, feed_url) for e in entries if is_allowed(e.url)]
    return media.list_channel(row.spec(), limit=POLL_LIMIT).videos


def _listed(entry: FeedEntry, feed_url: str) -> ListedVideo:
    return ListedVideo(
        entry.source_id, entry.extractor, entry.url, entry.title, entry.published,
        date_exact=entry.published is not None, media_url=entry.media_url, duration_seconds=entry.duration_seconds,
        origin=feed_url,
    )  # fmt: skip


def _already_seen(postgres: PostgresResource, seen: dict[str, list[str]], channel_key: str) -> set[str]:
    """The cursor's ids for the channel; a channel the cursor does not know yet (a fresh sensor, a new
    channel) starts from what the catalog holds, so an archive built by `ytingest ingest` or the demo
    is not requested again."""
    if channel_key in seen:
        return set(seen[channel_key])
    with postgres.connect() as conn:
        return catalog.known_source_ids(conn, channel_key)


def _record_poll(postgres: PostgresResource, channel_key: str, error: str | None) -> None:
    """Kept on the channel, so that a feed that keeps failing shows in `ytingest channels list`."""
    with postgres.connect() as conn:
        channel_store.record_poll(conn, channel_key, error)


def _record_entries(postgres: PostgresResource, channel_key: str, fresh: list[ListedVideo]) -> list[dt.date]:
    """Store the new entries in the catalog in the tick that requests their runs, so a run finds its
    videos however old the channel's full listing is; each entry's partition date, as the catalog holds
    it (given when the video was first seen, never moved)."""
    now = dt.datetime.now(dt.UTC)
    # An entry without a time is dated when first seen, as an estimate; a later exact date is data only.
    dated = [v if v.published else replace(v, published=now, date_exact=False) for v in fresh]
    with postgres.connect() as conn:
        catalog.record_videos(conn, channel_key, dated)
        days = catalog.partition_dates(conn, [video_id_for(v.extractor, v.source_id, v.url, v.origin) for v in dated])
    return [days[video_id_for(v.extractor, v.source_id, v.url, v.origin)] for v in dated]


def _digest(ids: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()[:16]
