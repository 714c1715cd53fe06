"""The floor orchestration adds to: the pipeline's work done by hand in this one process.

Same inputs (the same loopback channel), same library calls through the project's model sessions
(yt-dlp + ffmpeg, captions or faster-whisper, pyannote, ECAPA, sentence-transformers), same DB writes
(the project's store functions), each model loaded once; no Dagster, no step processes, no per-video
status rows. Stage by stage, like the graph, so each model's memory is released before the next.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import numpy as np

from ingest_assets.text_embeddings import SPECIAL_TOKENS
from ingest_assets.voice_embeddings import speaker_clips
from resources.media import MediaSource
from resources.models import (
    DiarizationResource,
    TextEncoderResource,
    VoiceEncoderResource,
    WhisperResource,
)
from resources.models.session import ModelSession
from resources.postgres import PostgresResource
from ytingest.core.audio_files import SAMPLE_RATE, wav_duration
from ytingest.core.chunking import chunk_transcript
from ytingest.core.speakers import assign_speakers
from ytingest.core.transcription import CaptionFile, TranscriptFetcher, speech_seconds
from ytingest.settings import get_settings
from ytingest.store import catalog
from ytingest.store import transcripts as transcript_store
from ytingest.store.vectors import ChunkRow, ensure_model_index, replace_chunks

Stage = Callable[[str], None]


def run_baseline(channel_key: str, feed_url: str) -> dict[str, float]:
    """Seconds per stage (and `total`) for every video of the channel."""
    from ytingest.app.channels import register_channel

    timings: dict[str, float] = {}
    started = time.perf_counter()
    register_channel(feed_url, key=channel_key)
    video_ids = _list(channel_key)
    timings["videos"] = time.perf_counter() - started
    stages: list[tuple[str, Callable[[], AbstractContextManager], Callable[..., Stage]]] = [
        ("audio", _NoModel, _audio_stage),
        ("transcripts", WhisperResource().session, _transcript_stage),
        ("diarization", DiarizationResource().session, _diarization_stage),
        ("voice_embeddings", VoiceEncoderResource().session, _voice_stage),
        ("text_embeddings", TextEncoderResource().session, _text_stage),
    ]
    for name, open_model, make_stage in stages:
        began = time.perf_counter()
        with open_model() as model:
            stage = make_stage(model)
            for video_id in video_ids:
                stage(video_id)
            if isinstance(model, ModelSession):
                timings[f"load/{model.kind}"] = model.telemetry.load_seconds
        timings[name] = time.perf_counter() - began
    timings["total"] = time.perf_counter() - started
    return timings


class _NoModel(AbstractContextManager):
    def __exit__(self, *exc: object) -> None:
        return None


def _db() -> PostgresResource:
    return PostgresResource()


def _list(channel_key: str) -> list[str]:
    with _db().connect() as conn:
        spec = catalog.channel(conn, channel_key).spec()
        listing = MediaSource().list_channel(spec)
        catalog.record_listing(conn, channel_key, listing.videos, listing.title, listing.youtube_channel_id)
        rows = conn.execute("SELECT video_id FROM channel_videos WHERE channel_key = %s", (channel_key,)).fetchall()
    return [row[0] for row in rows]


def _audio_stage(_: object) -> Stage:
    settings, media = get_settings(), MediaSource()

    def stage(video_id: str) -> None:
        with _db().connect() as conn:
            url, media_url = conn.execute("SELECT url, media_url FROM videos WHERE video_id = %s", (video_id,)).fetchone()
        result = media.download_audio(video_id, [url, media_url], settings.audio_dir, settings.caption_languages)
        with _db().connect() as conn:
            catalog.record_audio(conn, video_id, result, SAMPLE_RATE)

    return stage


def _transcript_stage(asr) -> Stage:
    settings = get_settings()
    fetcher = TranscriptFetcher(settings.caption_languages)

    def stage(video_id: str) -> None:
        with _db().connect() as conn:
            path = transcript_store.audio_path(conn, video_id)
            captions = [CaptionFile(*row) for row in transcript_store.caption_files(conn, video_id)]
        duration = wav_duration(path)
        speech = speech_seconds(path, fetcher.preprocessing_config)
        found = fetcher.from_captions(captions)
        if found is not None:
            segments, caption = found
            source, language, model, kind = "captions", caption.language, None, caption.kind
        else:
            segments, language = fetcher.from_asr(asr, path, settings.whisper_word_timestamps, settings.whisper_temperature)
            source, model, kind = "asr", asr.plan.name, None
        with _db().connect() as conn:
            transcript_store.replace_transcript(
                conn, video_id, segments, source=source, caption_kind=kind, language=language, model=model,
                audio_seconds=duration, speech_seconds=speech,
            )  # fmt: skip

    return stage


def _diarization_stage(session) -> Stage:
    settings = get_settings()

    def stage(video_id: str) -> None:
        with _db().connect() as conn:
            path = transcript_store.audio_path(conn, video_id)
        result = session.diarize(path, min_speakers=settings.min_speakers, max_speakers=settings.max_speakers)
        turns = [(t.start, t.end, t.speaker) for t in result.turns]
        exclusive = [(t.start, t.end, t.speaker) for t in result.exclusive_turns]
        with _db().connect() as conn:
            transcript_store.replace_diarization(conn, video_id, session.plan.name, len(result.speakers), turns, exclusive)
            transcript = transcript_store.load_transcript(conn, video_id)
            if transcript is not None and transcript.segments:
                transcript_store.replace_segment_speakers(conn, video_id, assign_speakers(transcript.segments, exclusive))

    return stage


def _voice_stage(session) -> Stage:
    settings = get_settings()

    def stage(video_id: str) -> None:
        with _db().connect() as conn:
            path = transcript_store.audio_path(conn, video_id)
            turns = transcript_store.exclusive_turns(conn, video_id) or []
        clips = speaker_clips(path, turns, settings.voice_max_seconds)
        vectors = session.embed([samples for samples, _ in clips.values()]) if clips else np.empty((0, 0))
        prints = {speaker: (vector, seconds) for (speaker, (_, seconds)), vector in zip(clips.items(), vectors)}
        with _db().connect() as conn:
            transcript_store.replace_voice_embeddings(
                conn, video_id, session.plan.name, prints, settings.speaker_match_threshold
            )

    return stage


def _text_stage(session) -> Stage:
    settings = get_settings()

    def stage(video_id: str) -> None:
        with _db().connect() as conn:
            transcript = transcript_store.load_transcript(conn, video_id)
        model = session.loaded()
        max_tokens = min(settings.chunk_tokens, model.max_seq_length - SPECIAL_TOKENS)
        overlap = min(settings.chunk_overlap_tokens, max_tokens // 2)
        chunks = chunk_transcript(transcript.segments, model.tokenizer, max_tokens, overlap)
        vectors = session.encode([c.text for c in chunks])
        rows = [ChunkRow(c.index, c.start, c.end, c.speakers, c.token_count, c.text) for c in chunks]
        with _db().connect() as conn:
            ensure_model_index(conn, session.plan.name, session.dimensions, halfvec=settings.halfvec_index)
            replace_chunks(conn, video_id, session.plan.name, rows, vectors)

    return stage
