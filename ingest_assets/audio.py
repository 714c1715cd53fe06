"""Asset `audio`: where a video becomes a 16 kHz mono WAV file (plus the captions its source offers)."""

from collections import Counter

import dagster as dg

from ingest_assets.partitions import dates_by_channel, per_video_asset, selected_videos
from resources.media import MediaSource
from resources.postgres import PostgresResource
from ytingest.core.audio_files import SAMPLE_RATE
from ytingest.core.media_errors import MediaError
from ytingest.core.web_links import video_pages_markdown
from ytingest.settings import get_settings
from ytingest.store import catalog

ASSET = "audio"


@per_video_asset(
    deps=["videos"],
    group_name="ingest",
    kinds={"ffmpeg", "postgres"},
)
def audio(context: dg.AssetExecutionContext, postgres: PostgresResource, media: MediaSource) -> dg.MaterializeResult:
    """Each video's audio at DATA_DIR/audio/<video_id>.wav with duration and checksum in Postgres.

    A video that fails (removed, private, HTTP error, corrupt media) is recorded with its reason and the
    others go on; a re-run skips what is done and retries what failed.
    """
    settings = get_settings()
    outcomes: Counter[str] = Counter()
    failures: dict[str, str] = {}
    seconds = 0.0
    caption_count = 0
    caption_errors: dict[str, str] = {}
    video_ids: list[str] = []
    only = selected_videos(context.run.tags)
    for channel_key, dates in dates_by_channel(context.partition_keys).items():
        with postgres.connect() as conn:
            videos = [v for v in catalog.videos_in_partition(conn, channel_key, dates) if only is None or v.video_id in only]
        video_ids += [video.video_id for video in videos]
        for video in videos:
            with postgres.connect() as conn:
                if catalog.audio_is_current(conn, video.video_id):
                    outcomes["already_done"] += 1
                    continue
            try:
                result = media.download_audio(
                    video.video_id,
                    [video.url, video.media_url],
                    settings.audio_dir,
                    settings.caption_languages,
                )
            except MediaError as exc:
                outcomes["failed"] += 1
                failures[video.video_id] = exc.reason
                context.log.warning(f"{video.video_id} failed: {exc.reason}")
                with postgres.connect() as conn:
                    catalog.record_step(conn, video.video_id, ASSET, "failed", exc.reason, context.run_id)
                continue
            # Caption problems never fail the audio; they are kept as the succeeded step's note.
            note = "captions: " + "; ".join(result.caption_errors) if result.caption_errors else None
            with postgres.connect() as conn:
                catalog.record_audio(conn, video.video_id, result, SAMPLE_RATE)
                catalog.record_step(conn, video.video_id, ASSET, "succeeded", note, context.run_id)
            outcomes["downloaded"] += 1
            seconds += result.duration_seconds
            caption_count += len(result.captions)
            if note:
                caption_errors[video.video_id] = note
                context.log.warning(f"{video.video_id} {note}")
    return dg.MaterializeResult(
        metadata={
            "downloaded": outcomes["downloaded"],
            "already_done": outcomes["already_done"],
            "failed": outcomes["failed"],
            "audio_hours": round(seconds / 3600, 4),
            "caption_files": caption_count,
            "failures": dg.MetadataValue.json(failures),
            "caption_errors": dg.MetadataValue.json(caption_errors),
            "video_pages": dg.MetadataValue.md(video_pages_markdown(video_ids)),
        }
    )
