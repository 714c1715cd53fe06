"""A synthetic video channel with exact ground truth, for tests, the demo and benchmarks.

Speech comes from espeak-ng, so the voice, text and start/end time of every utterance is known;
captions are written from those times in the shapes YouTube serves them (manual WebVTT, automatic
json3 plus rolling WebVTT) or deliberately broken. `ytingest.offline.loopback_server` serves the result.

Layout under the output directory::

    media/<video_id>.<mp4|webm>          video files (tiny black picture, speech audio)
    captions/<video_id>.<lang>.<ext>     vtt and json3 caption files
    manifest.json                        the ground truth below, as JSON
    .tts-cache/                          espeak-ng output by content hash, reused across runs
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import re
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import numpy as np
import soundfile as sf

# Voices that differ in accent, pitch and timbre, so that speakers are easy to tell apart:
# a US male, a British female and a Scottish male.
# Voices the real speaker models tell apart: 15 s CAM++ voice prints of these three are 0.40-0.47 cosine
# from each other and at least 0.87 from themselves, and segmentation-3.0 separates each pair within an
# episode. espeak-ng's own variants are one formant synthesizer at other pitches, mostly one speaker to
# CAM++ (en-gb+f3, en-us+m3, en-029, en-gb-x-rp: 0.87-0.98 from en-us), and two male-sounding voices share
# one local speaker in segmentation-3.0. "VOICE@F" is VOICE played F times as fast, resampled: a shorter
# (F > 1) vocal tract and a higher pitch, another speaker to a speaker model (Whisper tiny.en still hears
# en-us+klatt@1.2: WER 0.19 on five sentences).
HOST: Final = "en-us"
GUEST: Final = "en-gb-x-rp+f3"
EXPERT: Final = "en-us+klatt@1.2"

DEFAULT_CHANNEL_ID: Final = "UCyt1ngestSampleChannel0"
DEFAULT_CHANNEL_TITLE: Final = "ytingest Sample Channel"

SAMPLE_RATE: Final = 22050  # espeak-ng's native rate; resampling would only blur the ground truth
GAP_S: Final = 0.4  # silence between utterances: a clear pause at every change of turn
MANIFEST_NAME: Final = "manifest.json"

_VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
# espeak-ng pads with exact digital silence, so any sample above this is speech.
_SPEECH_THRESHOLD: Final = 1e-3
_SUBPROCESS_TIMEOUT_S: Final = 60


class Container(StrEnum):
    MP4 = "mp4"  # H.264 + AAC, as YouTube's progressive formats
    WEBM = "webm"  # VP8 + Opus

    @property
    def mime_type(self) -> str:
        return f"video/{self.value}"


class Captions(StrEnum):
    NONE = "none"
    MANUAL = "manual"  # WebVTT with one cue per utterance at its exact times
    AUTO = "auto"  # YouTube automatic captions: json3 plus a rolling-duplicate WebVTT
    MALFORMED = "malformed"  # a .vtt that no strict parser accepts
    MALFORMED_JSON3 = "malformed_json3"  # a json3 file cut off mid-document
    LATIN1 = "latin1"  # a manual .vtt in ISO-8859-1, not the UTF-8 WebVTT requires
    ROLLING = "rolling"  # a plain two-line rolling WebVTT (no word timing), as some sites serve in <track>


@dataclass(frozen=True)
class Episode:
    """What to generate. `utterances` are (espeak-ng voice, text) pairs, spoken in order."""

    video_id: str
    title: str
    published: dt.datetime
    utterances: Sequence[tuple[str, str]] = ()
    container: Container = Container.MP4
    captions: Captions = Captions.NONE
    caption_languages: Sequence[str] = ("en",)
    leading_silence_s: float = 0.5
    trailing_silence_s: float = 0.5
    description: str = ""
    # The id the feeds advertise (RSS guid), any text at all, e.g. hostile ids for fault tests; files
    # and routes keep using `video_id`. None: the same as `video_id`.
    source_id: str | None = None

    def __post_init__(self) -> None:
        # Frozen and hashable even when callers pass lists.
        object.__setattr__(self, "utterances", tuple((voice, text) for voice, text in self.utterances))
        object.__setattr__(self, "caption_languages", tuple(self.caption_languages))
        object.__setattr__(self, "container", Container(self.container))
        object.__setattr__(self, "captions", Captions(self.captions))
        if not _VIDEO_ID.match(self.video_id):
            raise ValueError(f"video id {self.video_id!r} is not 1-64 letters, digits, '-' or '_'")
        if self.published.utcoffset() is None:
            raise ValueError(f"{self.video_id}: published must be timezone-aware")
        for voice, text in self.utterances:
            if not voice or not re.search(r"\w", text):
                raise ValueError(f"{self.video_id}: utterance {(voice, text)!r} needs a voice and a word")
        for language in self.caption_languages:
            if not _LANGUAGE.match(language):
                raise ValueError(f"{self.video_id}: {language!r} is not a language tag")
        if self.leading_silence_s < 0 or self.trailing_silence_s < 0:
            raise ValueError(f"{self.video_id}: silences cannot be negative")
        if not self.utterances and self.leading_silence_s + self.trailing_silence_s <= 0:
            raise ValueError(f"{self.video_id}: an episode needs speech or some silence")


@dataclass(frozen=True)
class Utterance:
    """Ground truth for one utterance: speech onset and offset in seconds from the start of the media,
    to the millisecond (the precision of caption timestamps)."""

    voice: str
    text: str
    start: float
    end: float


@dataclass(frozen=True)
class CaptionFile:
    language: str
    ext: str  # "vtt" or "json3", as yt-dlp names subtitle formats
    path: Path


@dataclass(frozen=True)
class GeneratedEpisode:
    spec: Episode
    media_path: Path
    duration: float
    utterances: tuple[Utterance, ...]
    captions: tuple[CaptionFile, ...]

    @property
    def video_id(self) -> str:
        return self.spec.video_id

    @property
    def title(self) -> str:
        return self.spec.title

    @property
    def source_id(self) -> str:
        return self.video_id if self.spec.source_id is None else self.spec.source_id

    @property
    def published(self) -> dt.datetime:
        return self.spec.published

    @property
    def container(self) -> Container:
        return self.spec.container

    @property
    def voices(self) -> frozenset[str]:
        return frozenset(u.voice for u in self.utterances)

    def caption(self, language: str = "en", ext: str = "vtt") -> CaptionFile:
        for caption in self.captions:
            if (caption.language, caption.ext) == (language, ext):
                return caption
        raise KeyError(f"{self.video_id} has no {language}.{ext} captions")

    def manifest(self) -> dict[str, Any]:
        return {
            "video_id": self.video_id,
            "source_id": self.source_id,
            "title": self.title,
            "description": self.spec.description,
            "published": self.published.isoformat(),
            "container": self.container.value,
            "caption_kind": self.spec.captions.value,
            "media_path": str(self.media_path),
            "duration": self.duration,
            "captions": [{"language": c.language, "ext": c.ext, "path": str(c.path)} for c in self.captions],
            "utterances": [{"voice": u.voice, "text": u.text, "start": u.start, "end": u.end} for u in self.utterances],
        }


@dataclass(frozen=True)
class Channel:
    channel_id: str
    title: str
    root: Path
    episodes: tuple[GeneratedEpisode, ...]

    def episode(self, video_id: str) -> GeneratedEpisode:
        for episode in self.episodes:
            if episode.video_id == video_id:
                return episode
        raise KeyError(f"no episode {video_id!r} in {self.title!r}")

    def manifest(self) -> dict[str, Any]:
        return {
            "channel_id": self.channel_id,
            "title": self.title,
            "episodes": [episode.manifest() for episode in self.episodes],
        }


def generate_channel(
    out_dir: Path,
    episodes: Sequence[Episode],
    *,
    channel_id: str = DEFAULT_CHANNEL_ID,
    title: str = DEFAULT_CHANNEL_TITLE,
    media: bool = True,
) -> Channel:
    """Render every episode into `out_dir` and write its manifest.json; returns the ground truth.
    `media=False` writes speech timing and captions only (no video files: what a text-only bench needs)."""
    ids = [episode.video_id for episode in episodes]
    if len(set(ids)) != len(ids):
        raise ValueError(f"duplicate video ids in {ids}")
    out_dir.mkdir(parents=True, exist_ok=True)
    channel = Channel(
        channel_id=channel_id,
        title=title,
        root=out_dir,
        episodes=tuple(generate_episode(out_dir, episode, media=media) for episode in episodes),
    )
    (out_dir / MANIFEST_NAME).write_text(json.dumps(channel.manifest(), indent=2), encoding="utf-8")
    return channel


def generate_episode(out_dir: Path, episode: Episode, media: bool = True) -> GeneratedEpisode:
    """Render one episode into `out_dir`, e.g. one to publish into an already running channel."""
    audio, utterances = render_speech(episode, out_dir / ".tts-cache")
    duration = round(len(audio) / SAMPLE_RATE, 3)
    media_path = out_dir / "media" / f"{episode.video_id}.{episode.container.value}"
    if media:
        _encode(audio, duration, media_path, episode.container)
    return GeneratedEpisode(
        spec=episode,
        media_path=media_path,
        duration=duration,
        utterances=utterances,
        captions=_write_captions(episode, utterances, duration, out_dir / "captions"),
    )


# --- speech ------------------------------------------------------------------------------------


def render_speech(episode: Episode, cache_dir: Path) -> tuple[np.ndarray, tuple[Utterance, ...]]:
    """The episode's speech at SAMPLE_RATE with each utterance's times; espeak-ng output cached in `cache_dir`."""
    pieces = [_silence(episode.leading_silence_s)]
    cursor = len(pieces[0])
    timed = []
    for index, (voice, text) in enumerate(episode.utterances):
        if index:
            pieces.append(_silence(GAP_S))
            cursor += len(pieces[-1])
        speech = _trim(_speak(voice, text, cache_dir), voice, text)
        timed.append(Utterance(voice, text, start=_seconds(cursor), end=_seconds(cursor + len(speech))))
        pieces.append(speech)
        cursor += len(speech)
    pieces.append(_silence(episode.trailing_silence_s))
    return np.concatenate(pieces), tuple(timed)


def utterance_seconds(voice: str, text: str, cache_dir: Path) -> float:
    """How long `text` lasts when spoken by `voice`, as an episode would render it (cached with it), so
    an episode can be laid out to put a phrase at a chosen time."""
    return _seconds(len(_trim(_speak(voice, text, cache_dir), voice, text)))


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * SAMPLE_RATE), dtype=np.float32)


def _seconds(samples: int) -> float:
    return round(samples / SAMPLE_RATE, 3)


def _speak(voice: str, text: str, cache_dir: Path) -> np.ndarray:
    key = hashlib.sha256(f"{voice}\0{text}".encode()).hexdigest()[:32]
    path = cache_dir / f"{key}.wav"
    if not path.exists():
        cache_dir.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        espeak_voice, _, rate = voice.partition("@")
        # Text goes through stdin so a line starting with '-' is never read as an option.
        _run(["espeak-ng", "-v", espeak_voice, "-w", str(partial), "--stdin"], stdin=text.encode())
        if rate:  # VOICE@F: see HOST
            shifted = path.with_suffix(".shifted.wav")
            _run(
                ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(partial),
                 "-af", f"asetrate={SAMPLE_RATE * float(rate):.0f},aresample={SAMPLE_RATE}", "-f", "wav", str(shifted)],
                stdin=b"",
            )  # fmt: skip
            shifted.replace(partial)
        partial.replace(path)  # atomic: an interrupted run never leaves a half-written cache entry
    samples, rate = sf.read(path, dtype="float32")
    if rate != SAMPLE_RATE:
        raise RuntimeError(f"espeak-ng wrote {rate} Hz audio; expected {SAMPLE_RATE} Hz")
    return samples


def _trim(samples: np.ndarray, voice: str, text: str) -> np.ndarray:
    """Drop espeak-ng's own leading and trailing padding so utterance times mark speech itself."""
    loud = np.flatnonzero(np.abs(samples) > _SPEECH_THRESHOLD)
    if loud.size == 0:
        raise RuntimeError(f"espeak-ng produced no audible speech for {(voice, text)!r}")
    return samples[loud[0] : loud[-1] + 1]


