"""What a channel listing yields: its videos with ids, URLs, titles and (exact or estimated) dates."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ListedVideo:
    source_id: str
    extractor: str
    url: str
    title: str
    published: dt.datetime | None
    date_exact: bool
    media_url: str | None = None
    duration_seconds: float | None = None
    origin: str | None = None  # the feed or page that listed it, part of its identity where ids are local


@dataclass(frozen=True)
class Listing:
    videos: list[ListedVideo]
    title: str | None = None
    youtube_channel_id: str | None = None


def _timestamp(entry: dict[str, Any]) -> dt.datetime | None:
    for key in ("timestamp", "release_timestamp"):
        value = entry.get(key)
        if isinstance(value, (int, float)):
            return dt.datetime.fromtimestamp(value, tz=dt.UTC)
    for key in ("upload_date", "release_date"):
        value = entry.get(key)
        if isinstance(value, str) and re.fullmatch(r"\d{8}", value):
            return dt.datetime.strptime(value, "%Y%m%d").replace(tzinfo=dt.UTC)
    return None


def video_from_entry(entry: dict[str, Any], *, exact: bool) -> ListedVideo | None:
    """One entry of a yt-dlp (flat) listing; None for entries that are not videos (tabs, channels)."""
    if entry.get("_type") == "playlist" or entry.get("ie_key") in ("YoutubeTab",):
        return None
    url = entry.get("webpage_url") or entry.get("url") or entry.get("original_url")
    source_id = entry.get("id")
    if not url or not source_id:
        return None
    extractor = str(entry.get("ie_key") or entry.get("extractor_key") or entry.get("extractor") or "generic")
    if extractor.lower() == "youtube" and not str(url).startswith("http"):
        url = f"https://www.youtube.com/watch?v={source_id}"
    duration = entry.get("duration")
    return ListedVideo(
        source_id=str(source_id),
        extractor=extractor,
        url=str(url),
        title=str(entry.get("title") or source_id),
        published=_timestamp(entry),
        # YouTube's flat listings only estimate dates ("3 days ago"); other extractors give real ones.
        date_exact=exact or not extractor.lower().startswith("youtube"),
        duration_seconds=float(duration) if isinstance(duration, (int, float)) else None,
    )


def listing_from_info(info: dict[str, Any]) -> Listing:
    """Flatten a yt-dlp playlist result (channel tabs included) into its videos."""
    videos: list[ListedVideo] = []

    def walk(node: dict[str, Any]) -> None:
        for entry in node.get("entries") or []:
            if not entry:
                continue
            if entry.get("_type") == "playlist":
                walk(entry)
                continue
            video = video_from_entry(entry, exact=False)
            if video is not None:
                videos.append(video)

    if info.get("_type") == "playlist" or "entries" in info:
        walk(info)
    else:
        video = video_from_entry(info, exact=True)
        if video is not None:
            videos.append(video)
    return Listing(videos=videos, title=info.get("title"), youtube_channel_id=info.get("channel_id"))
