"""Generated channels for the bench: espeak-ng speech of known length, captioned and not."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from bench.corpus import sentences
from ytingest.offline.sample_channel import (
    GUEST,
    HOST,
    Captions,
    Channel,
    Episode,
    generate_channel,
)

PUBLISHED = dt.datetime(2026, 11, 2, 12, tzinfo=dt.UTC)
WORDS_PER_SECOND = 3.0  # espeak-ng's default rate with the 0.4 s gaps, measured on these sentences
_CAPTION_CYCLE = (Captions.MANUAL, Captions.NONE, Captions.AUTO, Captions.NONE)


def spoken_episode(video_id: str, seconds: float, captions: Captions, seed: int) -> Episode:
    """Two voices taking turns until about `seconds` of speech."""
    lines: list[tuple[str, str]] = []
    words = 0
    for n, text in enumerate(sentences(10_000, seed=seed)):
        if words >= seconds * WORDS_PER_SECOND:
            break
        lines.append((HOST if n % 3 != 2 else GUEST, text))
        words += len(text.split())
    return Episode(video_id=video_id, title=f"Bench {video_id}", published=PUBLISHED, utterances=lines, captions=captions)


def mixed_channel(out_dir: Path, durations: list[float]) -> Channel:
    """One episode per duration, cycling manual captions, none, automatic captions, none: half go to ASR."""
    episodes = [
        spoken_episode(f"bench{n:06d}", seconds, _CAPTION_CYCLE[n % len(_CAPTION_CYCLE)], seed=n)
        for n, seconds in enumerate(durations)
    ]
    return generate_channel(out_dir, episodes)


def short_channel(out_dir: Path, count: int, seconds: float) -> Channel:
    """`count` episodes of about `seconds`, alternately captioned and not: the random-weight Whisper's
    output is dropped by the hallucination guards, so only captioned ones give the text encoder work."""
    cycle = (Captions.MANUAL, Captions.NONE)
    return generate_channel(
        out_dir, [spoken_episode(f"mem{n:06d}", seconds, cycle[n % 2], seed=1000 + n) for n in range(count)]
    )