# --- media -------------------------------------------------------------------------------------

_CODECS: Final[dict[Container, list[str]]] = {
    # Baseline profile keeps the avc1 codec string on the watch page honest; faststart puts the index
    # first, as progressive downloads from YouTube have it.
    Container.MP4: [
        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "stillimage", "-profile:v", "baseline",
        "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "48k", "-movflags", "+faststart",
    ],
    Container.WEBM: ["-c:v", "libvpx", "-b:v", "16k", "-deadline", "realtime", "-c:a", "libopus", "-b:a", "32k"],
}  # fmt: skip


def _encode(audio: np.ndarray, duration: float, path: Path, container: Container) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.partial.{container.value}")  # ffmpeg picks the muxer by extension
    command = [
        "ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
        "-f", "f32le", "-ar", str(SAMPLE_RATE), "-ac", "1", "-i", "pipe:0",
        # A black picture looks like a real video at almost no cost; at 10 fps the last frame ends
        # within 0.1 s of the audio, so the container reports the audio's duration.
        "-f", "lavfi", "-i", "color=c=black:s=64x64:r=10",
        "-map", "1:v", "-map", "0:a", "-t", f"{duration:.3f}",
        *_CODECS[container],
        "-map_metadata", "-1", "-fflags", "+bitexact", str(partial),
    ]  # fmt: skip
    _run(command, stdin=audio.astype("<f4").tobytes())
    partial.replace(path)


