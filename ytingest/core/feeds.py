"""Parsing of channel feeds: YouTube's Atom feed (which yt-dlp does not read), other Atom feeds and RSS 2.0.

Pure functions over bytes, no network and no Dagster.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from ytingest.core.identifiers import is_youtube_host
from ytingest.core.urls import is_allowed
from ytingest.settings import get_settings

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "yt": "http://www.youtube.com/xml/schemas/2015",
    "media": "http://search.yahoo.com/mrss/",
    "itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd",
}


class FeedError(ValueError):
    """The document is not an RSS 2.0 or Atom feed we can read."""


@dataclass(frozen=True)
class FeedEntry:
    source_id: str
    extractor: str  # "youtube" for YouTube feed entries, else "feed"
    url: str
    title: str
    published: dt.datetime | None
    media_url: str | None = None
    duration_seconds: float | None = None


@dataclass(frozen=True)
class Feed:
    title: str | None
    entries: list[FeedEntry]
    youtube_channel_id: str | None = None


def parse_feed(data: bytes, source_url: str | None = None) -> Feed:
    """`source_url` is where the feed came from: only YouTube's own feeds may name YouTube video ids
    (`<yt:videoId>`); in any other feed that element is just the item's id within that feed."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise FeedError(f"not well-formed XML: {exc}") from None
    if root.tag == f"{{{NS['atom']}}}feed":
        return _parse_atom(root, youtube=source_url is not None and is_youtube_host(source_url))
    if root.tag == "rss":
        channel = root.find("channel")
        if channel is None:
            raise FeedError("RSS document has no <channel>")
        return _parse_rss(channel)
    raise FeedError(f"root element <{root.tag}> is neither an RSS 2.0 <rss> nor an Atom <feed>")


def _text(node: ET.Element | None) -> str | None:
    if node is None or node.text is None:
        return None
    return node.text.strip() or None


def parse_datetime(value: str | None) -> dt.datetime | None:
    """RFC 3339 (Atom) or RFC 822 (RSS) timestamps, as aware UTC datetimes; None when unreadable."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def parse_duration(value: str | None) -> float | None:
    """itunes:duration is seconds or [[HH:]MM:]SS."""
    if not value:
        return None
    try:
        seconds = 0.0
        for part in value.strip().split(":"):
            seconds = seconds * 60 + float(part)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def _parse_atom(root: ET.Element, youtube: bool) -> Feed:
    settings = get_settings()
    # YouTube writes the feed-level channel id without its "UC" prefix; entries keep it.
    channel_id = _text(root.find("atom:entry/yt:channelId", NS)) or _text(root.find("yt:channelId", NS))
    if channel_id and not channel_id.startswith("UC"):
        channel_id = f"UC{channel_id}"
    entries = []
    for entry in root.findall("atom:entry", NS):
        video_id = _text(entry.find("yt:videoId", NS))
        link = entry.find("atom:link[@rel='alternate']", NS)
        if link is None:
            link = entry.find("atom:link", NS)
        url = link.get("href") if link is not None else None
        source_id = video_id or _text(entry.find("atom:id", NS)) or url
        if not source_id or not is_allowed(url, settings):
            continue  # nothing ytingest may download (no link, or ftp:, data:, ytsearch1:, metadata hosts)
        entries.append(
            FeedEntry(
                source_id=source_id,
                extractor="youtube" if video_id and youtube else "feed",
                url=url,
                title=_text(entry.find("atom:title", NS)) or source_id,
                published=parse_datetime(_text(entry.find("atom:published", NS)) or _text(entry.find("atom:updated", NS))),
            )
        )
    return Feed(title=_text(root.find("atom:title", NS)), entries=entries, youtube_channel_id=channel_id)


def _parse_rss(channel: ET.Element) -> Feed:
    settings = get_settings()
    entries = []
    for item in channel.findall("item"):
        enclosure = item.find("enclosure")
        media_url = enclosure.get("url") if enclosure is not None else None
        media_url = media_url if is_allowed(media_url, settings) else None
        link = _text(item.find("link"))
        url = link if is_allowed(link, settings) else media_url
        source_id = _text(item.find("guid")) or url
        if not url or not source_id:
            continue  # nothing ytingest may download (no link, or ftp:, data:, ytsearch1:, metadata hosts)
        entries.append(
            FeedEntry(
                source_id=source_id,
                extractor="feed",
                url=url,
                media_url=media_url,
                title=_text(item.find("title")) or source_id,
                published=parse_datetime(_text(item.find("pubDate"))),
                duration_seconds=parse_duration(_text(item.find("itunes:duration", NS))),
            )
        )
    return Feed(title=_text(channel.find("title")), entries=entries)
