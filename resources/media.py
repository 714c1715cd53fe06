"""yt-dlp and ffmpeg behind one Dagster resource: list a channel, fetch a feed, download a video's audio.

Errors are sorted into transient (429, 5xx, resets, timeouts: retried with backoff) and permanent
(404, private, removed, corrupt: recorded as the video's failure reason).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import dagster as dg

from ytingest.core.audio_files import (
    DownloadedAudio,
    SavedCaption,
    convert_to_wav,
    sha256_of,
    wav_duration,
)
from ytingest.core.feeds import parse_feed
from ytingest.core.identifiers import ChannelSpec, validate_video_id
from ytingest.core.listing import (
    ListedVideo,
    Listing,
    listing_from_info,
    video_from_entry,
)
from ytingest.core.media_errors import MAX_RETRY_AFTER_SECONDS, MediaError, classify
from ytingest.core.urls import UnsafeUrl, check_url, is_allowed, without_credentials
from ytingest.settings import Settings, get_settings

log = logging.getLogger("ytingest.media")

class _YtDlpLogger:
    """Route yt-dlp's chatter to logging; its errors surface through exceptions instead."""

    def debug(self, msg: str) -> None:
        log.debug(msg)

    info = debug

    def warning(self, msg: str) -> None:
        log.warning(msg)

    def error(self, msg: str) -> None:
        log.debug(msg)


