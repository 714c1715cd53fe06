"""Feed parsing on real-shaped documents: YouTube's Atom feed (which yt-dlp cannot read) and RSS 2.0."""

import datetime as dt

import pytest

from ytingest.core.feeds import FeedError, parse_datetime, parse_duration, parse_feed

YOUTUBE_ATOM = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" xmlns:media="http://search.yahoo.com/mrss/"
      xmlns="http://www.w3.org/2005/Atom">
 <link rel="self" href="http://www.youtube.com/feeds/videos.xml?channel_id=UCa1B2c3D4e5F6g7H8i9J0kL"/>
 <id>yt:channel:a1B2c3D4e5F6g7H8i9J0kL</id>
 <yt:channelId>a1B2c3D4e5F6g7H8i9J0kL</yt:channelId>
 <title>Some Channel</title>
 <published>2015-03-01T10:00:00+00:00</published>
 <entry>
  <id>yt:video:dQw4w9WgXcQ</id>
  <yt:videoId>dQw4w9WgXcQ</yt:videoId>
  <yt:channelId>UCa1B2c3D4e5F6g7H8i9J0kL</yt:channelId>
  <title>A &amp; B</title>
  <link rel="alternate" href="https://www.youtube.com/watch?v=dQw4w9WgXcQ"/>
  <published>2026-11-20T17:00:05+00:00</published>
  <updated>2026-11-21T01:00:00+00:00</updated>
  <media:group><media:title>A &amp; B</media:title></media:group>
 </entry>
 <entry>
  <id>yt:video:abcdefghijk</id>
  <yt:videoId>abcdefghijk</yt:videoId>
  <title>Late night</title>
  <link rel="alternate" href="https://www.youtube.com/watch?v=abcdefghijk"/>
  <published>2026-11-19T23:59:59-05:00</published>
 </entry>
</feed>"""

RSS = b"""<?xml version="1.0"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">
<channel><title>Pod</title>
 <item><title>Ep 1</title><guid>ep-1</guid><link>https://pod.example/ep1</link>
  <pubDate>Fri, 20 Nov 2026 08:30:00 GMT</pubDate>
  <enclosure url="https://cdn.example/ep1.mp3" type="audio/mpeg" length="123"/>
  <itunes:duration>1:02:03</itunes:duration></item>
 <item><title>No link</title><enclosure url="https://cdn.example/ep2.mp3" type="audio/mpeg"/>
  <pubDate>garbage</pubDate><itunes:duration>95</itunes:duration></item>
 <item><title>Nothing to fetch</title></item>
</channel></rss>"""


def test_youtube_atom_feed():
    feed = parse_feed(YOUTUBE_ATOM, "https://www.youtube.com/feeds/videos.xml?channel_id=UCa1B2c3D4e5F6g7H8i9J0kL")
    assert feed.youtube_channel_id == "UCa1B2c3D4e5F6g7H8i9J0kL"  # feed level drops "UC"; restored
    assert [e.source_id for e in feed.entries] == ["dQw4w9WgXcQ", "abcdefghijk"]
    first, second = feed.entries
    assert first.extractor == "youtube" and first.title == "A & B"
    assert first.published == dt.datetime(2026, 11, 20, 17, 0, 5, tzinfo=dt.UTC)
    # Publication dates are UTC: 23:59 in New York is the next day.
    assert second.published.date() == dt.date(2026, 11, 20)


def test_only_youtube_feeds_may_name_youtube_videos():
    """An Atom feed served anywhere else can carry <yt:videoId>, but must not claim a real YouTube video."""
    feed = parse_feed(YOUTUBE_ATOM, "http://127.0.0.1:8000/feed.atom")
    assert [e.extractor for e in feed.entries] == ["feed", "feed"]
    assert parse_feed(YOUTUBE_ATOM).entries[0].extractor == "feed"  # unknown origin: not trusted either


def test_rss_feed_items():
    feed = parse_feed(RSS)
    assert feed.title == "Pod"
    assert len(feed.entries) == 2  # an item with neither link nor enclosure is not a video
    ep1, ep2 = feed.entries
    assert (ep1.source_id, ep1.url, ep1.media_url) == ("ep-1", "https://pod.example/ep1", "https://cdn.example/ep1.mp3")
    assert ep1.duration_seconds == 3723
    assert ep1.published == dt.datetime(2026, 11, 20, 8, 30, tzinfo=dt.UTC)
    assert ep2.url == ep2.media_url == ep2.source_id == "https://cdn.example/ep2.mp3"
    assert ep2.published is None and ep2.duration_seconds == 95


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"<html><body>hi</body></html>", "neither"), (b"<rss><channel>", "well-formed"), (b"", "well-formed")],
)
def test_not_a_feed(data, message):
    with pytest.raises(FeedError, match=message):
        parse_feed(data)


def test_helpers():
    assert parse_duration("00:45") == 45 and parse_duration("abc") is None and parse_duration(None) is None
    assert parse_datetime("2026-01-02T03:04:05Z") == dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    assert parse_datetime("not a date") is None
