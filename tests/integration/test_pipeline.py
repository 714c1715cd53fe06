"""The whole graph for one partition of the loopback channel, on CPU with the smoke models: captions,
rolling automatic captions, ASR, two voices, silence and a corrupt file in one run."""

import datetime as dt
import re
from collections import defaultdict

import dagster as dg
import psycopg
import pytest

from ingest_assets.partitions import partition_key
from ytingest.core.captions import parse_captions
from ytingest.offline.loopback_server import Fault, LoopbackChannel
from ytingest.offline.sample_channel import (
    GUEST,
    HOST,
    Captions,
    Episode,
    generate_channel,
    quick_episode,
    silent_episode,
)

AT = dt.datetime(2026, 11, 5, 15, tzinfo=dt.UTC)
DAY = AT.date()


@pytest.fixture(scope="module")
def channel(tmp_path_factory):
    episodes = [
        quick_episode("manualCaps1", published=AT, captions=Captions.MANUAL),
        quick_episode("autoCaps002", published=AT, captions=Captions.AUTO),
        Episode(
            video_id="twoVoices03",
            title="Two voices, no captions",
            published=AT,
            utterances=[
                (HOST, "Good evening and welcome to the programme about the sea."),
                (GUEST, "Thank you. The tides are pulled by the moon and the sun."),
                (HOST, "How high can they get?"),
                (GUEST, "In some bays the water rises more than ten metres twice a day."),
            ],
        ),
        silent_episode("silence0004", seconds=4.0, published=AT),
        quick_episode("corrupt0005", published=AT),
    ]
    return generate_channel(tmp_path_factory.mktemp("graph"), episodes)


def _resources():
    from definitions import defs

    return defs().resources


def _assets():
    from definitions import defs

    return list(defs().assets)


def _run(instance, key):
    return dg.materialize(
        _assets(), partition_key=str(partition_key(key, DAY)), instance=instance, resources=_resources()
    )


def _query(url, sql, *args):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchall()


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def _by_source(url, sql):
    return {row[0]: row[1:] for row in _query(url, sql)}


def test_whole_graph_for_a_partition(archive, instance, channel, smoke_model_settings):
    from ytingest.app.channels import register_channel

    with LoopbackChannel(channel, faults={"corrupt0005": Fault.corrupt()}) as site:
        key, _ = register_channel(site.rss_url, key="graph")
        result = _run(instance, key)
        assert result.success
        evaluations = {e.check_name: e for e in result.get_asset_check_evaluations()}
        assert len(evaluations) == 5
        # The coverage check names exactly the videos whose stored text spans under half their detected
        # speech (with the random-weight smoke Whisper that can be the ASR video; never a captioned one).
        coverage = evaluations.pop("covers_detected_speech")
        failing = sorted(f["video_id"] for f in coverage.metadata["failing"].value)
        ids = ids_of(archive)
        assert failing == _under_covered(archive) and coverage.passed == (not failing)
        assert not {ids["manualCaps1"], ids["autoCaps002"], ids["silence0004"]} & set(failing)
        assert all(e.passed for e in evaluations.values()), evaluations
        _check_archive(archive, channel)
        _checks_catch_damage(archive, ids_of(archive))
        # A second run changes nothing: every video is already done.
        before = _query(archive, "SELECT chunk_id FROM chunks ORDER BY chunk_id")
        assert _run(instance, key).success
        assert _query(archive, "SELECT chunk_id FROM chunks ORDER BY chunk_id") == before


def ids_of(url) -> dict[str, str]:
    return {row[0]: row[1] for row in _query(url, "SELECT source_id, video_id FROM videos")}


def _under_covered(url) -> list[str]:
    """Videos with over a second of detected speech whose segments span under half of it."""
    from ingest_assets.checks import MIN_SPEECH_COVERAGE

    spans = defaultdict(float)
    for video_id, start, end in _query(url, "SELECT video_id, start_s, end_s FROM transcript_segments"):
        spans[video_id] += end - start
    speech = _query(url, "SELECT video_id, speech_seconds FROM transcripts")
    return sorted(v for v, seconds in speech if seconds > 1.0 and spans[v] < MIN_SPEECH_COVERAGE * seconds)


def _checks_catch_damage(url, ids):
    from ingest_assets import checks

    video_ids = list(ids.values())
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE segment_speakers SET speaker = NULL WHERE video_id = %s", (ids["autoCaps002"],))
        conn.execute("DELETE FROM transcript_segments WHERE video_id = %s", (ids["manualCaps1"],))
        conn.execute("UPDATE voice_embeddings SET speaker_id = NULL WHERE video_id = %s", (ids["autoCaps002"],))
        conn.execute("DELETE FROM chunks WHERE video_id = %s", (ids["autoCaps002"],))
        model = conn.execute("SELECT model FROM embedding_models").fetchone()[0]
        assert not checks.diarization_checks(conn, video_ids)[0].passed
        assert not checks.transcript_checks(conn, video_ids)[0].passed
        assert not checks.voice_checks(conn, video_ids)[0].passed
        assert not checks.text_checks(conn, video_ids, model)[0].passed
        conn.rollback()