class MediaSource(dg.ConfigurableResource):
    """yt-dlp + ffmpeg. Unset fields take their values from settings (DOWNLOAD_RETRIES and friends)."""

    retries: int | None = None
    backoff_seconds: float | None = None
    socket_timeout_seconds: float | None = None

    def _settings(self) -> Settings:
        return get_settings()

    def _retries(self) -> int:
        return self.retries if self.retries is not None else self._settings().download_retries

    def _backoff(self) -> float:
        return self.backoff_seconds if self.backoff_seconds is not None else self._settings().retry_backoff_seconds

    def _timeout(self) -> float:
        if self.socket_timeout_seconds is not None:
            return self.socket_timeout_seconds
        return self._settings().socket_timeout_seconds

    def _ydl_params(self, **extra: Any) -> dict[str, Any]:
        settings = self._settings()
        params: dict[str, Any] = {
            "quiet": True,
            "no_warnings": False,
            "noprogress": True,
            "logger": _YtDlpLogger(),
            "socket_timeout": self._timeout(),
            # Retries are ours (with backoff and classification); yt-dlp's would multiply them.
            "retries": 0,
            "fragment_retries": 0,
            "extractor_retries": 0,
            "noplaylist": True,
            "cachedir": False,
        }
        if settings.ytdlp_cookies_file is not None:
            params["cookiefile"] = str(settings.ytdlp_cookies_file)
        params.update(extra)
        return params

    def _with_retries(self, what: str, func, *args, retries: int | None = None, deadline: float | None = None):
        """`func(*args, cancel)` with retries; with a `deadline` (time.monotonic()), all attempts and waits
        end by then, whatever the server does (a drip-fed body never times a read out)."""
        retries = self._retries() if retries is None else retries
        attempt = 0
        while True:
            attempt += 1
            try:
                return _within(deadline, func, *args), attempt
            except Exception as exc:  # noqa: BLE001 - every failure is classified below
                error = classify(exc)
                if not error.transient or attempt > retries:
                    if error.transient:
                        error = MediaError(f"{error.reason} (gave up after {attempt} attempts)", transient=True)
                    raise error from None
                delay = self._backoff() * 2 ** (attempt - 1)
                if error.retry_after is not None:  # the server's word beats our guess, within reason
                    delay = max(delay, min(error.retry_after, MAX_RETRY_AFTER_SECONDS))
                if deadline is not None and time.monotonic() + delay >= deadline:
                    raise MediaError(f"{error.reason} (gave up after {attempt} attempts: deadline)", transient=True)
                log.warning("%s: %s; retry %d in %.1fs", what, error.reason, attempt, delay)
                time.sleep(delay)

    # --- listing -----------------------------------------------------------------------
    def fetch(self, url: str, retries: int | None = None) -> bytes:
        """GET a feed through yt-dlp's networking (its cookies, headers and proxy settings), with retries,
        within FETCH_DEADLINE_SECONDS and FEED_MAX_BYTES."""
        from resources.ytdlp_guard import GuardedYoutubeDL

        settings = self._settings()
        _checked(url, "feed URL")

        def get(cancel: threading.Event) -> bytes:
            with GuardedYoutubeDL(self._ydl_params(), settings, page_max_bytes=None) as ydl:  # FEED_MAX_BYTES below
                return _read_bounded(ydl.urlopen(url), settings.feed_max_bytes, "feed", cancel)

        deadline = time.monotonic() + settings.fetch_deadline_seconds
        data, _ = self._with_retries(f"fetch {without_credentials(url)}", get, retries=retries, deadline=deadline)
        return data

    def list_channel(self, spec: ChannelSpec, limit: int | None = None) -> Listing:
        """The videos the source lists (the newest `limit`, or all). Feeds are parsed here, the rest by yt-dlp."""
        if spec.kind == "feed":
            feed_url = spec.feed_url or spec.url
            feed = parse_feed(self.fetch(feed_url), feed_url)
            videos = [
                ListedVideo(
                    source_id=e.source_id,
                    extractor=e.extractor,
                    url=e.url,
                    media_url=e.media_url,
                    title=e.title,
                    published=e.published,
                    date_exact=e.published is not None,
                    duration_seconds=e.duration_seconds,
                    origin=feed_url,
                )
                for e in feed.entries[:limit]
            ]
            return Listing(videos=videos, title=feed.title, youtube_channel_id=feed.youtube_channel_id)
        return self._list_with_ytdlp(spec, limit)

    def _list_with_ytdlp(self, spec: ChannelSpec, limit: int | None) -> Listing:
        from resources.ytdlp_guard import GuardedYoutubeDL

        url = spec.url
        if spec.kind == "youtube_channel" and not re.search(r"/(videos|streams|shorts|podcasts)/?$", url):
            url = url.rstrip("/") + "/videos"
        params = self._ydl_params(
            extract_flat="in_playlist",
            noplaylist=False,
            # Flat listings carry no upload dates; yt-dlp can estimate them from "3 days ago".
            extractor_args={"youtubetab": {"approximate_date": [""]}},
        )
        if limit is not None:
            params["playlistend"] = limit

        settings = self._settings()

        def extract(cancel: threading.Event) -> dict[str, Any]:
            with GuardedYoutubeDL(params, settings, page_max_bytes=settings.page_max_bytes) as ydl:
                return ydl.extract_info(url, download=False) or {}

        info, _ = self._with_retries(f"list {spec.key}", extract)
        listing = listing_from_info(info)
        kept = [dataclasses.replace(v, origin=spec.url) for v in listing.videos if is_allowed(v.url, settings)]
        return dataclasses.replace(listing, videos=kept)

    def resolve_video(self, url: str) -> ListedVideo:
        """Per-video metadata: exact publication time and duration where the flat listing only estimated them."""
        from resources.ytdlp_guard import GuardedYoutubeDL

        _checked(url, "video URL")
        settings = self._settings()

        def extract(cancel: threading.Event) -> dict[str, Any]:
            with GuardedYoutubeDL(self._ydl_params(), settings, page_max_bytes=settings.page_max_bytes) as ydl:
                return ydl.extract_info(url, download=False, process=False) or {}

        info, _ = self._with_retries(f"resolve {without_credentials(url)}", extract)
        video = video_from_entry(info, exact=True)
        if video is None:
            raise MediaError(f"no video metadata at {url}")
        return video

    # --- download ----------------------------------------------------------------------
    def download_audio(
        self, video_id: str, urls: list[str], audio_dir: Path, languages: list[str]
    ) -> DownloadedAudio:
        """Download one video's audio as 16 kHz mono WAV at audio_dir/<video_id>.wav, plus its captions.

        `urls` are tried in order; a later one is used only when yt-dlp finds no media at an earlier one
        (an RSS item's web page before its enclosure). Files appear only when complete.
        """
        video_id = validate_video_id(video_id)
        audio_dir.mkdir(parents=True, exist_ok=True)
        # A work directory of its own, locked while in use: two runs of one partition may download the
        # same video at once, and neither may delete the other's files. Directories whose lock is free
        # were left by a killed process and are removed.
        while True:
            work = Path(tempfile.mkdtemp(prefix=f".{video_id}.", suffix=".work", dir=audio_dir))
            try:
                held = _lock_work_dir(work, wait=True)
            except FileNotFoundError:
                continue  # another download's clean-up took it between mkdtemp and the lock
            if work.is_dir():
                break
            os.close(held)  # the same, between the open and the lock
        _remove_abandoned_work_dirs(audio_dir, video_id, keep=work)
        deadline = time.monotonic() + self._settings().download_deadline_seconds
        try:
            last_error: MediaError | None = None
            for url in dict.fromkeys(u for u in urls if u):
                try:
                    _checked(url, "media URL")  # refused: the item's next URL (its enclosure) may do
                    (info, source), attempts = self._with_retries(
                        f"download {video_id}", self._download_media, url, work, languages, deadline=deadline
                    )
                except MediaError as exc:
                    last_error = exc
                    if exc.unsupported:
                        continue
                    raise
                wav = work / "audio.wav"
                convert_to_wav(source, wav, self._settings().convert_deadline_seconds)
                duration = wav_duration(wav)
                if duration <= 0:
                    raise MediaError("no audio: the media decodes to 0 seconds")
                captions, caption_errors = self._save_captions(info, video_id, audio_dir, work)
                final = audio_dir / f"{video_id}.wav"
                os.replace(wav, final)
                return DownloadedAudio(
                    path=final,
                    duration_seconds=duration,
                    sha256=sha256_of(final),
                    bytes=final.stat().st_size,
                    source_url=url,
                    captions=captions,
                    caption_errors=caption_errors,
                    attempts=attempts,
                )
            raise last_error or MediaError("no URL to download")
        finally:
            shutil.rmtree(work, ignore_errors=True)
            os.close(held)

    def _download_media(
        self, url: str, work: Path, languages: list[str], cancel: threading.Event
    ) -> tuple[dict[str, Any], Path]:
        from resources.ytdlp_guard import GuardedYoutubeDL, external_fetcher

        def stop_when_abandoned(progress: dict[str, Any]) -> None:
            if cancel.is_set():  # the deadline passed and the caller has moved on
                raise MediaError("download abandoned at its deadline")

        for leftover in work.iterdir():  # a retried attempt starts from nothing
            if leftover.is_file():
                leftover.unlink()
        params = self._ydl_params(
            format="bestaudio/best",
            outtmpl={"default": str(work / "source.%(ext)s")},
            writesubtitles=True,
            writeautomaticsub=True,
            subtitleslangs=languages,
            subtitlesformat="json3/vtt/srv3/best",
            progress_hooks=[stop_when_abandoned],
        )
        settings = self._settings()
        with GuardedYoutubeDL(params, settings, page_max_bytes=settings.page_max_bytes) as ydl:
            info = ydl.extract_info(url, download=False)
            if not info:
                raise MediaError(f"yt-dlp returned nothing for {without_credentials(url)}")
            if info.get("_type") == "playlist":
                raise MediaError(f"{without_credentials(url)} is a playlist, not a single video")
            # What the page pointed at (or redirected to) obeys the same rule as the URL we were given.
            for chosen in [info, *(info.get("requested_formats") or [])]:
                if chosen.get("url"):
                    _checked(chosen["url"], "media URL")
            for chosen in info.get("requested_formats") or [info]:
                if why := external_fetcher(ydl, chosen):
                    # Its fetches would pass no URL check; the item's next URL (its enclosure) may do.
                    raise MediaError(f"not downloaded: {why}, past the URL rule", unsupported=True)
            requested_subtitles = info.get("requested_subtitles") or {}
            # Caption failures must not fail the audio, so captions are fetched separately afterwards.
            ydl.params["writesubtitles"] = False
            ydl.params["writeautomaticsub"] = False
            # The pages are read; what follows is the media (bounded by DOWNLOAD_DEADLINE_SECONDS, not
            # PAGE_MAX_BYTES) and the captions (CAPTION_MAX_BYTES).
            ydl.page_max_bytes = None
            info = ydl.process_ie_result(info, download=True)
            info["requested_subtitles"] = requested_subtitles
            downloads = info.get("requested_downloads") or []
            paths = [Path(d["filepath"]) for d in downloads if d.get("filepath")]
            source = next((p for p in paths if p.exists()), None)
            if source is None:
                raise MediaError("yt-dlp reported success but wrote no media file")
            if source.stat().st_size == 0:
                raise MediaError("the downloaded file is empty")
            _fetch_caption_payloads(ydl, requested_subtitles, settings)
            return info, source

    def _save_captions(
        self, info: dict[str, Any], video_id: str, audio_dir: Path, work: Path
    ) -> tuple[list[SavedCaption], list[str]]:
        manual = set((info.get("subtitles") or {}).keys())
        saved, errors = [], []
        for lang, sub in (info.get("requested_subtitles") or {}).items():
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,32}", lang or ""):
                errors.append(f"skipped caption language {lang!r}: not a language code")
                continue
            if sub.get("error"):
                errors.append(f"{lang}: {sub['error']}")
                continue
            data = sub.get("data")
            if not data:
                continue
            fmt = re.sub(r"[^a-z0-9]", "", str(sub.get("ext") or "vtt").lower())[:10] or "vtt"
            kind = "manual" if lang in manual else "automatic"
            path = audio_dir / f"{video_id}.{kind}.{lang}.{fmt}"
            tmp = work / f"{path.name}.tmp"  # this download's own: a concurrent one writes the same name
            tmp.write_text(data, encoding="utf-8")
            os.replace(tmp, path)
            saved.append(SavedCaption(lang, kind, fmt, path, sha256_of(path)))
        return saved, errors


