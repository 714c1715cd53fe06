"""Caption parsing on captions the sample channel writes from known utterance times, and on small files
in the exact shapes YouTube serves (written out here, edge cases included)."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from ytingest.core.captions import (
    CaptionError,
    Segment,
    caption_choice,
    parse_captions,
    parse_json3,
    parse_vtt,
    rank_captions,
)
from ytingest.offline.sample_channel import (
    Captions,
    Channel,
    default_episodes,
    generate_channel,
    quick_episode,
)

TOLERANCE_S = 0.002  # caption timestamps are milliseconds; the generator rounds to them too


@pytest.fixture(scope="module")
def channel(tmp_path_factory: pytest.TempPathFactory) -> Channel:
    for tool in ("espeak-ng", "ffmpeg"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    demo = {episode.video_id: episode for episode in default_episodes()}
    episodes = [
        quick_episode("quickManual", captions=Captions.MANUAL),
        quick_episode("quickAuto", captions=Captions.AUTO),
        quick_episode("quickBroken", captions=Captions.MALFORMED),
        demo["demoRivers1"],  # manual, two voices, punctuation
        demo["demoKitchn2"],  # automatic, three voices
    ]
    return generate_channel(tmp_path_factory.mktemp("caption-channel"), episodes)


def _asr_text(text: str) -> str:
    """Ground truth as automatic captions spell it: lower case, no punctuation but apostrophes."""
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _assert_times(segments: list[Segment], truth: list[tuple[float, float]]) -> None:
    assert [(s.start, s.end) for s in segments] == [
        (pytest.approx(start, abs=TOLERANCE_S), pytest.approx(end, abs=TOLERANCE_S)) for start, end in truth
    ]


# --- generated captions against ground truth -------------------------------------------------------


@pytest.mark.parametrize("video_id", ["quickManual", "demoRivers1"])
def test_manual_vtt_gives_each_utterance_verbatim_at_its_times(channel: Channel, video_id: str) -> None:
    episode = channel.episode(video_id)
    segments = parse_captions(_read(episode.caption("en", "vtt").path), "vtt")
    assert [s.text for s in segments] == [u.text for u in episode.utterances]
    _assert_times(segments, [(u.start, u.end) for u in episode.utterances])
    assert all(s.words == () for s in segments)  # manual cues carry no word timing


@pytest.mark.parametrize("video_id", ["quickAuto", "demoKitchn2"])
@pytest.mark.parametrize("fmt", ["vtt", "json3"])
def test_automatic_captions_give_each_spoken_line_once(channel: Channel, video_id: str, fmt: str) -> None:
    episode = channel.episode(video_id)
    segments = parse_captions(_read(episode.caption("en", fmt).path), fmt)
    assert [s.text for s in segments] == [_asr_text(u.text) for u in episode.utterances]
    _assert_times(segments, [(u.start, u.end) for u in episode.utterances])
    for segment in segments:
        assert " ".join(w.text for w in segment.words) == segment.text
        assert segment.words[0].start == pytest.approx(segment.start, abs=TOLERANCE_S)
        assert segment.words[-1].end == pytest.approx(segment.end, abs=TOLERANCE_S)
        starts = [w.start for w in segment.words]
        assert starts == sorted(starts) and all(w.start <= w.end for w in segment.words)


def test_automatic_vtt_and_json3_agree_word_for_word(channel: Channel) -> None:
    episode = channel.episode("demoKitchn2")
    from_vtt = parse_captions(episode.caption("en", "vtt").path.read_bytes(), "vtt")
    from_json3 = parse_captions(episode.caption("en", "json3").path.read_bytes(), "json3")
    assert from_vtt == from_json3


def test_rolling_vtt_read_cue_by_cue_shows_why_deduplication_matters(channel: Channel) -> None:
    episode = channel.episode("quickAuto")
    naive = parse_vtt(_read(episode.caption("en", "vtt").path), rolling=False)
    # Each line comes back as typed, settled, and repeated above the next line.
    assert [s.text for s in naive] == [
        "this is a short test",
        "this is a short test",
        "this is a short test yes a very short one",
        "yes a very short one",
    ]


def test_generated_malformed_vtt_is_rejected_at_its_first_line(channel: Channel) -> None:
    with pytest.raises(CaptionError) as caught:
        parse_captions(_read(channel.episode("quickBroken").caption("en", "vtt").path), "vtt")
    assert caught.value.line == 1
    assert "WEBVTT" in str(caught.value)


# --- YouTube's shapes, written out ---------------------------------------------------------------

YOUTUBE_AUTO_VTT = """WEBVTT
Kind: captions
Language: en

