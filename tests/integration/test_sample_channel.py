"""The offline media harness: generated ground truth, and the loopback server as real yt-dlp sees it."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
import yt_dlp
from yt_dlp.utils import DownloadError, unsmuggle_url

from ytingest.offline.loopback_server import Fault, LoopbackChannel, Resource
from ytingest.offline.sample_channel import (
    AUTO_CAPTIONS_ID,
    BAD_CAPTIONS_ID,
    LATE_ID,
    SILENT_ID,
    TWO_LANGUAGES_ID,
    Captions,
    Channel,
    GeneratedEpisode,
    vtt_timestamp,
)

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "yt": "http://www.youtube.com/xml/schemas/2015",
    "media": "http://search.yahoo.com/mrss/",
}
_CUE = re.compile(r"^(\d\d:\d\d:\d\d\.\d{3}) --> (\d\d:\d\d:\d\d\.\d{3})[^\n]*\n(.*?)(?:\n\n|\Z)", re.M | re.S)
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback never goes via a proxy


def fetch(url: str, headers: dict[str, str] | None = None, timeout: float = 5) -> tuple[int, Message, bytes]:
    try:
        with _OPENER.open(urllib.request.Request(url, headers=headers or {}), timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def ydl(**params: Any) -> yt_dlp.YoutubeDL:
    return yt_dlp.YoutubeDL({"quiet": True, "no_warnings": True, "noprogress": True, "proxy": "", **params})


def cues(path: Path) -> list[tuple[str, str, str]]:
    return [(m[1], m[2], m[3].rstrip("\n")) for m in _CUE.finditer(path.read_text(encoding="utf-8"))]


def ffprobe(path: Path) -> dict[str, Any]:
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", str(path)],
        capture_output=True,
        check=False,
        timeout=30,
    )
    return json.loads(result.stdout or b"{}")


def episode_with(channel: Channel, captions: Captions) -> GeneratedEpisode:
    return next(e for e in channel.episodes if e.spec.captions is captions)


# --- generated ground truth ----------------------------------------------------------------------


def test_default_channel_is_what_the_demo_needs(sample_channel: Channel) -> None:
    episodes = sample_channel.episodes
    assert len(episodes) == 5
    assert len({e.published.date() for e in episodes}) == 5
    assert sum(len(e.voices) >= 2 for e in episodes) >= 3
    assert {e.spec.captions for e in episodes} == {Captions.NONE, Captions.MANUAL, Captions.AUTO}
    assert json.loads((sample_channel.root / "manifest.json").read_text()) == json.loads(
        json.dumps(sample_channel.manifest())
    )
    for episode in episodes:
        assert 20 <= episode.duration <= 60
        assert episode.media_path.stat().st_size < 1_000_000


def test_media_has_the_ground_truth_audio(sample_channel: Channel) -> None:
    for episode in sample_channel.episodes:
        probe = ffprobe(episode.media_path)
        kinds = {s["codec_type"]: s["codec_name"] for s in probe["streams"]}
        expected = {"mp4": {"video": "h264", "audio": "aac"}, "webm": {"video": "vp8", "audio": "opus"}}
        assert kinds == expected[episode.container]
        assert float(probe["format"]["duration"]) == pytest.approx(episode.duration, abs=0.05)
        assert episode.utterances[-1].end < episode.duration


def test_manual_caption_cues_are_the_utterance_times(sample_channel: Channel) -> None:
    episode = episode_with(sample_channel, Captions.MANUAL)
    expected = [(vtt_timestamp(u.start), vtt_timestamp(u.end), u.text) for u in episode.utterances]
    assert cues(episode.caption("en", "vtt").path) == expected


def test_auto_captions_roll_like_youtube_and_keep_the_times(sample_channel: Channel) -> None:
    episode = episode_with(sample_channel, Captions.AUTO)
    rolling = [c for c in cues(episode.caption("en", "vtt").path) if "<c>" in c[2]]
    assert [(start, end) for start, end, _ in rolling] == [
        (vtt_timestamp(u.start), vtt_timestamp(u.end)) for u in episode.utterances
    ]
    lines = [re.sub(r"<[^>]+>", "", text).split("\n") for _, _, text in rolling]
    assert lines[0][0] == " "
    for previous, current in zip(lines, lines[1:]):
        assert current[0] == previous[1]  # each cue repeats the line before it

    events = json.loads(episode.caption("en", "json3").path.read_text())["events"]
    spoken = [e for e in events if "segs" in e and "aAppend" not in e]
    assert [(e["tStartMs"], e["tStartMs"] + e["dDurationMs"]) for e in spoken] == [
        (round(u.start * 1000), round(u.end * 1000)) for u in episode.utterances
    ]
    assert "".join(s["utf8"] for s in spoken[0]["segs"]) == re.sub(r"[^\w\s']", "", episode.utterances[0].text.lower())


def test_edge_episodes(edge_channel: Channel) -> None:
    silent = edge_channel.episode(SILENT_ID)
    assert silent.utterances == () and silent.duration == 4.0
    assert not edge_channel.episode(BAD_CAPTIONS_ID).caption().path.read_text().startswith("WEBVTT")
    two_languages = edge_channel.episode(TWO_LANGUAGES_ID).captions
    assert [(c.language, c.ext) for c in two_languages] == [("en", "vtt"), ("de", "vtt")]
    assert len(edge_channel.episode(AUTO_CAPTIONS_ID).voices) == 2


# --- feeds -----------------------------------------------------------------------------------------


def test_ytdlp_lists_every_rss_entry(sample_server: LoopbackChannel, sample_channel: Channel) -> None:
    with ydl(extract_flat=True) as client:
        playlist = client.extract_info(sample_server.rss_url, download=False)
    entries = {unsmuggle_url(e["url"])[1]["force_videoid"]: e for e in playlist["entries"]}
    assert set(entries) == {e.video_id for e in sample_channel.episodes}
    for episode in sample_channel.episodes:
        entry = entries[episode.video_id]
        assert unsmuggle_url(entry["url"])[0] == sample_server.media_url(episode.video_id)
        assert entry["title"] == episode.title
        assert entry["timestamp"] == int(episode.published.timestamp())
        assert entry["duration"] == round(episode.duration)
        assert "id" not in entry

    newest = playlist["entries"][0]
    with ydl() as client:
        resolved = client.extract_info(newest["url"], download=False)
    assert resolved["id"] == sample_channel.episodes[-1].video_id  # the guid, smuggled through


def test_atom_feed_is_shaped_like_youtubes(sample_server: LoopbackChannel, sample_channel: Channel) -> None:
    status, headers, body = fetch(sample_server.atom_url)
    assert status == 200
    feed = ET.fromstring(body)
    channel_id = sample_channel.channel_id
    assert feed.findtext("yt:channelId", namespaces=NS) == channel_id.removeprefix("UC")
    assert feed.findtext("atom:id", namespaces=NS) == f"yt:channel:{channel_id.removeprefix('UC')}"
    entries = feed.findall("atom:entry", NS)
    newest_first = sorted(sample_channel.episodes, key=lambda e: e.published, reverse=True)
    assert [e.findtext("yt:videoId", namespaces=NS) for e in entries] == [e.video_id for e in newest_first]
    for entry, episode in zip(entries, newest_first):
        assert entry.findtext("atom:id", namespaces=NS) == f"yt:video:{episode.video_id}"
        assert entry.findtext("yt:channelId", namespaces=NS) == channel_id
        assert entry.findtext("atom:published", namespaces=NS) == episode.published.isoformat()
        assert entry.findtext("media:group/media:title", namespaces=NS) == episode.title
        link = entry.find("atom:link[@rel='alternate']", NS)
        assert link is not None and link.get("href") == sample_server.watch_url(episode.video_id)

    assert fetch(sample_server.atom_url.replace(channel_id, "UC" + "x" * 22))[0] == 404


def test_feeds_fail_and_recover_and_grow_on_publish(edge_server: LoopbackChannel, edge_channel: Channel) -> None:
    def listed_ids() -> tuple[list[str], list[str]]:
        rss = ET.fromstring(fetch(edge_server.rss_url)[2])
        atom = ET.fromstring(fetch(edge_server.atom_url)[2])
        return (
            [item.findtext("guid") or "" for item in rss.iter("item")],
            [entry.findtext("yt:videoId", namespaces=NS) or "" for entry in atom.iter(f"{{{NS['atom']}}}entry")],
        )

    rss_ids, atom_ids = listed_ids()
    assert LATE_ID not in rss_ids and sorted(rss_ids) == sorted(atom_ids) and len(rss_ids) == 4
    assert fetch(edge_server.watch_url(LATE_ID))[0] == 404

    edge_server.set_feed_fault(Fault.server_error())
    assert fetch(edge_server.rss_url)[0] == 500
    assert fetch(edge_server.atom_url)[0] == 500
    edge_server.set_feed_fault(None)

    edge_server.publish(LATE_ID)
    rss_ids, atom_ids = listed_ids()
    assert rss_ids[0] == atom_ids[0] == LATE_ID  # the newest comes first
    assert fetch(edge_server.watch_url(LATE_ID))[0] == 200
    assert edge_server.statuses(edge_server.rss_url) == [200, 500, 200]


# --- watch pages and downloads ---------------------------------------------------------------------


def test_ytdlp_reads_a_watch_page(sample_server: LoopbackChannel, sample_channel: Channel) -> None:
    episode = episode_with(sample_channel, Captions.AUTO)
    with ydl() as client:
        info = client.extract_info(sample_server.watch_url(episode.video_id), download=False)
    assert info["id"] == f"{episode.video_id}-1"  # the generic html5 extractor numbers its embeds
    assert info["_old_archive_ids"] == [f"generic {episode.video_id}"]
    assert info["timestamp"] == int(episode.published.timestamp())  # from Last-Modified
    assert [(f["url"], f["ext"]) for f in info["formats"]] == [
        (sample_server.media_url(episode.video_id), episode.container.value)
    ]
    assert [(s["url"], s["ext"]) for s in info["subtitles"]["en"]] == [
        (sample_server.caption_url(episode.video_id, "en", ext), ext) for ext in ("json3", "vtt")
    ]
    assert "automatic_captions" not in info or not info["automatic_captions"]


def test_ytdlp_download_is_identical_to_the_source(
    sample_server: LoopbackChannel, sample_channel: Channel, tmp_path: Path
) -> None:
    episode = episode_with(sample_channel, Captions.MANUAL)
    params = {"outtmpl": str(tmp_path / "%(id)s.%(ext)s"), "writesubtitles": True, "subtitleslangs": ["en"]}
    with ydl(**params) as client:
        info = client.extract_info(sample_server.watch_url(episode.video_id), download=True)
    assert (tmp_path / f"{info['id']}.{episode.container.value}").read_bytes() == episode.media_path.read_bytes()
    assert (tmp_path / f"{info['id']}.en.vtt").read_bytes() == episode.caption("en", "vtt").path.read_bytes()

    direct = tmp_path / "direct"
    with ydl(outtmpl=str(direct / "%(id)s.%(ext)s")) as client:
        info = client.extract_info(sample_server.media_url(episode.video_id), download=True)
    assert info["id"] == episode.video_id  # a direct media URL's id is its file name's stem
    assert (direct / episode.media_path.name).read_bytes() == episode.media_path.read_bytes()


def test_byte_ranges(sample_server: LoopbackChannel, sample_channel: Channel) -> None:
    episode = sample_channel.episodes[0]
    url, data = sample_server.media_url(episode.video_id), episode.media_path.read_bytes()
    status, headers, body = fetch(url, {"Range": "bytes=10-19"})
    assert (status, body, headers["Content-Range"]) == (206, data[10:20], f"bytes 10-19/{len(data)}")
    assert fetch(url, {"Range": "bytes=-5"})[2] == data[-5:]
    assert fetch(url, {"Range": f"bytes={len(data)}-"})[0] == 416
    assert fetch(url, {"Range": "bytes=0-1,5-6"})[:3:2] == (200, data)  # multiple ranges: the whole file


# --- faults --------------------------------------------------------------------------------------


def test_status_faults(sample_channel: Channel) -> None:
    first, second = sample_channel.episodes[:2]
    faults = {first.video_id: Fault.not_found()}
    with LoopbackChannel(sample_channel, faults=faults) as server:
        server.set_fault(second.video_id, Fault.forbidden(), on=Resource.WATCH)  # a private video's page
        assert fetch(server.media_url(first.video_id))[0] == 404
        assert fetch(server.watch_url(first.video_id))[0] == 200
        with ydl() as client, pytest.raises(DownloadError, match="403"):
            client.extract_info(server.watch_url(second.video_id), download=False)
        assert fetch(server.media_url(second.video_id))[0] == 200


def test_rate_limit_then_ok(sample_server: LoopbackChannel, sample_channel: Channel) -> None:
    episode = sample_channel.episodes[0]
    sample_server.set_fault(episode.video_id, Fault.rate_limited(times=2, retry_after_s=3))
    url = sample_server.media_url(episode.video_id)
    first, second, third = fetch(url), fetch(url), fetch(url)
    assert [first[0], second[0], third[0]] == [429, 429, 200]
    assert first[1]["Retry-After"] == "3"
    assert third[2] == episode.media_path.read_bytes()
    assert sample_server.statuses(url) == [429, 429, 200]


def test_ytdlp_retries_server_errors(sample_server: LoopbackChannel, sample_channel: Channel, tmp_path: Path) -> None:
    episode = sample_channel.episodes[0]
    sample_server.set_fault(episode.video_id, Fault.server_error(times=2))
    with ydl(outtmpl=str(tmp_path / "%(id)s.%(ext)s"), retries=3) as client:
        info = client.extract_info(sample_server.watch_url(episode.video_id), download=True)
    assert Path(info["requested_downloads"][0]["filepath"]).read_bytes() == episode.media_path.read_bytes()
    assert sample_server.statuses(sample_server.media_url(episode.video_id)) == [500, 500, 200]


def test_truncated_body_is_shorter_than_announced(sample_server: LoopbackChannel, sample_channel: Channel) -> None:
    episode = sample_channel.episodes[0]
    size = episode.media_path.stat().st_size
    sample_server.set_fault(episode.video_id, Fault.truncated(fraction=0.25))
    connection = http.client.HTTPConnection("127.0.0.1", int(sample_server.base_url.rsplit(":", 1)[1]), timeout=5)
    connection.request("GET", f"/media/{episode.media_path.name}")
    response = connection.getresponse()
    assert response.status == 200 and int(response.headers["Content-Length"]) == size
    with pytest.raises(http.client.IncompleteRead) as raised:
        response.read()
    assert len(raised.value.partial) == size // 4
    connection.close()


def test_ytdlp_resumes_a_truncated_download(
    sample_server: LoopbackChannel, sample_channel: Channel, tmp_path: Path
) -> None:
    episode = sample_channel.episodes[1]
    sample_server.set_fault(episode.video_id, Fault.truncated(times=1))
    with ydl(outtmpl=str(tmp_path / "%(id)s.%(ext)s"), retries=2) as client:
        info = client.extract_info(sample_server.watch_url(episode.video_id), download=True)
    assert Path(info["requested_downloads"][0]["filepath"]).read_bytes() == episode.media_path.read_bytes()
    assert sample_server.statuses(sample_server.media_url(episode.video_id)) == [200, 206]  # resumed with a Range


def test_corrupt_and_zero_length_bodies(
    sample_server: LoopbackChannel, sample_channel: Channel, tmp_path: Path
) -> None:
    corrupt, empty = sample_channel.episodes[:2]
    sample_server.set_fault(corrupt.video_id, Fault.corrupt())
    sample_server.set_fault(empty.video_id, Fault.zero_length())

    status, headers, body = fetch(sample_server.media_url(corrupt.video_id))
    assert (status, headers["Content-Type"], len(body)) == (200, "video/mp4", corrupt.media_path.stat().st_size)
    assert body != corrupt.media_path.read_bytes()
    (tmp_path / "corrupt.mp4").write_bytes(body)
    assert not ffprobe(tmp_path / "corrupt.mp4").get("streams")

    status, headers, body = fetch(sample_server.media_url(empty.video_id))
    assert (status, headers["Content-Length"], body) == (200, "0", b"")


def test_slow_body_is_complete_but_slow(sample_server: LoopbackChannel, sample_channel: Channel) -> None:
    episode = sample_channel.episodes[0]
    sample_server.set_fault(episode.video_id, Fault.slow(stall_s=0.3, chunks=3))
    started = time.monotonic()
    assert fetch(sample_server.media_url(episode.video_id))[2] == episode.media_path.read_bytes()
    assert time.monotonic() - started >= 0.9
    with pytest.raises(TimeoutError):
        fetch(sample_server.media_url(episode.video_id), timeout=0.1)


def test_captions_on_the_edge_channel(edge_server: LoopbackChannel) -> None:
    german = fetch(edge_server.caption_url(TWO_LANGUAGES_ID, "de", "vtt"))
    assert german[0] == 200 and german[1]["Content-Type"].startswith("text/vtt")
    assert fetch(edge_server.caption_url(SILENT_ID))[0] == 404
    with ydl() as client:
        info = client.extract_info(edge_server.watch_url(TWO_LANGUAGES_ID), download=False)
    assert sorted(info["subtitles"]) == ["de", "en"]
    edge_server.set_fault(AUTO_CAPTIONS_ID, Fault.not_found(times=1), on=Resource.CAPTIONS)
    url = edge_server.caption_url(AUTO_CAPTIONS_ID, "en", "json3")
    assert [fetch(url)[0], fetch(url)[0]] == [404, 200]


def test_shutdown_cuts_slow_bodies_short(sample_channel: Channel) -> None:
    episode = sample_channel.episodes[0]
    server = LoopbackChannel(sample_channel, faults={episode.video_id: Fault.slow(stall_s=2.0, chunks=10)})
    with server:
        url = server.media_url(episode.video_id)
        errors: list[Exception] = []

        def read() -> None:
            try:
                fetch(url)
            except http.client.IncompleteRead as error:
                errors.append(error)

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        time.sleep(0.2)  # let the request reach its first stall
        started = time.monotonic()
    assert time.monotonic() - started < 2.0
    reader.join(timeout=5)
    assert not reader.is_alive() and len(errors) == 1
    with pytest.raises(urllib.error.URLError):
        _OPENER.open(url, timeout=1)