def _fetch_caption_payloads(ydl: Any, requested: dict[str, dict[str, Any]], settings: Settings) -> None:
    """Fill each requested caption's `data` (or `error`) through yt-dlp's opener (its cookies and headers),
    each within FETCH_DEADLINE_SECONDS and CAPTION_MAX_BYTES."""
    for lang, sub in requested.items():
        if sub.get("data") is not None:
            continue
        try:
            url = _checked(sub.get("url") or "", "caption URL")

            def get(cancel: threading.Event, url=url) -> bytes:
                return _read_bounded(ydl.urlopen(url), settings.caption_max_bytes, "caption file", cancel)

            raw = _within(time.monotonic() + settings.fetch_deadline_seconds, get)
        except Exception as exc:  # noqa: BLE001 - a caption failure is recorded, never fatal
            sub["error"] = classify(exc).reason
            log.warning("captions %s: %s", lang, sub["error"])
            continue
        try:  # caption formats are UTF-8 by definition; guessing would store mojibake as the transcript
            sub["data"] = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            sub["error"] = f"not UTF-8 (byte {exc.start}); captions not saved"
            log.warning("captions %s: %s", lang, sub["error"])


def _checked(url: str, what: str) -> str:
    """`url` if the URL rule allows it; else a MediaError that lets a download try the item's next URL."""
    try:
        return check_url(url, what)
    except UnsafeUrl as exc:
        raise MediaError(str(exc), unsupported=True) from None


