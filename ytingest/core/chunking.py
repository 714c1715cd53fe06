"""A transcript cut into chunks that fit the text-embedding model, each keeping its times and speakers.

The transcript is flattened into word pieces (text, times, speaker, token count, and how good a
place to cut right after it is). Chunks are packed greedily from those pieces: each ends at the
best cut in the last half of its free budget (a change of speaker, else a segment end, else a
sentence end, else any word) and the next one starts `overlap_tokens` back. Every word's tokens
are counted once (memoised by text) plus one count of each finished chunk, so the work is linear in
the transcript's length.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence, Sized
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol, runtime_checkable

from ytingest.core.captions import Segment
from ytingest.core.moments import Mark

TokenCounter = Callable[[str], int]


@runtime_checkable
class Tokenizer(Protocol):
    """A Hugging Face tokenizer (transformers or tokenizers); its special tokens are not counted."""

    def encode(self, text: str, *, add_special_tokens: bool) -> Sized: ...


@dataclass(frozen=True, slots=True)
class Chunk:
    text: str
    start: float
    end: float
    speakers: list[str]  # in the order they are first heard; unattributed text adds none
    token_count: int  # of `text` itself, without the model's special tokens
    index: int
    marks: tuple[Mark, ...] = ()  # one per word: where it is in `text`, when it is spoken, by whom


class _Cut(IntEnum):
    """How good a place to end a chunk is, right after a piece."""

    WORD = 0
    SENTENCE = 1
    SEGMENT = 2
    SPEAKER = 3


@dataclass(frozen=True, slots=True)
class _Piece:
    text: str
    start: float
    end: float
    speaker: str | None
    tokens: int
    glue: str  # what joins it to the piece before: a space, or nothing inside a word cut for length
    cut: _Cut


_SENTENCE_END = re.compile(r"[.!?…。！？]['\"”’)\]]*$")


def chunk_transcript(
    segments: Sequence[Segment],
    count_tokens: TokenCounter | Tokenizer,
    max_tokens: int,
    overlap_tokens: int = 0,
) -> list[Chunk]:
    """Chunks of at most `max_tokens` tokens (leave room for the model's own special tokens: with
    max_seq_length 256 and [CLS]/[SEP], pass 254) in time order, consecutive chunks sharing up to
    `overlap_tokens` tokens. Words come from each segment's text; their times from its words when
    those match the text word for word, else spread over the segment by length."""
    if max_tokens < 1 or not 0 <= overlap_tokens < max_tokens:
        raise ValueError(
            f"need max_tokens >= 1 and 0 <= overlap_tokens < max_tokens, got {max_tokens} and {overlap_tokens}"
        )
    count = _token_counter(count_tokens)
    pieces = _pieces(sorted(segments, key=lambda segment: segment.start), _memoised(count), max_tokens)
    return list(_pack(pieces, count, max_tokens, overlap_tokens))


def _token_counter(count_tokens: TokenCounter | Tokenizer) -> TokenCounter:
    # Checked before calling: Hugging Face tokenizers are callable too, but return encodings.
    if isinstance(count_tokens, Tokenizer):
        tokenizer = count_tokens
        return lambda text: len(tokenizer.encode(text, add_special_tokens=False))
    return count_tokens


def _memoised(count: TokenCounter) -> TokenCounter:
    # A transcript's vocabulary is a small fraction of its words, and tokenizer calls dominate.
    cache: dict[str, int] = {}

    def cached(text: str) -> int:
        if text not in cache:
            cache[text] = count(text)
        return cache[text]

    return cached


# --- transcript to pieces ------------------------------------------------------------------------


def _pieces(segments: Sequence[Segment], count: TokenCounter, max_tokens: int) -> list[_Piece]:
    pieces: list[_Piece] = []
    for segment in segments:
        pieces.extend(_segment_pieces(segment, count, max_tokens))
    # A speaker change is the best cut; it can fall inside a segment when its words differ.
    for index in range(len(pieces) - 1):
        if pieces[index].speaker != pieces[index + 1].speaker:
            pieces[index] = _with_cut(pieces[index], _Cut.SPEAKER)
    return pieces


def _segment_pieces(segment: Segment, count: TokenCounter, max_tokens: int) -> Iterator[_Piece]:
    matches = list(re.finditer(r"\S+", segment.text))
    if len(segment.words) == len(matches):
        timings = [(word.start, word.end, _or(word.speaker, segment.speaker)) for word in segment.words]
    else:
        timings = _proportional(segment, matches)
    for position, (match, (start, end, speaker)) in enumerate(zip(matches, timings, strict=True)):
        text = match.group()
        if position == len(matches) - 1:
            cut = _Cut.SEGMENT
        else:
            cut = _Cut.SENTENCE if _SENTENCE_END.search(text) else _Cut.WORD
        piece = _Piece(text, start, end, speaker, count(text), " ", cut)
        yield from _split_long(piece, count, max_tokens) if piece.tokens > max_tokens else (piece,)


def _proportional(segment: Segment, matches: Sequence[re.Match[str]]) -> list[tuple[float, float, str | None]]:
    """Word times spread over the segment in proportion to characters: no aligner, but monotone
    and within the segment."""
    if not matches:
        return []
    first, last = matches[0].start(), matches[-1].end()
    span, duration = max(last - first, 1), segment.end - segment.start

    def at(offset: int) -> float:
        return round(segment.start + duration * (offset - first) / span, 3)

    return [(at(match.start()), at(match.end()), segment.speaker) for match in matches]


def _split_long(piece: _Piece, count: TokenCounter, max_tokens: int) -> Iterator[_Piece]:
    """A 'word' over the budget (a URL, or a sentence in a script written without spaces) is cut
    into runs of characters that fit, first sized from its average characters per token."""
    text, position = piece.text, 0
    estimate = max(1, len(text) * max_tokens // piece.tokens)
    while position < len(text):
        size = min(len(text) - position, estimate)
        tokens = count(text[position : position + size])
        while tokens > max_tokens and size > 1:
            size = max(1, min(size - 1, size * max_tokens // tokens))
            tokens = count(text[position : position + size])
        end = position + size
        yield _Piece(
            text=text[position:end],
            start=_between(piece, position / len(text)),
            end=_between(piece, end / len(text)),
            speaker=piece.speaker,
            tokens=tokens,
            glue=piece.glue if position == 0 else "",
            cut=piece.cut if end == len(text) else _Cut.WORD,
        )
        position = end


def _or(speaker: str | None, fallback: str | None) -> str | None:
    return fallback if speaker is None else speaker


def _between(piece: _Piece, fraction: float) -> float:
    return round(piece.start + (piece.end - piece.start) * fraction, 3)


def _with_cut(piece: _Piece, cut: _Cut) -> _Piece:
    return _Piece(piece.text, piece.start, piece.end, piece.speaker, piece.tokens, piece.glue, max(piece.cut, cut))


# --- pieces to chunks ----------------------------------------------------------------------------


def _pack(pieces: Sequence[_Piece], count: TokenCounter, max_tokens: int, overlap_tokens: int) -> Iterator[Chunk]:
    # Cutting no earlier than halfway through the free budget guarantees each chunk at least that
    # much new text, which bounds the number of chunks (and so the work) linearly.
    min_fill = overlap_tokens + (max_tokens - overlap_tokens) // 2
    first, index = 0, 0
    while first < len(pieces):
        stop = _best_stop(pieces, first, max_tokens, min_fill)
        text = _join(pieces[first:stop])
        tokens = count(text)
        # Token counts of words need not add up exactly (BPE merges across spaces): trust the total.
        while tokens > max_tokens and stop - first > 1:
            stop -= 1
            text = _join(pieces[first:stop])
            tokens = count(text)
        yield _chunk(pieces[first:stop], text, tokens, index)
        index += 1
        if stop == len(pieces):
            return
        first = _overlap_start(pieces, first, stop, overlap_tokens)


def _best_stop(pieces: Sequence[_Piece], first: int, max_tokens: int, min_fill: int) -> int:
    """One past the last piece of the chunk starting at `first`: the latest of its best cuts once it
    holds `min_fill` tokens, or as much as fits when no cut qualifies or the transcript ends."""
    total, stop, best, best_cut = 0, first, None, _Cut.WORD
    while stop < len(pieces) and total + pieces[stop].tokens <= max_tokens:
        total += pieces[stop].tokens
        if total >= min_fill and (best is None or pieces[stop].cut >= best_cut):
            best, best_cut = stop + 1, pieces[stop].cut
        stop += 1
    if stop == first:
        return first + 1  # a single character over the budget: it cannot be cut any finer
    return stop if stop == len(pieces) or best is None else best


def _overlap_start(pieces: Sequence[_Piece], first: int, stop: int, overlap_tokens: int) -> int:
    """Where the next chunk starts: as far back from `stop` as `overlap_tokens` reaches, but always
    after `first`, so every chunk moves on."""
    start, total = stop, 0
    while start - 1 > first and total + pieces[start - 1].tokens <= overlap_tokens:
        start -= 1
        total += pieces[start].tokens
    return start


def _join(pieces: Sequence[_Piece]) -> str:
    return pieces[0].text + "".join(piece.glue + piece.text for piece in pieces[1:])


def _chunk(pieces: Sequence[_Piece], text: str, tokens: int, index: int) -> Chunk:
    speakers = dict.fromkeys(piece.speaker for piece in pieces if piece.speaker is not None)
    return Chunk(
        text=text,
        start=min(piece.start for piece in pieces),
        end=max(piece.end for piece in pieces),
        speakers=list(speakers),
        token_count=tokens,
        index=index,
        marks=tuple(_marks(pieces)),
    )


def _marks(pieces: Sequence[_Piece]) -> Iterator[Mark]:
    """Offsets as `_join` lays the pieces out; a unit (sentence, segment, turn) opens after a cut
    better than a plain word break."""
    offset = 0
    for position, piece in enumerate(pieces):
        if position:
            offset += len(piece.glue)
        opens = position == 0 or pieces[position - 1].cut >= _Cut.SENTENCE
        yield Mark(offset, piece.start, piece.end, piece.speaker, opens)
        offset += len(piece.text)
