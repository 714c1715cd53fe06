"""One video raising something unexpected, in any per-video step, fails that video alone: the step goes
on with the others, the partition's outcome names the one failure, and a re-run retries only it.

Each step gets its own victim in one partition, so one run covers them all. The faults are errors no
step expects (ZeroDivisionError, KeyError, ...), raised from inside the step's compute or write. For a
sixth video the diarizer returns turns that run seconds past the end of its audio, which must not fail it."""

import dataclasses
import datetime as dt

import dagster as dg
import psycopg
import pytest

from ingest_assets.partitions import partition_key
from ytingest.offline.loopback_server import LoopbackChannel
from ytingest.offline.sample_channel import Captions, generate_channel, quick_episode

AT = dt.datetime(2026, 10, 7, 9, tzinfo=dt.UTC)
DAY = AT.date()
STEPS = ("audio", "transcripts", "diarization", "voice_embeddings", "text_embeddings")
READERS = {  # the steps that read each step's output, and so skip a video it failed
    "audio": STEPS[1:],
    "transcripts": STEPS[2:],
    "diarization": STEPS[3:],
    "voice_embeddings": (),
    "text_embeddings": (),
}
# Video (source id) -> the step whose code raises for it, and what it raises.
VICTIMS = {
    "failsAudio1": ("audio", ZeroDivisionError("division by zero")),
    "failsTrans2": ("transcripts", KeyError("segments")),
    "failsDiari3": ("diarization", ValueError("bad turn table")),
    "failsVoice4": ("voice_embeddings", IndexError("list index out of range")),
    "failsTexts5": ("text_embeddings", UnicodeError("surrogates not allowed")),
}
SHORT = "shortWav006"
GOOD = "allGood0007"


@pytest.fixture(scope="module")
def channel(tmp_path_factory):
    episodes = [quick_episode(v, published=AT, captions=Captions.MANUAL) for v in [*VICTIMS, SHORT, GOOD]]
    return generate_channel(tmp_path_factory.mktemp("isolation"), episodes)


def _query(url, sql, *args):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchall()


def _faults(monkeypatch, archive, ids: dict[str, str]) -> None:
    """Make each victim's step raise its error; make SHORT's diarization end 5 s after its audio."""
    import ingest_assets.text_embeddings as text_step
    import ingest_assets.transcripts as transcript_step
    import ingest_assets.voice_embeddings as voice_step
    from resources.media import MediaSource
    from resources.models.diarization import DiarizationSession, SpeakerTurn
    from ytingest.store import transcripts as transcript_store

    victim = {step: ids[source] for source, (step, _) in VICTIMS.items()}
    error = {step: exc for step, exc in VICTIMS.values()}

    download = MediaSource.download_audio

    def download_audio(self, video_id, *args, **kwargs):
        if video_id == victim["audio"]:
            raise error["audio"]
        return download(self, video_id, *args, **kwargs)

    duration = transcript_step.wav_duration

    def wav_duration(path):
        if path.stem == victim["transcripts"]:
            raise error["transcripts"]
        return duration(path)

    replace = transcript_store.replace_diarization

    def replace_diarization(conn, video_id, *args, **kwargs):
        if video_id == victim["diarization"]:
            raise error["diarization"]
        replace(conn, video_id, *args, **kwargs)

    diarize = DiarizationSession.diarize

    def diarize_past_the_end(self, audio, **kwargs):
        result = diarize(self, audio, **kwargs)
        if audio.stem != ids[SHORT]:
            return result
        last = lambda turns: [*turns[:-1], SpeakerTurn(turns[-1].start, turns[-1].end + 5.0, turns[-1].speaker)]  # noqa: E731
        assert result.turns, "pyannote found no speech in SHORT: nothing to run past the end"
        return dataclasses.replace(result, turns=last(result.turns), exclusive_turns=last(result.exclusive_turns))

    clips = voice_step.speaker_clips

    def speaker_clips(path, *args, **kwargs):
        if path.stem == victim["voice_embeddings"]:
            raise error["voice_embeddings"]
        return clips(path, *args, **kwargs)

    chunks = text_step.replace_chunks

    def replace_chunks(conn, video_id, *args, **kwargs):
        if video_id == victim["text_embeddings"]:
            raise error["text_embeddings"]
        return chunks(conn, video_id, *args, **kwargs)

    monkeypatch.setattr(MediaSource, "download_audio", download_audio)
    monkeypatch.setattr(transcript_step, "wav_duration", wav_duration)
    monkeypatch.setattr(transcript_store, "replace_diarization", replace_diarization)
    monkeypatch.setattr(DiarizationSession, "diarize", diarize_past_the_end)
    monkeypatch.setattr(voice_step, "speaker_clips", speaker_clips)
    monkeypatch.setattr(text_step, "replace_chunks", replace_chunks)


