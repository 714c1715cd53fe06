"""Fault matrix, hostile and careless feeds on loopback: two feeds publishing the same guid, an Atom feed
that names a real YouTube video id, a NUL in a page title, a 100k-item feed, an oversized or drip-fed
feed, feeds the sensor polls while others hang, and the CLI's answers to a malformed feed and to searches
and database URLs that used to end in tracebacks or leak a password."""

import dataclasses
import datetime as dt
import html
import os
import time

import pytest

from tests.reliability.archive_state import query
from tests.support.cli import ytingest
from ytingest.core.media_errors import MediaError
from ytingest.offline.loopback_server import (
    Fault,
    LoopbackChannel,
    Resource,
    render_watch_page,
)
from ytingest.offline.sample_channel import generate_channel, quick_episode

AT = dt.datetime(2026, 11, 16, 12, tzinfo=dt.UTC)
REAL_YOUTUBE_ID = "dQw4w9WgXcQ"


def _error_line(done) -> str:
    """The one line ytingest printed about the error (the environment may warn on stderr too)."""
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    lines = [line for line in done.stderr.splitlines() if line.startswith("ytingest: ")]
    assert len(lines) == 1, done.stderr[-2000:]
    return lines[0]


def _episode(video_id: str, source_id: str, title: str):
    return dataclasses.replace(quick_episode(video_id, published=AT), source_id=source_id, title=title)