00:00:00.000 --> 00:00:02.750 align:start position:0%
 
so<00:00:00.359><c> today</c><00:00:00.719><c> we're</c><00:00:00.960><c> going</c><00:00:01.199><c> to</c><00:00:01.439><c> talk</c>

00:00:02.750 --> 00:00:02.760 align:start position:0%
so today we're going to talk
 

00:00:02.760 --> 00:00:05.190 align:start position:0%
so today we're going to talk
about<00:00:03.120><c> the</c><00:00:03.360><c> history</c><00:00:03.840><c> of</c><00:00:04.080><c> caf&eacute;s</c>

00:00:05.190 --> 00:00:05.200 align:start position:0%
about the history of cafés
 

00:00:05.200 --> 00:00:06.500 align:start position:0%
about the history of cafés
[Music]

00:00:06.500 --> 00:00:06.510 align:start position:0%
[Music]
 

00:00:06.510 --> 00:00:08.000 align:start position:0%
[Music]
okay<00:00:07.000><c> okay</c>

00:00:08.000 --> 00:00:08.010 align:start position:0%
okay okay
 

00:00:08.010 --> 00:00:09.000 align:start position:0%
okay okay
okay<00:00:08.500><c> okay</c>
"""


def test_youtube_rolling_vtt_keeps_lines_once_and_a_repeated_phrase_twice() -> None:
    segments = parse_vtt(YOUTUBE_AUTO_VTT)
    assert [s.text for s in segments] == [
        "so today we're going to talk",
        "about the history of cafés",
        "[Music]",  # a one-word line has no inline timing, yet is still new the first time
        "okay okay",
        "okay okay",  # typed out again with word timing: spoken twice, not a rolled-up repeat
    ]
    _assert_times(segments, [(0.0, 2.75), (2.76, 5.19), (5.2, 6.5), (6.51, 8.0), (8.01, 9.0)])
    first = segments[0].words
    assert [(w.text, w.start) for w in first] == [
        ("so", 0.0), ("today", 0.359), ("we're", 0.719), ("going", 0.96), ("to", 1.199), ("talk", 1.439),
    ]  # fmt: skip
    assert first[-1].end == 2.75
    assert segments[2].words == ()


def test_inline_timestamps_outside_their_cue_or_out_of_order_are_kept_inside_it() -> None:
    cue = "a<00:00:00.500><c> b</c><00:00:01.500><c> c</c><00:00:01.200> d<00:00:03.000> e"
    text = f"WEBVTT\n\n00:01.000 --> 00:02.000\n{cue}\n"
    [segment] = parse_vtt(text)
    assert [(w.text, w.start, w.end) for w in segment.words] == [
        ("a", 1.0, 1.0), ("b", 1.0, 1.5), ("c", 1.5, 1.5), ("d", 1.5, 2.0), ("e", 2.0, 2.0),
    ]  # fmt: skip


def test_rolling_format_without_word_timing_is_deduplicated_declared_or_not() -> None:
    text = "WEBVTT\n\n00:00.000 --> 00:02.000\n \nfirst line\n\n00:02.000 --> 00:04.000\nfirst line\nsecond line\n"
    assert [s.text for s in parse_vtt(text, rolling=True)] == ["first line", "second line"]
    # No inline timestamps, but the second cue repeats the first one's line above a new one: it rolls.
    assert [(s.start, s.text) for s in parse_vtt(text)] == [(0.0, "first line"), (2.0, "second line")]
    assert [s.text for s in parse_vtt(text, rolling=False)] == ["first line", "first line second line"]


PLAIN_ROLLING_VTT = """WEBVTT

