"""A downloaded video's audio as every model here takes it (16 kHz mono 16-bit WAV), and its captions."""

from __future__ import annotations

import hashlib
import subprocess
import wave
from dataclasses import dataclass, field
from pathlib import Path

from ytingest.core.media_errors import MediaError

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class SavedCaption:
    language: str
    kind: str  # manual | automatic
    format: str
    path: Path
    sha256: str


@dataclass(frozen=True)
class DownloadedAudio:
    path: Path
    duration_seconds: float
    sha256: str
    bytes: int
    source_url: str
    captions: list[SavedCaption] = field(default_factory=list)
    caption_errors: list[str] = field(default_factory=list)
    attempts: int = 1


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def convert_to_wav(source: Path, target: Path, deadline_seconds: float) -> None:
    """Decode any container yt-dlp gave us to 16 kHz mono 16-bit PCM, the input every model here takes.
    A small file can decode to days of audio, so ffmpeg gets `deadline_seconds` (CONVERT_DEADLINE_SECONDS)
    and is killed after that."""
    cmd = [
        "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
        # Local files only: a downloaded playlist (HLS, concat) would have ffmpeg fetch URLs past the URL rule.
        "-protocol_whitelist", "file",
        "-i", str(source), "-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE),
        "-c:a", "pcm_s16le", "-f", "wav", str(target),
    ]  # fmt: skip
    try:
        # run() kills ffmpeg (SIGKILL) and reaps it when the timeout passes.
        result = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=deadline_seconds)
    except FileNotFoundError:
        raise MediaError("ffmpeg is not installed") from None
    except subprocess.TimeoutExpired:
        target.unlink(missing_ok=True)
        # Transient: the same file may convert on a less busy machine or with a longer deadline.
        raise MediaError(
            f"conversion timed out: ffmpeg not done within {deadline_seconds:g} s (CONVERT_DEADLINE_SECONDS)",
            transient=True,
        ) from None
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["unknown error"])[-1].replace(str(source), source.name)[:300]
        raise MediaError(f"corrupt or unreadable media: ffmpeg: {detail}")


def wav_duration(path: Path) -> float:
    try:
        with wave.open(str(path), "rb") as wav:
            if wav.getframerate() != SAMPLE_RATE or wav.getnchannels() != 1:
                raise MediaError(f"conversion produced {wav.getnchannels()} ch at {wav.getframerate()} Hz")
            return wav.getnframes() / SAMPLE_RATE
    except (wave.Error, EOFError) as exc:
        raise MediaError(f"corrupt or unreadable media: {exc}") from None
