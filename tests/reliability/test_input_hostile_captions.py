"""Fault matrix, hostile captions through the real download and transcripts steps: one partition whose
videos serve a NUL in cue text with a cue at 3.6e23 s, a VTT hour field of 400 digits, json3 nested 100k
deep, a caption drip-fed 10 bytes at a time, and one over CAPTION_MAX_BYTES. Each costs only its own
captions: every video is transcribed (from what survives of its captions, or from ASR, smoke Whisper)
with the reason on its step, within FETCH_DEADLINE_SECONDS, and the files written are owner-only."""

import datetime as dt

import dagster as dg
import pytest

from ingest_assets.partitions import partition_key
from tests.reliability.archive_state import query
from ytingest.offline.loopback_server import Fault, LoopbackChannel, Resource
from ytingest.offline.sample_channel import Captions, generate_channel, quick_episode

DAY = dt.date(2026, 11, 17)
AT = dt.datetime.combine(DAY, dt.time(12), tzinfo=dt.UTC)
VTT_CUE = "00:00:00.500 --> 00:00:02.000\nThis is a short test.\n"
HOSTILE = {  # video id -> (captions served, what its transcripts step's reason says; None: captions used)
    "nulCue00001": ("WEBVTT\n\n" + VTT_CUE + "\n00:00:02.000 --> 100000000000000000000:00:00.000\nYes\x00, a \x1b[2Jshort one.\n", None),
    "hugeHour001": ("WEBVTT\n\n" + f"{'9' * 400}:00:00.000 --> {'9' * 400}:00:01.000\nnever\n", "OverflowError"),
    "bigHour0001": ("WEBVTT\n\n" + f"{'9' * 4400}:00:00.000 --> {'9' * 4400}:00:01.000\nnever\n", "ValueError"),
    "deepJson001": ('{"events": ' + "[" * 100_000 + "]" * 100_000 + "}", "RecursionError"),
}
DRIPPED, OVERSIZED = "dripCap0001", "bigCap00001"


@pytest.fixture(scope="module")
def channel(tmp_path_factory):
    episodes = [
        quick_episode(vid, published=AT, captions=Captions.MALFORMED_JSON3 if "Json" in vid else Captions.MANUAL)
        for vid in [*HOSTILE, DRIPPED, OVERSIZED]
    ]
    return generate_channel(tmp_path_factory.mktemp("hostile-captions"), episodes)


def test_each_hostile_caption_costs_only_its_own_captions(archive, instance, channel, smoke_model_settings, monkeypatch):
    from definitions import defs
    from ytingest.app.channels import register_channel
    from ytingest.settings import get_settings

    monkeypatch.setenv("FETCH_DEADLINE_SECONDS", "3")
    monkeypatch.setenv("CAPTION_MAX_BYTES", str(256 * 1024))
    with LoopbackChannel(channel) as site:
        for video_id, (body, _) in HOSTILE.items():
            site.set_body(video_id, body.encode(), on=Resource.CAPTIONS)
        site.set_body(OVERSIZED, ("WEBVTT\n\n" + VTT_CUE * 8000).encode(), on=Resource.CAPTIONS)
        site.set_fault(DRIPPED, Fault.drip(drip_bytes=10, stall_s=0.5), on=Resource.CAPTIONS)
        key, _ = register_channel(site.rss_url, key="hostile-captions")
        wanted = {"videos", "audio", "transcripts"}
        result = dg.materialize(
            [a for a in defs().assets if a.key.path[-1] in wanted],
            partition_key=str(partition_key(key, DAY)), instance=instance, resources=defs().resources,
        )  # fmt: skip
    assert result.success
    steps = {
        (r[0], r[1]): (r[2], r[3] or "")
        for r in query(archive, "SELECT v.source_id, s.asset, s.status, s.reason FROM video_steps s JOIN videos v USING (video_id)")
    }
    for video_id, (_, why) in HOSTILE.items():
        status, reason = steps[(video_id, "transcripts")]
        assert status == "succeeded", (video_id, reason)
        if why is None:
            assert reason == "", reason
        else:
            assert why in reason and "transcribed from ASR" in reason, (video_id, reason)
    audio_status, audio_reason = steps[(DRIPPED, "audio")]
    assert audio_status == "succeeded" and "timed out" in audio_reason, audio_reason  # within its deadline
    audio_status, audio_reason = steps[(OVERSIZED, "audio")]
    assert audio_status == "succeeded" and "larger than 262144 bytes" in audio_reason, audio_reason
    assert steps[(DRIPPED, "transcripts")][0] == steps[(OVERSIZED, "transcripts")][0] == "succeeded"

    # The one whose captions were used: NUL and ESC gone, the 3.6e23 s cue clamped to the audio.
    rows = query(
        archive,
        "SELECT s.text, s.end_s, a.duration_seconds FROM transcript_segments s JOIN audio a USING (video_id)"
        " JOIN videos v USING (video_id) WHERE v.source_id = 'nulCue00001' ORDER BY s.idx",
    )
    assert [r[0] for r in rows] == ["This is a short test.", "Yes, a [2Jshort one."]
    assert rows[-1][1] == pytest.approx(rows[-1][2])
    audio_dir = get_settings().audio_dir
    assert [p.name for p in audio_dir.iterdir() if p.stat().st_mode & 0o077] == []  # owner-only, whatever the umask
