"""Asset `videos`: which videos each channel published in each partition's dates."""

import datetime as dt

import dagster as dg

from ingest_assets.partitions import partition_key, per_video_asset, spans_by_channel
from resources.media import MediaSource
from resources.postgres import PostgresResource
from ytingest.core.identifiers import video_id_for
from ytingest.core.media_errors import MediaError
from ytingest.core.web_links import video_pages_markdown
from ytingest.settings import get_settings
from ytingest.store import catalog

# Estimated YouTube dates ("3 weeks ago") can be off by days; resolve every estimate this close.
ESTIMATE_MARGIN_DAYS = 3


@per_video_asset(
    group_name="ingest",
    kinds={"youtube", "postgres"},
)
def videos(context: dg.AssetExecutionContext, postgres: PostgresResource, media: MediaSource) -> dg.MaterializeResult:
    """The channel's videos published in the partition's dates (id, title, url, published time, duration).

    The channel's full listing is fetched at most once per LISTING_MAX_AGE_MINUTES and kept in Postgres;
    estimated dates near the requested ones are replaced by exact per-video dates before selecting.
    """
    settings = get_settings()
    failures: dict[str, str] = {}
    found: dict[str, list[catalog.VideoRow]] = {}  # partition key -> its videos
    for channel_key, spans in spans_by_channel(context.partition_keys).items():
        with postgres.connect() as conn:
            row = catalog.channel(conn, channel_key)
        if row is None:
            failures[channel_key] = "not registered: add it with `ytingest channels add URL` or the channels file"
            continue
        try:
            _refresh_listing(context, postgres, media, row, settings.listing_max_age_minutes)
            _resolve_estimates(context, postgres, media, channel_key, spans)
        except MediaError as exc:
            failures[channel_key] = exc.reason
            continue
        with postgres.connect() as conn:
            for video in catalog.videos_in_partition(conn, channel_key, spans):
                found.setdefault(str(partition_key(channel_key, video.partition_date)), []).append(video)
    if failures:
        raise dg.Failure(
            description="could not list: " + "; ".join(f"{k}: {v}" for k, v in failures.items()),
            metadata={"failed_channels": dg.MetadataValue.json(failures)},
        )
    # Each partition lists its own videos, also in a run over a range of partitions.
    for key in context.partition_keys:
        context.add_asset_metadata(_metadata(found.get(str(key), [])), partition_key=key)
    return dg.MaterializeResult()


def _metadata(videos: list[catalog.VideoRow]) -> dict:
    preview = "\n".join(f"| {v.partition_date} | [{v.video_id}]({v.url}) | {v.title.replace('|', '/')} |" for v in videos[:50])
    return {
        "videos": len(videos),
        "video_pages": dg.MetadataValue.md(video_pages_markdown([v.video_id for v in videos])),
        "preview": dg.MetadataValue.md("| date | id | title |\n|---|---|---|\n" + preview if videos else "no videos"),
    }


def _refresh_listing(context, postgres, media, row: catalog.ChannelRow, max_age_minutes: int) -> None:
    fresh_after = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=max_age_minutes)
    if row.listed_at is not None and row.listed_at > fresh_after:
        return
    listing = media.list_channel(row.spec())
    with postgres.connect() as conn:
        count = catalog.record_listing(conn, row.key, listing.videos, listing.title, listing.youtube_channel_id)
    context.log.info(f"listed {count} videos of {row.key}")


def _resolve_estimates(context, postgres, media, channel_key: str, spans: list[tuple[dt.date, dt.date]]) -> None:
    with postgres.connect() as conn:
        estimated = catalog.estimated_near(conn, channel_key, spans, ESTIMATE_MARGIN_DAYS)
    for video in estimated:
        try:
            exact = media.resolve_video(video.url)
        except MediaError as exc:
            context.log.warning(f"{video.video_id}: keeping the estimated date ({exc.reason})")
            continue
        if exact.published is None:
            continue
        # The resolved id must be the listed one, or the URL now points at another video.
        if video_id_for(exact.extractor, exact.source_id, exact.url) != video.video_id:
            context.log.warning(f"{video.video_id}: resolved to a different video; keeping the estimate")
            continue
        with postgres.connect() as conn:
            catalog.set_exact_date(conn, video.video_id, exact.published, exact.duration_seconds)
