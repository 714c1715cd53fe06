"""`ytingest demo`, the script behind `make demo`, run as a user runs it."""

import re
import socket
from pathlib import Path

import dagster as dg

from tests.support.cli import ytingest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_demo_ingests_the_sample_channel(archive, instance, tmp_path):
    result = ytingest("demo", "--port", str(_free_port()), "--work-dir", str(tmp_path))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "SMOKE MODELS" in out  # no real models on this machine, and the banner says so
    assert "videos: 5 attempted, 5 succeeded, 0 failed" in out
    assert "[PASS] Success rate > 90%: 100.0% (5/5)" in out
    assert out.count("$ ytingest search") == 2
    # Both example searches hit the captioned episodes that say those words.
    assert "Kitchen Chemistry with Friends" in out and "Rivers of the North" in out
    # Quiet: one line per video and step, no Dagster event lines, warnings or raw dicts on screen; those
    # are in the log file whose path is printed.
    screen = out + result.stderr
    assert " DEBUG " not in screen and "Warning" not in screen and "{'" not in screen
    assert out.count(" text_embeddings ") == 5
    log = Path(re.search(r"^log: (\S+)", out, re.MULTILINE).group(1))
    assert "STEP_SUCCESS" in log.read_text()
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"ytingest/origin": "ingest"}))
    assert len(runs) == 1 and runs[0].status == dg.DagsterRunStatus.SUCCESS
