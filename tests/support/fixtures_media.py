"""Fixtures for tests that ingest a channel: generated media with known ground truth, on loopback.

Listed in conftest's ``pytest_plugins`` (or import them into a test module):

- ``sample_channel``: the demo channel, five spoken episodes, generated once per session.
- ``edge_channel``: the small awkward episodes of `edge_episodes`, generated once per session.
- ``sample_server`` / ``edge_server``: a fresh `LoopbackChannel` per test, so faults, publications
  and request logs never leak from one test into the next. ``edge_server`` withholds `LATE_ID`
  until a test publishes it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from ytingest.offline.loopback_server import LoopbackChannel
from ytingest.offline.sample_channel import (
    LATE_ID,
    Channel,
    default_episodes,
    edge_episodes,
    generate_channel,
)

__all__ = ["edge_channel", "edge_server", "sample_channel", "sample_server"]


def _require_tools() -> None:
    for tool in ("espeak-ng", "ffmpeg"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")


@pytest.fixture(scope="session")
def sample_channel(tmp_path_factory: pytest.TempPathFactory) -> Channel:
    _require_tools()
    return generate_channel(tmp_path_factory.mktemp("sample-channel"), default_episodes())


@pytest.fixture(scope="session")
def edge_channel(tmp_path_factory: pytest.TempPathFactory) -> Channel:
    _require_tools()
    return generate_channel(
        tmp_path_factory.mktemp("edge-channel"),
        edge_episodes(),
        channel_id="UCyt1ngestEdgeCases00000",
        title="ytingest Edge Cases",
    )


@pytest.fixture
def sample_server(sample_channel: Channel) -> Iterator[LoopbackChannel]:
    with LoopbackChannel(sample_channel) as server:
        yield server


@pytest.fixture
def edge_server(edge_channel: Channel) -> Iterator[LoopbackChannel]:
    with LoopbackChannel(edge_channel, withheld=[LATE_ID]) as server:
        yield server
