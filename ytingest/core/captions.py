"""Caption files (WebVTT, YouTube json3) parsed into timed transcript segments, and the choice of
which caption track to trust.

`Segment` and `Word` are the transcript's one shape: captions and ASR both produce them,
`speakers.assign_speakers` fills in `speaker`, `chunking.chunk_transcript` consumes them.

Anything malformed raises `CaptionError` (with the line where that is meaningful): a caption file we
cannot read faithfully is worse than none, because the transcript step then falls back to ASR.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from ytingest.core.text import clean_text


@dataclass(frozen=True, slots=True)
class Word:
    start: float
    end: float
    text: str
    speaker: str | None = None


@dataclass(frozen=True, slots=True)
class Segment:
    start: float
    end: float
    text: str
    words: tuple[Word, ...] = ()  # only where the source times words (automatic captions, ASR)
    speaker: str | None = None


class CaptionError(ValueError):
    """A caption file that cannot be parsed; `line` is 1-based where the format has lines."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        super().__init__(reason if line is None else f"line {line}: {reason}")
        self.reason = reason
        self.line = line


def parse_captions(
    data: str | bytes,
    fmt: str,
    *,
    rolling: bool | None = None,
    max_bytes: int | None = None,
    duration: float | None = None,
) -> list[Segment]:
    """Parse a caption file in `fmt` ("vtt" or "json3", as yt-dlp names them) into segments in time order.

    `rolling` applies to WebVTT only: pass True for automatic captions; None detects a rolling track
    (inline word timestamps, or cues that repeat the previous cue's last line above a new one). A file
    over `max_bytes` is refused. Whatever the file holds, the result is bounded: any failure of the
    parsers (a 400-digit hour field, JSON nested 100k deep) is a CaptionError, text carries no NUL or
    control characters, and times lie in [0, duration].
    """
    if max_bytes is not None and len(data) > max_bytes:
        raise CaptionError(f"larger than {max_bytes} bytes (CAPTION_MAX_BYTES)")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CaptionError(f"not UTF-8 (byte {exc.start})") from exc
    try:
        match fmt.lower():
            case "vtt":
                segments = parse_vtt(data, rolling=rolling)
            case "json3":
                segments = parse_json3(data)
            case _:
                raise CaptionError(f"unsupported caption format {fmt!r}")
    except CaptionError:
        raise
    except (ArithmeticError, ValueError, RecursionError, MemoryError, TypeError) as exc:
        raise CaptionError(f"unreadable ({type(exc).__name__}: {str(exc)[:100]})") from None
    return bounded_segments(segments, duration)


def bounded_segments(segments: Iterable[Segment], duration: float | None) -> list[Segment]:
    """Segments with clean text and finite times clamped to [0, duration], in time order; a segment that
    starts past the end (or has no text left) is dropped."""
    limit = duration if duration is not None else math.inf
    kept = []
    for segment in segments:
        start, end = max(0.0, segment.start), min(limit, segment.end)
        text = clean_text(segment.text).strip()
        if not (math.isfinite(start) and math.isfinite(end)) or start >= limit or end < start or not text:
            continue
        words = tuple(
            Word(max(start, w.start), min(end, w.end), clean_text(w.text), w.speaker)
            for w in segment.words
            if math.isfinite(w.start) and math.isfinite(w.end) and w.start < end and clean_text(w.text).strip()
        )
        kept.append(Segment(start, end, text, words, segment.speaker))
    return sorted(kept, key=lambda seg: seg.start)


# --- choosing a track ----------------------------------------------------------------------------

PARSED_FORMATS = ("json3", "vtt")  # preference order: json3 times each word and never rolls lines


class CaptionTrack(Protocol):
    """What a saved caption file is known by (resources.media.SavedCaption fits)."""

    @property
    def language(self) -> str: ...
    @property
    def kind(self) -> str: ...  # "manual" | "automatic"
    @property
    def format(self) -> str: ...


TrackT = TypeVar("TrackT", bound=CaptionTrack)


def rank_captions(available: Iterable[TrackT], languages: Sequence[str]) -> list[TrackT]:
    """Usable tracks, best first: manual before automatic, then the configured language order (an
    exact tag before a regional or "-orig" variant of it), then json3 before vtt. Tracks in other
    languages or formats we cannot parse are left out."""
    ranked = []
    for track in available:
        language_rank = _language_rank(track.language, languages)
        fmt = track.format.lower()
        if language_rank is None or fmt not in PARSED_FORMATS:
            continue
        key = (track.kind != "manual", language_rank, PARSED_FORMATS.index(fmt), track.language)
        ranked.append((key, track))
    ranked.sort(key=lambda pair: pair[0])
    return [track for _, track in ranked]


