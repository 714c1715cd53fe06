"""Links to the web app's pages (`ytingest serve`), for places that only know video ids (Dagster metadata)."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from ytingest.settings import get_settings

MAX_LINKS = 50  # a partition with more videos lists the first 50 and how many are left


def video_page_url(video_id: str, base_url: str | None = None) -> str:
    base = (base_url or get_settings().web_base_url).rstrip("/")
    return f"{base}/videos/{quote(video_id, safe='')}"


def video_pages_markdown(video_ids: Sequence[str], base_url: str | None = None) -> str:
    """A Markdown list linking each video to its transcript page (WEB_BASE_URL)."""
    if not video_ids:
        return "no videos"
    lines = [f"- [{video_id}]({video_page_url(video_id, base_url)})" for video_id in video_ids[:MAX_LINKS]]
    if len(video_ids) > MAX_LINKS:
        lines.append(f"- ... and {len(video_ids) - MAX_LINKS} more")
    return "\n".join(lines)
