"""Issue 14 on generated channels, through the whole pipeline (loopback feed, yt-dlp, ffmpeg, captions,
smoke pyannote and ECAPA, MiniLM, Postgres): a phrase spoken 90 s into a 4-minute episode comes back
first at its moment, a plain rolling WebVTT served from a page's <track> is stored once, speakers get
names that search and transcripts show, transcripts come out as SRT/VTT that subtitle libraries read
back. Bad queries are refused with one line."""

import datetime as dt
import io
import itertools
import json

import pytest
import srt
import webvtt

from ingest_assets.partitions import partition_key
from tests.support.cli import ytingest
from ytingest.offline.loopback_server import LoopbackChannel
from ytingest.offline.sample_channel import (
    EXPERT,
    GUEST,
    HOST,
    Captions,
    Episode,
    generate_channel,
)
from ytingest.offline.timed_episodes import Placed, laid_out_episode
from ytingest.store.database import connection

AT = dt.datetime(2026, 11, 7, 15, tzinfo=dt.UTC)
PHRASE = "The lighthouse keeper painted every stair a bright shade of blue."
FILLER = [
    (HOST, "We measured the snow every morning and wrote it down in a notebook."),
    (GUEST, "The market opened late because of the storm last Tuesday."),
    (HOST, "My cousin plays the violin in a small orchestra near the station."),
    (GUEST, "Nobody expected the football match to end in a draw."),
    (HOST, "The recipe needs two eggs, a cup of flour and some patience."),
    (GUEST, "A good pair of boots makes every mountain walk easier."),
]
ROLLING_LINES = [
    (HOST, "The tide comes in twice a day."),
    (GUEST, "It is pulled by the moon and the sun."),
    (HOST, "And the fishermen know it well."),
]
AUTO_LINES = [(EXPERT, "Saturn's rings are barely visible through binoculars."), (HOST, "A small telescope shows them.")]


@pytest.fixture(scope="module")
def channel(tmp_path_factory):
    root = tmp_path_factory.mktemp("moments")
    talk = Episode("talkshow001", "A short talk", AT, [*FILLER[:3], (EXPERT, PHRASE), *FILLER[3:]], captions=Captions.MANUAL)
    rolling = Episode("rolling0002", "Tides", AT, ROLLING_LINES, captions=Captions.ROLLING)
    auto = Episode("autocap0003", "Planets", AT, AUTO_LINES, captions=Captions.AUTO)
    return generate_channel(root, [talk, rolling, auto])


@pytest.fixture(scope="module")
def four_minutes(tmp_path_factory):
    root = tmp_path_factory.mktemp("four-minutes")
    filler = itertools.cycle(FILLER)
    four = laid_out_episode(
        "fourmin0001", "Four minutes of talk", AT, [Placed(90.0, EXPERT, PHRASE)], 240.0, filler, root / ".tts-cache"
    )
    others = [
        laid_out_episode(f"otherep000{n}", f"Other episode {n}", AT, [], 180.0, filler, root / ".tts-cache")
        for n in (1, 2)
    ]
    return generate_channel(root, [four, *others])


def _ingest(instance, key):
    import dagster as dg

    from definitions import defs

    result = dg.materialize(
        list(defs().assets), partition_key=str(partition_key(key, AT.date())), instance=instance, resources=defs().resources
    )
    assert result.success


