"""Expected errors from the `ytingest` command are one line saying why, never a traceback: here a
database that cannot be reached, for each reason a user meets (the password never echoed)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.support.cli import ytingest

PASSWORD = "s3cret-pw-do-not-echo"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        (lambda tmp: f"postgresql://app:{PASSWORD}@127.0.0.1:{_closed_port()}/app", "connection refused"),
        (lambda tmp: f"postgresql://app:{PASSWORD}@/app?host={tmp}", "no server socket there"),
    ],
    ids=["refused", "no-socket"],
)
def test_an_unreachable_database_is_one_line_saying_why(tmp_path: Path, url, why: str) -> None:
    result = ytingest("channels", "list", env={"DATABASE_URL": url(tmp_path)})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and PASSWORD not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("ytingest: cannot prepare databases on") and why in line
