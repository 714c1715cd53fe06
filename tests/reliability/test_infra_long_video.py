"""Fault matrix: a 2-hour video in bounded memory. Three episodes of one channel, served by the loopback
server: a 3.5 s one, and two whose media is that clip looped (ffmpeg -stream_loop, stream copy, so
generating them costs under a second) to 40 minutes and to 2 hours. Each goes through videos -> audio ->
transcripts in its own process, which samples its own RSS (and its children's: yt-dlp's ffmpeg) during
each step. The 2-hour video's peak per step must match the 40-minute one's within BOUND_MB: memory is
bounded by the 20-minute window, not the duration (2 h of 16 kHz float32 alone would be 460 MB).
Measured on 2 CPU cores (peak RSS of the step's process, MB; short / 40 min / 2 h): audio 183 / 190 / 190,
transcripts 241 / 716 / 723. The transcripts step's ~470 MB over a short video is Silero VAD over one whole
20-minute window, whatever the duration.

Captions keep ASR out (2 h of CPU Whisper is not a test), but the step still reads the whole file:
duration and Silero VAD speech seconds over every window. Diarization has its own test below: it reads
and diarizes DIARIZATION_WINDOW_MINUTES at a time, and the smoke pipeline runs at about real time on 2
CPU cores, so its 2-hour file is speech at both ends with silence between."""

import datetime as dt
import json
import os
import subprocess
import sys

import psycopg
import pytest

from tests.reliability.infra_fixtures import ROOT
from ytingest.offline.loopback_server import LoopbackChannel
from ytingest.offline.sample_channel import (
    Captions,
    Container,
    generate_channel,
    quick_episode,
)

# One partition each (partitions are months): each step is measured on one length at a time.
DAYS = {"short": dt.date(2026, 9, 15), "medium": dt.date(2026, 10, 16), "long": dt.date(2026, 11, 17)}
SECONDS = {"medium": 2400, "long": 7200}
STEPS = ("videos", "audio", "transcripts")
BOUND_MB = 64

MEASURE = """
import json, sys, threading, time, psutil
import dagster as dg
from definitions import defs
from ingest_assets.partitions import partition_key

channel, day = sys.argv[1], sys.argv[2]
me = psutil.Process()
peaks, stop = {}, threading.Event()

def sample(step):
    own = kids = 0
    while not stop.is_set():
        own = max(own, me.memory_info().rss)
        total = 0
        for child in me.children(recursive=True):
            try:  # the media tools only: Python helpers come and go and would make this noise
                if child.name() in ("ffmpeg", "ffprobe"):
                    total += child.memory_info().rss
            except psutil.Error:
                pass
        kids = max(kids, total)
        time.sleep(0.01)
    peaks[step] = {"own_mb": own / 2**20, "ffmpeg_mb": kids / 2**20}

import datetime as dt
key = str(partition_key(channel, dt.date.fromisoformat(day)))
with dg.DagsterInstance.get() as instance:  # the channel partitions live there
    for step in sys.argv[3:]:
        assets = [a for a in defs().assets if a.key.to_user_string() == step]
        stop.clear()
        sampler = threading.Thread(target=sample, args=(step,))
        sampler.start()
        try:
            result = dg.materialize(assets, partition_key=key, instance=instance, resources=defs().resources)
        finally:
            stop.set()
            sampler.join()
        assert result.success, step
print("PEAKS " + json.dumps(peaks))
"""


def _loop(media, seconds: int) -> None:
    looped = media.with_name(f"looped.{media.suffix}")
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-stream_loop", "-1", "-i", str(media),
         "-t", str(seconds), "-map", "0", "-c", "copy", str(looped)],
        check=True, timeout=120,
    )  # fmt: skip
    looped.replace(media)


@pytest.fixture(scope="module")
def channel(tmp_path_factory):
    episodes = [
        quick_episode(f"mem{name.capitalize()}01", published=dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC),
                      captions=Captions.MANUAL, container=Container.WEBM)
        for name, day in DAYS.items()
    ]  # fmt: skip
    generated = generate_channel(tmp_path_factory.mktemp("long"), episodes)
    for name, seconds in SECONDS.items():
        _loop(generated.episode(f"mem{name.capitalize()}01").media_path, seconds)
    return generated


def _media_seconds(path) -> float:
    """The audio the file holds, as decoded samples: a stream-copy loop leaves gaps between its copies, so
    the container and the timestamps say more than the packets hold."""
    decoder = subprocess.Popen(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a", "-ac", "1", "-ar", "16000", "-f", "s16le", "-"],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    total = sum(len(block) for block in iter(lambda: decoder.stdout.read(1 << 20), b""))
    assert decoder.wait(timeout=300) == 0
    return total / 32_000


def _measure(channel_key: str, day: dt.date, env) -> dict[str, dict[str, float]]:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, channel_key, day.isoformat(), *STEPS],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("PEAKS "))
    return json.loads(line.removeprefix("PEAKS "))


