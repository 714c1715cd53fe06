"""Asset `diarization`: who spoke when, and each transcript segment's (and word's) speaker."""

from dataclasses import dataclass

import dagster as dg

from ingest_assets.checks import DIARIZATION_CHECKS, diarization_checks
from ingest_assets.partitions import per_video_asset
from ingest_assets.video_steps import Plan, VideoFailed, plan, run_video
from resources.models import DiarizationResource
from resources.postgres import PostgresResource
from ytingest.core.speakers import assign_speakers
from ytingest.settings import get_settings
from ytingest.store import transcripts as transcript_store

ASSET = "diarization"

Turns = list[tuple[float, float, str]]


@dataclass(frozen=True)
class Diarized:
    turns: Turns
    exclusive: Turns
    speakers: int
    reused: bool  # the turns of the same audio and model, kept: only the new transcript was labelled


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
    view, which then labels each segment and word of the current transcript by most overlap (kept in
    `segment_speakers`). Audio without speech gives zero speakers, not an error. When only the transcript
    changed (or the audio was fetched again, byte for byte the same), the stored turns are reused and only
    the labels are redone."""
    settings = get_settings()
    with diarizer.session(context) as session:
        version = f"{session.plan.name}|{settings.min_speakers}-{settings.max_speakers}"
        work = plan(context, postgres, ASSET, ("audio", "transcripts"), version)
        for video in work.todo:

            def compute(video_id=video.video_id) -> Diarized:
                with postgres.connect() as conn:
                    path = transcript_store.audio_path(conn, video_id)
                    transcript = transcript_store.load_transcript(conn, video_id)
                    if _same_model(work, video_id) and transcript_store.diarized_this_audio(conn, video_id):
                        exclusive = transcript_store.turns(conn, video_id, exclusive=True)
                        speakers = len({speaker for _, _, speaker in exclusive})
                        return Diarized(transcript_store.turns(conn, video_id, exclusive=False), exclusive, speakers, True)
                if not path.exists():
                    raise VideoFailed(f"audio file {path.name} is missing; re-materialise audio")
                if transcript is not None and transcript.speech_seconds == 0:
                    return Diarized([], [], 0, False)  # nothing to attribute: no model call on silence
                result = session.diarize(
                    path,
                    min_speakers=settings.min_speakers,
                    max_speakers=settings.max_speakers,
                    window_seconds=settings.diarization_window_minutes * 60,
                )
                turns = [(t.start, t.end, t.speaker) for t in result.turns]
                exclusive = [(t.start, t.end, t.speaker) for t in result.exclusive_turns]
                return Diarized(turns, exclusive, len(result.speakers), False)

            def write(conn, result: Diarized, video_id=video.video_id) -> None:
                transcript_store.replace_diarization(
                    conn, video_id, session.plan.name, result.speakers, result.turns, result.exclusive
                )
                transcript = transcript_store.load_transcript(conn, video_id)
                labelled = assign_speakers(transcript.segments, result.exclusive) if transcript else []
                transcript_store.replace_segment_speakers(conn, video_id, labelled)

            # Reused turns: the voices (read from the turns and the audio) stay as they are. The segments'
            # labels did change, but every step that reads them also reads the new transcript.
            result = run_video(context, postgres, work, video.video_id, compute, write, keeps_revision=lambda r: r.reused)
            if result is not None:
                work.report.tally(video.video_id, speakers_found=result.speakers, turns_reused=int(result.reused))
    with postgres.connect() as conn:
        check_results = diarization_checks(conn, work.video_ids)
    work.report.publish(context)
    return dg.MaterializeResult(check_results=check_results, metadata=session.metadata())


def _same_model(work: Plan, video_id: str) -> bool:
    """The last diarization succeeded with these settings; whether on this very audio is the store's to say."""
    previous = work.previous.get(video_id)
    return previous is not None and previous.status == "succeeded" and previous.version == work.version