def _search(env, *args):
    result = ytingest("search", *args, "--json", env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def test_a_phrase_90_s_into_a_4_minute_episode_comes_back_first_at_its_time(
    archive, instance, four_minutes, smoke_model_settings
):
    from ytingest.app.channels import register_channel

    with LoopbackChannel(four_minutes) as site:
        key, _ = register_channel(site.rss_url, key="fourmin")
        _ingest(instance, key)  # every step: audio, captions, diarization, voices, chunks and vectors
        watch = site.watch_url("fourmin0001")
    with connection(archive) as conn:
        ids = dict(conn.execute("SELECT source_id, video_id FROM videos").fetchall())
        # Diarization ran on the 4 minutes of audio: the phrase's segment has its speaker.
        assert conn.execute(
            "SELECT count(*) FROM transcript_segments s JOIN segment_speakers a USING (video_id, idx)"
            " WHERE s.video_id = %s AND s.text = %s AND a.speaker IS NOT NULL",
            (ids["fourmin0001"], PHRASE),
        ).fetchone()[0] == 1
    four = four_minutes.episode("fourmin0001")
    assert 230 <= four.duration <= 250
    spoken = next(u for u in four.utterances if u.text == PHRASE)
    assert abs(spoken.start - 90.0) < 0.05

    [top, *_] = _search(smoke_model_settings, "lighthouse keeper painted the stairs blue")
    assert top["video_id"] == ids["fourmin0001"]
    assert abs(top["start"] - spoken.start) <= 2.0, (top["start"], top["chunk_start"], spoken.start)
    assert top["chunk_start"] < spoken.start - 2.0  # its chunk's start (the time before issue 14) is far off
    assert top["url"] == f"{watch}#t={int(top['start'])}"
    assert top["snippet"].startswith(PHRASE)
    assert {top["snippet"][b:e].lower() for b, e in top["highlights"]} >= {"lighthouse", "keeper", "painted", "blue"}
    assert "**lighthouse**" in top["snippet_marked"]
    human = ytingest("search", "lighthouse keeper painted the stairs blue", "--limit", "1", env=smoke_model_settings)
    assert f"@ 0:01:{int(top['start']) - 60:02d}" in human.stdout and "[lighthouse]" in human.stdout


def test_moment_rolling_track_speakers_and_transcripts(archive, instance, channel, smoke_model_settings):
    from ytingest.app.channels import register_channel

    with LoopbackChannel(channel) as site:
        register_channel(site.rss_url, key="moments")
        _ingest(instance, "moments")
    with connection(archive) as conn:  # pooled: pgvector's types registered, as the project's are
        ids = dict(conn.execute("SELECT source_id, video_id FROM videos").fetchall())
        assert conn.execute("SELECT count(*) FROM chunks WHERE marks IS NULL").fetchone()[0] == 0
    spoken = next(u for u in channel.episode("talkshow001").utterances if u.text == PHRASE)
    [top, *_] = _search(smoke_model_settings, "lighthouse keeper painted the stairs blue")
    assert top["video_id"] == ids["talkshow001"]
    assert abs(top["start"] - spoken.start) <= 2.0 and top["snippet"].startswith(PHRASE)
    assert top["speakers"] and all({"label", "id", "name"} <= set(s) for s in top["speakers"])

    # A plain two-line rolling track from the watch page's <track>: every line stored once, at its own time.
    with connection(archive) as conn:  # pooled: pgvector's types registered, as the project's are
        stored = conn.execute(
            "SELECT start_s, text FROM transcript_segments WHERE video_id = %s ORDER BY idx", (ids["rolling0002"],)
        ).fetchall()
        chunk_text = " ".join(r[0] for r in conn.execute("SELECT text FROM chunks WHERE video_id = %s", (ids["rolling0002"],)))
    truth = channel.episode("rolling0002").utterances
    assert [text for _, text in stored] == [u.text for u in truth]
    assert all(abs(start - u.start) < 0.01 for (start, _), u in zip(stored, truth, strict=True))
    assert chunk_text.count("pulled by the moon") == 1

    # Speakers get names; search shows and filters by them; a second speaker cannot take the same name.
    listed = json.loads(ytingest("speakers", "list", "--json", env=smoke_model_settings).stdout)
    assert listed and all(s["talk_seconds"] > 0 and s["videos"] >= 1 for s in listed)
    assert all(s["example_url"] and "#t=" in s["example_url"] for s in listed)
    first = top["speakers"][0]["id"]
    assert first is not None  # every local speaker of the chunk is linked to a global one
    named = ytingest("speakers", "name", str(first), "Ada Lovelace", env=smoke_model_settings)
    assert named.returncode == 0, named.stderr
    by_name = _search(smoke_model_settings, "lighthouse keeper", "--speaker", "ada lovelace")
    assert by_name and all(any(s["name"] == "Ada Lovelace" for s in h["speakers"]) for h in by_name)
    again = ytingest("speakers", "list", "--channel", "moments", "--json", env=smoke_model_settings)
    assert any(s["name"] == "Ada Lovelace" for s in json.loads(again.stdout))
    others = [s["speaker_id"] for s in listed if s["speaker_id"] != first]
    if others:
        clash = ytingest("speakers", "name", str(others[0]), "ADA LOVELACE", env=smoke_model_settings)
        assert clash.returncode == 2 and "merge" in clash.stderr

    # Transcripts: SRT and VTT that independent subtitle libraries read back, with the speaker's name.
    video = ids["talkshow001"]
    with connection(archive) as conn:  # pooled: pgvector's types registered, as the project's are
        segments = conn.execute(
            "SELECT start_s, end_s, text FROM transcript_segments WHERE video_id = %s ORDER BY idx", (video,)
        ).fetchall()
    srt_out = ytingest("transcript", video, "--format", "srt", env=smoke_model_settings)
    assert srt_out.returncode == 0, srt_out.stderr
    subtitles = list(srt.parse(srt_out.stdout))
    assert len(subtitles) == len(segments)
    for subtitle, (start, end, text) in zip(subtitles, segments, strict=True):
        assert abs(subtitle.start.total_seconds() - start) < 0.002 and abs(subtitle.end.total_seconds() - end) < 0.002
        assert subtitle.content.endswith(text)
    assert any(s.content.startswith("Ada Lovelace: ") for s in subtitles)
    vtt_out = ytingest("transcript", "talkshow001", "--format", "vtt", env=smoke_model_settings)  # by source id
    captions = webvtt.from_buffer(io.StringIO(vtt_out.stdout))
    assert [c.text.split(": ", 1)[-1] for c in captions] == [text for _, _, text in segments]
    hours, minutes, seconds = captions[0].start.split(":")
    assert abs(int(hours) * 3600 + int(minutes) * 60 + float(seconds) - segments[0][0]) < 0.002

    auto = json.loads(ytingest("transcript", ids["autocap0003"], "--format", "json", env=smoke_model_settings).stdout)
    # A page's <track> does not say whether captions are automatic: yt-dlp lists them as subtitles.
    assert auto["source"] == "captions" and auto["caption_kind"] in ("manual", "automatic")
    assert set(auto["models"]) == {"transcript", "diarization", "voice"} and auto["models"]["diarization"]
    assert auto["segments"][0]["words"][0]["text"] == "saturn's"
    text_out = ytingest("transcript", video, env=smoke_model_settings).stdout
    assert PHRASE in text_out and any(line.startswith("[0:00:") and "] Ada Lovelace: " in line for line in text_out.splitlines())
    missing = ytingest("transcript", "nosuchvideo", env=smoke_model_settings)
    assert missing.returncode == 2 and "nosuchvideo" in missing.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (("",), "empty"),
        (("   ",), "empty"),
        (("river", "--channel", "nosuchchannel"), "nosuchchannel"),
        (("river", "--speaker", "Nobody Known"), "Nobody Known"),
        (("river", "--since", (dt.date.today() + dt.timedelta(days=2)).isoformat()), "after today"),
        (("river", "--since", "last tuesday"), "not a date"),
    ],
)
def test_bad_queries_are_refused_with_one_line(archive, smoke_model_settings, args, said):
    result = ytingest("search", *args, env=smoke_model_settings)
    assert result.returncode == 2
    assert said in result.stderr and "Traceback" not in result.stderr
