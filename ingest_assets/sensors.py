"""Sensor `new_videos`: register channels and request runs for the partitions of newly published videos."""

import concurrent.futures
import datetime as dt
import hashlib
import json
import time
from collections import defaultdict

import dagster as dg

from ingest_assets.dead_runs import release_dead_runs
from ingest_assets.partitions import CHANNELS, partition_key
from resources.media import MediaSource
from resources.postgres import PostgresResource
from ytingest.core.channels_file import read_channels_file
from ytingest.core.feeds import FeedError, parse_feed
from ytingest.core.identifiers import youtube_feed_url
from ytingest.core.media_errors import MediaError
from ytingest.settings import Settings, get_settings
from ytingest.store import catalog

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
    first_date = settings.partition_start_date
    last_date = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    wanted: dict[tuple[str, dt.date], list[str]] = defaultdict(list)
    for row, entries in zip(rows, _poll_all(media, rows, settings.fetch_deadline_seconds)):
        if isinstance(entries, Exception):
            # Cursor untouched for this channel: the next tick retries it; the others go on.
            context.log.warning(f"feed of {row.key} failed, retrying next tick: {entries}")
            continue
        already = set(seen.get(row.key, []))
        fresh = [(source_id, published) for source_id, published in entries if source_id not in already]
        for source_id, published in fresh:
            day = (published or dt.datetime.now(dt.UTC)).date()
            if first_date <= day <= last_date:
                wanted[(row.key, day)].append(source_id)
            else:
                context.log.info(f"{row.key}: {source_id} published {day}, outside the partitions; skipped")
        seen[row.key] = ([s for s, _ in fresh] + seen.get(row.key, []))[:SEEN_PER_CHANNEL]

    run_requests = [
        dg.RunRequest(
            partition_key=partition_key(channel, day),
            run_key=f"new_videos:{channel}:{day}:{_digest(ids)}",
            tags={"ytingest/trigger": "new_videos"},
        )
        for (channel, day), ids in sorted(wanted.items())
    ]
    return dg.SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[CHANNELS.build_add_request(new_channels)] if new_channels else [],
        cursor=json.dumps(seen, sort_keys=True),
    )


def _poll_all(
    media: MediaSource, rows: list[catalog.ChannelRow], deadline_seconds: float
) -> list[list[tuple[str, dt.datetime | None]] | Exception]:
    """Every channel's entries (or why not), polled at once: one slow or hung feed delays no other, and
    each is given up at its deadline (the fetch's own, and this wait's for listings yt-dlp makes)."""
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=POLL_WORKERS, thread_name_prefix="poll")
    try:
        futures = [pool.submit(_poll, media, row) for row in rows]
        rounds = -(-len(rows) // POLL_WORKERS)  # fetches end at their own deadline; this wait is a backstop
        until = time.monotonic() + (deadline_seconds + 5) * max(rounds, 1)
        results: list[list[tuple[str, dt.datetime | None]] | Exception] = []
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


def _poll(media: MediaSource, row: catalog.ChannelRow) -> list[tuple[str, dt.datetime | None]]:
    """(source id, publication time) of the channel's newest entries."""
    feed_url = row.feed_url or (youtube_feed_url(row.youtube_channel_id) if row.youtube_channel_id else None)
    if feed_url:
        # No retries inside a tick: the next tick is the retry, and a dead feed must not stall the others.
        return [(e.source_id, e.published) for e in parse_feed(media.fetch(feed_url, retries=0), feed_url).entries]
    listing = media.list_channel(row.spec(), limit=POLL_LIMIT)
    return [(v.source_id, v.published) for v in listing.videos]


def _digest(ids: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()[:16]
