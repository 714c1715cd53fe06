"""A loopback HTTP server that plays a generated sample channel the way video sites serve one.

Routes (all on 127.0.0.1, so tests never touch the network):

    /media/<id>.<mp4|webm>                 the file, with byte ranges
    /watch/<id>                            a video page yt-dlp's generic extractor reads: <video>,
                                           <source>, and one <track> per caption file
    /captions/<id>.<lang>.<vtt|json3>      caption files
    /feed.rss                              RSS 2.0 podcast feed with iTunes tags and enclosures
    /feeds/videos.xml?channel_id=UC...     Atom feed shaped like YouTube's

Per-episode faults (error statuses, rate limits, broken or slow bodies) and feed failures can be set
when the server is built and switched while it runs; episodes can be published while it runs, and
every request is logged with its status for tests to assert on.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import html
import random
import re
import socket
import struct
import threading
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Final, Self
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape, quoteattr

from ytingest.offline.sample_channel import Channel, Container, GeneratedEpisode

ATOM_FEED_LIMIT: Final = 15  # YouTube's channel feed lists only the 15 newest videos
MAX_SLOW_S: Final = 30.0
_CONNECTION_TIMEOUT_S: Final = 5.0  # a client that stops reading or writing frees its thread
_CODECS: Final = {Container.MP4: "avc1.42C00A, mp4a.40.2", Container.WEBM: "vp8, opus"}
_CAPTION_TYPES: Final = {"vtt": "text/vtt; charset=utf-8", "json3": "application/json; charset=utf-8"}


class Resource(StrEnum):
    """What a fault applies to."""

    MEDIA = "media"
    WATCH = "watch"
    CAPTIONS = "captions"
    FEEDS = "feeds"  # both feeds at once


class FaultKind(StrEnum):
    NOT_FOUND = "404"
    FORBIDDEN = "403"
    RATE_LIMITED = "429"
    SERVER_ERROR = "500"
    TRUNCATED = "truncated"  # full Content-Length announced, connection closed part-way through the body
    CORRUPT = "corrupt"  # random bytes of the right length and content type
    ZERO_LENGTH = "zero_length"  # 200 with an empty body
    SLOW = "slow"  # the body in chunks with stalls between them
    RESET = "reset"  # the connection is reset (TCP RST) before any response is sent
    DRIP = "drip"  # a few bytes at a time with a stall before each, for as long as the client reads


_ERROR_STATUS: Final = {
    FaultKind.NOT_FOUND: 404,
    FaultKind.FORBIDDEN: 403,
    FaultKind.RATE_LIMITED: 429,
    FaultKind.SERVER_ERROR: 500,
}


@dataclass(frozen=True)
class Fault:
    """A misbehaviour for one resource. Build it with the class methods; `times` is how many requests
    (counted per path) misbehave before the resource recovers, None for every request."""

    kind: FaultKind
    times: int | None = None
    retry_after_s: int = 1  # 429 only
    fraction: float = 0.5  # truncated only: share of the body sent before the connection drops
    stall_s: float = 0.25  # slow only: pause before each chunk
    chunks: int = 8  # slow only
    drip_bytes: int = 10  # drip only: bytes sent after each stall

    def __post_init__(self) -> None:
        if self.times is not None and self.times < 1:
            raise ValueError("times must be at least 1, or None for every request")
        if not 0 <= self.fraction < 1:
            raise ValueError("fraction must be in [0, 1)")
        if self.chunks < 1 or self.stall_s < 0 or self.stall_s * self.chunks > MAX_SLOW_S:
            raise ValueError(f"a slow body needs at least one chunk and at most {MAX_SLOW_S} s of stalls")

    @classmethod
    def not_found(cls, times: int | None = None) -> Fault:
        return cls(FaultKind.NOT_FOUND, times)

    @classmethod
    def forbidden(cls, times: int | None = None) -> Fault:
        return cls(FaultKind.FORBIDDEN, times)

    @classmethod
    def rate_limited(cls, times: int | None = 1, retry_after_s: int = 1) -> Fault:
        return cls(FaultKind.RATE_LIMITED, times, retry_after_s=retry_after_s)

    @classmethod
    def server_error(cls, times: int | None = None) -> Fault:
        return cls(FaultKind.SERVER_ERROR, times)

    @classmethod
    def truncated(cls, fraction: float = 0.5, times: int | None = None) -> Fault:
        return cls(FaultKind.TRUNCATED, times, fraction=fraction)

    @classmethod
    def corrupt(cls, times: int | None = None) -> Fault:
        return cls(FaultKind.CORRUPT, times)

    @classmethod
    def zero_length(cls, times: int | None = None) -> Fault:
        return cls(FaultKind.ZERO_LENGTH, times)

    @classmethod
    def reset(cls, times: int | None = None) -> Fault:
        return cls(FaultKind.RESET, times)

    @classmethod
    def slow(cls, stall_s: float = 0.25, chunks: int = 8, times: int | None = None) -> Fault:
        return cls(FaultKind.SLOW, times, stall_s=stall_s, chunks=chunks)

    @classmethod
    def drip(cls, drip_bytes: int = 10, stall_s: float = 1.0, times: int | None = None) -> Fault:
        """Never a read timeout, never done: `drip_bytes` every `stall_s` (a hostile or broken server)."""
        return cls(FaultKind.DRIP, times, stall_s=stall_s, drip_bytes=drip_bytes)


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str  # as requested, query included
    status: int  # 0: the connection was reset without a response


@dataclass(frozen=True)
class _Document:
    """A resolved route: what to send, and which fault slot governs it."""

    video_id: str  # "" for the feeds
    resource: Resource
    content_type: str
    body: bytes
    last_modified: dt.datetime | None = None


class _Unsatisfiable(Exception):
    pass


class LoopbackChannel:
    """Serves `channel` on 127.0.0.1 while in its `with` block.

    `faults` maps video ids to a fault on their media; `set_fault` reaches the watch page and
    captions too. Episodes in `withheld` answer 404 everywhere until `publish`ed.
    """

    def __init__(
        self,
        channel: Channel,
        *,
        faults: Mapping[str, Fault] | None = None,
        withheld: Iterable[str] = (),
        port: int = 0,
    ) -> None:
        self.channel = channel
        self.port = port  # 0 picks a free one; a fixed port keeps feed URLs stable across runs
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._live = {episode.video_id: episode for episode in channel.episodes}
        self._withheld = {video_id: self._live.pop(video_id) for video_id in withheld}
        self._faults: dict[tuple[str, Resource], Fault] = {}
        self._bodies: dict[tuple[str, Resource], bytes] = {}
        self._hits: Counter[tuple[str, Resource, str]] = Counter()
        self._log: list[RequestRecord] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        for video_id, fault in (faults or {}).items():
            self.set_fault(video_id, fault)

    # --- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Self:
        self._stopping.clear()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="loopback-channel", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._server is None or self._thread is None:
            return
        self._stopping.set()  # cuts slow bodies short so handler threads finish promptly
        self._server.shutdown()
        self._server.server_close()  # joins the handler threads, each bounded by the connection timeout
        self._thread.join()
        self._server = self._thread = None

    # --- addresses ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the server runs only inside its `with` block")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def rss_url(self) -> str:
        return f"{self.base_url}/feed.rss"

    @property
    def atom_url(self) -> str:
        return f"{self.base_url}/feeds/videos.xml?channel_id={self.channel.channel_id}"

    def watch_url(self, video_id: str) -> str:
        return f"{self.base_url}/watch/{video_id}"

    def media_url(self, video_id: str) -> str:
        return f"{self.base_url}{_media_path(self._episode_any(video_id))}"

    def caption_url(self, video_id: str, language: str = "en", ext: str = "vtt") -> str:
        return f"{self.base_url}/captions/{video_id}.{language}.{ext}"

    # --- runtime control ---------------------------------------------------------------------

    def set_fault(self, video_id: str, fault: Fault | None, *, on: Resource = Resource.MEDIA) -> None:
        """Set (or with None clear) the fault on one episode's media, watch page or captions.
        Setting a fault restarts its `times` count."""
        if on is Resource.FEEDS:
            raise ValueError("use set_feed_fault for the feeds")
        self._episode_any(video_id)
        self._put_fault((video_id, on), fault)

    def set_feed_fault(self, fault: Fault | None) -> None:
        """Set (or with None clear) a fault on both feeds, e.g. `Fault.server_error()`."""
        self._put_fault(("", Resource.FEEDS), fault)

    def set_body(self, video_id: str, body: bytes | None, *, on: Resource) -> None:
        """Serve `body` instead of an episode's captions, watch page or media (or, with video_id "" and
        Resource.FEEDS, instead of both feeds); None restores the generated document."""
        with self._lock:
            if body is None:
                self._bodies.pop((video_id, on), None)
            else:
                self._bodies[(video_id, on)] = body

    def publish(self, episode: GeneratedEpisode | str) -> None:
        """Make a withheld episode (by id) or a newly generated one live and listed in the feeds."""
        with self._lock:
            if isinstance(episode, str):
                if episode not in self._withheld:
                    raise KeyError(f"{episode!r} is not a withheld episode")
                episode = self._withheld[episode]
            self._withheld.pop(episode.video_id, None)
            self._live[episode.video_id] = episode

    @property
    def request_log(self) -> tuple[RequestRecord, ...]:
        with self._lock:
            return tuple(self._log)

    def statuses(self, path_or_url: str) -> list[int]:
        """Statuses answered for one path (any query string, any method), oldest first."""
        path = urlsplit(path_or_url).path
        return [record.status for record in self.request_log if urlsplit(record.path).path == path]

    # --- used by the request handler ---------------------------------------------------------

    def _episode_any(self, video_id: str) -> GeneratedEpisode:
        with self._lock:
            episode = self._live.get(video_id) or self._withheld.get(video_id)
        if episode is None:
            raise KeyError(f"no episode {video_id!r}")
        return episode

    def _put_fault(self, key: tuple[str, Resource], fault: Fault | None) -> None:
        with self._lock:
            for hit in [hit for hit in self._hits if hit[:2] == key]:
                del self._hits[hit]
            if fault is None:
                self._faults.pop(key, None)
            else:
                self._faults[key] = fault

    def _take_fault(self, document: _Document, path: str) -> Fault | None:
        """The fault this request suffers, if any; counts the request against `times`."""
        with self._lock:
            fault = self._faults.get((document.video_id, document.resource))
            if fault is None:
                return None
            hit = (document.video_id, document.resource, path)
            self._hits[hit] += 1
            return fault if fault.times is None or self._hits[hit] <= fault.times else None

    def _record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self._log.append(RequestRecord(method, path, status))

    def _resolve(self, path: str, query: str) -> _Document | None:
        """What a GET of this path returns when nothing misbehaves; None for 404."""
        with self._lock:
            live = dict(self._live)
        if path == "/feed.rss":
            rss = render_rss(self.channel, _newest_first(live.values()), self.base_url)
            return _Document("", Resource.FEEDS, "application/rss+xml; charset=utf-8", rss)
        if path == "/feeds/videos.xml":
            if parse_qs(query).get("channel_id") != [self.channel.channel_id]:
                return None  # as YouTube answers for a channel it does not know
            atom = render_atom(self.channel, _newest_first(live.values())[:ATOM_FEED_LIMIT], self.base_url)
            return _Document("", Resource.FEEDS, "text/xml; charset=utf-8", atom)
        route = _ROUTE.match(path)
        episode = live.get(route["id"]) if route else None
        return _episode_document(episode, route["kind"], route["suffix"]) if route and episode else None


_ROUTE = re.compile(r"^/(?P<kind>watch|media|captions)/(?P<id>[A-Za-z0-9_-]+)(?P<suffix>(\.[A-Za-z0-9-]+)*)$")


def _episode_document(episode: GeneratedEpisode, kind: str, suffix: str) -> _Document | None:
    def document(resource: Resource, content_type: str, body: bytes) -> _Document:
        return _Document(episode.video_id, resource, content_type, body, episode.published)

    if kind == "watch" and suffix == "":
        return document(Resource.WATCH, "text/html; charset=utf-8", render_watch_page(episode))
    if kind == "media" and suffix == f".{episode.container.value}":
        return document(Resource.MEDIA, episode.container.mime_type, episode.media_path.read_bytes())
    for caption in episode.captions if kind == "captions" else ():
        if suffix == f".{caption.language}.{caption.ext}":
            return document(Resource.CAPTIONS, _CAPTION_TYPES[caption.ext], caption.path.read_bytes())
    return None
def _newest_first(episodes: Iterable[GeneratedEpisode]) -> list[GeneratedEpisode]:
    return sorted(episodes, key=lambda episode: episode.published, reverse=True)


def _media_path(episode: GeneratedEpisode) -> str:
    return f"/media/{episode.video_id}.{episode.container.value}"


# --- HTTP ------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # so server_close() joins them: no handler outlives the server
    block_on_close = True

    def __init__(self, site: LoopbackChannel) -> None:
        self.site = site
        super().__init__(("127.0.0.1", site.port), _Handler)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = _CONNECTION_TIMEOUT_S

    def do_GET(self) -> None:
        self._serve(send_body=True)

    def do_HEAD(self) -> None:
        self._serve(send_body=False)

    def log_message(self, format: str, *args: object) -> None:
        """Silenced: the site's request log is what tests read."""

    def _serve(self, *, send_body: bool) -> None:
        # One request per connection: nothing lingers in keep-alive, and a truncated body can end the
        # connection without confusing a next request.
        self.close_connection = True
        site = self.server.site
        url = urlsplit(self.path)
        document = site._resolve(url.path, url.query)
        fault = site._take_fault(document, url.path) if document else None
        if document is None:
            self._send_error(404, send_body=send_body)
        elif fault is not None and fault.kind is FaultKind.RESET:
            self._reset()
        elif fault is not None and fault.kind in _ERROR_STATUS:
            self._send_error(_ERROR_STATUS[fault.kind], send_body=send_body, retry_after_s=fault.retry_after_s)
        else:
            self._send_document(document, fault, send_body=send_body)

    def _reset(self) -> None:
        """Abort the connection: a zero linger time makes close() send RST instead of FIN."""
        self.server.site._record(self.command, self.path, 0)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()

    def _send_error(self, status: int, *, send_body: bool, retry_after_s: int = 1) -> None:
        body = f"{status} {self.responses[status][0]}\n".encode()
        extra = {"Retry-After": str(retry_after_s)} if status == 429 else {}
        self._send_head(status, "text/plain; charset=utf-8", len(body), extra)
        if send_body:
            self._write(body)

    def _send_document(self, document: _Document, fault: Fault | None, *, send_body: bool) -> None:
        with self.server.site._lock:
            served = self.server.site._bodies.get((document.video_id, document.resource), document.body)
        body = _faulty_body(served, fault, seed=self.path)
        extra = {}
        if document.last_modified:
            # yt-dlp's generic extractor takes a page's or file's timestamp from this header.
            extra["Last-Modified"] = email.utils.format_datetime(document.last_modified.astimezone(dt.UTC), usegmt=True)
        status = 200
        if document.resource is Resource.MEDIA and body:  # byte ranges for media only, as CDNs do
            extra["Accept-Ranges"] = "bytes"
            try:
                span = _byte_range(self.headers.get("Range"), len(body))
            except _Unsatisfiable:
                self._send_head(416, document.content_type, 0, {"Content-Range": f"bytes */{len(body)}"})
                return
            if span is not None:
                status = 206
                extra["Content-Range"] = f"bytes {span[0]}-{span[1]}/{len(body)}"
                body = body[span[0] : span[1] + 1]
        self._send_head(status, document.content_type, len(body), extra)
        if send_body:
            self._send_body(body, fault)

    def _send_head(self, status: int, content_type: str, length: int, extra: Mapping[str, str]) -> None:
        self.server.site._record(self.command, self.path, status)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        self.send_header("Connection", "close")
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()

    def _send_body(self, body: bytes, fault: Fault | None) -> None:
        if fault is None or fault.kind not in (FaultKind.TRUNCATED, FaultKind.SLOW, FaultKind.DRIP):
            self._write(body)
        elif fault.kind is FaultKind.DRIP:
            for offset in range(0, len(body), fault.drip_bytes):
                if self.server.site._stopping.wait(fault.stall_s) or not self._write(body[offset : offset + fault.drip_bytes]):
                    return
        elif fault.kind is FaultKind.TRUNCATED:
            self._write(body[: int(len(body) * fault.fraction)])  # then the connection closes
        else:
            size = -(-len(body) // fault.chunks)  # ceiling division: at most `chunks` pieces
            for offset in range(0, len(body), size):
                if self.server.site._stopping.wait(fault.stall_s):
                    return  # shutting down: give up the rest of the body
                if not self._write(body[offset : offset + size]):
                    return

    def _write(self, data: bytes) -> bool:
        """False when the client has gone, which clients that read only a prefix routinely do."""
        try:
            self.wfile.write(data)
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            return False
        return True


def _faulty_body(body: bytes, fault: Fault | None, *, seed: str) -> bytes:
    if fault is not None and fault.kind is FaultKind.CORRUPT:
        return random.Random(seed).randbytes(len(body))  # seeded, so a retry sees the same garbage
    if fault is not None and fault.kind is FaultKind.ZERO_LENGTH:
        return b""
    return body


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The (first, last) byte of a single range, or None to send everything: RFC 9110 lets a server
    ignore Range headers it does not support, such as multiple ranges."""
    match = _RANGE.match(header.strip()) if header else None
    if match is None or not (match[1] or match[2]):
        return None
    if match[1]:
        first = int(match[1])
        last = min(int(match[2]), size - 1) if match[2] else size - 1
    else:  # a suffix range: the last N bytes
        first, last = max(size - int(match[2]), 0), size - 1
    if first >= size or first > last:
        raise _Unsatisfiable
    return first, last


# --- documents -------------------------------------------------------------------------------


def render_watch_page(episode: GeneratedEpisode) -> bytes:
    """A video page as yt-dlp's generic extractor reads it: <source> becomes the one format and each
    <track> a `subtitles` entry keyed by srclang, with the format taken from the URL's extension."""
    title = html.escape(episode.title)
    description = html.escape(episode.spec.description)
    source_type = f'{episode.container.mime_type}; codecs="{_CODECS[episode.container]}"'
    tracks = "".join(
        f'\n    <track kind="captions" src="/captions/{episode.video_id}.{c.language}.{c.ext}" '
        f'srclang="{html.escape(c.language)}" label="{html.escape(c.language)}">'
        for c in episode.captions
    )
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{title}</title>
  <meta property="og:title" content="{title}">
  <meta property="og:description" content="{description}">
</head>
<body>
  <h1>{title}</h1>
  <video controls preload="metadata" width="640" height="360">
    <source src="{_media_path(episode)}" type="{html.escape(source_type)}">{tracks}
  </video>
  <p>{description}</p>
  <p>Published <time datetime="{episode.published.isoformat()}">{episode.published:%d %B %Y}</time></p>
</body>
</html>
"""
    return page.encode()


def render_rss(channel: Channel, episodes: Iterable[GeneratedEpisode], base_url: str) -> bytes:
    """RSS 2.0 with iTunes tags, as podcast hosts publish it: the guid is the video id, the link the
    watch page and the enclosure the media file."""
    items = "".join(_rss_item(episode, base_url) for episode in episodes)
    document = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" xmlns:atom="http://www.w3.org/2005/Atom">
  <channel>
    <title>{escape(channel.title)}</title>
    <link>{escape(base_url)}/</link>
    <description>{escape(channel.title)}, generated for ytingest's tests</description>
    <language>en</language>
    <atom:link href={quoteattr(base_url + "/feed.rss")} rel="self" type="application/rss+xml"/>
    <itunes:author>{escape(channel.title)}</itunes:author>{items}
  </channel>
</rss>
"""
    return document.encode()


def _rss_item(episode: GeneratedEpisode, base_url: str) -> str:
    media_url = quoteattr(base_url + _media_path(episode))
    size = episode.media_path.stat().st_size
    return f"""
    <item>
      <title>{escape(episode.title)}</title>
      <link>{escape(f"{base_url}/watch/{episode.video_id}")}</link>
      <guid isPermaLink="false">{escape(episode.source_id)}</guid>
      <pubDate>{email.utils.format_datetime(episode.published.astimezone(dt.UTC), usegmt=True)}</pubDate>
      <description>{escape(episode.spec.description)}</description>
      <enclosure url={media_url} type="{episode.container.mime_type}" length="{size}"/>
      <itunes:duration>{_clock(episode.duration)}</itunes:duration>
    </item>"""


def render_atom(channel: Channel, episodes: Sequence[GeneratedEpisode], base_url: str) -> bytes:
    """YouTube's channel feed, element for element. As on YouTube, the feed-level <id> and
    <yt:channelId> drop the channel id's "UC" prefix while each entry's <yt:channelId> keeps it.
    Links point at the loopback watch pages instead of youtube.com, and <media:content> at the media
    file instead of YouTube's long-dead Flash player URL."""
    bare_id = channel.channel_id.removeprefix("UC")
    author = _atom_author(channel, base_url)
    # YouTube dates the feed by the channel's creation; the oldest episode stands in for it.
    published = f"\n <published>{_rfc3339(min(e.published for e in episodes))}</published>" if episodes else ""
    entries = "".join(_atom_entry(channel, episode, base_url) for episode in episodes)
    feed_url = quoteattr(f"{base_url}/feeds/videos.xml?channel_id={channel.channel_id}")
    document = f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" xmlns:media="http://search.yahoo.com/mrss/" xmlns="http://www.w3.org/2005/Atom">
 <link rel="self" href={feed_url}/>
 <id>yt:channel:{bare_id}</id>
 <yt:channelId>{bare_id}</yt:channelId>
 <title>{escape(channel.title)}</title>
 <link rel="alternate" href={quoteattr(f"{base_url}/channel/{channel.channel_id}")}/>
 {author}{published}{entries}
</feed>
"""
    return document.encode()


def _atom_author(channel: Channel, base_url: str) -> str:
    uri = escape(f"{base_url}/channel/{channel.channel_id}")
    return f"<author>\n   <name>{escape(channel.title)}</name>\n   <uri>{uri}</uri>\n  </author>"


def _atom_entry(channel: Channel, episode: GeneratedEpisode, base_url: str) -> str:
    media_url = quoteattr(base_url + _media_path(episode))
    return f"""
 <entry>
  <id>yt:video:{episode.video_id}</id>
  <yt:videoId>{episode.video_id}</yt:videoId>
  <yt:channelId>{channel.channel_id}</yt:channelId>
  <title>{escape(episode.title)}</title>
  <link rel="alternate" href={quoteattr(f"{base_url}/watch/{episode.video_id}")}/>
  {_atom_author(channel, base_url)}
  <published>{_rfc3339(episode.published)}</published>
  <updated>{_rfc3339(episode.published)}</updated>
  <media:group>
   <media:title>{escape(episode.title)}</media:title>
   <media:content url={media_url} type="{episode.container.mime_type}" width="64" height="64"/>
   <media:description>{escape(episode.spec.description)}</media:description>
   <media:community>
    <media:starRating count="0" average="0.00" min="1" max="5"/>
    <media:statistics views="0"/>
   </media:community>
  </media:group>
 </entry>"""


def _rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")  # "+00:00", as YouTube writes it


def _clock(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
