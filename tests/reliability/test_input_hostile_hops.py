"""Fault matrix, what yt-dlp fetches by itself: redirect hops its handlers follow (a page or a media file
on a public-looking server that redirects to the metadata service or a private network), a DNS name
that rebinds between the check and the connection, and a web page too large for its extractors. Real
yt-dlp and ffmpeg against loopback servers; each hostile video fails alone with a one-line reason naming
the rule and its setting, and a good video on the same server still downloads."""

from __future__ import annotations

import _socket
import datetime as dt
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from resources.media import MediaSource
from ytingest.core.media_errors import MediaError
from ytingest.offline.loopback_server import LoopbackChannel, Resource
from ytingest.offline.sample_channel import generate_channel, quick_episode

AT = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)
GOOD, HOSTILE = "goodHop0001", "hostileHop1"
METADATA, PRIVATE = "169.254.169.254", "10.255.255.1"
PUBLIC = "93.184.216.34"  # what the rebinding name shows when checked; never connected to


@pytest.fixture(scope="module")
def channel(tmp_path_factory):
    episodes = [quick_episode(vid, published=AT) for vid in (GOOD, HOSTILE)]
    return generate_channel(tmp_path_factory.mktemp("hostile-hops"), episodes)


@pytest.fixture
def site(channel) -> Iterator[LoopbackChannel]:
    with LoopbackChannel(channel) as served:
        yield served


@pytest.fixture
def redirector() -> Iterator[dict[str, str]]:
    """A loopback server answering every path in the returned dict with a 302 to its value."""
    hops: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", hops[self.path])
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_HEAD = do_GET

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hops["base"] = f"http://127.0.0.1:{server.server_port}"
    yield hops
    server.shutdown()
    server.server_close()


@pytest.fixture
def connections(monkeypatch) -> list[str]:
    """Every address a socket connects to (recorded, not faked): the refusals must come before connecting."""
    seen: list[str] = []
    real_connect = socket.socket.connect

    def connect(sock: socket.socket, address) -> None:
        if isinstance(address, tuple):
            seen.append(address[0])
        real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


def _download(site: LoopbackChannel, video_id: str, urls: list[str], tmp_path) -> str:
    """The video's outcome: "ok", or the reason it failed."""
    try:
        MediaSource(retries=0).download_audio(video_id, urls, tmp_path / "audio", ["en"])
    except MediaError as exc:
        return exc.reason
    return "ok"


def _watch_page_of(media_url: str) -> bytes:
    return (
        "<!DOCTYPE html><html><head><title>Hop</title></head><body><video controls>"
        f'<source src="{media_url}" type="video/mp4"></video></body></html>'
    ).encode()


def test_a_redirect_to_a_private_address_is_refused_before_connecting(site, redirector, connections, tmp_path):
    # The page itself redirects to the metadata service.
    redirector["/page"] = f"http://{METADATA}/latest/meta-data/"
    reason = _download(site, HOSTILE, [redirector["base"] + "/page"], tmp_path)
    assert f"private, link-local or metadata address ({METADATA})" in reason, reason
    assert "ALLOW_PRIVATE_NETWORKS" in reason and "\n" not in reason

    # The page is fine; the media it names redirects into a private network (a hop yt-dlp's downloader follows).
    redirector["/media.mp4"] = f"http://{PRIVATE}/media.mp4"
    site.set_body(HOSTILE, _watch_page_of(redirector["base"] + "/media.mp4"), on=Resource.WATCH)
    reason = _download(site, HOSTILE, [site.watch_url(HOSTILE)], tmp_path)
    assert f"private, link-local or metadata address ({PRIVATE})" in reason, reason
    assert "ALLOW_PRIVATE_NETWORKS" in reason and "\n" not in reason

    assert _download(site, GOOD, [site.watch_url(GOOD)], tmp_path) == "ok"
    assert METADATA not in connections and PRIVATE not in connections, connections
    assert not list((tmp_path / "audio").glob(f"{HOSTILE}*")), "nothing of the refused video is kept"