def _steps(archive) -> dict[tuple[str, str], tuple[str, str | None, int]]:
    rows = _query(
        archive,
        "SELECT v.source_id, s.asset, s.status, s.reason, s.attempts FROM video_steps s JOIN videos v USING (video_id)",
    )
    return {(source, asset): (status, reason, attempts) for source, asset, status, reason, attempts in rows}


def test_an_unexpected_error_fails_only_its_video(archive, instance, channel, smoke_model_settings, monkeypatch):
    from definitions import defs
    from ytingest.app.channels import register_channel
    from ytingest.store.catalog import videos_in_partition

    with LoopbackChannel(channel) as site:
        key, _ = register_channel(site.rss_url, key="isolation")
        built = defs()

        def run():
            return dg.materialize(
                list(built.assets),
                partition_key=str(partition_key(key, DAY)),
                instance=instance,
                resources=built.resources,
                raise_on_error=False,
            )

        # The listing step runs first, unfaulted, so the faults can name the videos by their ids.
        listed = dg.materialize(
            [built.get_assets_def("videos")], partition_key=str(partition_key(key, DAY)), instance=instance,
            resources=built.resources,
        )  # fmt: skip
        assert listed.success
        with psycopg.connect(archive) as conn:
            listed_ids = [v.video_id for v in videos_in_partition(conn, key, [(DAY, DAY)])]
            ids = dict(conn.execute("SELECT source_id, video_id FROM videos WHERE video_id = ANY(%s)", (listed_ids,)).fetchall())
        assert set(ids) == {*VICTIMS, SHORT, GOOD}
        with monkeypatch.context() as faults:
            _faults(faults, archive, ids)
            first = run()

        # Every per-video step ran to its end; only `outcomes` failed, naming exactly the five victims.
        failed_steps = {e.step_key for e in first.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE}
        assert failed_steps == {"outcomes"}
        [failure] = [e for e in first.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
        message = failure.step_failure_data.user_failure_data.description
        assert all(ids[v] in message for v in VICTIMS) and ids[SHORT] not in message and ids[GOOD] not in message

        steps = _steps(archive)
        for source, (step, exc) in VICTIMS.items():
            status, reason, _ = steps[(source, step)]
            assert status == "failed" and reason == f"{type(exc).__name__}: {exc}", (source, reason)
            assert "Traceback" not in reason
            assert all(steps[(source, s)][0] == "skipped" for s in READERS[step]), source
            others = set(STEPS) - {step, *READERS[step]}
            assert all(steps[(source, s)][0] == "succeeded" for s in others), source
        for source in (SHORT, GOOD):
            assert all(steps[(source, s)][:2] == ("succeeded", None) for s in STEPS), source

        # The per-step materializations count the failure and the successes of their own partition.
        meta = {
            e.asset_key.to_user_string(): {k: v.value for k, v in e.materialization.metadata.items()}
            for e in first.get_asset_materialization_events()
        }
        for source, (step, _) in VICTIMS.items():
            assert meta[step]["videos_failed"] == 1 and set(meta[step]["failures"]) == {ids[source]}

        # SHORT's diarization ran past its audio: stored cut to its length, its voices read from what is there.
        [(seconds,)] = _query(archive, "SELECT duration_seconds FROM audio WHERE video_id = %s", ids[SHORT])
        [(last_end,)] = _query(archive, "SELECT max(end_s) FROM speaker_turns WHERE video_id = %s", ids[SHORT])
        assert last_end <= seconds  # stored turns are cut to the audio's length
        assert _query(archive, "SELECT count(*) FROM voice_embeddings WHERE video_id = %s", ids[SHORT])[0][0] >= 1

        # Without the faults, a re-run redoes only the victims, from the step that failed them.
        second = run()
        assert second.success
        again = _steps(archive)
        for (source, step), (status, _, attempts) in again.items():
            assert status == "succeeded", (source, step)
            before = steps[(source, step)]
            retried = before[0] != "succeeded"
            assert attempts == before[2] + retried, (source, step, before, attempts)