def caption_choice(available: Iterable[TrackT], languages: Sequence[str]) -> TrackT | None:
    """The caption track to transcribe from, or None when only ASR will do."""
    ranked = rank_captions(available, languages)
    return ranked[0] if ranked else None


def _language_rank(language: str, configured: Sequence[str]) -> tuple[int, int] | None:
    tag = language.lower().replace("_", "-")
    for position, wanted in enumerate(configured):
        wanted = wanted.lower().replace("_", "-")
        if tag == wanted:
            return (position, 0)
        if tag.split("-")[0] == wanted.split("-")[0]:
            return (position, 1)
    return None


# --- shared text handling ------------------------------------------------------------------------


def _squash(text: str) -> str:
    # str.split() also splits on no-break spaces, which &nbsp; and YouTube both produce.
    return " ".join(text.split())


def _spread(pieces: Sequence[tuple[float, str]], end: float) -> tuple[Word, ...]:
    """Words from (onset, text) pieces: each piece lasts until the next one's onset (the last until
    `end`); a piece of several words shares its span among them in proportion to their length."""
    spoken = [(onset, text.split()) for onset, text in pieces if text.strip()]
    words = []
    for index, (onset, tokens) in enumerate(spoken):
        until = spoken[index + 1][0] if index + 1 < len(spoken) else end
        total = sum(len(token) for token in tokens)
        done = 0
        for token in tokens:
            word_start = onset + (until - onset) * done / total
            done += len(token)
            words.append(Word(round(word_start, 3), round(onset + (until - onset) * done / total, 3), token))
    return tuple(words)


# --- WebVTT --------------------------------------------------------------------------------------

_SIGNATURE = re.compile(r"^WEBVTT(?:[ \t].*)?$")
_NEWLINE = re.compile(r"\r\n|\r|\n")  # not str.splitlines: U+2028 and friends are cue text
_STAMP = r"(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})"  # [hh:]mm:ss.ttt
_TIMESTAMP = re.compile(f"^{_STAMP}$")
# Whitespace around the arrow is optional in the spec; timestamps never contain "-".
_TIMING = re.compile(r"^([^\s-]+)[ \t]*-->[ \t]*(\S+)(?:[ \t]+.*)?$")
_NON_CUE_BLOCK = re.compile(r"^(?:NOTE|STYLE|REGION)(?:[ \t]|$)")
_INLINE_TIME = re.compile(f"<{_STAMP}>")
_TAG = re.compile(r"<[^>]*>?")  # an unclosed tag runs to the end of the line, as in the spec


@dataclass(frozen=True, slots=True)
class _Cue:
    start: float
    end: float
    lines: tuple[str, ...]  # raw payload, tags and entities included


def parse_vtt(text: str, *, rolling: bool | None = None) -> list[Segment]:
    """WebVTT cues as segments. In rolling mode (YouTube automatic captions, or any track whose cues
    repeat the line before) each line is kept once, timed by the cue that first shows it. None detects
    it: inline word timestamps, or cues that mostly repeat the previous cue's last line above a new one."""
    if not text.strip():
        raise CaptionError("empty caption file")
    lines = _NEWLINE.split(text.removeprefix("\ufeff"))
    if not _SIGNATURE.match(lines[0]):
        raise CaptionError(f"missing the WEBVTT signature, found {lines[0][:40]!r}", line=1)
    cues = list(_read_cues(lines))
    if rolling is None:
        rolling = any(_INLINE_TIME.search(line) for cue in cues for line in cue.lines) or _rolls(cues)
    segments = list(_unrolled_segments(cues) if rolling else _cue_segments(cues))
    if not segments:
        raise CaptionError("no caption text")
    return segments


def _read_cues(lines: list[str]) -> Iterator[_Cue]:
    """Blocks are separated by empty lines; a line holding only a space (which YouTube puts in
    automatic cues) is cue text, exactly as the spec has it."""
    index = lines.index("") if "" in lines else len(lines)  # the header runs to the first empty line
    while index < len(lines):
        if lines[index] == "":
            index += 1
            continue
        first = index
        while index < len(lines) and lines[index] != "":
            index += 1
        cue = _read_block(lines[first:index], first + 1)
        if cue is not None:
            yield cue