def test_two_hour_video_in_bounded_memory(archive, instance, channel, smoke_model_settings):
    from ytingest.app.channels import register_channel
    from ytingest.settings import get_settings

    env = {**os.environ, **smoke_model_settings}
    with LoopbackChannel(channel) as site:
        register_channel(site.rss_url, key="long")
        peaks = {name: _measure("long", day, env) for name, day in DAYS.items()}
    print("peak RSS per step, MB:", json.dumps(peaks, indent=1))

    with psycopg.connect(archive) as conn:
        rows = conn.execute(
            "SELECT v.source_id, a.duration_seconds, a.bytes, a.path, t.source, t.audio_seconds, t.speech_seconds"
            " FROM videos v JOIN audio a USING (video_id) JOIN transcripts t USING (video_id)"
        ).fetchall()
        steps = conn.execute("SELECT asset, status, count(*) FROM video_steps GROUP BY asset, status").fetchall()
        segments = conn.execute("SELECT count(*) FROM transcript_segments").fetchone()[0]
        captions = [r[0] for r in conn.execute("SELECT path FROM captions").fetchall()]
    assert sorted(steps) == [("audio", "succeeded", 3), ("transcripts", "succeeded", 3)]
    assert segments == 3 * 2  # each episode's two caption cues, once
    by_name = {row[0]: row[1:] for row in rows}
    for name in ("short", *SECONDS):
        episode = channel.episode(f"mem{name.capitalize()}01")
        # What the looped file holds: stream-copy loops drop a few ms each, more for a shorter clip.
        seconds = _media_seconds(episode.media_path)
        assert seconds > 0.97 * SECONDS.get(name, episode.duration), name
        duration, size, path, source, audio_seconds, speech = by_name[episode.video_id]
        assert duration == pytest.approx(seconds, rel=0.01, abs=0.1), name  # 0.1 s: the container's own edges
        assert size == os.path.getsize(path) and size >= 32_000 * (seconds - 0.1) * 0.99  # the full length, 16-bit 16 kHz
        assert source == "captions" and audio_seconds == pytest.approx(duration, abs=0.01)
        # VAD ran over the whole file: the looped speech is most of it (the clip is ~75% speech).
        assert speech > 0.4 * seconds, (name, speech)
    # On disk: exactly the three WAVs and the caption files the database names, nothing left over.
    assert {p.name for p in (get_settings().data_dir / "audio").iterdir()} == {
        os.path.basename(r[3]) for r in rows
    } | {os.path.basename(path) for path in captions}

    for step in ("audio", "transcripts"):
        medium, long = peaks["medium"][step], peaks["long"][step]
        grown = long["own_mb"] - medium["own_mb"]
        assert grown < BOUND_MB, f"{step}: 2 h peaked {grown:.0f} MB above 40 min"
        assert long["ffmpeg_mb"] - medium["ffmpeg_mb"] < BOUND_MB, step


DIARIZE = """
import json, resource, sys
from resources.models import DiarizationResource

peak_mb = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
found = {}
with DiarizationResource().session() as session:
    session.loaded()
    for name, path in zip(("loaded", "short", "long"), (None, *sys.argv[2:])):
        if path:
            result = session.diarize(path, window_seconds=float(sys.argv[1]))
            found[name + "_turns"] = [(t.start, t.end) for t in result.turns]
        found[name + "_peak_mb"] = peak_mb()
print("DIARIZED " + json.dumps(found))
"""
WINDOW_S = 10.0  # the default is 30 minutes; a short window keeps pyannote's CPU time small, not its memory


def _write_speech_and_silence(path, speech, silence_s: int) -> float:
    """Speech, `silence_s` of digital silence written a minute at a time, speech again: a 16 kHz WAV."""
    import numpy as np
    import soundfile

    with soundfile.SoundFile(path, "w", samplerate=16_000, channels=1, subtype="PCM_16") as out:
        out.write(speech)
        for _ in range(silence_s // 60):
            out.write(np.zeros(60 * 16_000, dtype=np.float32))
        out.write(speech)
        return out.frames / 16_000


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning")
def test_two_hours_of_audio_diarized_in_bounded_memory(smoke_model_settings, speech_clip, tmp_path):
    """Diarization reads and diarizes a window at a time: after a few seconds of audio, two hours raise the
    process's peak memory by no more than BOUND_MB. Speech sits at both ends, digital silence between (read,
    not diarized: pyannote runs at about real time on 2 CPU cores). Whole, the 2 h file would be 460 MB of
    float32 samples. One process diarizes both files, so the peak it reaches on the short one is the bar."""
    short_s = _write_speech_and_silence(tmp_path / "short.wav", speech_clip.waveform, 0)
    long_s = _write_speech_and_silence(tmp_path / "long.wav", speech_clip.waveform, 7200)
    done = subprocess.run(
        [sys.executable, "-c", DIARIZE, str(WINDOW_S), str(tmp_path / "short.wav"), str(tmp_path / "long.wav")],
        cwd=ROOT, env={**os.environ, **smoke_model_settings}, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    found = json.loads(next(line for line in done.stdout.splitlines() if line.startswith("DIARIZED ")).removeprefix("DIARIZED "))
    print(f"peak RSS, MB: model loaded {found['loaded_peak_mb']:.0f}, after {short_s:.0f} s {found['short_peak_mb']:.0f},"
          f" after {long_s:.0f} s {found['long_peak_mb']:.0f}")  # fmt: skip
    assert long_s > 7200 and found["short_turns"]
    assert found["long_peak_mb"] <= found["short_peak_mb"] + BOUND_MB
    # Turns at the file's own times, at both ends, none in the silence.
    speech = len(speech_clip.waveform) / 16_000
    turns = found["long_turns"]
    assert all(end <= speech + WINDOW_S or start >= long_s - speech - WINDOW_S for start, end in turns)
    assert any(start >= long_s - speech - WINDOW_S for start, _ in turns)
