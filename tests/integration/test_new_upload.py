"""An upload that appears after an ingest becomes searchable through `ytingest dev`'s daemon and
sensor alone, and a changed transcript source re-derives exactly what depends on it. The channel is a
loopback RSS feed (the fake for YouTube); the models are the smoke models. The first test runs the real
`ytingest dev` (webserver, daemon, code server) as a user would; the second materialises in process."""

import datetime as dt
import os
import time

import dagster as dg
import psycopg
import pytest
from dagster._core.scheduler.instigation import TickStatus

from ingest_assets.partitions import partition_key
from tests.support.dev_server import ytingest_dev
from ytingest.offline.loopback_server import LoopbackChannel
from ytingest.offline.sample_channel import (
    GUEST,
    HOST,
    Captions,
    Episode,
    generate_channel,
    generate_episode,
    quick_episode,
)

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
INTERVAL = 10  # SENSOR_INTERVAL_SECONDS for the live test
TICK_SLACK = 15  # a tick's own work (polling the feed, writing the catalog) and the daemon's loop
FRESH_WORD = "lighthouse"


@pytest.fixture(scope="module")
def channel(tmp_path_factory):
    root = tmp_path_factory.mktemp("upload")
    old = quick_episode("oldEpisode1", published=NOW - dt.timedelta(days=1), captions=Captions.MANUAL)
    site = generate_channel(root, [old])
    fresh = Episode(
        video_id="freshUpload",
        title="Fresh upload",
        published=NOW,
        captions=Captions.MANUAL,
        utterances=[(HOST, f"The old {FRESH_WORD} keeper rang the bell."), (GUEST, "And the ships turned home.")],
    )
    return site, generate_episode(root, fresh)


def _materialize(instance, key, tags=None):
    from definitions import defs

    d = defs()
    return dg.materialize(
        list(d.assets), partition_key=str(key), instance=instance, resources=d.resources, tags=tags or {}
    )


def _query(url, sql, *args):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchall()


def test_upload_after_an_ingest_is_searchable_through_the_running_sensor(
    archive, instance, channel, smoke_model_settings, tmp_path
):
    from ytingest.app.channels import register_channel
    from ytingest.app.searching import run_search
    from ytingest.settings import get_settings

    assert get_settings().listing_max_age_minutes == 60  # the default: the listing the ingest made is reused
    site, fresh = channel
    env = {**os.environ, **smoke_model_settings, "SENSOR_INTERVAL_SECONDS": str(INTERVAL), "SENSOR_RUNNING": "true"}
    with LoopbackChannel(site) as server:
        key, _ = register_channel(server.rss_url, key="live-upload")
        assert _materialize(instance, partition_key(key, (NOW - dt.timedelta(days=1)).date())).success
        with ytingest_dev(env, tmp_path / "dagster-dev.log"):
            # The fresh sensor's first ticks find only what the ingest already holds: nothing is requested.
            _wait_for_ticks(instance, 2)
            assert _sensor_runs(instance) == []
            server.publish(fresh)
            published = time.monotonic()
            while not _sensor_runs(instance):
                assert time.monotonic() - published < 2 * INTERVAL + TICK_SLACK, "no run within two sensor intervals"
                time.sleep(0.5)
            [run] = _sensor_runs(instance)
            assert run.tags.get("dagster/partition/date") == NOW.strftime("%Y-%m")  # the upload's month
            deadline = time.monotonic() + 300
            while not (run := instance.get_run_by_id(run.run_id)).is_finished:
                assert time.monotonic() < deadline, "the sensor's run did not finish in time"
                time.sleep(2)
            assert run.status == dg.DagsterRunStatus.SUCCESS
    hits = run_search(FRESH_WORD, key, None, None, 5)
    assert hits and hits[0].title == "Fresh upload" and FRESH_WORD in hits[0].text.lower()


def _sensor_runs(instance) -> list:
    return list(instance.get_runs(dg.RunsFilter(tags={"ytingest/trigger": "new_videos"})))


def _wait_for_ticks(instance, count: int) -> None:
    """Until the daemon has evaluated the sensor `count` times (its tick history, as the UI shows it)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        states = [s for s in instance.all_instigator_state() if s.instigator_name == "new_videos"]
        ticks = [t for s in states for t in instance.get_ticks(s.instigator_origin_id, s.selector_id)]
        failed = [t for t in ticks if t.status == TickStatus.FAILURE]
        assert not failed, f"a sensor tick failed: {failed[0].error}"
        if len([t for t in ticks if t.status != TickStatus.STARTED]) >= count:
            return
        time.sleep(1)
    raise AssertionError(f"the daemon did not tick the sensor {count} times in 120 s")


def test_new_transcript_source_rederives_speakers_and_chunks(archive, instance, channel, smoke_model_settings, monkeypatch):
    from ytingest.app.channels import register_channel

    site, _ = channel
    day = (NOW - dt.timedelta(days=1)).date()
    with LoopbackChannel(site) as server:
        key, _ = register_channel(server.rss_url, key="lineage")
        monkeypatch.setenv("CAPTION_LANGUAGES", "fr")  # no French captions: transcribed by ASR
        assert _materialize(instance, partition_key(key, day)).success
        assert _query(archive, "SELECT source FROM transcripts") == [("asr",)]
        before = dict(_query(archive, "SELECT asset, attempts FROM video_steps"))
        monkeypatch.setenv("CAPTION_LANGUAGES", "en")
        assert _materialize(instance, partition_key(key, day)).success
        assert _query(archive, "SELECT source FROM transcripts") == [("captions",)]
        # Redone: the audio (fetched again for the new language's captions) and what reads the transcript.
        # Not redone: the voices, read from the turns of the same WAV, which diarization reused.
        after = dict(_query(archive, "SELECT asset, attempts FROM video_steps"))
        redone = {asset for asset in after if after[asset] != before[asset]}
        assert redone == {"audio", "transcripts", "diarization", "text_embeddings"}, (before, after)
        assert _query(archive, "SELECT count(*) FROM voice_embeddings")[0][0] > 0
        segments = _query(
            archive,
            "SELECT s.text, a.speaker FROM transcript_segments s LEFT JOIN segment_speakers a USING (video_id, idx)"
            " ORDER BY s.idx",
        )
        # Every segment of the new transcript has its speaker; chunks hold exactly the new text.
        assert segments and all(speaker for _, speaker in segments)
        chunk_text = " ".join(t for (t,) in _query(archive, "SELECT text FROM chunks ORDER BY idx"))
        assert _words(chunk_text) == _words(" ".join(text for text, _ in segments))
        chunk_speakers = {s for (speakers,) in _query(archive, "SELECT speakers FROM chunks") for s in speakers}
        assert chunk_speakers <= {speaker for _, speaker in segments}
        ledger = _query(archive, "SELECT asset, revision, attempts FROM video_steps ORDER BY asset")
        chunks = _query(archive, "SELECT chunk_id FROM chunks ORDER BY chunk_id")
        # A second run changes nothing.
        assert _materialize(instance, partition_key(key, day)).success
        assert _query(archive, "SELECT asset, revision, attempts FROM video_steps ORDER BY asset") == ledger
        assert _query(archive, "SELECT chunk_id FROM chunks ORDER BY chunk_id") == chunks


def _words(text: str) -> list[str]:
    import re

    return re.findall(r"[a-z0-9']+", text.lower())