1
00:00:01.000 --> 00:00:03.000
the tide comes in twice a day

2
00:00:03.000 --> 00:00:05.500
the tide comes in twice a day
pulled by the moon and the sun

3
00:00:05.500 --> 00:00:08.000
pulled by the moon and the sun
and the fishermen know it well

4
00:00:08.000 --> 00:00:09.000
and the fishermen know it well
"""


def test_plain_two_line_rolling_vtt_keeps_each_line_once_with_its_own_time() -> None:
    segments = parse_captions(PLAIN_ROLLING_VTT, "vtt")
    assert [(s.start, s.end, s.text) for s in segments] == [
        (1.0, 3.0, "the tide comes in twice a day"),
        (3.0, 5.5, "pulled by the moon and the sun"),
        (5.5, 8.0, "and the fishermen know it well"),
    ]


def test_two_line_manual_cues_that_do_not_roll_are_read_as_written() -> None:
    text = (
        "WEBVTT\n\n00:01.000 --> 00:02.000\nWhere were you?\nAt home.\n\n"
        "00:02.000 --> 00:03.000\nAt home.\nAlone?\n\n00:03.000 --> 00:04.000\nYes.\nAll evening.\n\n"
        "00:04.000 --> 00:05.000\nWho saw you?\nNobody.\n\n00:05.000 --> 00:06.000\nNobody?\nNo one.\n"
    )
    # One cue of four repeats a line: a coincidence in dialogue, not a rolling track.
    assert [s.text for s in parse_vtt(text)][1] == "At home. Alone?"


def test_manual_captions_keep_a_line_repeated_in_consecutive_cues() -> None:
    text = "WEBVTT\n\n00:01.000 --> 00:02.000\nNo.\n\n00:02.000 --> 00:03.000\nNo.\n"
    assert [(s.start, s.text) for s in parse_vtt(text)] == [(1.0, "No."), (2.0, "No.")]


WEBVTT_FEATURES = (
    "\ufeffWEBVTT - a title after the signature\r\n"
    "Kind: captions\r\n"
    "Language: en\r\n"
    "\r\n"
    "STYLE\r\n"
    "::cue { color: yellow }\r\n"
    "\r\n"
    "REGION\r\n"
    "id:fred width:40%\r\n"
    "\r\n"
    "NOTE a comment\r\n"
    "over two lines\r\n"
    "\r\n"
    "intro\r\n"
    "00:01.000 --> 00:04.000 align:start position:10% line:0 size:80%\r\n"
    "<v Roger Bingham>We are in  New York City\r\n"
    "&amp; it&#39;s &lt;cold&gt;&nbsp;today</v>\r\n"
    "\r\n"
    "2\r\n"
    "00:05.000 --> 00:06.500\r\n"
    "<i>Ça va?</i> <c.yellow.bg_blue>日本語</c> 🎉 مرحبا\r\n"
    "\r\n"
    "00:07.000 --> 00:08.000\r\n"
    "\r\n"
    "01:00:00.000 --> 01:00:02.000\r\n"
    " \r\n"
    "Line after a lone space\r\n"
    "\r\n"
    "NOTE\r\n"
    "a note closing the file\r\n"
    "\r\n"
    "100:00:00.000-->100:00:01.250\r\n"
    "More than 99 hours, no spaces around the arrow\r\n"
)


def test_webvtt_blocks_settings_tags_entities_and_hours() -> None:
    segments = parse_vtt(WEBVTT_FEATURES)
    assert [(s.start, s.end, s.text) for s in segments] == [
        (1.0, 4.0, "We are in New York City & it's <cold> today"),
        (5.0, 6.5, "Ça va? 日本語 🎉 مرحبا"),
        (3600.0, 3602.0, "Line after a lone space"),
        (360000.0, 360001.25, "More than 99 hours, no spaces around the arrow"),
    ]
    assert all(s.words == () for s in segments)


YOUTUBE_AUTO_JSON3 = {
    "wireMagic": "pb3",
    "pens": [{}],
    "wsWinStyles": [{}, {"mhModeHint": 2, "juJustifCode": 0, "sdScrollDir": 3}],
    "wpWinPositions": [{}, {"apPoint": 6, "ahHorPos": 20, "avVerPos": 100, "rcRows": 2, "ccCols": 40}],
    "events": [
        {"tStartMs": 0, "dDurationMs": 9000, "id": 1, "wpWinPosId": 1, "wsWinStyleId": 1},
        {
            "tStartMs": 0,
            "dDurationMs": 5190,  # stays on screen while the next line is typed under it
            "wWinId": 1,
            "segs": [
                {"utf8": "so", "acAsrConf": 0},
                {"utf8": " today", "tOffsetMs": 359, "acAsrConf": 0},
                {"utf8": " we're", "tOffsetMs": 719, "acAsrConf": 0},
                {"utf8": " going", "tOffsetMs": 960, "acAsrConf": 0},
                {"utf8": " to", "tOffsetMs": 1199, "acAsrConf": 0},
                {"utf8": " talk", "tOffsetMs": 1439, "acAsrConf": 0},
            ],
        },
        {"tStartMs": 2750, "dDurationMs": 2440, "wWinId": 1, "aAppend": 1, "segs": [{"utf8": "\n"}]},
        {
            "tStartMs": 2760,
            "dDurationMs": 4000,
            "wWinId": 1,
            "segs": [
                {"utf8": "about", "acAsrConf": 0},
                {"utf8": " the", "tOffsetMs": 360, "acAsrConf": 0},
                {"utf8": " history", "tOffsetMs": 600, "acAsrConf": 0},
                {"utf8": " of", "tOffsetMs": 1080, "acAsrConf": 0},
                {"utf8": " cafés", "tOffsetMs": 1320, "acAsrConf": 0},
            ],
        },
        {"tStartMs": 5190, "dDurationMs": 1810, "wWinId": 1, "aAppend": 1, "segs": [{"utf8": "\n"}]},
        {"tStartMs": 5200, "dDurationMs": 1800, "wWinId": 1, "segs": [{"utf8": "[Music]"}]},
    ],
}


def test_youtube_json3_lines_end_where_the_next_line_begins() -> None:
    segments = parse_json3(json.dumps(YOUTUBE_AUTO_JSON3, indent=2, ensure_ascii=False))
    assert [(s.start, s.end, s.text) for s in segments] == [
        (0.0, 2.75, "so today we're going to talk"),
        (2.76, 5.19, "about the history of cafés"),
        (5.2, 7.0, "[Music]"),  # the last line keeps its own duration
    ]
    assert [(w.text, w.start, w.end) for w in segments[1].words] == [
        ("about", 2.76, 3.12), ("the", 3.12, 3.36), ("history", 3.36, 3.84), ("of", 3.84, 4.08), ("cafés", 4.08, 5.19),
    ]  # fmt: skip
    assert segments[2].words == ()


def test_manual_json3_keeps_overlapping_cues_and_joins_lines() -> None:
    document = {
        "wireMagic": "pb3",
        "events": [
            {"tStartMs": 1000, "dDurationMs": 2500, "segs": [{"utf8": "Hello there."}]},
            {"tStartMs": 3000, "dDurationMs": 2000, "segs": [{"utf8": "General\nKenobi!"}]},
            {"tStartMs": 6000, "dDurationMs": 1000, "segs": [{"utf8": "  "}]},
            {"tStartMs": 7000, "dDurationMs": 1500, "segs": [{"utf8": "日本語の"}, {"utf8": "字幕です"}]},
        ],
    }
    segments = parse_json3(json.dumps(document))
    assert parse_captions(b"\xef\xbb\xbf" + json.dumps(document).encode(), "json3") == segments  # with a BOM
    assert [(s.start, s.end, s.text, s.words) for s in segments] == [
        (1.0, 3.5, "Hello there.", ()),
        (3.0, 5.0, "General Kenobi!", ()),  # no shared window: overlapping cues are the author's choice
        (7.0, 8.5, "日本語の字幕です", ()),
    ]


def test_json3_append_event_continues_the_current_line() -> None:
    document = {
        "events": [
            {
                "tStartMs": 0,
                "dDurationMs": 1000,
                "wWinId": 1,
                "segs": [{"utf8": "one"}, {"utf8": " two", "tOffsetMs": 500}],
            },
            {"tStartMs": 1000, "dDurationMs": 800, "wWinId": 1, "aAppend": 1, "segs": [{"utf8": " three"}]},
            {"tStartMs": 2000, "dDurationMs": 500, "wWinId": 1, "segs": [{"utf8": "four"}]},
        ]
    }
    segments = parse_json3(json.dumps(document))
    assert [(s.start, s.end, s.text) for s in segments] == [(0.0, 1.8, "one two three"), (2.0, 2.5, "four")]
    assert [w.text for w in segments[0].words] == ["one", "two"]


# --- malformed and empty input -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("", None, "empty caption file"),
        ("  \n\n", None, "empty caption file"),
        ("Kind: captions\n\n00:01.000 --> 00:02.000\nhi\n", 1, "missing the WEBVTT signature"),
        ("WEBVTTX\n\n00:01.000 --> 00:02.000\nhi\n", 1, "missing the WEBVTT signature"),
        ("WEBVTT\nKind: captions\n", None, "no caption text"),
        ("WEBVTT\n\n00:01.000 --> 00:02.000\n \n", None, "no caption text"),
        ("WEBVTT\n\n1\n00:00:00,500 --> 00:00:02,000\nhi\n", 4, "bad start time '00:00:00,500'"),
        ("WEBVTT\n\n00:00:00.500 -> 00:00:02.000\nhi\n", 3, "expected a cue timing"),
        ("WEBVTT\n\n00:01.000 --> 00:02.000\nok\n\n99:99:99.999 --> 00:00:01.000\nx\n", 6, "bad start time"),
        ("WEBVTT\n\n00:01.000 --> 00:02.00\nhi\n", 3, "bad end time '00:02.00'"),
        ("WEBVTT\n\n00:01.000 --> 1:00:02.000\nhi\n", 3, "bad end time"),
        ("WEBVTT\n\n00:05.000 --> 00:04.000\nhi\n", 3, "cue ends (00:04.000) before it starts (00:05.000)"),
        ("WEBVTT\n\n00:01.000 -->\nhi\n", 3, "malformed cue timing"),
        ("WEBVTT\n\n00:01.000 --> 00:02.000\nfine\n\n00:00:0", 6, "expected a cue timing"),
    ],
)
def test_malformed_vtt_names_the_problem_and_line(text: str, line: int | None, reason: str) -> None:
    with pytest.raises(CaptionError) as caught:
        parse_captions(text, "vtt")
    assert caught.value.line == line
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"line {line}: " if line else reason)


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("", None, "empty caption file"),
        ('{\n  "events": [\n    {"tStartMs": 0, "segs": [{"utf8": "hi"}]},\n    {"tStartMs": 10,\n', 5, "not JSON"),
        ("[]", None, "without an 'events' list"),
        ('{"events": {}}', None, "without an 'events' list"),
        ('{"events": [{"id": 1}]}', None, "no caption text"),
        ('{"events": [{"segs": [{"utf8": "hi"}]}]}', None, "events[0].tStartMs is None"),
        ('{"events": [{"id": 1}, {"tStartMs": -5, "segs": [{"utf8": "hi"}]}]}', None, "events[1].tStartMs is -5"),
        ('{"events": [{"tStartMs": "0", "segs": [{"utf8": "hi"}]}]}', None, "events[0].tStartMs is '0'"),
        ('{"events": [{"tStartMs": 0, "segs": "hi"}]}', None, "events[0].segs is not a list"),
        ('{"events": [{"tStartMs": 0, "segs": [{"text": "hi"}]}]}', None, "events[0].segs[0] has no utf8 text"),
        ('{"events": [{"tStartMs": 0, "segs": [{"utf8": "a"}, {"utf8": "b", "tOffsetMs": true}]}]}', None, "tOffsetMs"),
        ('{"events": [7]}', None, "events[0] is not an object"),
    ],
)
def test_malformed_json3_names_the_problem(text: str, line: int | None, reason: str) -> None:
    with pytest.raises(CaptionError) as caught:
        parse_captions(text, "json3")
    assert caught.value.line == line
    assert reason in caught.value.reason


def test_undecodable_bytes_and_unknown_formats_are_caption_errors() -> None:
    with pytest.raises(CaptionError, match="not UTF-8"):
        parse_captions(b"WEBVTT\n\n00:01.000 --> 00:02.000\n\xff\xfe\n", "vtt")
    with pytest.raises(CaptionError, match="unsupported caption format 'srv3'"):
        parse_captions("<timedtext/>", "srv3")


# --- choosing a track ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Track:
    """The fields of resources.media.SavedCaption that the choice reads."""

    language: str
    kind: str
    format: str


AUTO_EN_JSON3 = Track("en", "automatic", "json3")
AUTO_EN_VTT = Track("en", "automatic", "vtt")
AUTO_EN_ORIG = Track("en-orig", "automatic", "json3")
MANUAL_DE = Track("de", "manual", "vtt")
MANUAL_EN_GB = Track("en-GB", "manual", "vtt")
MANUAL_EN_JSON3 = Track("en", "manual", "json3")
MANUAL_EN_VTT = Track("en", "manual", "vtt")
MANUAL_EN_SRV3 = Track("en", "manual", "srv3")
AUTO_FR = Track("fr", "automatic", "json3")


def test_manual_before_automatic_then_language_order_then_json3() -> None:
    available = [AUTO_FR, AUTO_EN_VTT, MANUAL_DE, AUTO_EN_ORIG, MANUAL_EN_VTT, AUTO_EN_JSON3, MANUAL_EN_SRV3]
    assert rank_captions(available, ["en", "de"]) == [
        MANUAL_EN_VTT,
        MANUAL_DE,
        AUTO_EN_JSON3,
        AUTO_EN_VTT,
        AUTO_EN_ORIG,  # the "-orig" variant only after the exact tag
    ]
    assert caption_choice(available, ["de", "en"]) == MANUAL_DE


@pytest.mark.parametrize(
    ("available", "languages", "chosen"),
    [
        ([AUTO_EN_VTT, AUTO_EN_JSON3], ["en"], AUTO_EN_JSON3),
        ([MANUAL_EN_VTT, MANUAL_EN_JSON3], ["en"], MANUAL_EN_JSON3),
        ([AUTO_EN_JSON3, MANUAL_EN_GB], ["en"], MANUAL_EN_GB),  # a regional manual track beats automatic
        ([MANUAL_EN_GB, MANUAL_EN_VTT], ["en"], MANUAL_EN_VTT),
        ([MANUAL_EN_GB, MANUAL_EN_VTT], ["en-gb"], MANUAL_EN_GB),
        ([MANUAL_EN_SRV3, AUTO_EN_VTT], ["en"], AUTO_EN_VTT),  # a format we cannot parse is no choice
        ([AUTO_FR, MANUAL_DE], ["en"], None),  # other languages: transcribe instead
        ([], ["en"], None),
    ],
)
def test_caption_choice(available: list[Track], languages: list[str], chosen: Track | None) -> None:
    assert caption_choice(available, languages) == chosen
