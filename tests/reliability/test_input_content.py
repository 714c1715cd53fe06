"""Input faults, content half: what a video carries rather than how it arrives. One partition of the
whole graph (smoke models, CPU) with one video per fault, then a second run that must change nothing:

- silence only: every step succeeds with an empty transcript, zero speakers, no voices, no chunks;
- malformed captions (broken WebVTT, json3 cut off, ISO-8859-1 bytes): never fatal, ASR instead, and
  the reason is kept on the succeeded step (`video_steps.reason`) and in the step's metadata;
- corrupt media: audio fails with its reason, later steps skip it saying so, no rows or files;
- hostile ids and titles (path traversal, SQL, partition-key separators, 10k characters, unicode and
  control characters) on a channel whose key is SQL: stored verbatim (titles less control characters), files named only from the
  validated id, nothing outside DATA_DIR, and the hostile caption text stored as spoken.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import pytest

from ingest_assets.partitions import partition_key
from tests.reliability.archive_state import (
    ASSETS,
    assert_files_match_rows,
    assert_no_partial_rows,
    beside_data_dir,
    files_under,
    for_videos,
    ids,
    query,
    row_counts,
    snapshot,
    steps,
)
from ytingest.core.identifiers import validate_video_id
from ytingest.core.text import clean_text
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
from ytingest.settings import get_settings

AT = dt.datetime(2026, 11, 7, 15, tzinfo=dt.UTC)
DAY = AT.date()
CHANNEL_KEY = "'; DROP TABLE videos;--"  # a legal partition key: nothing Dagster reserves

SPOKEN = (
    (HOST, "Robert'); DROP TABLE videos;-- is what the host said."),
    (GUEST, "Then ../../etc/passwd, a pipe | and brackets [one] appeared, naïve café ✓."),
)
BAD_CAPTIONS = {  # video id -> (captions served, what the recorded reason says)
    "badVtt00001": (Captions.MALFORMED, "missing the webvtt signature"),
    "badJson0001": (Captions.MALFORMED_JSON3, "not json"),
}
LATIN1 = "latin1Vtt01"
# route id (safe, for the loopback's files) -> (id the feed advertises, title)
HOSTILE = {
    "hostilePath": ("../../etc/passwd", "../../../../tmp/evil-title"),
    "hostileSql0": ("'; DROP TABLE videos;--", "Robert'); DROP TABLE videos;--"),
    "hostileSeps": ("a|b,c[d]e...f", "| , [ ] ... in a title"),
    "hostileLong": ("x" * 10_000, "T" * 10_000),
    "hostileUni0": ("vidéo\u202eevil\u200bid\t🎙", "Ünïcödé ✓ 🎙 \u202eRTL\u200b zero-width \x85\x9b C1 controls"),
}


@pytest.fixture(scope="module")
def channel(tmp_path_factory):
    episodes = [
        Episode(
            video_id="hostileText", title="Hostile caption text", published=AT, utterances=SPOKEN,
            captions=Captions.MANUAL, leading_silence_s=0.3, trailing_silence_s=0.3,
        ),
        silent_episode("silence0001", seconds=4.0, published=AT),
        quick_episode("corrupt0001", published=AT),
        *(quick_episode(vid, published=AT, captions=kind) for vid, (kind, _) in BAD_CAPTIONS.items()),
        quick_episode(LATIN1, published=AT, captions=Captions.LATIN1),
    ]
    for route_id, (source_id, title) in HOSTILE.items():
        quick = quick_episode(route_id, published=AT, captions=Captions.MANUAL)
        episodes.append(
            Episode(
                video_id=route_id, source_id=source_id, title=title, published=AT, utterances=quick.utterances,
                captions=Captions.MANUAL, leading_silence_s=0.3, trailing_silence_s=0.3,
            )
        )
    return generate_channel(tmp_path_factory.mktemp("content-faults"), episodes)


def _run(instance, key):
    from definitions import defs

    result = dg.materialize(
        list(defs().assets), partition_key=str(partition_key(key, DAY)), instance=instance, resources=defs().resources
    )
    assert result.success
    return {
        event.asset_key.path[-1]: {k: v.value for k, v in event.materialization.metadata.items()}
        for event in result.get_asset_materialization_events()
    }


def test_content_faults_and_hostile_inputs_in_one_partition(archive, instance, channel, smoke_model_settings):
    from ytingest.app.channels import register_channel

    outside_before = beside_data_dir()
    with LoopbackChannel(channel, faults={"corrupt0001": Fault.corrupt()}) as site:
        key, _ = register_channel(site.rss_url, key=CHANNEL_KEY)
        assert key == CHANNEL_KEY
        meta = _run(instance, key)

        by_source = ids(archive)
        sources = {e.source_id for e in channel.episodes}
        assert set(by_source) == sources  # every id stored verbatim, the 10k one included
        titles = dict(query(archive, "SELECT source_id, title FROM videos"))
        # Titles are stored as given, less NUL and control characters (C0 and C1), which clean_text removes.
        assert {s: titles[s] for s, _ in HOSTILE.values()} == {s: clean_text(t) for s, t in HOSTILE.values()}
        for video_id in by_source.values():  # ytingest's own ids are safe whatever the source said
            assert validate_video_id(video_id) == video_id and len(video_id) <= 80
        assert query(archive, "SELECT key FROM channels") == [(CHANNEL_KEY,)]
        assert CHANNEL_KEY in instance.get_dynamic_partitions("channels")

        state = steps(archive)
        fine = sources - {"corrupt0001"}
        for source in fine:
            for asset in ASSETS:
                assert state[(source, asset)][0] == "succeeded", (source, asset, state[(source, asset)])
        # Corrupt media: failed at audio with its reason; every later step skipped it, saying why.
        status, reason, _, _ = state[("corrupt0001", "audio")]
        assert status == "failed" and reason.startswith("corrupt or unreadable media: ffmpeg")
        for asset in ASSETS[1:]:
            status, reason, _, _ = state[("corrupt0001", asset)]
            assert status == "skipped" and reason.startswith("upstream ") and "corrupt" in reason, (asset, reason)
        assert meta["audio"]["failures"] == {by_source["corrupt0001"]: state[("corrupt0001", "audio")][1]}

        # Malformed captions: saved as served, rejected with the parser's reason, ASR used instead.
        transcripts = {
            row[0]: row[1:] for row in query(
                archive, "SELECT v.source_id, t.source, t.caption_kind, t.model FROM transcripts t JOIN videos v USING (video_id)"
            )
        }  # fmt: skip
        for source, (_, why) in BAD_CAPTIONS.items():
            reason = state[(source, "transcripts")][1]
            assert "captions unusable" in reason and why in reason.lower() and reason.endswith("transcribed from ASR")
            assert transcripts[source][0] == "asr" and transcripts[source][2]
            assert meta["transcripts"]["caption_fallbacks"][by_source[source]] == reason
        # Wrong encoding: refused at download (never stored as mojibake), noted on the audio step.
        status, note, _, _ = state[(LATIN1, "audio")]
        assert status == "succeeded" and note.startswith("captions: en: not UTF-8 (byte ") and "not saved" in note
        assert meta["audio"]["caption_errors"] == {by_source[LATIN1]: state[(LATIN1, "audio")][1]}
        assert transcripts[LATIN1][0] == "asr" and state[(LATIN1, "transcripts")][1] is None
        # Good captions leave no note anywhere.
        for source in fine - {*BAD_CAPTIONS, LATIN1}:
            assert state[(source, "audio")][1] is None and state[(source, "transcripts")][1] is None, source

        # Silence: success, and nothing made up: no segments, speakers, voices or chunks.
        silent = by_source["silence0001"]
        assert query(archive, "SELECT source, speech_seconds FROM transcripts WHERE video_id = %s", silent) == [("asr", 0.0)]
        assert query(archive, "SELECT speakers FROM diarizations WHERE video_id = %s", silent) == [(0,)]

        # Hostile caption text is stored as spoken, quotes, pipes and all.
        text = [r[0] for r in query(archive, "SELECT text FROM transcript_segments WHERE video_id = %s ORDER BY idx", by_source["hostileText"])]
        assert text == [utterance for _, utterance in SPOKEN]

        counts = row_counts(archive)
        done = {by_source[s] for s in fine}
        assert counts["videos"] == counts["channel_videos"] == {v: 1 for v in by_source.values()}
        assert counts["audio"] == {v: 1 for v in done}
        captioned = {"hostileText", *BAD_CAPTIONS, *(s for s, _ in HOSTILE.values())}
        assert counts["captions"] == {by_source[s]: 1 for s in captioned}
        assert counts["video_steps"] == {v: len(ASSETS) for v in by_source.values()}
        assert set(counts["transcripts"]) == set(counts["diarizations"]) == done
        for table in ("transcript_segments", "speaker_turns", "voice_embeddings", "chunks"):
            assert silent not in counts[table], table
            assert by_source["corrupt0001"] not in counts[table], table
        # Chunks exactly where there are words: every captioned video (the smoke Whisper's random
        # weights may hear nothing in the ASR videos, and then they have no chunks either).
        assert set(counts["chunks"]) == set(counts["transcript_segments"]) >= {by_source[s] for s in captioned - set(BAD_CAPTIONS)}
        assert_files_match_rows(archive)
        assert_no_partial_rows(archive)
        # Nothing was written outside DATA_DIR, and no file took its name from a title or source id.
        assert beside_data_dir() - outside_before <= {get_settings().audio_dir}
        for path in files_under(get_settings().audio_dir):
            assert path.name.split(".")[0] in by_source.values()

        # A second run: every video already done, nothing rewritten, the failure tried once more.
        before = snapshot(archive)
        meta = _run(instance, key)
        assert meta["audio"]["videos_already_done"] == len(fine) and meta["audio"]["videos_failed"] == 1
        assert snapshot(archive) == before
        again = steps(archive)
        for source in fine:
            for asset in ASSETS:
                assert again[(source, asset)] == state[(source, asset)], (source, asset)
        assert again[("corrupt0001", "audio")][2] == state[("corrupt0001", "audio")][2] + 1
        assert row_counts(archive) == counts
        assert for_videos(snapshot(archive), done) == for_videos(before, done)

