"""Asset `audio`: where a video becomes a 16 kHz mono WAV file (plus the captions its source offers)."""

import dagster as dg

from ingest_assets.partitions import per_video_asset
from ingest_assets.video_steps import VideoFailed, plan, run_video
from resources.media import MediaSource
from resources.postgres import PostgresResource
from ytingest.core.audio_files import SAMPLE_RATE, DownloadedAudio
from ytingest.core.media_errors import MediaError
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
    others go on; a re-run skips what is done (file still in place, same settings) and retries what failed.
    """
    settings = get_settings()
    version = f"{SAMPLE_RATE}|{','.join(settings.caption_languages)}"
    work = plan(context, postgres, ASSET, (), version, current=catalog.audio_is_current)
    for video in work.todo:

        def compute(video=video) -> DownloadedAudio:
            try:
                return media.download_audio(
                    video.video_id, [video.url, video.media_url], settings.audio_dir, settings.caption_languages
                )
            except MediaError as exc:
                # Transient errors were already retried; what is left needs attention, unlike a removed video.
                raise VideoFailed(exc.reason, permanent=not exc.transient) from exc

        def write(conn, result: DownloadedAudio, video_id=video.video_id) -> None:
            catalog.record_audio(conn, video_id, result, SAMPLE_RATE)

        result = run_video(context, postgres, work, video.video_id, compute, write, note=_caption_note)
        if result is None:
            continue
        work.report.tally(video.video_id, audio_hours=result.duration_seconds / 3600, caption_files=len(result.captions))
        if note := _caption_note(result):
            work.report.remark("caption_errors", video.video_id, note)
            context.log.warning(f"{video.video_id} {note}")
    work.report.publish(context)
    return dg.MaterializeResult()


def _caption_note(result: DownloadedAudio) -> str | None:
    """Caption problems never fail the audio; they are kept as the succeeded step's note."""
    return "captions: " + "; ".join(result.caption_errors) if result.caption_errors else None
