"""An upload that appears after an ingest becomes searchable through the sensor alone, and a changed
transcript source re-derives exactly what depends on it. In-process: sensor ticks are evaluated with
Dagster's sensor API against the on-disk instance, and the runs they request are executed with
`dg.materialize` for the requested partition and tags (what the daemon would launch). The channel is
a loopback RSS feed (the fake for YouTube); the models are the smoke models."""

import datetime as dt

import dagster as dg
import psycopg
import pytest

from ingest_assets.partitions import partition_key
from resources.media import MediaSource
from resources.postgres import PostgresResource
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


def _tick(instance, cursor):
    from definitions import defs

    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"postgres": PostgresResource(), "media": MediaSource(retries=0)}
    )
    return defs().get_sensor_def("new_videos")(context)


def _query(url, sql, *args):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchall()


def test_upload_after_an_ingest_is_searchable_through_the_sensor(archive, instance, channel, smoke_model_settings):
    from ytingest.app.channels import register_channel
    from ytingest.app.searching import run_search
    from ytingest.settings import get_settings

    assert get_settings().listing_max_age_minutes == 60  # the default: the listing the ingest made is reused
    site, fresh = channel
    with LoopbackChannel(site) as server:
        key, _ = register_channel(server.rss_url, key="upload")
        assert _materialize(instance, partition_key(key, (NOW - dt.timedelta(days=1)).date())).success
        server.publish(fresh)
        # A fresh sensor (no cursor) after the ingest: only the new upload is requested.
        result = _tick(instance, None)
        assert [r.partition_key.keys_by_dimension["date"] for r in result.run_requests] == [NOW.date().isoformat()]
        request = result.run_requests[0]
        assert _materialize(instance, request.partition_key, request.tags).success
    hits = run_search(FRESH_WORD, key, None, None, 5)
    assert hits and hits[0].title == "Fresh upload" and FRESH_WORD in hits[0].text.lower()


def test_new_transcript_source_rederives_speakers_and_chunks(archive, instance, channel, smoke_model_settings, monkeypatch):
    from ytingest.app.channels import register_channel

    site, _ = channel
    day = (NOW - dt.timedelta(days=1)).date()
    with LoopbackChannel(site) as server:
        key, _ = register_channel(server.rss_url, key="lineage")
        monkeypatch.setenv("CAPTION_LANGUAGES", "fr")  # no French captions: transcribed by ASR
        assert _materialize(instance, partition_key(key, day)).success
        assert _query(archive, "SELECT source FROM transcripts") == [("asr",)]
        monkeypatch.setenv("CAPTION_LANGUAGES", "en")
        assert _materialize(instance, partition_key(key, day)).success
        assert _query(archive, "SELECT source FROM transcripts") == [("captions",)]
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
