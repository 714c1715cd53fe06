"""Files of channels: the declarative channels file (CHANNELS_FILE), which users edit instead of using
the CLI, and the plain list of URLs `ytingest channels add --file` reads.

    channels:
      - https://www.youtube.com/@somechannel
      - url: https://example.com/podcast.rss
        key: my-podcast
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from ytingest.core.identifiers import ChannelSpec, InvalidChannel, parse_channel_url


@dataclass(frozen=True)
class ChannelsFile:
    channels: list[ChannelSpec]
    errors: list[str]


def read_channels_file(path: Path) -> ChannelsFile:
    """Valid entries, and one message per invalid entry (an invalid entry never hides the valid ones)."""
    if not path.exists():
        return ChannelsFile([], [])
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        return ChannelsFile([], [f"{path}: not valid YAML ({exc.__class__.__name__})"])
    entries = document.get("channels") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        return ChannelsFile([], [f"{path}: expected a top-level 'channels:' list"])
    specs, errors = [], []
    for index, entry in enumerate(entries, start=1):
        if isinstance(entry, str):
            entry = {"url": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            errors.append(f"{path} entry {index}: expected a URL or a mapping with 'url'")
            continue
        unknown = set(entry) - {"url", "key", "feed_url"}
        if unknown:
            errors.append(f"{path} entry {index}: unknown fields {sorted(unknown)}")
            continue
        try:
            specs.append(parse_channel_url(entry["url"], key=entry.get("key"), feed_url=entry.get("feed_url")))
        except InvalidChannel as exc:
            errors.append(f"{path} entry {index}: {exc}")
    return ChannelsFile(specs, errors)


def read_url_list(text: str) -> list[str]:
    """One URL a line; blank lines and `#` comments (a whole line, or after whitespace) are skipped. A `#`
    inside a URL is its fragment, not a comment."""
    urls = []
    for line in text.splitlines():
        url = re.split(r"\s#", line, maxsplit=1)[0].strip()
        if url and not url.startswith("#"):
            urls.append(url)
    return urls
