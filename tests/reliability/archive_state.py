"""What the fault tests assert about the archive after each run: exact rows per video in every table,
audio and caption files on disk that match the rows, nothing half-written, nothing outside DATA_DIR."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import psycopg

from ytingest.settings import get_settings

# table -> rows per video, for every per-video table of the archive
PER_VIDEO_TABLES = (
    "audio", "captions", "video_steps", "transcripts", "transcript_segments", "diarizations",
    "speaker_turns", "segment_speakers", "voice_embeddings", "chunks",
)  # fmt: skip
ASSETS = ("audio", "transcripts", "diarization", "voice_embeddings", "text_embeddings")


def query(url: str, sql: str, *args) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchall()


def ids(url: str) -> dict[str, str]:
    """source id (as the feed gave it) -> ytingest's video id."""
    return dict(query(url, "SELECT source_id, video_id FROM videos"))


def row_counts(url: str) -> dict[str, dict[str, int]]:
    """table -> {video_id: rows}; a video with no rows in a table is absent from its dict."""
    counts: dict[str, dict[str, int]] = {}
    for table in ("videos", "channel_videos", *PER_VIDEO_TABLES):
        counts[table] = dict(query(url, f"SELECT video_id, count(*) FROM {table} GROUP BY video_id"))
    return counts


def steps(url: str) -> dict[tuple[str, str], tuple[str, str | None, int, str | None]]:
    """(source id, asset) -> (status, reason, attempts, version)."""
    rows = query(
        url,
        "SELECT v.source_id, s.asset, s.status, s.reason, s.attempts, s.version"
        " FROM video_steps s JOIN videos v USING (video_id)",
    )
    return {(r[0], r[1]): tuple(r[2:]) for r in rows}


def snapshot(url: str) -> dict[str, list[tuple]]:
    """Everything a re-run must leave alone for videos already done (ids, checksums, versions, times)."""
    return {
        "audio": query(url, "SELECT video_id, path, sha256, bytes, downloaded_at FROM audio ORDER BY 1"),
        "captions": query(url, "SELECT video_id, language, kind, format, sha256 FROM captions ORDER BY 1, 2, 3, 4"),
        "transcripts": query(url, "SELECT video_id, source, model, created_at FROM transcripts ORDER BY 1"),
        "diarizations": query(url, "SELECT video_id, speakers, created_at FROM diarizations ORDER BY 1"),
        "voices": query(url, "SELECT video_id, speaker, speaker_id FROM voice_embeddings ORDER BY 1, 2"),
        "chunks": query(url, "SELECT chunk_id, video_id, idx, model FROM chunks ORDER BY 1"),
        "speakers": query(url, "SELECT speaker_id, videos FROM speakers ORDER BY 1"),
    }


def for_videos(snap: dict[str, list[tuple]], video_ids: set[str]) -> dict[str, list[tuple]]:
    """The part of a snapshot that belongs to these videos (the speakers registry is shared: left out)."""
    index = {"chunks": 1}
    return {
        table: [row for row in rows if row[index.get(table, 0)] in video_ids]
        for table, rows in snap.items()
        if table != "speakers"
    }


def assert_files_match_rows(url: str) -> None:
    """The audio directory holds exactly the files the audio and captions rows name, each with the
    recorded size, and no work directory or temporary file survived a run."""
    audio_dir = get_settings().audio_dir
    on_disk = {p.name for p in audio_dir.iterdir()} if audio_dir.exists() else set()
    audio_rows = query(url, "SELECT path, bytes FROM audio")
    caption_rows = query(url, "SELECT path FROM captions")
    named = {Path(path).name for path, _ in audio_rows} | {Path(path).name for (path,) in caption_rows}
    assert on_disk == named, {"not in the db": on_disk - named, "missing on disk": named - on_disk}
    for path, size in audio_rows:
        assert Path(path).parent == audio_dir and Path(path).stat().st_size == size
    for (path,) in caption_rows:
        assert Path(path).parent == audio_dir


def assert_no_partial_rows(url: str) -> None:
    """Rows exist for a step only where that step succeeded (or, for audio, where audio succeeded)."""
    status: dict[tuple[str, str], str] = {
        (v, a): s for v, a, s in query(url, "SELECT video_id, asset, status FROM video_steps")
    }
    owners = {
        "audio": "audio", "captions": "audio", "transcripts": "transcripts", "transcript_segments": "transcripts",
        "diarizations": "diarization", "speaker_turns": "diarization", "segment_speakers": "diarization", "voice_embeddings": "voice_embeddings",
        "chunks": "text_embeddings",
    }  # fmt: skip
    problems = defaultdict(list)
    for table, asset in owners.items():
        for (video_id,) in query(url, f"SELECT DISTINCT video_id FROM {table}"):
            if status.get((video_id, asset)) != "succeeded":
                problems[table].append((video_id, status.get((video_id, asset))))
    assert not problems, dict(problems)


def files_under(root: Path) -> set[Path]:
    """Every file below `root` (a directory vanishing mid-walk is skipped, not an error)."""
    return {Path(top) / name for top, _, names in os.walk(root) for name in names}


def beside_data_dir() -> set[Path]:
    """Files next to DATA_DIR (in its parent, Dagster's home aside) and DATA_DIR's own top-level entries:
    where a path built from a hostile name would land if it escaped the audio directory."""
    data_dir = get_settings().data_dir
    dagster_home = Path(os.environ["DAGSTER_HOME"]).resolve()
    found = {p for p in data_dir.iterdir()} if data_dir.exists() else set()
    for entry in data_dir.parent.iterdir():
        if entry.resolve() in (data_dir, dagster_home):
            continue
        found |= files_under(entry) if entry.is_dir() else {entry}
    return found