def _check_archive(archive, channel):

    ids = {row[0]: row[1] for row in _query(archive, "SELECT source_id, video_id FROM videos")}
    steps = {
        (source, asset): (status, reason)
        for source, asset, status, reason in _query(
            archive,
            "SELECT v.source_id, s.asset, s.status, s.reason FROM video_steps s JOIN videos v USING (video_id)",
        )
    }
    # The corrupt file fails at audio with its reason, and every later step skips it, saying so.
    assert steps[("corrupt0005", "audio")][0] == "failed" and "corrupt" in steps[("corrupt0005", "audio")][1]
    for asset in ("transcripts", "diarization", "voice_embeddings", "text_embeddings"):
        status, reason = steps[("corrupt0005", asset)]
        assert status == "skipped" and "upstream" in reason
        for good in ("manualCaps1", "autoCaps002", "twoVoices03", "silence0004"):
            assert steps[(good, asset)] == ("succeeded", None), (good, asset)

    transcripts = _by_source(
        archive,
        "SELECT v.source_id, t.source, t.speech_seconds, t.model FROM transcripts t JOIN videos v USING (video_id)",
    )
    assert transcripts["manualCaps1"][0] == "captions"
    assert transcripts["autoCaps002"][0] == "captions"
    assert transcripts["twoVoices03"][0] == "asr" and transcripts["twoVoices03"][2]  # model recorded
    assert transcripts["silence0004"][1] == 0.0

    # Manual captions: the stored text is the captions' text.
    manual = channel.episode("manualCaps1").caption("en", "vtt").path.read_text()
    expected = [s.text for s in parse_captions(manual, "vtt")]
    stored = [r[0] for r in _query(archive, "SELECT text FROM transcript_segments WHERE video_id = %s ORDER BY idx", ids["manualCaps1"])]
    assert stored == expected
    # Automatic captions: each spoken line once, not YouTube's rolling repeats.
    auto = [r[0] for r in _query(archive, "SELECT text FROM transcript_segments WHERE video_id = %s ORDER BY idx", ids["autoCaps002"])]
    spoken = " ".join(u.text for u in channel.episode("autoCaps002").utterances)
    assert _words(" ".join(auto)) == _words(spoken)  # automatic captions are lower case, unpunctuated

    # Silence: no speakers, no chunks, and success.
    assert _query(archive, "SELECT speakers FROM diarizations WHERE video_id = %s", ids["silence0004"]) == [(0,)]
    assert _query(archive, "SELECT count(*) FROM chunks WHERE video_id = %s", ids["silence0004"]) == [(0,)]

    # Diarization: the stored rows are what pyannote returned, and every segment carries the speaker its
    # exclusive turns give it. Voices: one per local speaker with a usable turn, each linked globally.
    from ingest_assets.voice_embeddings import MIN_TURN_SECONDS
    from ytingest.core.speakers import label_spans

    expected_voices = set()
    for source in ("manualCaps1", "autoCaps002", "twoVoices03"):
        video_id = ids[source]
        turns = _query(archive, "SELECT start_s, end_s, speaker FROM speaker_turns WHERE video_id = %s AND NOT exclusive", video_id)
        exclusive = _query(
            archive, "SELECT start_s, end_s, speaker FROM speaker_turns WHERE video_id = %s AND exclusive ORDER BY idx", video_id
        )
        assert _query(archive, "SELECT speakers FROM diarizations WHERE video_id = %s", video_id) == [(len({t[2] for t in turns}),)]
        assert {t[2] for t in exclusive} <= {t[2] for t in turns}
        segments = _query(
            archive,
            "SELECT s.start_s, s.end_s, a.speaker FROM transcript_segments s"
            " LEFT JOIN segment_speakers a USING (video_id, idx) WHERE s.video_id = %s ORDER BY s.idx",
            video_id,
        )
        assert [s[2] for s in segments] == label_spans([(s[0], s[1]) for s in segments], exclusive)
        expected_voices |= {(video_id, t[2]) for t in exclusive if t[1] - t[0] >= MIN_TURN_SECONDS}
    assert expected_voices, "pyannote found no speaker in any speech video: nothing below is checked"
    voices = _query(archive, "SELECT video_id, speaker, speaker_id FROM voice_embeddings")
    assert {(v, s) for v, s, _ in voices} == expected_voices
    assert all(speaker_id is not None for _, _, speaker_id in voices)

    # Chunks keep times inside the video and the model's name; dimensions agree.
    rows = _query(archive, "SELECT video_id, start_s, end_s, vector_dims(embedding), model FROM chunks")
    assert rows and {r[3] for r in rows} == {384}
    durations = dict(_query(archive, "SELECT video_id, duration_seconds FROM audio"))
    assert all(0 <= r[1] <= r[2] <= durations[r[0]] + 0.5 for r in rows)