def _within(deadline: float | None, func, *args):
    """`func(*args, cancel)`, given up at `deadline` (time.monotonic()): the call runs in a daemon thread,
    which is told to stop (`cancel`) and left to end at its next read; nothing waits for it."""
    cancel = threading.Event()
    if deadline is None:
        return func(*args, cancel)
    outcome: dict[str, Any] = {}

    def call() -> None:
        try:
            outcome["value"] = func(*args, cancel)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller below
            outcome["error"] = exc

    worker = threading.Thread(target=call, name="ytingest-deadline", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    if worker.is_alive():
        cancel.set()
        raise MediaError("timed out: not done by its overall deadline", transient=True)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _read_bounded(response: Any, max_bytes: int, what: str, cancel: threading.Event) -> bytes:
    """The body of `response`, refused past `max_bytes`; where a redirect led is checked like any URL."""
    with response:
        final = getattr(response, "url", None)
        if final:
            _checked(final, f"{what} redirect target")
        chunks, size = [], 0
        while not cancel.is_set():
            chunk = response.read(64 * 1024)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > max_bytes:
                raise MediaError(f"{what} larger than {max_bytes} bytes; not read")
            chunks.append(chunk)
        raise MediaError(f"{what} abandoned at its deadline")


def _lock_work_dir(path: Path, *, wait: bool) -> int:
    """An exclusive flock on a work directory, held until the returned descriptor is closed (or the
    process dies). Raises BlockingIOError when `wait` is false and another process holds it."""
    import fcntl

    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _remove_abandoned_work_dirs(audio_dir: Path, video_id: str, keep: Path) -> None:
    """Remove this video's work directories that no live process holds (left by a killed download)."""
    for path in audio_dir.glob(f".{video_id}.*work"):
        if path == keep or not path.is_dir():
            continue
        try:
            fd = _lock_work_dir(path, wait=False)
        except (BlockingIOError, FileNotFoundError):
            continue  # in use by another download, or already gone
        try:
            shutil.rmtree(path, ignore_errors=True)
        finally:
            os.close(fd)


