"""Who said each transcript segment and word: the speaker of the diarization turns that overlap it most.

One sweep over both timelines sorted by start: a pointer into the turns only moves forward, and
each span visits only the turns it overlaps. With non-overlapping turns (pyannote's exclusive
diarization) and a transcript whose segments do not overlap each other, the visits number at most
spans + turns, so the whole is O((n + m) log(n + m)) for the two sorts.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from ytingest.core.captions import Segment, Word

DEFAULT_MAX_GAP_S = 1.0  # caption and ASR times drift from diarization by a few hundred ms
_EPSILON = 1e-9  # overlaps this close are a tie, whatever order floating point summed them in


class Turn(NamedTuple):
    """One diarization turn; a plain (start, end, speaker) tuple is accepted wherever a Turn is."""

    start: float
    end: float
    speaker: str


def assign_speakers(
    segments: Sequence[Segment], turns: Iterable[tuple[float, float, str]], *, max_gap: float = DEFAULT_MAX_GAP_S
) -> list[Segment]:
    """The segments, in the same order, with `speaker` set on each and on each of its words.

    A word that overlaps no turn takes its segment's speaker before any nearby turn's: it sits in
    a pause inside that segment, whose other words placed it."""
    timeline = exclusive_turns(turns)
    segment_labels = _label(timeline, [(segment.start, segment.end) for segment in segments], max_gap)
    words = [word for segment in segments for word in segment.words]
    word_fallbacks = [label for segment, label in zip(segments, segment_labels) for _ in segment.words]
    word_labels = iter(_label(timeline, [(word.start, word.end) for word in words], max_gap, word_fallbacks))
    return [
        Segment(
            segment.start,
            segment.end,
            segment.text,
            tuple(Word(word.start, word.end, word.text, next(word_labels)) for word in segment.words),
            label,
        )
        for segment, label in zip(segments, segment_labels, strict=True)
    ]


def label_spans(
    spans: Sequence[tuple[float, float]],
    turns: Iterable[tuple[float, float, str]],
    *,
    max_gap: float = DEFAULT_MAX_GAP_S,
) -> list[str | None]:
    """The speaker for each (start, end) span, in the spans' order.

    Most total overlap wins (a span over turns A, B, A adds up A's two parts); a tie goes to the
    speaker heard first within the span; a zero-length span takes the turn it falls in. A span
    that overlaps no turn takes the nearest turn's speaker if that is within `max_gap` seconds
    (the earlier turn on a tie), else None."""
    return _label(exclusive_turns(turns), spans, max_gap)


def clamped_turns(turns: Iterable[tuple[float, float, str]], duration: float | None) -> list[Turn]:
    """Turns cut to [0, duration] (a diarizer's last frame can end after the audio does), those left
    empty dropped; unchanged when the duration is unknown."""
    if duration is None:
        return [Turn(*turn) for turn in turns]
    kept = (Turn(max(start, 0.0), min(end, duration), speaker) for start, end, speaker in turns)
    return [turn for turn in kept if turn.end > turn.start]


def exclusive_turns(turns: Iterable[tuple[float, float, str]]) -> list[Turn]:
    """Turns sorted by time, empty ones dropped. The sweep needs turns that do not overlap; where
    they do anyway (rounding, or a non-exclusive diarization), the turn that started first keeps
    the shared time and the later one is clipped to begin where it ends."""
    timeline: list[Turn] = []
    for start, end, speaker in sorted(Turn(*turn) for turn in turns):
        if timeline:
            start = max(start, timeline[-1].end)
        if end > start:
            timeline.append(Turn(start, end, speaker))
    return timeline


def _label(
    timeline: Sequence[Turn],
    spans: Sequence[tuple[float, float]],
    max_gap: float,
    fallbacks: Sequence[str | None] | None = None,
) -> list[str | None]:
    """Labels by overlap, else `fallbacks[i]` when given and not None, else the nearest turn."""
    if max_gap < 0:
        raise ValueError(f"max_gap must be >= 0, got {max_gap}")
    labels: list[str | None] = [None] * len(spans)
    following = 0  # the first turn that ends after the current span starts
    for index in sorted(range(len(spans)), key=spans.__getitem__):
        start, end = spans[index]
        if end < start:
            raise ValueError(f"span {index} ends ({end}) before it starts ({start})")
        while following < len(timeline) and timeline[following].end <= start:
            following += 1
        label = _most_overlap(timeline, following, start, end)
        if label is None and fallbacks is not None:
            label = fallbacks[index]
        if label is None:
            label = _nearest(timeline, following, start, end, max_gap)
        labels[index] = label
    return labels


def _most_overlap(timeline: Sequence[Turn], following: int, start: float, end: float) -> str | None:
    if start == end:  # an instant has no overlap to measure, only a turn it falls in
        inside = following < len(timeline) and timeline[following].start <= start
        return timeline[following].speaker if inside else None
    totals: dict[str, float] = {}  # insertion order is the order speakers are heard in the span
    index = following
    while index < len(timeline) and timeline[index].start < end:
        turn = timeline[index]
        totals[turn.speaker] = totals.get(turn.speaker, 0.0) + min(end, turn.end) - max(start, turn.start)
        index += 1
    best, best_total = None, 0.0
    for speaker, total in totals.items():
        if total > best_total + _EPSILON:
            best, best_total = speaker, total
    return best


def _nearest(timeline: Sequence[Turn], following: int, start: float, end: float, max_gap: float) -> str | None:
    """Only two turns can be nearest to a span that overlaps none: the last one ending at or before
    its start and the first one starting at or after its end."""
    candidates = []  # (gap, the earlier turn first on a tie, speaker)
    if following > 0:
        before = timeline[following - 1]
        candidates.append((start - before.end, 0, before.speaker))
    if following < len(timeline):
        after = timeline[following]
        candidates.append((max(0.0, after.start - end), 1, after.speaker))
    gap, _, speaker = min(candidates, default=(math.inf, 0, None))
    return speaker if gap <= max_gap else None
