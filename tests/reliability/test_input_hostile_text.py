"""Fault matrix, hostile text and addresses, without a database: captions that crash parsers (a VTT hour
field of 400 or 4,300+ digits, json3 nested 100k deep, NUL in cue text, cues at 3.6e23 s or past the
audio, oversized files), terminal escapes in printed text, database passwords wherever they sit, and the
URL rule (schemes, credentials, yt-dlp pseudo-URLs, link-local and metadata addresses)."""

import json
import math

import pytest

from ytingest.core.captions import CaptionError, parse_captions
from ytingest.core.feeds import parse_feed
from ytingest.core.text import clean_text, printable
from ytingest.core.transcription import CaptionFile, TranscriptFetcher
from ytingest.core.urls import UnsafeUrl, check_url
from ytingest.store.database import redact

GOOD_CUE = "00:00:01.000 --> 00:00:02.000\nhello there\n"


def _vtt(*cues: str) -> str:
    return "WEBVTT\n\n" + "\n".join(cues)


@pytest.mark.parametrize(
    "data, fmt",
    [
        (_vtt(f"{'9' * 400}:00:00.000 --> {'9' * 400}:00:01.000\nhuge hours\n"), "vtt"),  # OverflowError
        (_vtt(f"{'9' * 4400}:00:00.000 --> {'9' * 4400}:00:01.000\nhuger\n"), "vtt"),  # ValueError (int digits)
        ('{"events": ' + "[" * 100_000 + "]" * 100_000 + "}", "json3"),  # RecursionError
        (json.dumps({"events": [{"tStartMs": 1e400, "dDurationMs": 5, "segs": [{"utf8": "x"}]}]}), "json3"),
    ],
    ids=["vtt-hour-400-digits", "vtt-hour-4400-digits", "json3-nested-100k", "json3-infinite-time"],
)
def test_parser_crashes_become_caption_errors(data, fmt):
    with pytest.raises(CaptionError):
        parse_captions(data, fmt)


def test_cue_text_and_times_are_bounded():
    segments = parse_captions(
        _vtt(
            "00:00:03.000 --> 00:00:04.000\nsecond\x00 \x1b[2Jcue\n",
            GOOD_CUE,
            "00:00:05.000 --> 100000000000000000:00:00.000\nruns on for ever\n",  # 3.6e20 s
            "00:01:00.000 --> 00:01:01.000\npast the end\n",
        ),
        "vtt",
        duration=10.0,
    )
    assert [(s.start, s.end, s.text) for s in segments] == [
        (1.0, 2.0, "hello there"),  # time order, whatever the file's order
        (3.0, 4.0, "second [2Jcue"),  # NUL and ESC gone (psycopg refuses NUL in text)
        (5.0, 10.0, "runs on for ever"),  # clamped to the audio
    ]  # the cue past the end of the audio is dropped
    assert all(math.isfinite(s.end) for s in segments)


def test_oversized_captions_are_refused_before_parsing(tmp_path):
    with pytest.raises(CaptionError, match="larger than 1024 bytes"):
        parse_captions(_vtt(GOOD_CUE * 200), "vtt", max_bytes=1024)
    big = tmp_path / "v.manual.en.vtt"
    big.write_text(_vtt(GOOD_CUE * 200))
    problems: list[str] = []
    found = TranscriptFetcher(["en"]).from_captions([CaptionFile("en", "manual", "vtt", big)], problems, 60.0, 1024)
    assert found is None and "larger than 1024 bytes" in problems[0]  # the video goes to ASR with a reason


def test_any_caption_failure_sends_the_video_to_asr_with_a_reason(tmp_path):
    nested = tmp_path / "v.manual.en.json3"
    nested.write_text('{"events": ' + "[" * 100_000 + "]" * 100_000 + "}")
    usable = tmp_path / "v.automatic.en.vtt"
    usable.write_text(_vtt(GOOD_CUE))
    problems: list[str] = []
    found = TranscriptFetcher(["en"]).from_captions(
        [CaptionFile("en", "manual", "json3", nested), CaptionFile("en", "automatic", "vtt", usable)], problems, 60.0
    )
    assert found is not None and found[1].path == usable
    assert problems and "en manual json3 captions unusable" in problems[0]


def test_titles_are_cleaned_and_capped_and_printed_text_is_escaped():
    assert clean_text("A\x00B\x85\x9b\x1b[2J\tC") == "AB[2J\tC"
    assert len(clean_text("T" * 5000, 100)) == 100
    assert printable("cue \x1b[2J text\r\n") == "cue \\x1b[2J text\\r\\n"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://ytingest:s3cret@db.example:5432/ytingest",
        "postgresql://db.example/ytingest?sslmode=require&password=s3cret",
        "postgresql://ytingest@db.example/ytingest?PassWord=s3cret",
        "host=db.example password=s3cret dbname=ytingest",
    ],
)
def test_database_passwords_are_masked_wherever_they_sit(url):
    shown = redact(url)
    assert "s3cret" not in shown and "***" in shown


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/episode.mp3",
        "data:text/html,<video src=http://127.0.0.1/x>",
        "ytsearch1:never gonna give you up",
        "file:///etc/passwd",
        "http://user:pass@example.org/feed.rss",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://100.100.100.200/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://10.1.2.3/feed.rss",
        "http://0.0.0.0:8000/",
    ],
)
def test_urls_outside_the_rule_are_refused(url):
    with pytest.raises(UnsafeUrl) as refused:
        check_url(url)
    assert "pass@" not in str(refused.value)


def test_loopback_and_public_urls_pass_and_settings_widen_the_rule(monkeypatch):
    for url in ("http://127.0.0.1:8765/feed.rss", "http://localhost/x", "https://www.youtube.com/@somechannel"):
        assert check_url(url) == url
    monkeypatch.setenv("ALLOW_PRIVATE_NETWORKS", "true")
    assert check_url("http://10.1.2.3/feed.rss")
    monkeypatch.setenv("ALLOWED_URL_SCHEMES", "http,https,ftp")
    assert check_url("ftp://example.org/episode.mp3")


def test_feed_items_with_refused_urls_are_not_listed():
    feed = parse_feed(
        b"""<rss version="2.0"><channel><title>t</title>
        <item><guid>a</guid><title>pseudo</title><link>ytsearch1:anything</link></item>
        <item><guid>b</guid><title>metadata</title><enclosure url="http://169.254.169.254/x.mp3"/></item>
        <item><guid>c</guid><title>ftp link, good enclosure</title><link>ftp://h/x</link>
              <enclosure url="http://127.0.0.1:9/c.mp3"/></item>
        </channel></rss>"""
    )
    assert [(e.source_id, e.url, e.media_url) for e in feed.entries] == [
        ("c", "http://127.0.0.1:9/c.mp3", "http://127.0.0.1:9/c.mp3")
    ]


@pytest.mark.parametrize("url", ["http://user:pw-s3cret@example.org/feed.rss", "ftp://user:pw-s3cret@example.org/x"])
def test_channel_urls_with_credentials_are_refused_without_repeating_them(url):
    from ytingest.core.identifiers import InvalidChannel, parse_channel_url

    with pytest.raises(InvalidChannel) as refused:
        parse_channel_url(url)
    assert "s3cret" not in str(refused.value)
