"""Where inside a retrieved passage the query's words are spoken.

A passage (a chunk) keeps one `Mark` per word: where the word begins in the passage's text, when it is
spoken, by whom, and whether a sentence, segment or speaker turn opens with it. `locate` splits the
passage into those units, scores each against the query (the query's stemmed words it contains, more for
words in the query's order, plus an optional semantic similarity per unit for paraphrases) and returns
the best unit's time, speaker, snippet and the character spans of the matched words.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

from ytingest.core.identifiers import is_youtube_video_id

MAX_UNIT_SECONDS = 8.0  # a longer unit is split, so a moment is never further than this from its words
LATE_MATCH_SECONDS = 2.0  # matched words this far into their unit: the moment starts at them instead
SNIPPET_CHARS = 160  # units after the best one join the snippet until it is this long
PHRASE_WEIGHT = 0.5  # consecutive query words found in order count this much on top of the words alone

# Postgres' english stop words (to_tsvector drops them too): they match everywhere and place nothing.
STOP_WORDS = frozenset(
    "i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers "
    "herself it its itself they them their theirs themselves what which who whom this that these those am is "
    "are was were be been being have has had having do does did doing a an the and but if or because as until "
    "while of at by for with about against between into through during before after above below to from up "
    "down in out on off over under again further then once here there when where why how all any both each few "
    "more most other some such no nor not only own same so than too very s t can will just don should now".split()
)
_WORD = re.compile(r"\w+(?:['’]\w+)*")


@dataclass(frozen=True, slots=True)
class Mark:
    offset: int  # where the word begins in the passage's text
    start: float
    end: float
    speaker: str | None
    opens: bool  # a sentence, caption segment or speaker turn begins with this word


@dataclass(frozen=True, slots=True)
class Moment:
    start: float
    end: float
    speaker: str | None
    snippet: str
    highlights: tuple[tuple[int, int], ...]  # character spans of matched words inside `snippet`


Similarity = Callable[[Sequence[str]], Sequence[float]]  # unit texts -> similarity to the query, each in [-1, 1]


def marks_to_json(marks: Sequence[Mark]) -> list[list]:
    return [[m.offset, round(m.start, 3), round(m.end, 3), m.speaker, int(m.opens)] for m in marks]


def marks_from_json(rows: Sequence[Sequence]) -> tuple[Mark, ...]:
    return tuple(Mark(int(o), float(s), float(e), speaker, bool(opens)) for o, s, e, speaker, opens in rows)


@lru_cache(maxsize=1)
def _stemmer():
    return snowballstemmer.stemmer("english")


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    # Snowball in pure Python costs microseconds a word; a transcript's vocabulary repeats.
    return _stemmer().stemWord(word)


def terms(text: str) -> list[tuple[str, int, int]]:
    """(stem, begin, end) of each word of `text` that is not a stop word, stemmed as Postgres' english
    configuration stems (Snowball), so a keyword hit and its highlighted words agree."""
    words = [(m.group().lower().replace("’", "'"), m.start(), m.end()) for m in _WORD.finditer(text)]
    return [(_stem(w), b, e) for w, b, e in words if w not in STOP_WORDS]


@dataclass(frozen=True, slots=True)
class Unit:
    first: int  # index of its first mark
    stop: int  # one past its last mark
    begin: int  # character span in the passage
    end: int


def units(text: str, marks: Sequence[Mark]) -> list[Unit]:
    """The passage's sentences, segments and turns, each split further when it lasts over MAX_UNIT_SECONDS."""
    starts = [i for i, mark in enumerate(marks) if mark.opens or i == 0]
    found = []
    for position, first in enumerate(starts):
        stop = starts[position + 1] if position + 1 < len(starts) else len(marks)
        found.extend(_split(marks, first, stop))
    return [Unit(first, stop, marks[first].offset, _end_of(text, marks, stop)) for first, stop in found]


