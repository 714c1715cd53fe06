"""Speaker names live on the global speaker rows: they survive a re-run's re-matching, a merge keeps
one, and listing shows videos, talk time and a link to a moment each speaker talks."""

import numpy as np
import pytest

from ytingest.store.database import connection
from ytingest.store.speakers import (
    SpeakerError,
    list_speakers,
    merge_speakers,
    name_speaker,
    resolve_speaker,
)
from ytingest.store.transcripts import replace_diarization, replace_voice_embeddings

MODEL = "ecapa-test"
THRESHOLD = 0.5  # random 192-dim voices are near orthogonal; a merged centroid keeps ~0.7 of each


def _voice(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=192)


def _video(conn, video_id: str, channel: str, voices: dict[str, tuple[np.ndarray, float]]):
    conn.execute(
        "INSERT INTO videos (video_id, source_id, url, title) VALUES (%s, %s, %s, %s)",
        (video_id, video_id, f"http://site/{video_id}", video_id),
    )
    conn.execute("INSERT INTO channel_videos VALUES (%s, %s)", (channel, video_id))
    turns = [(10.0 * i, 10.0 * i + seconds, label) for i, (label, (_, seconds)) in enumerate(sorted(voices.items()))]
    replace_diarization(conn, video_id, "pyannote-test", len(voices), turns, turns)
    return replace_voice_embeddings(conn, video_id, MODEL, voices, THRESHOLD)


def test_names_survive_rematching_and_merges_keep_them(archive):
    ada, bob, bob_again = _voice(1), _voice(2), _voice(2) + _voice(9) * 0.05
    with connection(archive) as conn:  # pooled: pgvector's types registered, as the project's are
        conn.execute("INSERT INTO channels (key, url, kind) VALUES ('one', 'http://one', 'feed'), ('two', 'http://two', 'feed')")
        first = {m.speaker: m.speaker_id for m in _video(conn, "v1", "one", {"S0": (ada, 30.0), "S1": (bob, 12.0)})}
        name_speaker(conn, first["S0"], "  Ada   Lovelace ")
        # The same video again (a re-run): its voices match the same, named rows.
        again = {m.speaker: m.speaker_id for m in _video_rerun(conn, "v1", {"S0": (ada, 30.0), "S1": (bob, 12.0)})}
        assert again == first
        assert resolve_speaker(conn, "ada lovelace") == first["S0"] and resolve_speaker(conn, str(first["S1"])) == first["S1"]

        # A voice the matcher did not link (threshold too strict for it) becomes its own speaker ...
        third = _video(conn, "v2", "two", {"S0": (_voice(3), 5.0)})[0].speaker_id
        name_speaker(conn, third, "Bob")
        with pytest.raises(SpeakerError, match="merge"):
            name_speaker(conn, first["S1"], "BOB")
        # ... and a user who knows better merges it: voices move, the name stays.
        kept, name = merge_speakers(conn, first["S1"], third)
        assert (kept, name) == (first["S1"], "Bob")
        assert conn.execute("SELECT count(*) FROM speakers WHERE speaker_id = %s", (third,)).fetchone()[0] == 0
        _video(conn, "v3", "two", {"S0": (bob_again, 8.0)})

        listed = {s.speaker_id: s for s in list_speakers(conn)}
        assert set(listed) == {first["S0"], first["S1"]}
        bob_row = listed[first["S1"]]
        assert (bob_row.name, bob_row.videos, bob_row.talk_seconds) == ("Bob", 3, 25.0)
        assert bob_row.example_video_id == "v1" and bob_row.example_url == "http://site/v1#t=10"
        assert [s.speaker_id for s in list_speakers(conn, "two")] == [first["S1"]]
        assert list_speakers(conn, "two")[0].talk_seconds == 13.0

        for bad, said in [("", "empty"), ("123", "digits"), ("a\x07b", "control"), ("x" * 101, "at most")]:
            with pytest.raises(SpeakerError, match=said):
                name_speaker(conn, first["S0"], bad)
        for call, said in [
            (lambda: name_speaker(conn, 99999, "X"), "no speaker 99999"),
            (lambda: merge_speakers(conn, first["S0"], first["S0"]), "itself"),
            (lambda: list_speakers(conn, "nosuch"), "nosuch"),
            (lambda: resolve_speaker(conn, "Nobody"), "Nobody"),
        ]:
            with pytest.raises(SpeakerError, match=said):
                call()


def _video_rerun(conn, video_id, voices):
    return replace_voice_embeddings(conn, video_id, MODEL, voices, THRESHOLD)
