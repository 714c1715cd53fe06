"""Channel URLs, channel keys and video ids: pure validation, no Dagster."""

import pytest

from ytingest.core.identifiers import (
    InvalidChannel,
    InvalidVideoId,
    parse_channel_url,
    validate_channel_key,
    validate_video_id,
    video_id_for,
)

CHANNEL_ID = "UC" + "a1B2c3D4e5F6g7H8i9J0kL"


@pytest.mark.parametrize(
    ("url", "kind", "key", "feed"),
    [
        ("https://www.youtube.com/@LexFridman", "youtube_channel", "lexfridman", None),
        ("https://youtube.com/@some.handle/videos", "youtube_channel", "some-handle", None),
        (
            f"https://www.youtube.com/channel/{CHANNEL_ID}",
            "youtube_channel",
            CHANNEL_ID,
            f"https://www.youtube.com/feeds/videos.xml?channel_id={CHANNEL_ID}",
        ),
        (
            "https://www.youtube.com/playlist?list=PLabcdefghij12345",
            "youtube_playlist",
            "PLabcdefghij12345",
            "https://www.youtube.com/feeds/videos.xml?playlist_id=PLabcdefghij12345",
        ),
        ("https://feeds.example.com/show/podcast.rss", "feed", "feeds-example-com-show-podcast-rss", None),
        ("http://127.0.0.1:8080/feed.rss", "feed", "127-0-0-1-feed-rss", None),
        ("https://vimeo.com/channels/staffpicks", "other", "vimeo-com-channels-staffpicks", None),
    ],
)
def test_channel_urls_are_classified(url, kind, key, feed):
    spec = parse_channel_url(url)
    assert (spec.kind, spec.key) == (kind, key)
    if kind == "feed":
        assert spec.feed_url == url
    else:
        assert spec.feed_url == feed


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/feed.rss", "not an http\\(s\\) URL"),
        ("not a url", "not an http\\(s\\) URL"),
        ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", "single video"),
        ("https://youtu.be/dQw4w9WgXcQ", "single video"),
        ("https://www.youtube.com/channel/UCshort", "not a YouTube channel id"),
        ("https://www.youtube.com/playlist?list=", "no valid playlist id"),
        ("https://www.youtube.com/", "names no YouTube channel"),
        ("https://example.com/\x00feed.rss", "control characters"),
    ],
)
def test_bad_channel_urls_fail_with_a_reason(url, message):
    with pytest.raises(InvalidChannel, match=message):
        parse_channel_url(url)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("a|b", "'\\|'"),
        ("a,b", "','"),
        ("a[0]", "'\\['"),
        ("x]", "'\\]'"),
        ("a...b", "'\\.\\.\\.'"),
        ("tab\there", "control"),
        ("new\nline", "control"),
        ("", "empty"),
        ("  ", "empty"),
        (" padded", "whitespace"),
        ("k" * 101, "at most 100"),
    ],
)
def test_hostile_channel_keys_are_rejected(key, message):
    with pytest.raises(InvalidChannel, match=message):
        validate_channel_key(key)
    with pytest.raises(InvalidChannel):
        parse_channel_url("https://example.com/feed.rss", key=key)


def test_unicode_and_dotted_keys_are_fine():
    assert validate_channel_key("Café.Talks-2") == "Café.Talks-2"


def test_youtube_ids_are_kept_and_others_hashed_safely():
    assert video_id_for("Youtube", "dQw4w9WgXcQ", "https://youtu.be/x") == "dQw4w9WgXcQ"
    hostile = video_id_for("generic", "../../etc/passwd", "http://h/x")
    assert "/" not in hostile and ".." not in hostile
    assert hostile == validate_video_id(hostile)
    a = video_id_for("feed", "episode-1", "http://a/1")
    b = video_id_for("feed", "episode-1", "http://b/1")
    assert a == video_id_for("feed", "episode-1", "http://a/1")  # stable
    assert a == b  # same source id and extractor -> same video, whichever URL listed it
    assert video_id_for("feed", "x" * 500, "u").__len__() <= 80
    assert video_id_for("feed", "'; DROP TABLE videos; --", "u").startswith("drop-table-videos-")


def test_local_ids_are_scoped_by_where_they_were_listed():
    a = video_id_for("feed", "ep-0042", "http://a/1", origin="http://a/feed.rss")
    b = video_id_for("feed", "ep-0042", "http://b/1", origin="http://b/feed.rss")
    assert a != b and a == video_id_for("feed", "ep-0042", "http://a/9", origin="http://a/feed.rss")
    assert video_id_for("youtube", "dQw4w9WgXcQ", "u", origin="http://a/feed.rss") == "dQw4w9WgXcQ"


@pytest.mark.parametrize("bad", ["../x", "a/b", ".hidden", "", "x" * 81, "a b", "a.wav"])
def test_unsafe_video_ids_are_rejected(bad):
    with pytest.raises(InvalidVideoId):
        validate_video_id(bad)