@pytest.fixture(scope="module")
def feeds(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile-feeds")
    first = generate_channel(root / "a", [_episode("aEp42", "ep-0042", "A's own episode")], title="Feed A")
    second = generate_channel(
        root / "b",
        [_episode("bEp42", "ep-0042", "B's injected episode"), _episode(REAL_YOUTUBE_ID, REAL_YOUTUBE_ID, "Fake")],
        title="Feed B",
    )
    return first, second


def _list(key: str, url: str) -> int:
    from resources.media import MediaSource
    from resources.postgres import PostgresResource
    from ytingest.app.channels import register_channel
    from ytingest.store import catalog

    key, _ = register_channel(url, key=key)
    with PostgresResource().connect() as conn:
        listing = MediaSource().list_channel(catalog.channel(conn, key).spec())
        return catalog.record_listing(conn, key, listing.videos, listing.title, listing.youtube_channel_id)


def _by_channel(archive):
    rows = query(
        archive,
        "SELECT cv.channel_key, v.source_id, v.video_id, v.title, v.url FROM videos v"
        " JOIN channel_videos cv USING (video_id) ORDER BY 1, 2",
    )
    return {(r[0], r[1]): r[2:] for r in rows}


def test_feeds_sharing_guids_keep_their_own_episodes(archive, instance, feeds):
    first, second = feeds
    with LoopbackChannel(first) as site_a, LoopbackChannel(second) as site_b:
        _list("feed-b", site_b.rss_url)  # B listed first, as the attack needs
        _list("feed-a", site_a.rss_url)
        _list("feed-b-atom", site_b.atom_url)  # YouTube-shaped Atom, served from loopback
        _list("feed-b", site_b.rss_url)  # and again after A: it must not take A's row back
        rows = _by_channel(archive)
        a_id, a_title, a_url = rows[("feed-a", "ep-0042")]
        b_id, b_title, b_url = rows[("feed-b", "ep-0042")]
        assert a_id != b_id
        assert (a_title, b_title) == ("A's own episode", "B's injected episode")
        assert a_url.startswith(site_a.base_url) and b_url.startswith(site_b.base_url)
        # A non-YouTube feed's <yt:videoId> (Atom) or guid (RSS) cannot claim a real YouTube video.
        assert rows[("feed-b-atom", REAL_YOUTUBE_ID)][0] != REAL_YOUTUBE_ID
        assert rows[("feed-b", REAL_YOUTUBE_ID)][0] != REAL_YOUTUBE_ID
        assert query(archive, "SELECT count(*) FROM videos WHERE video_id = %s", REAL_YOUTUBE_ID) == [(0,)]


def test_a_nul_in_a_page_title_costs_nothing_but_the_nul(archive, instance, feeds):
    first, _ = feeds
    episode = first.episode("aEp42")
    page = render_watch_page(episode).replace(html.escape(episode.title).encode(), b"A&#0;B\x1b[2J title")
    with LoopbackChannel(first) as site:
        site.set_body("aEp42", page, on=Resource.WATCH)
        assert _list("a-page", site.watch_url("aEp42")) == 1
    (title,) = query(archive, "SELECT title FROM videos")[0]
    assert title.startswith("AB[2J title")  # <title> and og:title both carry the NUL (and an ESC)


def _big_rss(items: int) -> bytes:
    body = "".join(
        f"<item><guid>g{n}</guid><title>Episode {n}</title><link>http://127.0.0.1:9/e/{n}</link>"
        f"<pubDate>Mon, 16 Nov 2026 12:00:00 +0000</pubDate></item>"
        for n in range(items)
    )
    return f'<rss version="2.0"><channel><title>Big</title>{body}</channel></rss>'.encode()


def test_a_100k_item_feed_is_listed_in_one_bulk_write(archive, instance, feeds):
    first, _ = feeds
    with LoopbackChannel(first) as site:
        site.set_body("", _big_rss(100_000), on=Resource.FEEDS)
        began = time.monotonic()
        assert _list("big", site.rss_url) == 100_000
        took = time.monotonic() - began
        assert _list("big", site.rss_url) == 100_000  # the re-listing LISTING_MAX_AGE_MINUTES brings
    assert query(archive, "SELECT count(*) FROM channel_videos WHERE channel_key = 'big'") == [(100_000,)]
    print(f"100k-item feed fetched, parsed and written in {took:.1f}s")


def test_oversized_and_drip_fed_feeds_fail_that_channel_with_the_reason(archive, instance, feeds, monkeypatch):
    first, _ = feeds
    with LoopbackChannel(first) as site:
        monkeypatch.setenv("FEED_MAX_BYTES", "2048")
        site.set_body("", _big_rss(100), on=Resource.FEEDS)
        with pytest.raises(MediaError, match="feed larger than 2048 bytes"):
            _list("oversized", site.rss_url)
        monkeypatch.delenv("FEED_MAX_BYTES")
        monkeypatch.setenv("FETCH_DEADLINE_SECONDS", "2")
        site.set_body("", None, on=Resource.FEEDS)
        site.set_feed_fault(Fault.drip(drip_bytes=10, stall_s=0.2))  # never a read timeout, never done
        began = time.monotonic()
        with pytest.raises(MediaError, match="timed out"):
            _list("oversized", site.rss_url)
        assert time.monotonic() - began < 15  # given up at its deadline, not after the whole body


def test_the_sensor_polls_feeds_at_once_each_within_its_deadline(monkeypatch, feeds):
    """Four drip-fed feeds and one good one, a 2 s deadline each: polled one after another they would
    take 8 s and more; polled at once the good one's entries come back and the tick ends near 2 s."""
    from ingest_assets.sensors import _poll_all
    from resources.media import MediaSource
    from ytingest.store.catalog import ChannelRow

    first, second = feeds
    monkeypatch.setenv("FETCH_DEADLINE_SECONDS", "2")
    with LoopbackChannel(first) as slow, LoopbackChannel(second) as good:
        slow.set_feed_fault(Fault.drip(drip_bytes=10, stall_s=0.2))
        rows = [ChannelRow(f"slow{n}", slow.rss_url, "feed", slow.rss_url, None, None, None) for n in range(4)]
        rows.append(ChannelRow("good", good.rss_url, "feed", good.rss_url, None, None, None))
        began = time.monotonic()
        results = _poll_all(MediaSource(retries=0), rows, 2.0)
        took = time.monotonic() - began
    assert all(isinstance(r, MediaError) and "timed out" in r.reason for r in results[:4])
    assert sorted(video.source_id for video in results[4]) == [REAL_YOUTUBE_ID, "ep-0042"]
    assert took < 8, f"the feeds were polled one after another ({took:.1f}s)"


def test_ingest_of_a_malformed_feed_is_one_line_and_registers_nothing(
    archive, instance, feeds, offline_models, monkeypatch
):
    monkeypatch.setenv("MODELS_DIR", str(offline_models.manifest.parent))  # the models pass; the feed fails
    first, _ = feeds
    with LoopbackChannel(first) as site:
        site.set_body("", b"<rss><channel><item><title>cut off", on=Resource.FEEDS)
        done = ytingest("ingest", site.rss_url, "--limit", "1")
    assert done.returncode == 2, done.stderr
    assert _error_line(done).startswith("ytingest: not well-formed XML")
    assert query(archive, "SELECT count(*) FROM channels") == [(0,)]


@pytest.mark.parametrize(
    "query_text", [" ".join(["word"] * 20_000), "-" * 100_000], ids=["20000-words", "100k-dashes"]
)
def test_oversized_searches_are_one_line(database_url, query_text):
    done = ytingest("search", "--", query_text)
    assert done.returncode == 2
    assert "characters long" in _error_line(done)


def test_a_superscript_speaker_is_not_a_number(archive):
    from resources.postgres import PostgresResource
    from ytingest.store.speakers import SpeakerError, resolve_speaker

    with PostgresResource().connect() as conn, pytest.raises(SpeakerError, match="no speaker '²'"):
        resolve_speaker(conn, "²")


def test_database_passwords_never_reach_the_terminal(database_url):
    sep = "&" if "?" in database_url else "?"
    shown = ytingest("db", "url", env={"DATABASE_URL": f"{database_url}{sep}password=s3cret"})
    assert shown.returncode == 0 and "s3cret" not in shown.stdout + shown.stderr and "password=***" in shown.stdout
    refused = ytingest(
        "db", "url", env={"DATABASE_URL": "postgresql://ytingest:s3cret@127.0.0.1:1/ytingest?password=s3cret"}
    )
    assert refused.returncode == 1 and "cannot prepare databases" in _error_line(refused)
    assert "s3cret" not in refused.stdout + refused.stderr


def test_what_ytingest_creates_is_private_whatever_the_umask(database_url, tmp_path):
    home = tmp_path / "dagster_home"
    previous = os.umask(0o022)
    try:
        added = ytingest(
            "channels", "add", "https://www.youtube.com/@privacycheck", "--no-check",
            env={"DATABASE_URL": database_url, "DAGSTER_HOME": str(home), "DATA_DIR": str(tmp_path / "data")},
        )  # fmt: skip
    finally:
        os.umask(previous)
    assert added.returncode == 0, added.stderr
    assert home.stat().st_mode & 0o077 == 0
    assert (home / "dagster.yaml").stat().st_mode & 0o077 == 0
