"""Asset `diarization`: who spoke when, and each transcript segment's (and word's) speaker."""

import dagster as dg

from ingest_assets.checks import DIARIZATION_CHECKS, diarization_checks
from ingest_assets.partitions import per_video_asset
from ingest_assets.video_steps import VideoFailed, plan, run_video
from resources.models import Diarization, DiarizationResource
from resources.postgres import PostgresResource
from ytingest.core.speakers import assign_speakers
from ytingest.settings import get_settings
from ytingest.store import transcripts as transcript_store

ASSET = "diarization"


@per_video_asset(
    deps=["audio", "transcripts"],
    pool="gpu",
    check_specs=DIARIZATION_CHECKS,
    group_name="ml",
    kinds={"pytorch", "postgres"},
)
def diarization(
    context: dg.AssetExecutionContext, postgres: PostgresResource, diarizer: DiarizationResource
) -> dg.MaterializeResult:
    """pyannote speaker turns (MIN_SPEAKERS/MAX_SPEAKERS), stored with the exclusive (one speaker at a time)
    view, which then labels each transcript segment and word by most overlap. Audio without speech gives
    zero speakers, not an error."""
    settings = get_settings()
    speakers_found = 0
    with diarizer.session(context) as session:
        version = f"{session.plan.name}|{settings.min_speakers}-{settings.max_speakers}"
        work = plan(context, postgres, ASSET, ("audio", "transcripts"), version)
        for video in work.todo:

            def compute(video_id=video.video_id) -> Diarization | None:
                with postgres.connect() as conn:
                    path = transcript_store.audio_path(conn, video_id)
                    transcript = transcript_store.load_transcript(conn, video_id)
                if not path.exists():
                    raise VideoFailed(f"audio file {path.name} is missing; re-materialise audio")
                if transcript is not None and transcript.speech_seconds == 0:
                    return None  # nothing to attribute: no model call on silence
                return session.diarize(
                    path,
                    min_speakers=settings.min_speakers,
                    max_speakers=settings.max_speakers,
                    window_seconds=settings.diarization_window_minutes * 60,
                )

            def write(conn, result: Diarization | None, video_id=video.video_id) -> None:
                turns = [(t.start, t.end, t.speaker) for t in result.turns] if result else []
                exclusive = [(t.start, t.end, t.speaker) for t in result.exclusive_turns] if result else []
                speakers = len(result.speakers) if result else 0
                transcript_store.replace_diarization(conn, video_id, session.plan.name, speakers, turns, exclusive)
                transcript = transcript_store.load_transcript(conn, video_id)
                if transcript is not None and transcript.segments:
                    labelled = assign_speakers(transcript.segments, exclusive)
                    transcript_store.set_segment_speakers(conn, video_id, labelled)

            result = run_video(context, postgres, work.report, video.video_id, version, compute, write)
            if result is not None:
                speakers_found += len(result.speakers)
    with postgres.connect() as conn:
        check_results = diarization_checks(conn, work.video_ids)
    return dg.MaterializeResult(
        check_results=check_results,
        metadata={**work.report.metadata(), "speakers_found": speakers_found, **session.metadata()}
    )
