"""`ytingest demo`, the script behind `make demo`, run as a user runs it."""

import socket

import dagster as dg

from tests.test_cli import ytingest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_demo_ingests_the_sample_channel(archive, instance, tmp_path):
    result = ytingest("demo", "--port", str(_free_port()), "--work-dir", str(tmp_path))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    lines = [line for line in result.stdout.splitlines() if "s of audio" in line]
    assert len(lines) == 5 and all("succeeded" in line for line in lines)
    assert "caption file(s)" in lines[0]
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"ytingest/origin": "demo"}))
    assert len(runs) == 1 and runs[0].status == dg.DagsterRunStatus.SUCCESS