def _split(marks: Sequence[Mark], first: int, stop: int) -> list[tuple[int, int]]:
    pieces = []
    while stop - first > 1 and marks[stop - 1].end - marks[first].start > MAX_UNIT_SECONDS:
        cut = first + 1
        while cut < stop - 1 and marks[cut + 1].start - marks[first].start <= MAX_UNIT_SECONDS:
            cut += 1
        pieces.append((first, cut))
        first = cut
    pieces.append((first, stop))
    return pieces


def _end_of(text: str, marks: Sequence[Mark], stop: int) -> int:
    return (marks[stop].offset if stop < len(marks) else len(text)) if marks else len(text)


def _lexical(query_stems: Sequence[str], unit_stems: Sequence[str]) -> float:
    """The share of the query's distinct words the unit says, plus PHRASE_WEIGHT times the share of the
    query's word pairs it says in order."""
    if not query_stems:
        return 0.0
    wanted = set(query_stems)
    words = len(wanted & set(unit_stems)) / len(wanted)
    pairs = list(zip(query_stems, query_stems[1:]))
    if not pairs:
        return words
    said = set(zip(unit_stems, unit_stems[1:]))
    return words + PHRASE_WEIGHT * sum(pair in said for pair in pairs) / len(pairs)


def locate(query: str, text: str, marks: Sequence[Mark], similarity: Similarity | None = None) -> Moment | None:
    """The moment in the passage that matches `query` best, or None for a passage without marks. Ties go
    to the earlier unit; with no matching word and no similarity that is the passage's first unit."""
    if not marks:
        return None
    found = units(text, marks)
    query_stems = [stem for stem, _, _ in terms(query)]
    wanted = set(query_stems)
    passage_terms = terms(text)  # once for the passage; each unit takes the words inside its span
    starts = [b for _, b, _ in passage_terms]
    unit_terms = [passage_terms[bisect_left(starts, u.begin) : bisect_left(starts, u.end)] for u in found]
    scores = [_lexical(query_stems, [stem for stem, _, _ in t]) for t in unit_terms]
    if similarity is not None:
        semantic = similarity([text[u.begin : u.end].strip() for u in found])
        scores = [score + float(value) for score, value in zip(scores, semantic, strict=True)]
    best = max(range(len(found)), key=lambda i: (scores[i], -i))
    unit = found[best]
    start = marks[unit.first].start
    matched = [b for stem, b, _ in unit_terms[best] if stem in wanted]
    if matched:
        first_hit = [mark for mark in marks[unit.first : unit.stop] if mark.offset <= matched[0]][-1]
        if first_hit.start - start > LATE_MATCH_SECONDS:
            start = first_hit.start
    last = best
    while last + 1 < len(found) and found[last].end - unit.begin < SNIPPET_CHARS:
        last += 1
    snippet = text[unit.begin : found[last].end].rstrip()
    highlights = tuple(
        (b - unit.begin, e - unit.begin)
        for stem, b, e in passage_terms[bisect_left(starts, unit.begin) :]
        if e - unit.begin <= len(snippet) and stem in wanted
    )
    return Moment(
        start=start,
        end=marks[unit.stop - 1].end,
        speaker=marks[unit.first].speaker,
        snippet=snippet,
        highlights=highlights,
    )


def marked(snippet: str, highlights: Sequence[tuple[int, int]], before: str = "**", after: str = "**") -> str:
    """The snippet with each highlighted span wrapped in `before`/`after`."""
    out, position = [], 0
    for begin, end in highlights:
        out += [snippet[position:begin], before, snippet[begin:end], after]
        position = end
    return "".join(out) + snippet[position:]


def link_at(video_id: str, url: str, seconds: float) -> str:
    """A link that opens the video at `seconds`."""
    whole = max(0, int(seconds))
    if is_youtube_video_id(video_id) and ("youtube.com" in url or "youtu.be" in url):
        return f"https://youtu.be/{video_id}?t={whole}"
    return f"{url.split('#', 1)[0]}#t={whole}"
