"""Channel keys, channel URLs and video ids: parsed and validated before they reach Dagster, SQL or a path.

Pure functions, no Dagster: every key that becomes a partition key or a file name passes through here.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, urlsplit

from ytingest.core.urls import UnsafeUrl, check_url, without_credentials

ChannelKind = Literal["youtube_channel", "youtube_playlist", "feed", "other"]

YOUTUBE_HOSTS = frozenset({"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com"})
YOUTUBE_FEED = "https://www.youtube.com/feeds/videos.xml"
MAX_KEY_LENGTH = 100
# Extractors whose ids are only unique within the feed or page that listed them.
LOCAL_ID_EXTRACTORS = frozenset({"feed", "generic"})

_YOUTUBE_VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_YOUTUBE_CHANNEL_ID = re.compile(r"^UC[A-Za-z0-9_-]{22}$")
_YOUTUBE_PLAYLIST_ID = re.compile(r"^[A-Za-z0-9_-]{10,64}$")
_VIDEO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$")
_FEED_PATH = re.compile(r"(\.(rss|xml|atom)$)|(/(feed|rss|podcast)s?(/|$))", re.IGNORECASE)
# Characters Dagster gives meaning to inside partition keys (multi-partition and range separators).
_RESERVED = ("|", ",", "[", "]", "...")


class InvalidChannel(ValueError):
    """A channel URL or key that ytingest will not accept; the message says what is wrong."""


class InvalidVideoId(ValueError):
    """A video id that is unsafe as a file name or partition of data."""


@dataclass(frozen=True)
class ChannelSpec:
    key: str
    url: str
    kind: ChannelKind
    feed_url: str | None = None
    youtube_channel_id: str | None = None


def validate_channel_key(key: str) -> str:
    """Return the key unchanged if Dagster and ytingest can both use it as a partition key."""
    if not isinstance(key, str) or not key.strip():
        raise InvalidChannel("channel key is empty")
    if key != key.strip():
        raise InvalidChannel(f"channel key {key!r} has leading or trailing whitespace")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidChannel(f"channel key is {len(key)} characters long; at most {MAX_KEY_LENGTH} are allowed")
    for token in _RESERVED:
        if token in key:
            raise InvalidChannel(f"channel key {key!r} contains {token!r}, which Dagster reserves in partition keys")
    if any(unicodedata.category(ch).startswith("C") for ch in key):
        raise InvalidChannel(f"channel key {key!r} contains control or unprintable characters")
    return key


def _slug(text: str, limit: int) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:limit].strip("-")


def parse_channel_url(url: str, key: str | None = None, feed_url: str | None = None) -> ChannelSpec:
    """Classify a channel URL and derive its key and polling feed; reject what yt-dlp cannot list."""
    if not isinstance(url, str) or any(unicodedata.category(ch).startswith("C") for ch in url):
        raise InvalidChannel("channel URL contains control characters")
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidChannel(f"channel URL {without_credentials(url)!r} is not an http(s) URL with a host")
    if feed_url is not None:
        feed_parts = urlsplit(feed_url)
        if feed_parts.scheme not in ("http", "https") or not feed_parts.hostname:
            raise InvalidChannel(f"feed URL {without_credentials(feed_url)!r} is not an http(s) URL with a host")
    try:
        check_url(url, "channel URL")
        if feed_url is not None:
            check_url(feed_url, "feed URL")
    except UnsafeUrl as exc:
        raise InvalidChannel(str(exc)) from None

    host = parts.hostname.lower()
    path = parts.path.rstrip("/")
    if host in YOUTUBE_HOSTS:
        spec = _parse_youtube(url, path, parts.query)
    elif host == "youtu.be":
        raise InvalidChannel(f"{url!r} is a single video, not a channel, playlist or feed")
    elif _FEED_PATH.search(path):
        spec = ChannelSpec(key=_slug(f"{host}{path}", 60), url=url, kind="feed", feed_url=url)
    else:
        spec = ChannelSpec(key=_slug(f"{host}{path}", 60), url=url, kind="other")

    resolved_key = validate_channel_key(key) if key is not None else spec.key
    if not resolved_key:
        raise InvalidChannel(f"cannot derive a channel key from {url!r}; pass one explicitly")
    return ChannelSpec(
        key=resolved_key,
        url=spec.url,
        kind=spec.kind,
        feed_url=feed_url or spec.feed_url,
        youtube_channel_id=spec.youtube_channel_id,
    )


def _parse_youtube(url: str, path: str, query: str) -> ChannelSpec:
    segments = [s for s in path.split("/") if s]
    if not segments:
        raise InvalidChannel(f"{url!r} names no YouTube channel or playlist")
    head = segments[0]
    if head.startswith("@") and len(head) > 1:
        return ChannelSpec(key=_slug(head[1:], 60) or head[1:], url=url, kind="youtube_channel")
    if head == "channel" and len(segments) > 1:
        channel_id = segments[1]
        if not _YOUTUBE_CHANNEL_ID.match(channel_id):
            raise InvalidChannel(f"{channel_id!r} is not a YouTube channel id (UC followed by 22 characters)")
        feed = f"{YOUTUBE_FEED}?channel_id={channel_id}"
        return ChannelSpec(
            key=channel_id, url=url, kind="youtube_channel", feed_url=feed, youtube_channel_id=channel_id
        )
    if head in ("c", "user") and len(segments) > 1:
        return ChannelSpec(key=_slug(segments[1], 60), url=url, kind="youtube_channel")
    if head == "playlist":
        playlist = parse_qs(query).get("list", [""])[0]
        if not _YOUTUBE_PLAYLIST_ID.match(playlist):
            raise InvalidChannel(f"{url!r} has no valid playlist id in its list= parameter")
        feed = f"{YOUTUBE_FEED}?playlist_id={playlist}"
        return ChannelSpec(key=playlist, url=url, kind="youtube_playlist", feed_url=feed)
    if head in ("watch", "shorts", "live", "embed"):
        raise InvalidChannel(f"{url!r} is a single video, not a channel, playlist or feed")
    raise InvalidChannel(f"{url!r} is not a YouTube channel (@handle, /channel/UC...) or playlist URL")


def youtube_feed_url(channel_id: str) -> str:
    if not _YOUTUBE_CHANNEL_ID.match(channel_id):
        raise InvalidChannel(f"{channel_id!r} is not a YouTube channel id")
    return f"{YOUTUBE_FEED}?channel_id={channel_id}"


def video_id_for(extractor: str, source_id: str | None, url: str, origin: str | None = None) -> str:
    """A stable id that is safe as a file name: YouTube's own id, else a slug plus a hash of the source.

    Ids outside an extractor's own id space (a feed item's guid, a generic page's id) are only unique
    within the feed or page that listed them, so `origin` is part of their identity: two feeds publishing
    guid `ep-0042` are two videos, and neither can take over the other's row."""
    if extractor.lower().startswith("youtube") and source_id and _YOUTUBE_VIDEO_ID.match(source_id):
        return source_id
    scope = f"{origin}\n" if origin and extractor.lower() in LOCAL_ID_EXTRACTORS else ""
    identity = f"{scope}{extractor.lower()}:{source_id or url}"
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:12]
    slug = _slug(source_id or urlsplit(url).path.rsplit("/", 1)[-1], 40)
    return validate_video_id(f"{slug}-{digest}" if slug else f"v-{digest}")


def validate_video_id(video_id: str) -> str:
    if not isinstance(video_id, str) or not _VIDEO_ID.match(video_id):
        raise InvalidVideoId(f"video id {video_id!r} is not 1-80 letters, digits, '-' or '_'")
    return video_id


def is_youtube_host(url: str) -> bool:
    return (urlsplit(url).hostname or "").lower() in YOUTUBE_HOSTS


def is_youtube_video_id(value: str) -> bool:
    return bool(_YOUTUBE_VIDEO_ID.match(value))
