"""`videos` + `audio` for a partition of the loopback channel, with real yt-dlp, ffmpeg and Postgres,
and every download fault the harness can serve."""

import datetime as dt
import wave
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from ingest_assets.partitions import partition_key
from resources.media import MediaSource
from resources.postgres import PostgresResource
from tests.support.runs import project_assets
from ytingest.offline.loopback_server import Fault, LoopbackChannel, Resource
from ytingest.offline.sample_channel import Captions, generate_channel, quick_episode
from ytingest.settings import get_settings

DAY = dt.date(2026, 11, 2)
OTHER_DAY = dt.date(2026, 11, 3)
AT = dt.datetime(2026, 11, 2, 15, tzinfo=dt.UTC)
GOOD = {"capManual01": Captions.MANUAL, "capAuto0002": Captions.AUTO, "noCaps00003": Captions.NONE}
THROTTLED = "throttled01"
FAULTS = {
    "gone0000404": (Fault.not_found(), Resource.WATCH, "http 404"),
    "private0403": (Fault.forbidden(), Resource.WATCH, "http 403"),
    "broken00500": (Fault.server_error(), Resource.MEDIA, "http 500"),
    "corrupt0001": (Fault.corrupt(), Resource.MEDIA, "corrupt"),
    "truncated01": (Fault.truncated(), Resource.MEDIA, "incomplete"),
    "empty000001": (Fault.zero_length(), Resource.MEDIA, "empty response"),
    "slow0000001": (Fault.slow(stall_s=2.5, chunks=4), Resource.MEDIA, "timed out"),
}


@pytest.fixture(scope="module")
def channel(tmp_path_factory):
    episodes = [quick_episode(vid, published=AT, captions=captions) for vid, captions in GOOD.items()]
    episodes += [quick_episode(vid, published=AT) for vid in [THROTTLED, *FAULTS]]
    episodes.append(quick_episode("nextMonth01", published=AT + dt.timedelta(days=30)))  # December
    return generate_channel(tmp_path_factory.mktemp("loop"), episodes)


@pytest.fixture
def site(channel):
    with LoopbackChannel(channel) as server:
        server.set_fault(THROTTLED, Fault.rate_limited(times=2, retry_after_s=0))
        for video_id, (fault, where, _) in FAULTS.items():
            server.set_fault(video_id, fault, on=where)
        yield server


def _register(site) -> str:
    from ytingest.app.channels import register_channel

    key, created = register_channel(site.rss_url, key="loop")
    assert created
    return key


def _materialize(instance, key, day=DAY):
    result = dg.materialize(
        project_assets("videos", "audio"),
        partition_key=str(partition_key(key, day)),
        instance=instance,
        resources={"postgres": PostgresResource(), "media": MediaSource(socket_timeout_seconds=1.0)},
    )
    assert result.success
    return result


def _audio_meta(result) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey("audio")]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def _rows(url, query):
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


def test_partition_downloads_audio_captions_and_isolates_faults(archive, instance, site, channel):
    key = _register(site)
    result = _materialize(instance, key)
    meta = _audio_meta(result)
    succeeded = {*GOOD, THROTTLED}
    assert (meta["videos_done"], meta["videos_failed"], meta["videos_already_done"]) == (len(succeeded), len(FAULTS), 0)

    # Only the partition's month: the next month's episode is listed but not downloaded.
    listed = {r[0] for r in _rows(archive, "SELECT source_id FROM videos")}
    assert "nextMonth01" in listed
    rows = _rows(archive, "SELECT v.source_id, a.path, a.sha256, a.duration_seconds FROM audio a JOIN videos v USING (video_id)")
    assert {r[0] for r in rows} == succeeded
    audio_dir = get_settings().audio_dir
    for source_id, path, _, duration in rows:
        path = Path(path)
        assert path.parent == audio_dir and path.name.endswith(".wav")
        with wave.open(str(path)) as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
            assert wav.getnframes() / 16000 == pytest.approx(duration)
        assert duration == pytest.approx(channel.episode(source_id).duration, abs=0.15)

    # Captions the source offers are saved beside the audio and recorded.
    captions = _rows(archive, "SELECT v.source_id, c.language, c.path FROM captions c JOIN videos v USING (video_id)")
    captioned = {r[0] for r in captions}
    assert captioned == {"capManual01", "capAuto0002"}
    for _, language, path in captions:
        assert language == "en" and Path(path).exists() and Path(path).parent == audio_dir
    manual_vtt = next(Path(p) for s, _, p in captions if s == "capManual01")
    assert manual_vtt.read_text() == channel.episode("capManual01").caption("en", "vtt").path.read_text()

    # Each fault: failed with its reason; nothing half-written.
    steps = dict(_rows(archive, "SELECT v.source_id, s.reason FROM video_steps s JOIN videos v USING (video_id) WHERE s.status = 'failed'"))
    assert set(steps) == set(FAULTS)
    for video_id, (_, _, reason) in FAULTS.items():
        assert reason in steps[video_id].lower(), (video_id, steps[video_id])
    assert not [p for p in audio_dir.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]
    assert len(list(audio_dir.glob("*.wav"))) == len(succeeded)

    # The throttled video was answered 429 twice, then downloaded.
    assert site.statuses(site.media_url(THROTTLED))[:3] == [429, 429, 200]


def test_second_materialisation_changes_nothing_and_retries_failures(archive, instance, site):
    key = _register(site)
    _materialize(instance, key)
    before = _rows(archive, "SELECT video_id, sha256, downloaded_at FROM audio ORDER BY video_id")
    mtimes = {p: p.stat().st_mtime_ns for p in get_settings().audio_dir.iterdir()}
    attempts = dict(_rows(archive, "SELECT video_id, attempts FROM video_steps WHERE status = 'failed'"))

    meta = _audio_meta(_materialize(instance, key))
    assert (meta["videos_done"], meta["videos_already_done"], meta["videos_failed"]) == (0, len(GOOD) + 1, len(FAULTS))
    assert _rows(archive, "SELECT video_id, sha256, downloaded_at FROM audio ORDER BY video_id") == before
    assert {p: p.stat().st_mtime_ns for p in get_settings().audio_dir.iterdir()} == mtimes
    assert _rows(archive, "SELECT count(*) FROM videos")[0][0] == len(GOOD) + 1 + len(FAULTS) + 1
    retried = dict(_rows(archive, "SELECT video_id, attempts FROM video_steps WHERE status = 'failed'"))
    assert retried == {video_id: n + 1 for video_id, n in attempts.items()}

    # A fault that clears is picked up by the next run.
    site.set_fault("broken00500", None)
    meta = _audio_meta(_materialize(instance, key))
    assert (meta["videos_done"], meta["videos_failed"]) == (1, len(FAULTS) - 1)


def test_unregistered_channel_partition_fails_clearly(archive, instance):
    instance.add_dynamic_partitions("channels", ["ghost"])
    result = dg.materialize(
        project_assets("videos"),
        partition_key=str(partition_key("ghost", DAY)),
        instance=instance,
        resources={"postgres": PostgresResource(), "media": MediaSource()},
        raise_on_error=False,
    )
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert "ghost" in failure.message and "not registered" in failure.message
