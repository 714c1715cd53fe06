"""The `new_videos` sensor on the on-disk instance, against loopback feeds: a YouTube-shaped Atom feed
(parsed by the project) and an RSS feed that fails until it recovers."""

import datetime as dt

import dagster as dg
import pytest

from definitions import defs
from ingest_assets.partitions import CHANNELS, partition_key
from resources.media import MediaSource
from resources.postgres import PostgresResource
from ytingest.offline.loopback_server import Fault, LoopbackChannel
from ytingest.offline.sample_channel import (
    generate_channel,
    generate_episode,
    quick_episode,
)

NOW = dt.datetime.now(dt.UTC).replace(hour=12, minute=0, second=0, microsecond=0)
YT_CHANNEL = "UCyt1ngestSampleChannel0"


@pytest.fixture(scope="module")
def channels(tmp_path_factory):
    root = tmp_path_factory.mktemp("sensor")
    youtube = generate_channel(
        root / "yt",
        [quick_episode("ytOne000001", published=NOW - dt.timedelta(days=2)), quick_episode("ytTwo000002", published=NOW - dt.timedelta(days=1))],
        channel_id=YT_CHANNEL,
    )
    podcast = generate_channel(root / "pod", [quick_episode("podEp000001", published=NOW - dt.timedelta(days=3))])
    fresh = generate_episode(root / "yt", quick_episode("ytNew000003", published=NOW))
    return youtube, podcast, fresh


def _tick(instance, cursor):
    context = dg.build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={"postgres": PostgresResource(), "media": MediaSource(retries=0)},
    )
    result = defs().get_sensor_def("new_videos")(context)
    # What the sensor daemon does with the result in the same tick.
    for request in result.dynamic_partitions_requests:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result, context.cursor if result.cursor is None else result.cursor


def _requested(result) -> set[tuple[str, str]]:
    keys = set()
    for request in result.run_requests:
        key = request.partition_key
        keys.add((key.keys_by_dimension["channel"], key.keys_by_dimension["date"]))
    return keys


def test_sensor_registers_channels_and_requests_new_partitions(archive, instance, channels, channels_file):
    youtube, podcast, fresh = channels
    with LoopbackChannel(youtube) as yt_site, LoopbackChannel(podcast) as pod_site:
        pod_site.set_feed_fault(Fault.server_error())
        channels_file.write_text(
            "channels:\n"
            f"  - url: https://www.youtube.com/channel/{YT_CHANNEL}\n"
            f"    key: sample-yt\n"
            f"    feed_url: {yt_site.atom_url}\n"
            f"  - url: {pod_site.rss_url}\n"
            f"    key: sample-pod\n"
            "  - url: https://www.youtube.com/watch?v=dQw4w9WgXcQ\n"  # a video, not a channel: reported, skipped
        )

        first, cursor = _tick(instance, None)
        # The failing feed shows in `channels list`, with since when.
        failing = _health(archive)["sample-pod"]
        assert "500" in failing.poll_error and failing.failing_since is not None
        assert _health(archive)["sample-yt"].poll_error is None
        # Both channels become partitions, even the one whose feed is failing.
        assert set(instance.get_dynamic_partitions(CHANNELS.name)) == {"sample-yt", "sample-pod"}
        day = lambda d: (NOW - dt.timedelta(days=d)).date().isoformat()  # noqa: E731
        # Requested by partition: the month holding each new video's day (one run when they share it).
        month = lambda d: partition_key("x", (NOW - dt.timedelta(days=d)).date()).keys_by_dimension["date"]  # noqa: E731
        assert _requested(first) == {("sample-yt", month(2)), ("sample-yt", month(1))}
        assert len(first.run_requests) == len({month(2), month(1)})
        assert all(r.run_key for r in first.run_requests)

        second, cursor = _tick(instance, cursor)
        assert second.run_requests == []  # same feed, nothing new

        yt_site.publish(fresh)
        pod_site.set_feed_fault(None)
        third, cursor = _tick(instance, cursor)
        assert _health(archive)["sample-pod"].failing_since is None  # recovered
        # The new upload, and the podcast's backlog now that its feed answers again.
        assert _requested(third) == {("sample-yt", month(0)), ("sample-pod", month(3))}

        fourth, _ = _tick(instance, cursor)
        assert fourth.run_requests == []

        # The tick that requested a run stored its video, exactly dated, in the catalog...
        stored = _stored(archive)
        assert stored["ytNew000003"][0] == day(0) and stored["ytNew000003"][2] == fresh.spec.title
        assert "ytNew000003" in stored["ytNew000003"][1]
        assert set(stored) == {"ytOne000001", "ytTwo000002", "ytNew000003", "podEp000001"}
        # ...so a fresh sensor (a new `ytingest dev`, no cursor) starts from the catalog: nothing again.
        restarted, cursor = _tick(instance, None)
        assert restarted.run_requests == []
        assert _tick(instance, cursor)[0].run_requests == []  # nor on the tick after


def _health(url):
    import psycopg

    from ytingest.store.channels import channel_health

    with psycopg.connect(url) as conn:
        return {row.key: row for row in channel_health(conn)}


def _stored(url) -> dict[str, tuple[str, str, str]]:
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT source_id, partition_date, url, title FROM videos").fetchall()
    return {source: (day.isoformat(), link, title) for source, day, link, title in rows}
