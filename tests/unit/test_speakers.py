"""Speaker assignment: generated three-voice captions against their true voices, hand-made overlaps,
gaps and boundaries, words straddling turns, and the size of a multi-hour video."""

from __future__ import annotations

import random
import shutil
import time

import pytest

from ytingest.core.captions import Segment, Word, parse_captions
from ytingest.core.speakers import Turn, assign_speakers, exclusive_turns, label_spans
from ytingest.offline.sample_channel import (
    GeneratedEpisode,
    default_episodes,
    generate_channel,
)


@pytest.fixture(scope="module")
def kitchen(tmp_path_factory: pytest.TempPathFactory) -> GeneratedEpisode:
    for tool in ("espeak-ng", "ffmpeg"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    episode = next(e for e in default_episodes() if e.video_id == "demoKitchn2")  # automatic, three voices
    return generate_channel(tmp_path_factory.mktemp("speaker-channel"), [episode]).episodes[0]


def _turns(episode: GeneratedEpisode, shift: float = 0.0) -> list[tuple[float, float, str]]:
    return [(u.start + shift, u.end + shift, u.voice) for u in episode.utterances]


@pytest.mark.parametrize("shift", [0.0, 0.3, -0.3])
def test_generated_captions_get_their_true_voices(kitchen: GeneratedEpisode, shift: float) -> None:
    """Diarization that lags or leads the captions by 300 ms still gives every line and word its voice."""
    segments = parse_captions(kitchen.caption("en", "json3").path.read_text(encoding="utf-8"), "json3")
    attributed = assign_speakers(segments, _turns(kitchen, shift))
    voices = [u.voice for u in kitchen.utterances]
    assert [s.speaker for s in attributed] == voices
    assert [{w.speaker for w in s.words} for s in attributed] == [{voice} for voice in voices]
    # Everything but the speakers is left as it was.
    assert [(s.start, s.end, s.text, [(w.start, w.end, w.text) for w in s.words]) for s in attributed] == [
        (s.start, s.end, s.text, [(w.start, w.end, w.text) for w in s.words]) for s in segments
    ]


def test_most_total_overlap_wins() -> None:
    turns = [(0.0, 1.0, "A"), (1.0, 2.5, "B"), (2.5, 3.5, "A"), (3.5, 4.0, "C")]
    spans = [
        (0.5, 1.7),  # A 0.5, B 0.7
        (0.0, 3.5),  # A 1.0 + 1.0 beats B's single longest turn of 1.5
        (3.4, 4.0),  # C 0.5 beats A 0.1
        (1.2, 1.3),  # inside one turn
    ]
    assert label_spans(spans, turns) == ["B", "A", "C", "B"]


def test_ties_go_to_the_speaker_heard_first_whatever_the_input_order() -> None:
    turns = [(0.0, 1.0, "A"), (1.0, 2.0, "B"), (2.0, 3.0, "C")]
    spans = [(0.5, 1.5), (1.5, 2.5), (0.7, 2.3)]  # A=B, B=C, A=C<B
    expected = ["A", "B", "B"]
    assert label_spans(spans, turns) == expected
    assert label_spans(spans, list(reversed(turns))) == expected
    # Sums that differ only by floating-point rounding are ties too: B's 0.2 + 0.1 comes to
    # 0.30000000000000004, yet A (heard first, 0.3) keeps the span.
    assert label_spans([(0.0, 0.65)], [(0.0, 0.3, "A"), (0.3, 0.5, "B"), (0.5, 0.55, "C"), (0.55, 0.65, "B")]) == ["A"]


def test_boundaries_touching_a_turn_are_not_overlap() -> None:
    turns = [(0.0, 1.0, "A"), (1.0, 2.0, "B")]
    assert label_spans([(1.0, 2.0), (0.0, 1.0), (1.0, 1.0), (0.0, 0.0), (2.0, 2.0)], turns) == [
        "B",
        "A",
        "B",  # an instant on the boundary belongs to the turn that starts there
        "A",
        "B",  # past the last turn: nearest, at distance 0
    ]


def test_gaps_take_the_nearest_turn_within_max_gap() -> None:
    turns = [(0.0, 1.0, "A"), (3.0, 4.0, "B"), (10.0, 11.0, "C")]
    spans = [
        (1.2, 1.5),  # 0.2 after A, 1.5 before B
        (2.2, 2.8),  # 1.2 after A, 0.2 before B
        (1.5, 2.5),  # 0.5 either side: the earlier turn
        (6.0, 7.0),  # 2 s after B, 3 s before C: beyond max_gap
        (12.5, 13.0),  # 1.5 s after the last turn
    ]
    assert label_spans(spans, turns, max_gap=1.0) == ["A", "B", "A", None, None]
    assert label_spans(spans, turns, max_gap=2.0) == ["A", "B", "A", "B", "C"]
    assert label_spans(spans, turns, max_gap=0.0) == [None, None, None, None, None]
    assert label_spans([(1.0, 1.5)], turns, max_gap=0.0) == ["A"]  # touching is distance 0


def test_words_straddling_turns_go_to_the_larger_share() -> None:
    turns = [(0.0, 1.0, "A"), (1.0, 2.0, "B")]
    words = (Word(0.2, 0.6, "well"), Word(0.9, 1.3, "then"), Word(1.3, 1.45, "we"), Word(0.7, 1.1, "so"))
    [segment] = assign_speakers([Segment(0.2, 1.45, "well then we so", words)], turns)
    assert segment.speaker == "A"  # 0.8 s of A against 0.45 s of B
    assert [(w.text, w.speaker) for w in segment.words] == [("well", "A"), ("then", "B"), ("we", "B"), ("so", "A")]


def test_a_word_in_a_pause_keeps_its_segments_speaker() -> None:
    turns = [(0.0, 1.0, "A"), (1.2, 1.4, "B"), (1.6, 3.0, "A")]
    words = (Word(0.1, 0.9, "one"), Word(1.45, 1.55, "two"), Word(1.6, 2.9, "three"))
    [segment] = assign_speakers([Segment(0.1, 2.9, "one two three", words)], turns)
    # "two" lies in a pause 0.05 s from B's turn; its segment, which is A's, decides.
    assert [w.speaker for w in segment.words] == ["A", "A", "A"]


def test_a_word_outside_its_unattributed_segment_falls_back_to_the_nearest_turn() -> None:
    """ASR word times can run past their segment's; such a word may reach a turn the segment does not."""
    turns = [(0.0, 1.0, "A"), (5.0, 6.0, "B")]
    words = (Word(2.0, 2.5, "far"), Word(3.5, 4.6, "near"))
    [segment] = assign_speakers([Segment(2.0, 4.0, "far near", words)], turns, max_gap=0.5)
    assert segment.speaker is None
    assert [w.speaker for w in segment.words] == [None, "B"]


def test_overlapping_turns_are_made_exclusive_first() -> None:
    turns = [(2.0, 5.0, "B"), (0.0, 3.0, "A"), (3.5, 4.5, "C"), (4.0, 6.0, "D"), (6.0, 6.0, "E")]
    assert exclusive_turns(turns) == [Turn(0.0, 3.0, "A"), Turn(3.0, 5.0, "B"), Turn(5.0, 6.0, "D")]
    assert label_spans([(2.0, 3.2), (3.5, 4.5)], turns) == ["A", "B"]


def test_empty_inputs_and_order() -> None:
    assert assign_speakers([], [(0.0, 1.0, "A")]) == []
    segments = [Segment(5.0, 6.0, "später"), Segment(0.0, 1.0, "zuerst"), Segment(2.0, 2.0, "")]
    assert [s.speaker for s in assign_speakers(segments, [])] == [None, None, None]
    turns = [Turn(0.0, 1.0, "Sprecher Ä"), Turn(5.0, 6.0, "話者2")]
    assert [s.speaker for s in assign_speakers(segments, turns, max_gap=0.5)] == ["話者2", "Sprecher Ä", None]


def test_invalid_spans_and_gaps_are_refused() -> None:
    with pytest.raises(ValueError, match="span 1 ends"):
        label_spans([(0.0, 1.0), (2.0, 1.0)], [(0.0, 1.0, "A")])
    with pytest.raises(ValueError, match="max_gap"):
        label_spans([(0.0, 1.0)], [(0.0, 1.0, "A")], max_gap=-1.0)


def _brute_force(span: tuple[float, float], turns: list[Turn], max_gap: float) -> str | None:
    start, end = span
    totals: dict[str, float] = {}
    for turn in turns:
        overlap = min(end, turn.end) - max(start, turn.start)
        if overlap > 0:
            totals[turn.speaker] = totals.get(turn.speaker, 0.0) + overlap
    if totals:
        return max(totals, key=lambda speaker: totals[speaker])
    gaps = [(max(turn.start - end, start - turn.end, 0.0), turn.speaker) for turn in turns]
    gap, speaker = min(gaps)
    return speaker if gap <= max_gap else None


def test_multi_hour_video_is_labelled_near_linearly_and_correctly() -> None:
    rng = random.Random(20240601)
    turns, clock = [], 0.0
    for index in range(20_000):  # about eleven hours of turns with pauses between them
        length = rng.uniform(0.3, 3.0)
        turns.append(Turn(round(clock, 3), round(clock + length, 3), f"SPEAKER_{index * 7 % 5:02d}"))
        clock += length + rng.choice([0.0, 0.0, rng.uniform(0.05, 1.5)])
    spans, clock = [], 0.0
    for _ in range(50_000):
        length = rng.uniform(0.2, 1.4)
        spans.append((round(clock, 3), round(clock + length, 3)))
        clock += length + rng.uniform(0.0, 0.2)
    shuffled = spans[:]
    rng.shuffle(shuffled)

    labels = label_spans(shuffled, turns, max_gap=0.5)

    def seconds(part_spans, part_turns) -> float:
        best = float("inf")
        for _ in range(3):  # the best of three shrugs off a busy machine
            began = time.perf_counter()
            label_spans(part_spans, part_turns, max_gap=0.5)
            best = min(best, time.perf_counter() - began)
        return best

    # A quarter of the spans over the first quarter of the turns: linear work takes ~4x less, a
    # spans x turns scan ~16x less.
    quarter = [s for s in shuffled if s[1] <= turns[len(turns) // 4][0]]
    ratio = seconds(shuffled, turns) / seconds(quarter, turns[: len(turns) // 4])
    assert ratio < 8, f"4x the spans and turns took {ratio:.1f}x the time"
    # Turns here have distinct lengths, so random spans almost never tie; compare with brute force.
    for index in rng.sample(range(len(shuffled)), 100):
        assert labels[index] == _brute_force(shuffled[index], turns, 0.5), shuffled[index]
    assert labels.count(None) > 0 and len(set(labels) - {None}) == 5


def test_turns_are_clamped_to_the_audio():
    from ytingest.core.speakers import Turn, clamped_turns

    turns = [(-0.2, 1.0, "A"), (1.0, 9.5, "B"), (10.2, 11.0, "A")]
    assert clamped_turns(turns, 9.0) == [Turn(0.0, 1.0, "A"), Turn(1.0, 9.0, "B")]
    assert clamped_turns(turns, None) == [Turn(*t) for t in turns]