def _read_block(block: list[str], line_no: int) -> _Cue | None:
    if _NON_CUE_BLOCK.match(block[0]) and "-->" not in block[0]:
        return None
    timing_at = 0 if "-->" in block[0] else 1  # otherwise the first line is a cue identifier
    if timing_at == 1 and (len(block) < 2 or "-->" not in block[1]):
        raise CaptionError(f"expected a cue timing 'start --> end', found {block[0][:60]!r}", line=line_no)
    timing_line = line_no + timing_at
    match = _TIMING.match(block[timing_at])
    if match is None:
        raise CaptionError(f"malformed cue timing {block[timing_at][:60]!r}", line=timing_line)
    start = _vtt_seconds(match.group(1), "start", timing_line)
    end = _vtt_seconds(match.group(2), "end", timing_line)
    if end < start:
        raise CaptionError(f"cue ends ({match.group(2)}) before it starts ({match.group(1)})", line=timing_line)
    return _Cue(start, end, tuple(block[timing_at + 1 :]))


def _vtt_seconds(stamp: str, which: str, line_no: int) -> float:
    match = _TIMESTAMP.match(stamp)
    if match is None:
        raise CaptionError(f"bad {which} time {stamp[:30]!r} (want [hh:]mm:ss.ttt)", line=line_no)
    return _seconds(match)


def _seconds(stamp: re.Match[str]) -> float:
    hours, minutes, seconds, millis = (int(group or 0) for group in stamp.groups())
    return hours * 3600 + minutes * 60 + seconds + millis / 1000


def _clean(raw: str) -> str:
    # Tags go before entities are decoded, so an escaped "&lt;" survives as text.
    return _squash(html.unescape(_TAG.sub("", raw)))


def _cue_segments(cues: Iterable[_Cue]) -> Iterator[Segment]:
    for cue in cues:
        segment = _vtt_segment(cue, cue.lines)
        if segment is not None:
            yield segment


def _shown(cue: _Cue) -> list[tuple[str, str]]:
    """(raw, cleaned) for each line of the cue that shows any text."""
    return [(raw, text) for raw in cue.lines if (text := _clean(raw))]


def _repeated(shown: Sequence[tuple[str, str]], before: Sequence[str]) -> int:
    """How many of the cue's first lines repeat the previous cue's last lines, in order. A line typed out
    with inline word timing is new speech even when its words repeat (YouTube only repeats settled
    lines plainly), so it never counts."""
    for overlap in range(min(len(shown), len(before)), 0, -1):
        head = shown[:overlap]
        if [text for _, text in head] == list(before[-overlap:]) and not any(_INLINE_TIME.search(r) for r, _ in head):
            return overlap
    return 0


def _rolls(cues: Sequence[_Cue]) -> bool:
    """A track rolls when at least half of its cues that could (two or more lines, after the first cue)
    repeat the previous cue's last line(s) above new ones: a plain rolling track (from a page's <track>,
    or any automatic captions without word timing) shows each line twice."""
    rolled = possible = 0
    before: list[str] = []
    for cue in cues:
        shown = _shown(cue)
        if len(shown) > 1 and before:
            possible += 1
            rolled += 0 < _repeated(shown, before) < len(shown)
        before = [text for _, text in shown]
    return rolled > 0 and 2 * rolled >= possible


def _unrolled_segments(cues: Iterable[_Cue]) -> Iterator[Segment]:
    """Each line once, timed by the cue that first shows it: the lines a cue repeats from the end of the
    cue before (YouTube's two-line roll, and its 10 ms cue holding the settled line) are dropped."""
    before: list[str] = []
    for cue in cues:
        shown = _shown(cue)
        kept = [raw for raw, _ in shown[_repeated(shown, before) :]]
        if shown:
            before = [text for _, text in shown]
        segment = _vtt_segment(cue, kept)
        if segment is not None:
            yield segment


def _vtt_segment(cue: _Cue, raw_lines: Sequence[str]) -> Segment | None:
    text = _squash(" ".join(_clean(raw) for raw in raw_lines))
    if not text:
        return None
    payload = " ".join(raw_lines)
    if not _INLINE_TIME.search(payload):
        return Segment(cue.start, cue.end, text)
    return Segment(cue.start, cue.end, text, _spread(_timed_pieces(payload, cue), cue.end))


def _timed_pieces(payload: str, cue: _Cue) -> list[tuple[float, str]]:
    """(onset, text) runs between inline timestamps, onsets kept inside the cue and non-decreasing."""
    pieces = []
    onset, position = cue.start, 0
    for stamp in _INLINE_TIME.finditer(payload):
        pieces.append((onset, _clean(payload[position : stamp.start()])))
        onset, position = min(max(onset, _seconds(stamp)), cue.end), stamp.end()
    pieces.append((onset, _clean(payload[position:])))
    return pieces


