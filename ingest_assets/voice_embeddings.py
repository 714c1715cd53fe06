"""Asset `voice_embeddings`: one voice print per speaker per video (CAM++ offline, ECAPA from the hub),
linked across videos."""

import wave
from collections import defaultdict
from pathlib import Path

import dagster as dg
import numpy as np

from ingest_assets.checks import VOICE_CHECKS, voice_checks
from ingest_assets.partitions import per_video_asset
from ingest_assets.video_steps import VideoFailed, plan, run_video
from resources.models import VoiceEncoderResource
from resources.postgres import PostgresResource
from ytingest.settings import get_settings
from ytingest.store import transcripts as transcript_store

ASSET = "voice_embeddings"
MIN_TURN_SECONDS = 0.3  # shorter turns are mostly boundary noise from the segmentation model
SAMPLE_RATE = 16_000


def speaker_clips(
    path: Path, turns: list[tuple[float, float, str]], max_seconds: float
) -> dict[str, tuple[np.ndarray, float]]:
    """Up to `max_seconds` of each speaker's exclusive speech, read turn by turn from the WAV."""
    spans: dict[str, list[tuple[float, float]]] = defaultdict(list)
    budget: dict[str, float] = defaultdict(float)
    for start, end, speaker in turns:
        length = min(end - start, max_seconds - budget[speaker])
        if end - start < MIN_TURN_SECONDS or length <= 0:
            continue
        spans[speaker].append((start, start + length))
        budget[speaker] += length
    clips = {}
    with wave.open(str(path), "rb") as wav:
        frames = wav.getnframes()
        for speaker, pieces in spans.items():
            parts = []
            # Turns are clamped to the audio when stored; an older row or a shorter re-download can still
            # reach past the end, and what lies beyond it is not this speaker's voice.
            for start, end in pieces:
                first = min(int(start * SAMPLE_RATE), frames)
                wav.setpos(first)
                raw = wav.readframes(min(int((end - start) * SAMPLE_RATE), frames - first))
                parts.append(np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0)
            samples = np.concatenate(parts)
            if samples.size >= MIN_TURN_SECONDS * SAMPLE_RATE:
                clips[speaker] = (samples, samples.size / SAMPLE_RATE)
    return clips


@per_video_asset(
    deps=["diarization"],
    pool="gpu",
    check_specs=VOICE_CHECKS,
    group_name="ml",
    kinds={"pytorch", "postgres"},
)
def voice_embeddings(
    context: dg.AssetExecutionContext, postgres: PostgresResource, voice_encoder: VoiceEncoderResource
) -> dg.MaterializeResult:
    """Each local speaker's voice from up to VOICE_MAX_SECONDS of non-overlapping speech; NaN or empty
    prints are rejected with a reason; each print joins the global speaker it matches above
    SPEAKER_MATCH_THRESHOLD (cosine), or starts a new one, so one voice across videos gets one id."""
    settings = get_settings()
    with voice_encoder.session(context) as session:
        version = f"{session.plan.name}|{settings.voice_max_seconds}|{settings.speaker_match_threshold}"
        work = plan(context, postgres, ASSET, ("diarization",), version)
        for video in work.todo:

            def compute(video_id=video.video_id) -> dict[str, tuple[np.ndarray, float]]:
                with postgres.connect() as conn:
                    path = transcript_store.audio_path(conn, video_id)
                    turns = transcript_store.exclusive_turns(conn, video_id)
                if turns is None:
                    raise VideoFailed("no diarization stored for it")
                if not path.exists():
                    raise VideoFailed(f"audio file {path.name} is missing; re-materialise audio")
                clips = speaker_clips(path, turns, settings.voice_max_seconds)
                if not clips:
                    return {}
                vectors = session.embed([samples for samples, _ in clips.values()])
                prints = {}
                for (speaker, (_, seconds)), vector in zip(clips.items(), vectors, strict=True):
                    norm = float(np.linalg.norm(vector)) if vector.size else 0.0
                    if vector.size == 0 or not np.isfinite(vector).all() or norm == 0:
                        work.report.remark("rejected_voices", video_id, f"{speaker}: embedding is empty, zero or not finite")
                        context.log.warning(f"{video_id}: voice of {speaker} rejected: not a usable embedding")
                        continue
                    prints[speaker] = (vector, seconds)
                return prints

            matches = []

            def write(conn, prints, video_id=video.video_id, matches=matches) -> None:
                matches[:] = transcript_store.replace_voice_embeddings(
                    conn, video_id, session.plan.name, prints, settings.speaker_match_threshold
                )

            if run_video(context, postgres, work, video.video_id, compute, write) is not None:
                work.report.tally(
                    video.video_id,
                    new_speakers=sum(m.created for m in matches),
                    voices_linked_to_known_speakers=sum(not m.created for m in matches),
                )
    with postgres.connect() as conn:
        check_results = voice_checks(conn, work.video_ids)
    work.report.publish(context)
    return dg.MaterializeResult(check_results=check_results, metadata=session.metadata())
