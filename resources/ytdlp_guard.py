"""yt-dlp held to ytingest's URL rule on every request it makes, and to PAGE_MAX_BYTES on the pages its
extractors read.

Why the hooks sit where they do:
- `YoutubeDL.urlopen` is the one door every extractor page, media download and fragment goes through,
  so the URL rule is applied to each request there, and the response it returns is capped there.
- Redirect hops are followed inside the request handlers (requests/urllib3 or urllib, each its own way),
  and a DNS name may resolve to one address when checked and another when connected (rebinding). Both
  handlers, and the websocket one, find the address they connect to with `socket.getaddrinfo` and
  connect to exactly what it returned, so the rule is checked on that result: the address actually
  used, for every hop, before any connection is made. The check runs only on a thread that is inside a
  guarded `urlopen`, so nothing else in the process (Postgres on a private network, model downloads)
  is affected. Proxies the operator configured are exempt: with one, the proxy resolves and connects.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import yt_dlp
from yt_dlp.networking.exceptions import RequestError

from ytingest.core.urls import UnsafeUrl, check_address, check_url, without_credentials
from ytingest.settings import Settings


class RefusedFetch(RequestError):
    """A request refused by the URL rule or a page over PAGE_MAX_BYTES. A RequestError, so yt-dlp's
    request director passes it straight up instead of retrying it with its next handler."""


@dataclass(frozen=True)
class _Guard:
    settings: Settings
    exempt_hosts: frozenset[str]


_active = threading.local()
_install_lock = threading.Lock()


class GuardedYoutubeDL(yt_dlp.YoutubeDL):
    """A YoutubeDL whose every request obeys the URL rule, hop by hop, and whose responses are cut at
    `page_max_bytes` (None: uncapped, for media downloads, which DOWNLOAD_DEADLINE_SECONDS bounds)."""

    def __init__(self, params: dict[str, Any], settings: Settings, *, page_max_bytes: int | None) -> None:
        super().__init__(params)
        self.ytingest_settings = settings
        self.page_max_bytes = page_max_bytes

    def urlopen(self, req):
        url = req if isinstance(req, str) else req.url
        try:
            check_url(url, "request", self.ytingest_settings)
        except UnsafeUrl as exc:
            raise RefusedFetch(str(exc)) from None
        proxies = {**self.proxies, **(getattr(req, "proxies", None) or {})}
        exempt = frozenset(urlsplit(p).hostname or "" for k, p in proxies.items() if k != "no" and p)
        _install()
        outer = getattr(_active, "guard", None)
        _active.guard = _Guard(self.ytingest_settings, exempt)
        try:
            response = super().urlopen(req)
        finally:
            _active.guard = outer
        if self.page_max_bytes is not None:
            _cap(response, self.page_max_bytes)
        return response


def _install() -> None:
    """Wrap `socket.getaddrinfo` once; again if something (a test's monkeypatch) has put another in its place."""
    with _install_lock:
        if not getattr(socket.getaddrinfo, "ytingest_guard", False):
            socket.getaddrinfo = _guarding(socket.getaddrinfo)


def _guarding(resolve):
    def getaddrinfo(host, port, *args, **kwargs):
        found = resolve(host, port, *args, **kwargs)
        guard = getattr(_active, "guard", None)
        if guard is not None and host not in guard.exempt_hosts:
            for *_, sockaddr in found:
                try:
                    check_address(sockaddr[0], str(host), guard.settings)
                except UnsafeUrl as exc:
                    raise RefusedFetch(str(exc)) from None
        return found

    getaddrinfo.ytingest_guard = True
    return getaddrinfo


def _cap(response: Any, max_bytes: int) -> None:
    """Make reads of `response` past `max_bytes` raise RefusedFetch. `read` is replaced on the object
    itself so that extractors keep the response yt-dlp made (url, headers, status); a read of
    everything goes in chunks, so an oversized page is refused without being held in memory."""
    read = response.read
    seen = 0

    def capped(amt: int | None = None) -> bytes:
        nonlocal seen
        if amt is None or amt < 0:
            return b"".join(iter(lambda: capped(1 << 16), b""))
        data = read(min(amt, max_bytes + 1 - seen))
        seen += len(data)
        if seen > max_bytes:
            response.close()
            shown = without_credentials(response.url)[:200]
            raise RefusedFetch(f"page {shown!r} larger than {max_bytes} bytes (PAGE_MAX_BYTES); not read")
        return data

    response.read = capped


def external_fetcher(ydl: yt_dlp.YoutubeDL, fmt: dict[str, Any]) -> str | None:
    """What would fetch `fmt` outside yt-dlp's own networking (ffmpeg, rtmpdump, aria2c...), where no hop
    or address is checked; None when yt-dlp fetches it itself, through `urlopen`. Native HLS hands a
    stream to ffmpeg only once it has read the manifest, so the manifest is read here first."""
    from yt_dlp.downloader import get_suitable_downloader
    from yt_dlp.downloader.dash import DashSegmentsFD
    from yt_dlp.downloader.hls import HlsFD
    from yt_dlp.downloader.http import HttpFD

    if fmt.get("is_live"):
        return "a live stream, which yt-dlp records with ffmpeg"
    downloader = get_suitable_downloader(fmt, ydl.params)
    if downloader is HlsFD:
        manifest = fmt.get("hls_media_playlist_data")
        if manifest is None:
            with ydl.urlopen(fmt["url"]) as response:
                manifest = response.read().decode("utf-8", "replace")
        if HlsFD.can_download(manifest, fmt, ydl.params.get("allow_unplayable_formats")):
            return None
        return "an HLS stream that yt-dlp's own downloader cannot take (it would hand it to ffmpeg)"
    if downloader in (HttpFD, DashSegmentsFD):
        return None
    name = downloader.get_basename() if downloader is not None else "no downloader"
    return f"{fmt.get('protocol') or 'unknown'} media that yt-dlp would fetch with {name}"