# --- YouTube json3 -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Event:
    start_ms: float
    end_ms: float | None  # None when the event gives no duration
    window: int | None
    append: bool
    pieces: tuple[tuple[float, str], ...]  # (offset ms from start, utf8)
    timed: bool  # whether any piece carries its own offset (automatic captions' words)


def parse_json3(text: str) -> list[Segment]:
    """YouTube's json3 timed text: one segment per event with text. Events without segments (window
    setup) and newline-only appends (line breaks) carry no speech."""
    if not text.strip():
        raise CaptionError("empty caption file")
    try:
        document = json.loads(text.removeprefix("\ufeff"))
    except json.JSONDecodeError as exc:
        raise CaptionError(f"not JSON: {exc.msg} (column {exc.colno})", line=exc.lineno) from exc
    events = document.get("events") if isinstance(document, dict) else None
    if not isinstance(events, list):
        raise CaptionError("json3 without an 'events' list")
    parsed = [_read_event(raw, index) for index, raw in enumerate(events)]
    segments = _json3_segments(parsed, _window_cutoffs(parsed))
    if not segments:
        raise CaptionError("no caption text")
    return segments


def _read_event(raw: Any, index: int) -> _Event:
    where = f"events[{index}]"
    if not isinstance(raw, dict):
        raise CaptionError(f"{where} is not an object")
    segs = raw.get("segs") or []
    if not isinstance(segs, list):
        raise CaptionError(f"{where}.segs is not a list")
    start = _milliseconds(raw.get("tStartMs"), f"{where}.tStartMs", required=bool(segs))
    duration = _milliseconds(raw.get("dDurationMs"), f"{where}.dDurationMs", required=False)
    pieces = []
    for position, seg in enumerate(segs):
        if not isinstance(seg, dict) or not isinstance(seg.get("utf8"), str):
            raise CaptionError(f"{where}.segs[{position}] has no utf8 text")
        offset = _milliseconds(seg.get("tOffsetMs"), f"{where}.segs[{position}].tOffsetMs", required=False)
        pieces.append((offset or 0.0, seg["utf8"]))
    window = raw.get("wWinId")
    return _Event(
        start_ms=start or 0.0,
        end_ms=None if duration is None else (start or 0.0) + duration,
        window=window if isinstance(window, int) else None,
        append=bool(raw.get("aAppend")),
        pieces=tuple(pieces),
        timed=any("tOffsetMs" in seg for seg in segs),
    )


def _milliseconds(value: Any, where: str, *, required: bool) -> float | None:
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise CaptionError(f"{where} is {value!r}, not a non-negative number of milliseconds")
    return float(value)


def _window_cutoffs(events: Sequence[_Event]) -> list[float | None]:
    """When the next event in the same window begins. Automatic captions keep a line on screen
    (dDurationMs) while the next one is typed under it, but its speech ends where the next event
    (the line break, or the next line) starts."""
    cutoffs: list[float | None] = [None] * len(events)
    following: dict[int, float] = {}
    for index in range(len(events) - 1, -1, -1):
        window = events[index].window
        if window is not None:
            cutoffs[index] = following.get(window)
            following[window] = events[index].start_ms
    return cutoffs


def _json3_segments(events: Sequence[_Event], cutoffs: Sequence[float | None]) -> list[Segment]:
    segments: list[Segment] = []
    for event, cutoff in zip(events, cutoffs, strict=True):
        text = _squash("".join(utf8 for _, utf8 in event.pieces))
        if not text:
            continue
        start = event.start_ms / 1000
        last_onset = start + max(offset for offset, _ in event.pieces) / 1000
        ends = [ms / 1000 for ms in (event.end_ms, cutoff) if ms is not None]
        end = round(max(min(ends, default=last_onset), start), 3)
        words = ()
        if event.timed:
            pieces = [(min(start + offset / 1000, end), utf8) for offset, utf8 in event.pieces]
            words = _spread(pieces, end)
        if event.append and segments:
            # aAppend continues the window's current line rather than starting a new one.
            previous = segments.pop()
            segments.append(
                Segment(previous.start, max(previous.end, end), f"{previous.text} {text}", previous.words + words)
            )
        else:
            segments.append(Segment(round(start, 3), end, text, words))
    return segments
