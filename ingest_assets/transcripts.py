"""Asset `transcripts`: each video's timestamped text, from its captions or from faster-whisper."""

import contextlib
import functools
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import dagster as dg
import psycopg

from ingest_assets.checks import TRANSCRIPT_CHECKS, transcript_checks
from ingest_assets.partitions import per_video_asset
from ingest_assets.video_steps import VideoFailed, plan, run_video
from resources.models import WhisperResource
from resources.postgres import PostgresResource
from ytingest.core.audio_files import wav_duration
from ytingest.core.transcription import (
    CaptionFile,
    FetchedTranscript,
    TranscriptFetcher,
    speech_seconds,
)
from ytingest.settings import get_settings
from ytingest.store import transcripts as transcript_store

ASSET = "transcripts"
T = TypeVar("T")


@per_video_asset(
    deps=["audio"],
    pool="gpu",
    check_specs=TRANSCRIPT_CHECKS,
    group_name="ml",
    kinds={"whisper", "postgres"},
)
def transcripts(
    context: dg.AssetExecutionContext, postgres: PostgresResource, whisper: WhisperResource
) -> dg.MaterializeResult:
    """Segments with start, end, text, source (captions or asr), model and language; words where timed.

    Manual captions before automatic ones, in CAPTION_LANGUAGES order; faster-whisper (loaded only if a
    video needs it) when there are none or they are empty or malformed. ASR_WORKERS videos are worked on
    at once, all on the one loaded model.
    """
    settings = get_settings()
    fetcher = TranscriptFetcher(settings.caption_languages)
    with whisper.session(context) as asr:
        version = f"{asr.plan.name}|{','.join(settings.caption_languages)}|words={settings.whisper_word_timestamps}"
        work = plan(context, postgres, ASSET, ("audio",), version)

        def compute(video_id: str) -> FetchedTranscript:
            with postgres.connect() as conn:
                path = transcript_store.audio_path(conn, video_id)
                captions = [CaptionFile(*row) for row in transcript_store.caption_files(conn, video_id)]
            if not path.exists():
                raise VideoFailed(f"audio file {path.name} is missing; re-materialise audio")
            duration = wav_duration(path)
            speech = speech_seconds(path, fetcher.preprocessing_config)
            problems: list[str] = []
            found = fetcher.from_captions(captions, problems, duration, settings.caption_max_bytes)
            notes = tuple(problems)
            if found is not None:
                segments, caption = found
                return FetchedTranscript(segments, "captions", caption.language, None, caption.kind, speech, duration, notes)
            if speech == 0:
                return FetchedTranscript([], "asr", None, asr.plan.name, None, 0.0, duration, notes)
            segments, language = fetcher.from_asr(asr, path, settings.whisper_word_timestamps, settings.whisper_temperature)
            return FetchedTranscript(segments, "asr", language, asr.plan.name, None, speech, duration, notes)

        def write(conn, result: FetchedTranscript, video_id: str) -> None:
            try:
                transcript_store.replace_transcript(
                    conn, video_id, result.segments, source=result.source, caption_kind=result.caption_kind,
                    language=result.language, model=result.model, audio_seconds=result.audio_seconds,
                    speech_seconds=result.speech_seconds,
                )  # fmt: skip
            except psycopg.DataError as exc:  # this video's text, not the database: fail it alone
                raise VideoFailed(f"transcript not storable: {str(exc).splitlines()[0][:200]}") from None

        with computed_at_once([v.video_id for v in work.todo], compute, asr.workers) as videos:
            for video_id, computed in videos:
                result = run_video(
                    context, postgres, work, video_id, computed, functools.partial(write, video_id=video_id),
                    note=_caption_note,
                )  # fmt: skip
                if result is not None:
                    if result.notes:
                        work.report.remark("caption_fallbacks", video_id, _caption_note(result))
                    work.report.tally(
                        video_id,
                        from_captions=int(result.source == "captions"),
                        from_asr=int(result.source == "asr"),
                        audio_hours=result.audio_seconds / 3600,
                    )
    with postgres.connect() as conn:
        check_results = transcript_checks(conn, work.video_ids)
    work.report.publish(context)
    return dg.MaterializeResult(check_results=check_results, metadata=asr.metadata())


@contextlib.contextmanager
def computed_at_once(
    video_ids: list[str], compute: Callable[[str], T], workers: int
) -> Iterator[list[tuple[str, Callable[[], T]]]]:
    """Each video with a callable that returns its result (or raises its error), while up to `workers`
    videos are computed at once. The callers share ONE loaded model (CTranslate2 runs concurrent calls on
    its `num_workers` replicas of the same weights and releases the GIL); the writes and the step's
    bookkeeping stay on the calling thread, in order."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="asr")
    try:
        yield [(video_id, pool.submit(compute, video_id).result) for video_id in video_ids]
    finally:
        # A step that fails (its database went away) stops here instead of transcribing the rest.
        pool.shutdown(wait=True, cancel_futures=True)


def _caption_note(result: FetchedTranscript) -> str | None:
    """Why captions were passed over, kept as the succeeded step's reason; None when nothing was."""
    if not result.notes:
        return None
    used = "captions" if result.source == "captions" else "ASR"
    return f"{'; '.join(result.notes)}; transcribed from {used}"[:2000]
