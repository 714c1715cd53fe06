"""Hostile channel keys and URLs, as `ytingest channels add`, the channels file and the sensor register
them: refused with the reason before anything is stored, or stored verbatim and usable as a partition.
(Hostile video ids, titles and caption text inside a run: test_input_content.py; the parsing rules
themselves: tests/test_identifiers.py.)"""

from __future__ import annotations

import datetime as dt
import re

import dagster as dg
import pytest

from ingest_assets.partitions import CHANNELS, partition_key
from resources.media import MediaSource
from resources.postgres import PostgresResource
from tests.reliability.archive_state import (
    assert_files_match_rows,
    beside_data_dir,
    files_under,
    query,
)
from tests.support.runs import project_assets
from ytingest.core.identifiers import InvalidChannel
from ytingest.offline.loopback_server import LoopbackChannel
from ytingest.settings import get_settings

AT = dt.datetime(2026, 11, 9, 15, tzinfo=dt.UTC)

REFUSED_KEYS = {  # key -> what the message says
    "a|b": "'|'", "a,b": "','", "a[b": "'['", "a]b": "']'", "a...b": "'...'",
    "k" * 10_000: "10000 characters long", "nul\x00key": "control", "new\nline": "control",
    "tab\tkey": "control", "rtl\u202eoverride": "control", " padded": "whitespace", "": "empty",
}  # fmt: skip
ACCEPTED_KEYS = ("../../etc/passwd", "'; DROP TABLE channels;--", "频道-ü ✓", "a.b..c")
REFUSED_URLS = {
    "file:///etc/passwd": "not an http(s) URL",
    "javascript:alert(1)": "not an http(s) URL",
    "https://example.com/feed.rss\x00.evil": "control characters",
    "https://example.com/\r\nX-Injected: 1": "control characters",
}


@pytest.fixture(scope="module")
def channel(tmp_path_factory):
    from ytingest.offline.sample_channel import generate_channel, quick_episode

    return generate_channel(tmp_path_factory.mktemp("hostile-keys"), [quick_episode("onlyVideo01", published=AT)])


def test_hostile_keys_and_urls_are_refused_or_stored_verbatim(archive, instance, channel):
    from ytingest.app.channels import register_channel

    for key, message in REFUSED_KEYS.items():
        with pytest.raises(InvalidChannel) as refused:
            register_channel("https://example.com/feed.rss", key=key)
        assert message in str(refused.value), (key[:20], str(refused.value)[:200])
        assert len(str(refused.value)) < 400  # the 10k key is not echoed in full
    for url, message in REFUSED_URLS.items():
        with pytest.raises(InvalidChannel, match=re.escape(message)):
            register_channel(url)
    assert query(archive, "SELECT count(*) FROM channels") == [(0,)]
    assert instance.get_dynamic_partitions(CHANNELS.name) == []

    sql_url = "https://example.com/podcast.rss?q=';DROP TABLE channels;--&x=\"1\""
    key, _ = register_channel(sql_url)
    assert query(archive, "SELECT key, url FROM channels") == [(key, sql_url)]
    with LoopbackChannel(channel) as site:
        for index, hostile in enumerate(ACCEPTED_KEYS):
            assert register_channel(f"{site.rss_url}?copy={index}", key=hostile) == (hostile, True)
        assert set(instance.get_dynamic_partitions(CHANNELS.name)) == {key, *ACCEPTED_KEYS}
        stored = {k for (k,) in query(archive, "SELECT key FROM channels")}
        assert stored == {key, *ACCEPTED_KEYS}

        # A partition whose channel key is a path: listed and downloaded like any other, inside DATA_DIR.
        outside = beside_data_dir()
        result = dg.materialize(
            project_assets("videos", "audio"),
            partition_key=str(partition_key("../../etc/passwd", AT.date())),
            instance=instance,
            resources={"postgres": PostgresResource(), "media": MediaSource()},
        )
        assert result.success
    assert query(archive, "SELECT channel_key, v.source_id FROM channel_videos JOIN videos v USING (video_id)") == [
        ("../../etc/passwd", "onlyVideo01")
    ]
    assert query(archive, "SELECT status FROM video_steps") == [("succeeded",)]
    assert_files_match_rows(archive)
    assert beside_data_dir() - outside <= {get_settings().audio_dir}
    assert [p.name for p in files_under(get_settings().audio_dir)] == [f"{query(archive, 'SELECT video_id FROM videos')[0][0]}.wav"]
