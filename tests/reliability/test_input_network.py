"""Input faults, network half: every way a download can go wrong, one video each, in one partition run
of `videos` + `audio` with real yt-dlp, ffmpeg and Postgres; then a run after the server recovers.

Decisions asserted here (see the fault matrix in the README):
- transient faults (5xx, 429, truncated bodies, connection resets, read timeouts, empty bodies) are
  retried DOWNLOAD_RETRIES times inside the run, honouring a 429's Retry-After (capped), then the video
  is recorded failed with the reason and "gave up after N attempts";
- permanent faults (404, 403, corrupt media) are never retried inside a run: one request, recorded
  failed. The next run tries each failed video once more (a private video may become public, a removed
  one may be re-uploaded), so a re-run costs one request per such video, never a retry storm;
- a re-run downloads nothing that is done and changes none of its rows or files.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

import dagster as dg
import pytest

from ingest_assets.partitions import partition_key
from resources.media import MediaSource
from resources.postgres import PostgresResource
from tests.reliability.archive_state import (
    assert_files_match_rows,
    assert_no_partial_rows,
    ids,
    row_counts,
    snapshot,
    steps,
)
from tests.support.runs import project_assets
from ytingest.offline.loopback_server import Fault, LoopbackChannel, Resource
from ytingest.offline.sample_channel import Captions, generate_channel, quick_episode

AT = dt.datetime(2026, 11, 6, 15, tzinfo=dt.UTC)
DAY = AT.date()
GOOD = "goodVideo01"
SOCKET_TIMEOUT_S = 1.0  # a stall longer than this is a read timeout
AUDIO_VERSION = "16000|en"  # sample rate | CAPTION_LANGUAGES: the audio step's version in the ledger
SLOW = {"stall_s": 1.5, "chunks": 2}

# video id -> (fault, where); `times=1` faults clear after one bad answer: retried inside the run.
TRANSIENT = {
    "t500media01": (Fault.server_error(times=1), Resource.MEDIA),
    "t500watch01": (Fault.server_error(times=1), Resource.WATCH),
    "t429media01": (Fault.rate_limited(times=1, retry_after_s=7), Resource.MEDIA),
    "ttruncated1": (Fault.truncated(fraction=0.3, times=1), Resource.MEDIA),
    "treset00001": (Fault.reset(times=1), Resource.MEDIA),
    "ttimeout001": (Fault.slow(**SLOW, times=1), Resource.MEDIA),
}
# Faults that last until the server recovers: failed after 1 + DOWNLOAD_RETRIES attempts, with reason.
PERSISTENT = {
    "p500media01": (Fault.server_error(), Resource.MEDIA, "http 500"),
    "p429media01": (Fault.rate_limited(times=None, retry_after_s=3), Resource.MEDIA, "http 429"),
    "ptruncated1": (Fault.truncated(fraction=0.3), Resource.MEDIA, "download incomplete"),
    "preset00001": (Fault.reset(), Resource.MEDIA, "connection reset"),
    "ptimeout001": (Fault.slow(**SLOW), Resource.MEDIA, "timed out"),
    "empty000001": (Fault.zero_length(), Resource.MEDIA, "empty response"),
}
# Faults that are permanent by nature: one request, no retry inside the run.
PERMANENT = {
    "removed0404": (Fault.not_found(), Resource.WATCH, "http 404"),
    "private0403": (Fault.forbidden(), Resource.WATCH, "http 403"),
    "gonefile404": (Fault.not_found(), Resource.MEDIA, "http 404"),
    "corrupt0001": (Fault.corrupt(), Resource.MEDIA, "corrupt or unreadable media: ffmpeg"),
}
ATTEMPTS = 3  # 1 + DOWNLOAD_RETRIES (2 in tests/conftest.py)


@pytest.fixture(scope="module")
def channel(tmp_path_factory):
    episodes = [quick_episode(GOOD, published=AT, captions=Captions.MANUAL)]
    episodes += [quick_episode(vid, published=AT) for vid in [*TRANSIENT, *PERSISTENT, *PERMANENT]]
    return generate_channel(tmp_path_factory.mktemp("network-faults"), episodes)


@pytest.fixture
def sleeps(monkeypatch):
    """The backoff delays asked for, in order; the real sleep is cut short so the test stays fast."""
    import time

    import resources.media

    asked: list[float] = []
    real = time.sleep

    def sleep(seconds: float) -> None:
        asked.append(round(seconds, 3))
        real(min(seconds, 0.01))

    monkeypatch.setattr(resources.media.time, "sleep", sleep)
    return asked


def _materialize(instance, key):
    result = dg.materialize(
        project_assets("videos", "audio"),
        partition_key=str(partition_key(key, DAY)),
        instance=instance,
        resources={"postgres": PostgresResource(), "media": MediaSource(socket_timeout_seconds=SOCKET_TIMEOUT_S)},
    )
    assert result.success  # per-video failures never fail the step
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey("audio")]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def _requests(site, video_id: str, where: Resource) -> list[int]:
    url = site.watch_url(video_id) if where is Resource.WATCH else site.media_url(video_id)
    return site.statuses(url)


def test_network_faults_are_retried_recorded_and_recovered(archive, instance, channel, sleeps):
    from ytingest.app.channels import register_channel

    everyone = [GOOD, *TRANSIENT, *PERSISTENT, *PERMANENT]
    with LoopbackChannel(channel) as site:
        for video_id, (fault, where, *_) in {**TRANSIENT, **PERSISTENT, **PERMANENT}.items():
            site.set_fault(video_id, fault, on=where)
        key, _ = register_channel(site.rss_url, key="network-faults")

        # --- run 1: faults everywhere ---------------------------------------------------------
        meta = _materialize(instance, key)
        assert (meta["videos_done"], meta["videos_failed"], meta["videos_already_done"]) == (
            1 + len(TRANSIENT), len(PERSISTENT) + len(PERMANENT), 0,
        )  # fmt: skip
        state = steps(archive)
        assert set(state) == {(v, "audio") for v in everyone}  # one step row per video, nothing else
        for video_id in [GOOD, *TRANSIENT]:
            assert state[(video_id, "audio")] == ("succeeded", None, 1, AUDIO_VERSION), video_id
        for video_id, (fault, where, reason) in PERSISTENT.items():
            status, text, attempts, _ = state[(video_id, "audio")]
            assert (status, attempts) == ("failed", 1), video_id
            assert reason in text.lower() and f"gave up after {ATTEMPTS} attempts" in text, (video_id, text)
            assert len(_requests(site, video_id, where)) == ATTEMPTS, video_id
        for video_id, (fault, where, reason) in PERMANENT.items():
            status, text, attempts, _ = state[(video_id, "audio")]
            assert (status, attempts) == ("failed", 1) and reason in text.lower(), (video_id, text)
            assert "gave up" not in text
            assert len(_requests(site, video_id, where)) == 1, video_id  # asked once, not retried
        for video_id in ("removed0404", "private0403"):  # the page failed: the media was never asked for
            assert site.statuses(site.media_url(video_id)) == []
        # Each transient fault was answered once, then the retry succeeded.
        for video_id, (fault, where) in TRANSIENT.items():
            answered = _requests(site, video_id, where)
            assert len(answered) == 2 and answered[-1] == 200, (video_id, answered)
        # Retry-After is honoured: 7 s for the throttled video, 3 s twice for the one throttled
        # throughout (the configured backoff alone would be 0.05 s and 0.1 s).
        assert Counter(sleeps)[7.0] == 1 and Counter(sleeps)[3.0] == ATTEMPTS - 1, sleeps

        counts = row_counts(archive)
        succeeded = {ids(archive)[v] for v in [GOOD, *TRANSIENT]}
        assert counts["videos"] == {v: 1 for v in ids(archive).values()} and len(counts["videos"]) == len(everyone)
        assert counts["channel_videos"] == counts["videos"]
        assert counts["audio"] == {v: 1 for v in succeeded}
        assert counts["captions"] == {ids(archive)[GOOD]: 1}
        assert counts["video_steps"] == counts["videos"]
        assert_files_match_rows(archive)
        assert_no_partial_rows(archive)
        before = snapshot(archive)

        # --- run 2: the server has recovered; the private video was made public ---------------
        for video_id, (_, where, *_) in {**TRANSIENT, **PERSISTENT}.items():
            site.set_fault(video_id, None, on=where)
        site.set_fault("private0403", None, on=Resource.WATCH)
        log_before = len(site.request_log)
        meta = _materialize(instance, key)
        recovered = [*PERSISTENT, "private0403"]
        still_failing = [v for v in PERMANENT if v != "private0403"]
        assert (meta["videos_done"], meta["videos_failed"], meta["videos_already_done"]) == (
            len(recovered), len(still_failing), 1 + len(TRANSIENT),
        )  # fmt: skip
        state = steps(archive)
        for video_id in [GOOD, *TRANSIENT]:  # done videos: untouched, not even requested
            assert state[(video_id, "audio")] == ("succeeded", None, 1, AUDIO_VERSION)
        for video_id in recovered:
            assert state[(video_id, "audio")] == ("succeeded", None, 2, AUDIO_VERSION), video_id
        for video_id in still_failing:
            status, text, attempts, _ = state[(video_id, "audio")]
            assert (status, attempts) == ("failed", 2) and PERMANENT[video_id][2] in text.lower()
            assert len(_requests(site, video_id, PERMANENT[video_id][1])) == 2  # once per run
        new_paths = {r.path for r in site.request_log[log_before:]}
        for video_id in [GOOD, *TRANSIENT]:
            assert f"/watch/{video_id}" not in new_paths and site.media_url(video_id)[len(site.base_url):] not in new_paths

        after = snapshot(archive)
        assert set(before["audio"]) <= set(after["audio"])  # same checksums, paths and download times
        assert set(before["captions"]) <= set(after["captions"])
        counts = row_counts(archive)
        succeeded |= {ids(archive)[v] for v in recovered}
        assert counts["audio"] == {v: 1 for v in succeeded}
        assert counts["video_steps"] == {v: 1 for v in ids(archive).values()}
        assert len(counts["videos"]) == len(everyone)
        assert_files_match_rows(archive)
        assert_no_partial_rows(archive)


@pytest.mark.parametrize(
    ("header", "expected"),
    [("7", 7.0), ("0", 0.0), ("soon", None), (None, None), ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0)],
)
def test_retry_after_is_read_from_the_response(header, expected):
    """Delta-seconds or an HTTP date (one in the past means now); whether the error is yt-dlp's own
    (feed fetches) or wrapped in a DownloadError (downloads)."""
    import io

    from yt_dlp.networking.common import Response
    from yt_dlp.networking.exceptions import HTTPError
    from yt_dlp.utils import DownloadError

    from ytingest.core.media_errors import classify

    headers = {"Retry-After": header} if header is not None else {}
    error = HTTPError(Response(io.BytesIO(b""), "http://127.0.0.1/x", headers, status=429))
    wrapped = DownloadError("ERROR: unable to download video data: HTTP Error 429", (HTTPError, error, None))
    for exc in (error, wrapped):
        classified = classify(exc)
        assert classified.transient and classified.reason.startswith("HTTP 429")
        assert classified.retry_after == expected


@pytest.mark.parametrize(
    "message",
    [
        "ERROR: [youtube] dQw4w9WgXcQ: Private video. Sign in if you've been granted access to this video",
        "ERROR: [youtube] dQw4w9WgXcQ: Video unavailable. This video has been removed by the uploader",
        (
            "ERROR: [youtube] dQw4w9WgXcQ: Video unavailable. This video is no longer available because the YouTube"
            " account associated with this video has been terminated."
        ),
        "ERROR: [youtube] dQw4w9WgXcQ: Sign in to confirm your age. This video may be inappropriate for some users.",
        "ERROR: [youtube] dQw4w9WgXcQ: Join this channel to get access to members-only content like this video",
        "ERROR: [generic] gone: Unable to download webpage: HTTP Error 410: Gone",
    ],
)
def test_removed_and_private_as_yt_dlp_words_them_are_permanent(message):
    """What yt-dlp reports for removed, private, age-gated and members-only videos: a permanent failure
    with yt-dlp's own words as the reason (no retries inside the run)."""
    from yt_dlp.utils import DownloadError

    from ytingest.core.media_errors import classify

    error = classify(DownloadError(message))
    assert not error.transient and not error.unsupported
    assert error.reason.removeprefix("HTTP 410: ") in message
