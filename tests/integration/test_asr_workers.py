"""ASR_WORKERS: the `transcripts` step transcribes that many videos at once on ONE loaded Whisper model,
and a video that fails still fails alone."""

import datetime as dt
import threading

import psycopg
import pytest

from resources.models.whisper import WhisperSession
from tests.support.runs import materialize
from ytingest.offline.loopback_server import LoopbackChannel
from ytingest.offline.sample_channel import Captions, generate_channel, quick_episode

AT = dt.datetime(2026, 11, 9, 15, tzinfo=dt.UTC)
SOURCES = ("asrWorker01", "asrWorker02", "asrWorker03", "asrMissing4", "asrCaption5")


@pytest.fixture(scope="module")
def channel(tmp_path_factory):
    episodes = [quick_episode(v, published=AT) for v in SOURCES[:4]]
    episodes.append(quick_episode(SOURCES[4], published=AT, captions=Captions.MANUAL))
    return generate_channel(tmp_path_factory.mktemp("asr-workers"), episodes)


class Spy:
    """Wraps WhisperSession's real transcribe and _load: counts loads, the models used, and the calls in
    flight at once. With `meet`, the first two calls wait for each other: they must run concurrently."""

    def __init__(self, monkeypatch, meet: bool):
        self.lock = threading.Lock()
        self.loads = 0
        self.models: set[int] = set()
        self.active = self.most_active = self.calls = 0
        self.barrier = threading.Barrier(2, timeout=60) if meet else None
        real_transcribe, real_load = WhisperSession.transcribe, WhisperSession._load
        spy = self

        def transcribe(session, audio, **options):
            with spy.lock:
                spy.calls += 1
                first_two = spy.calls <= 2
                spy.active += 1
                spy.most_active = max(spy.most_active, spy.active)
                spy.models.add(id(session.loaded()))
            try:
                if spy.barrier is not None and first_two:
                    spy.barrier.wait()  # BrokenBarrierError (the step fails) unless a second video is in flight
                return real_transcribe(session, audio, **options)
            finally:
                with spy.lock:
                    spy.active -= 1

        def load(session, device):
            spy.loads += 1
            return real_load(session, device)

        monkeypatch.setattr(WhisperSession, "transcribe", transcribe)
        monkeypatch.setattr(WhisperSession, "_load", load)


@pytest.mark.parametrize("workers", [1, 2])
def test_asr_workers_videos_at_once_on_one_model_failures_isolated(
    archive, instance, channel, smoke_model_settings, monkeypatch, workers
):
    from ytingest.app.channels import register_channel
    from ytingest.settings import get_settings

    with LoopbackChannel(channel) as site:
        key, _ = register_channel(site.rss_url, key="asrworkers")
        assert materialize(instance, key, AT.date(), {"videos", "audio"}).success
    with psycopg.connect(archive) as conn:
        ids = dict(conn.execute("SELECT source_id, video_id FROM videos").fetchall())
    (get_settings().audio_dir / f"{ids['asrMissing4']}.wav").unlink()

    monkeypatch.setenv("ASR_WORKERS", str(workers))
    spy = Spy(monkeypatch, meet=workers == 2)
    result = materialize(instance, key, AT.date(), {"transcripts"})

    assert result.success
    assert spy.loads == 1 and len(spy.models) == 1  # one model for every video, loaded once
    assert spy.calls == 3  # one window for each uncaptioned video with its audio
    assert spy.most_active == workers
    with psycopg.connect(archive) as conn:
        steps = dict(
            conn.execute(
                "SELECT v.source_id, s.status || ': ' || coalesce(s.reason, '') FROM video_steps s"
                " JOIN videos v USING (video_id) WHERE s.asset = 'transcripts'"
            ).fetchall()
        )
        sources = dict(conn.execute("SELECT v.source_id, t.source FROM transcripts t JOIN videos v USING (video_id)").fetchall())
    assert steps == {
        "asrWorker01": "succeeded: ",
        "asrWorker02": "succeeded: ",
        "asrWorker03": "succeeded: ",
        "asrMissing4": f"failed: audio file {ids['asrMissing4']}.wav is missing; re-materialise audio",
        "asrCaption5": "succeeded: ",
    }
    assert sources == {"asrWorker01": "asr", "asrWorker02": "asr", "asrWorker03": "asr", "asrCaption5": "captions"}
