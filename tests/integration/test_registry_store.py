"""The speaker registry in Postgres: re-runs take a video's old voices out of the centroids, and two
voices of one video never share a global speaker. Synthetic vectors, no models."""

import json

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from ytingest.store.transcripts import replace_voice_embeddings

MODEL = "synthetic-voice"


def _unit(*values):
    v = np.array(values, dtype=np.float64)
    return v / np.linalg.norm(v)


def _store(conn, video_id, voices):
    return {m.speaker: m.speaker_id for m in replace_voice_embeddings(
        conn, video_id, MODEL, {name: (vector, 5.0) for name, vector in voices.items()}, threshold=0.7
    )}  # fmt: skip


def _speakers(conn):
    rows = conn.execute("SELECT speaker_id, centroid::text, videos FROM speakers ORDER BY speaker_id").fetchall()
    return {sid: (np.array(json.loads(text)), videos) for sid, text, videos in rows}


def test_rerun_replaces_a_videos_voices_in_the_centroids(archive):
    x, y = _unit(1, 0, 0, 0), _unit(0, 1, 0, 0)
    near_x, far = _unit(1, 0.3, 0, 0), _unit(0, 0, 1, 0)
    with psycopg.connect(archive) as conn:
        register_vector(conn)  # as the project's pooled connections are
        for video_id in ("video1", "video2"):
            conn.execute("INSERT INTO videos (video_id, source_id, url, title) VALUES (%s, %s, 'u', 't')", (video_id, video_id))
        first = _store(conn, "video1", {"A": x, "B": y})
        assert first["A"] != first["B"]
        assert _store(conn, "video1", {"A": x, "B": y}) == first  # a re-run finds the same speakers...
        assert {sid: videos for sid, (_, videos) in _speakers(conn).items()} == {first["A"]: 1, first["B"]: 1}  # ...once

        # Both voices of video2 are closest to x: only one may join it.
        second = _store(conn, "video2", {"A": near_x, "B": _unit(1, 0.35, 0, 0.05)})
        assert sorted(v == first["A"] for v in second.values()) == [False, True]
        joined = _speakers(conn)[first["A"]]
        np.testing.assert_allclose(joined[0], _unit(*(x + near_x)), atol=1e-6)
        assert joined[1] == 2

        # Re-run video2 with another voice: x's centroid is x alone again.
        third = _store(conn, "video2", {"A": far})
        assert third["A"] not in first.values()
        back = _speakers(conn)[first["A"]]
        np.testing.assert_allclose(back[0], x, atol=1e-6)
        assert back[1] == 1