def _run(command: list[str], stdin: bytes) -> None:
    result = subprocess.run(command, input=stdin, capture_output=True, timeout=_SUBPROCESS_TIMEOUT_S, check=False)
    if result.returncode != 0:
        stderr = result.stderr.decode(errors="replace").strip()
        raise RuntimeError(f"{command[0]} failed ({result.returncode}): {stderr}")


# --- captions ----------------------------------------------------------------------------------

_CaptionWriter = Callable[[tuple[Utterance, ...], str, float], str | bytes]


def _write_captions(
    episode: Episode, utterances: tuple[Utterance, ...], duration: float, caption_dir: Path
) -> tuple[CaptionFile, ...]:
    files = []
    for language in episode.caption_languages:
        for ext, write in _CAPTION_WRITERS[episode.captions]:
            path = caption_dir / f"{episode.video_id}.{language}.{ext}"
            path.parent.mkdir(parents=True, exist_ok=True)
            content = write(utterances, language, duration)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
            files.append(CaptionFile(language, ext, path))
    return tuple(files)


def vtt_timestamp(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    return f"{hours:02d}:{minutes:02d}:{millis // 1000:02d}.{millis % 1000:03d}"


def _vtt_header(language: str) -> str:
    return f"WEBVTT\nKind: captions\nLanguage: {language}"


def _manual_vtt(utterances: tuple[Utterance, ...], language: str, duration: float) -> str:
    cues = [f"{vtt_timestamp(u.start)} --> {vtt_timestamp(u.end)}\n{u.text}" for u in utterances]
    return "\n\n".join([_vtt_header(language), *cues]) + "\n"


def _asr_words(utterance: Utterance) -> list[tuple[str, float]]:
    """Words as ASR would emit them (lower case, no punctuation), each with an onset spread over the
    utterance in proportion to its length: plausible word timing without a forced aligner."""
    words = re.sub(r"[^\w\s']", " ", utterance.text.lower()).split()
    offsets = list(itertools.accumulate((len(word) + 1 for word in words), initial=0))
    span = utterance.end - utterance.start
    return [(word, round(utterance.start + span * offsets[i] / offsets[-1], 3)) for i, word in enumerate(words)]


def _auto_vtt(utterances: tuple[Utterance, ...], language: str, duration: float) -> str:
    """YouTube's automatic-caption WebVTT: each cue shows the previous line again above the new one
    (with per-word <c> timing), then a 10 ms cue holds the finished line alone. Naive readers of this
    format see every line twice, which is the point of serving it."""
    position = " align:start position:0%"
    blocks = [_vtt_header(language)]
    previous = " "  # YouTube leaves the upper line as a lone space until a line has scrolled up
    for utterance in utterances:
        words = _asr_words(utterance)
        rolling = words[0][0] + "".join(f"<{vtt_timestamp(onset)}><c> {word}</c>" for word, onset in words[1:])
        timing = f"{vtt_timestamp(utterance.start)} --> {vtt_timestamp(utterance.end)}{position}"
        blocks.append(f"{timing}\n{previous}\n{rolling}")
        line = " ".join(word for word, _ in words)
        settle = f"{vtt_timestamp(utterance.end)} --> {vtt_timestamp(utterance.end + 0.01)}{position}"
        blocks.append(f"{settle}\n{line}\n ")
        previous = line
    return "\n\n".join(blocks) + "\n"


def _auto_json3(utterances: tuple[Utterance, ...], language: str, duration: float) -> str:
    """YouTube's json3 timed text for automatic captions: one window-setup event, then per line an
    event with word segments (offsets relative to the event) and an appended newline event."""
    events: list[dict[str, Any]] = [
        {"tStartMs": 0, "dDurationMs": round(duration * 1000), "id": 1, "wpWinPosId": 1, "wsWinStyleId": 1}
    ]
    for utterance in utterances:
        start_ms, end_ms = round(utterance.start * 1000), round(utterance.end * 1000)
        words = _asr_words(utterance)
        segs = [{"utf8": words[0][0], "acAsrConf": 0}] + [
            {"utf8": f" {word}", "tOffsetMs": round(onset * 1000) - start_ms, "acAsrConf": 0}
            for word, onset in words[1:]
        ]
        events.append({"tStartMs": start_ms, "dDurationMs": end_ms - start_ms, "wWinId": 1, "segs": segs})
        events.append({"tStartMs": end_ms, "dDurationMs": 10, "wWinId": 1, "aAppend": 1, "segs": [{"utf8": "\n"}]})
    document = {
        "wireMagic": "pb3",
        "pens": [{}],
        "wsWinStyles": [{}, {"mhModeHint": 2, "juJustifCode": 0, "sdScrollDir": 3}],
        "wpWinPositions": [{}, {"apPoint": 6, "ahHorPos": 20, "avVerPos": 100, "rcRows": 2, "ccCols": 40}],
        "events": events,
    }
    return json.dumps(document, ensure_ascii=False)


def _rolling_vtt(utterances: tuple[Utterance, ...], language: str, duration: float) -> str:
    """Each cue shows the previous line above the new one, until the next line arrives: every line is
    on screen (and in the file) twice, with nothing but the repeat to tell."""
    cues, previous = [], None
    for index, utterance in enumerate(utterances):
        until = utterances[index + 1].start if index + 1 < len(utterances) else utterance.end
        lines = "\n".join(line for line in (previous, utterance.text) if line)
        cues.append(f"{vtt_timestamp(utterance.start)} --> {vtt_timestamp(until)}\n{lines}")
        previous = utterance.text
    return "\n\n".join([_vtt_header(language), *cues]) + "\n"


def _malformed_vtt(utterances: tuple[Utterance, ...], language: str, duration: float) -> str:
    """No WEBVTT signature, SRT-style commas with a short arrow, an impossible timestamp, and a last
    cue cut off mid-timestamp as an interrupted download leaves it."""
    texts = [u.text for u in utterances] or ["(silence)"]
    return (
        f"Kind: captions\nLanguage: {language}\n\n"
        f"00:00:00,500 -> 00:00:02,000\n{texts[0]}\n\n"
        f"99:99:99.999 --> 00:00:01.000\n{texts[-1]}\n\n"
        "00:00:0"
    )


def _malformed_json3(utterances: tuple[Utterance, ...], language: str, duration: float) -> str:
    """Automatic json3 captions cut off half-way, as an interrupted download leaves them."""
    document = _auto_json3(utterances, language, duration)
    return document[: len(document) // 2]


def _latin1_vtt(utterances: tuple[Utterance, ...], language: str, duration: float) -> bytes:
    """Manual WebVTT with an accented word, encoded as ISO-8859-1: invalid UTF-8 from the first accent."""
    cues = [f"{vtt_timestamp(u.start)} --> {vtt_timestamp(u.end)}\n{u.text} (café)" for u in utterances]
    return ("\n\n".join([_vtt_header(language), *cues]) + "\n").encode("latin-1")


_CAPTION_WRITERS: Final[dict[Captions, list[tuple[str, _CaptionWriter]]]] = {
    Captions.NONE: [],
    Captions.MANUAL: [("vtt", _manual_vtt)],
    # json3 first, vtt last: the order YouTube lists them, so yt-dlp's "best" pick is the same.
    Captions.AUTO: [("json3", _auto_json3), ("vtt", _auto_vtt)],
    Captions.MALFORMED: [("vtt", _malformed_vtt)],
    Captions.MALFORMED_JSON3: [("json3", _malformed_json3)],
    Captions.LATIN1: [("vtt", _latin1_vtt)],
    Captions.ROLLING: [("vtt", _rolling_vtt)],
}


# --- ready-made episodes -----------------------------------------------------------------------


def days_ago(days: int, now: dt.datetime | None) -> dt.datetime:
    # Afternoon UTC on a whole day, so the dates stay put for a whole day of reruns.
    today = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(hour=15, minute=0, second=0, microsecond=0)
    return today - dt.timedelta(days=days)


def default_episodes(now: dt.datetime | None = None) -> list[Episode]:
    """The demo channel: five 20-60 s episodes on distinct recent days; four have two or three
    speakers; captions manual, automatic or absent; both containers."""
    return [
        Episode(
            video_id="demoRivers1",
            title="Rivers of the North",
            description="Two hosts on how northern rivers freeze and thaw.",
            published=days_ago(15, now),
            container=Container.MP4,
            captions=Captions.MANUAL,
            utterances=[
                (HOST, "Welcome back to the show. Today we are talking about rivers in the far north."),
                (GUEST, "Thanks for having me. I have spent ten winters studying frozen rivers."),
                (HOST, "What surprised you most when you first went up there?"),
                (GUEST, "The silence. When the ice locks in, the whole valley goes quiet."),
                (HOST, "And in spring the ice breaks up all at once, doesn't it?"),
                (GUEST, "Often within a single day. The sound is like distant thunder."),
                (HOST, "That is a good place to stop. Thank you for joining us."),
            ],
        ),
        Episode(
            video_id="demoKitchn2",
            title="Kitchen Chemistry with Friends",
            description="Why bread rises and onions make you cry.",
            published=days_ago(11, now),
            container=Container.WEBM,
            captions=Captions.AUTO,
            utterances=[
                (HOST, "This week we are in the kitchen with two guests."),
                (GUEST, "Hello everyone. I bake bread every morning."),
                (EXPERT, "And I am a chemist, so I will explain why it works."),
                (HOST, "Let us start with yeast. What is it actually doing?"),
                (EXPERT, "Yeast eats sugar and breathes out carbon dioxide, which makes the dough rise."),
                (GUEST, "That is why I leave the dough somewhere warm for an hour."),
                (EXPERT, "Exactly. Warmth speeds the yeast up, cold slows it down."),
                (HOST, "Now the onions. Why do they make us cry?"),
                (EXPERT, "Cutting them releases a gas that stings the eyes."),
                (GUEST, "A sharp knife and a cold onion help a lot."),
            ],
        ),
        Episode(
            video_id="demoNotes03",
            title="Weekly Notes",
            description="A short solo update.",
            published=days_ago(8, now),
            container=Container.MP4,
            captions=Captions.NONE,
            utterances=[
                (HOST, "Hello, this is a short update for the week."),
                (HOST, "We recorded three new episodes and they will come out over the next month."),
                (HOST, "Thank you for the letters, we read every one of them."),
                (HOST, "Several of you asked about the microphones we use, so that gets its own episode."),
                (HOST, "A few of you also sent recordings of birds from your gardens."),
                (HOST, "We will play some of them at the end of the next show."),
                (HOST, "See you next week."),
            ],
        ),
        Episode(
            video_id="demoNightS4",
            title="Night Sky Questions",
            description="Listener questions about stars and planets.",
            published=days_ago(4, now),
            container=Container.WEBM,
            captions=Captions.NONE,
            utterances=[
                (GUEST, "Our first question today is about the brightest star in the sky."),
                (EXPERT, "That is Sirius. It is bright because it is both luminous and close to us."),
                (GUEST, "How close is close?"),
                (EXPERT, "About eight and a half light years, which is next door by galactic standards."),
                (GUEST, "Next question. Why do planets not twinkle?"),
                (EXPERT, "Planets show a small disc, so the air blurs them less than a point of starlight."),
                (GUEST, "Last one. Can you see Saturn's rings with binoculars?"),
                (EXPERT, "Barely. A small telescope shows them clearly."),
                (GUEST, "A bonus question came in while we were recording. What is a shooting star?"),
                (EXPERT, "A grain of dust burning up high in the air, usually smaller than a grain of sand."),
                (GUEST, "So every wish is made on a speck of dust."),
                (EXPERT, "A very fast speck of dust, travelling many kilometres every second."),
                (GUEST, "Thank you, and clear skies to everyone listening."),
            ],
        ),
        Episode(
            video_id="demoBees005",
            title="Interview: A Year with Bees",
            description="A beekeeper on the seasons of a hive.",
            published=days_ago(1, now),
            container=Container.MP4,
            captions=Captions.AUTO,
            utterances=[
                (HOST, "My guest today keeps forty hives on a hill outside town."),
                (GUEST, "Forty one, actually. A swarm moved in last month."),
                (HOST, "What does a beekeeper do in winter?"),
                (GUEST, "Very little. The bees cluster together and keep the queen warm."),
                (HOST, "And in summer?"),
                (GUEST, "Everything at once. Honey, swarms, and checking for disease every week."),
                (HOST, "Thank you for talking with us."),
            ],
        ),
    ]


SILENT_ID: Final = "silence0001"
BAD_CAPTIONS_ID: Final = "badCaptions"
TWO_LANGUAGES_ID: Final = "twoLanguage"
AUTO_CAPTIONS_ID: Final = "autoCaption"
LATE_ID: Final = "latePublish"


def edge_episodes(now: dt.datetime | None = None) -> list[Episode]:
    """Small awkward episodes, hours apart: pure silence, malformed captions, captions in two
    languages, automatic captions on webm, and the newest (`LATE_ID`) for tests that publish it late."""
    now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)

    def hours_ago(hours: int) -> dt.datetime:
        return now - dt.timedelta(hours=hours)

    return [
        silent_episode(SILENT_ID, seconds=4.0, published=hours_ago(5)),
        quick_episode(BAD_CAPTIONS_ID, captions=Captions.MALFORMED, published=hours_ago(4)),
        quick_episode(
            TWO_LANGUAGES_ID, captions=Captions.MANUAL, caption_languages=("en", "de"), published=hours_ago(3)
        ),
        quick_episode(AUTO_CAPTIONS_ID, captions=Captions.AUTO, container=Container.WEBM, published=hours_ago(2)),
        quick_episode(LATE_ID, captions=Captions.MANUAL, published=hours_ago(1)),
    ]


def quick_episode(
    video_id: str,
    *,
    published: dt.datetime | None = None,
    container: Container = Container.MP4,
    captions: Captions = Captions.NONE,
    caption_languages: Sequence[str] = ("en",),
) -> Episode:
    """A two-voice episode a few seconds long: the cheapest real content for fault and sensor tests."""
    return Episode(
        video_id=video_id,
        title=f"Quick episode {video_id}",
        published=published or dt.datetime.now(dt.UTC).replace(microsecond=0),
        container=container,
        captions=captions,
        caption_languages=caption_languages,
        leading_silence_s=0.3,
        trailing_silence_s=0.3,
        utterances=[(HOST, "This is a short test."), (GUEST, "Yes, a very short one.")],
    )


def silent_episode(
    video_id: str,
    seconds: float = 5.0,
    *,
    published: dt.datetime | None = None,
    container: Container = Container.MP4,
    captions: Captions = Captions.NONE,
) -> Episode:
    """Nothing but silence: transcription and diarization must come back empty, not fail."""
    return Episode(
        video_id=video_id,
        title=f"Silence {video_id}",
        published=published or dt.datetime.now(dt.UTC).replace(microsecond=0),
        container=container,
        captions=captions,
        leading_silence_s=seconds,
        trailing_silence_s=0.0,
    )
