"""Episodes laid out so that chosen phrases are spoken at chosen times, for search tests and the
retrieval bench: filler speech up to each phrase, then the phrase, then filler to the wanted length.

Speech is rendered (and cached) by `sample_channel`, so the layout knows each utterance's length; the
first phrase lands at its time exactly (leading silence absorbs the rest), later ones at the end of
the filler that fits before them. The generated manifest holds the times as spoken either way."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ytingest.offline.sample_channel import GAP_S, Captions, Episode, utterance_seconds

MIN_LEADING_S = 0.5


@dataclass(frozen=True)
class Placed:
    at: float  # when the phrase should start, in seconds from the start of the media
    voice: str
    text: str


def laid_out_episode(
    video_id: str,
    title: str,
    published: dt.datetime,
    phrases: Sequence[Placed],
    seconds: float,
    filler: Iterator[tuple[str, str]],
    cache_dir: Path,
    captions: Captions = Captions.MANUAL,
    speech_between: tuple[float, float] | None = None,
) -> Episode:
    """An episode of about `seconds` with `phrases` (in time order) among `filler` utterances. `cache_dir`
    must be the channel's own `.tts-cache` (the output directory's), so rendering reuses the speech.
    `speech_between` keeps the talk inside (from, until) seconds, silence around it (diarization of
    silence is cheap, of speech about real time on a small CPU)."""
    lead_in, speech_until = speech_between or (MIN_LEADING_S, seconds)
    utterances: list[tuple[str, str]] = []
    cursor, leading = 0.0, None

    def length(voice: str, text: str) -> float:
        return utterance_seconds(voice, text, cache_dir)

    for phrase in phrases:
        origin = lead_in if leading is None else leading  # where the cursor's zero is, at the least
        while True:
            voice, text = next(filler)
            spoken = length(voice, text)
            if origin + cursor + (GAP_S if utterances else 0) + spoken + GAP_S > phrase.at:
                filler = itertools.chain([(voice, text)], filler)  # not a generator: closing it keeps the caller's
                break
            cursor += (GAP_S if utterances else 0) + spoken
            utterances.append((voice, text))
        gap = GAP_S if utterances else 0
        if leading is None:
            leading = max(lead_in, phrase.at - cursor - gap)
        cursor += gap + length(phrase.voice, phrase.text)
        utterances.append((phrase.voice, phrase.text))
    leading = lead_in if leading is None else leading
    while leading + cursor < speech_until - 1.0:
        voice, text = next(filler)
        spoken = length(voice, text)
        if leading + cursor + GAP_S + spoken > speech_until - 0.3:
            break
        cursor += GAP_S + spoken
        utterances.append((voice, text))
    return Episode(
        video_id=video_id,
        title=title,
        published=published,
        utterances=utterances,
        captions=captions,
        leading_silence_s=round(leading, 3),
        trailing_silence_s=round(max(0.3, seconds - leading - cursor), 3),
    )