def test_a_name_that_rebinds_to_a_private_address_is_refused_at_connect(site, connections, monkeypatch, tmp_path):
    """Fake boundary: the system resolver (`_socket.getaddrinfo`, below everything in Python that resolves).
    A DNS server that answers a public address first and a private one next is unreachable offline; the
    fake answers the same way for one name and passes every other name to the real resolver."""
    name = "rebinding.example"
    answers: list[str] = []
    real_getaddrinfo = _socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host != name:
            return real_getaddrinfo(host, port, *args, **kwargs)
        address = PUBLIC if not answers else PRIVATE
        answers.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port or 0))]

    monkeypatch.setattr(_socket, "getaddrinfo", getaddrinfo)
    reason = _download(site, HOSTILE, [site.watch_url(HOSTILE).replace("127.0.0.1", name)], tmp_path)
    assert answers[0] == PUBLIC and PRIVATE in answers  # it was checked while public, then rebound
    assert f"connection to {name!r} refused" in reason and f"({PRIVATE})" in reason, reason
    assert "ALLOW_PRIVATE_NETWORKS" in reason
    assert PRIVATE not in connections, connections
    assert _download(site, GOOD, [site.watch_url(GOOD)], tmp_path) == "ok"


def test_an_oversized_page_is_refused_but_media_is_not_capped(site, monkeypatch, tmp_path):
    cap = 16 * 1024
    monkeypatch.setenv("PAGE_MAX_BYTES", str(cap))
    media_size = len(site.channel.episodes[0].media_path.read_bytes())
    assert media_size > cap  # so the good video shows that media downloads are not held to the page cap
    filler = "<p>" + "x" * 1000 + "</p>\n"
    site.set_body(
        HOSTILE,
        _watch_page_of(f"/media/{HOSTILE}.mp4").replace(b"<video", (filler * 3000).encode() + b"<video"),
        on=Resource.WATCH,
    )
    reason = _download(site, HOSTILE, [site.watch_url(HOSTILE)], tmp_path)
    assert f"larger than {cap} bytes (PAGE_MAX_BYTES)" in reason and "\n" not in reason, reason
    assert _download(site, GOOD, [site.watch_url(GOOD)], tmp_path) == "ok"


def test_ffmpeg_never_fetches_what_a_downloaded_playlist_names(tmp_path):
    """A "media" file that is an HLS playlist: ffmpeg would open its segment URLs itself, past every check
    above. Conversion reads local files only, so the video fails as unreadable and nothing is fetched."""
    from ytingest.core.audio_files import convert_to_wav

    asked: list[str] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        playlist = tmp_path / "source.mp3"
        segment = f"http://127.0.0.1:{server.server_port}/segment.ts"
        playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{segment}\n#EXT-X-ENDLIST\n")
        with pytest.raises(MediaError, match="corrupt or unreadable media"):
            convert_to_wav(playlist, tmp_path / "audio.wav", 30)
    finally:
        server.shutdown()
        server.server_close()
    assert asked == []


def test_media_yt_dlp_would_hand_to_ffmpeg_is_refused(site, tmp_path):
    """An HLS stream with a feature yt-dlp's own downloader does not take (SAMPLE-AES): yt-dlp would give
    it to ffmpeg, whose fetches pass no check. It is refused after reading the manifest, before any segment."""
    asked: list[str] = []
    files = {
        "/stream.m3u8": "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n"
        '#EXT-X-KEY:METHOD=SAMPLE-AES,URI="/key"\n#EXTINF:10,\n/segment0.ts\n#EXT-X-ENDLIST\n',
    }

    class Files(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            body = files.get(self.path, "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/vnd.apple.mpegurl")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Files)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        stream = f"http://127.0.0.1:{server.server_port}/stream.m3u8"
        page = (
            "<!DOCTYPE html><html><head><title>Stream</title></head><body><video controls>"
            f'<source src="{stream}" type="application/x-mpegURL"></video></body></html>'
        ).encode()
        site.set_body(HOSTILE, page, on=Resource.WATCH)
        reason = _download(site, HOSTILE, [site.watch_url(HOSTILE)], tmp_path)
    finally:
        server.shutdown()
        server.server_close()
    assert "HLS stream" in reason and "ffmpeg" in reason and "\n" not in reason, reason
    assert "/segment0.ts" not in asked and "/key" not in asked, asked
    assert _download(site, GOOD, [site.watch_url(GOOD)], tmp_path) == "ok"
