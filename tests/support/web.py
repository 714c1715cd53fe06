"""The web app (`ytingest serve`) for tests: one generated episode ingested through the whole graph (its
phrases at times known from its own captions), and the server in its own process group on a free port."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path

from tests.support.dev_server import ytingest_server
from ytingest.offline.sample_channel import (
    GUEST,
    HOST,
    Captions,
    Episode,
    GeneratedEpisode,
    Utterance,
)

CHANNEL = "web-channel"
AT = dt.datetime(2026, 11, 5, 9, tzinfo=dt.UTC)
# The phrase comes late in a ~30 s episode, so a hit that played from its passage's start would miss it.
QUERY = "the sound is like distant thunder"
EPISODE = Episode(
    video_id="webRivers01",
    title="Rivers of the North",
    published=AT,
    captions=Captions.MANUAL,
    utterances=[
        (HOST, "Welcome back to the show. Today we are talking about rivers in the far north."),
        (GUEST, "Thanks for having me. I have spent ten winters studying frozen rivers."),
        (HOST, "What surprised you most when you first went up there?"),
        (GUEST, "The silence. When the ice locks in, the whole valley goes quiet."),
        (HOST, "And in spring the ice breaks up all at once, doesn't it?"),
        (GUEST, "Often within a single day."),
        (GUEST, "The sound is like distant thunder."),
        (HOST, "That is a good place to stop. Thank you for joining us."),
    ],
)


def spoken(episode: GeneratedEpisode, words: str) -> Utterance:
    return next(u for u in episode.utterances if words in u.text)


def ingest_episode(instance, root: Path) -> GeneratedEpisode:
    """EPISODE generated, served on loopback and materialised through every asset, as `ytingest ingest` would."""
    import dagster as dg

    from definitions import defs
    from ingest_assets.partitions import partition_key
    from ytingest.app.channels import register_channel
    from ytingest.offline.loopback_server import LoopbackChannel
    from ytingest.offline.sample_channel import generate_channel

    channel = generate_channel(root, [EPISODE])
    with LoopbackChannel(channel) as site:
        register_channel(site.rss_url, key=CHANNEL)
        result = dg.materialize(
            list(defs().assets), partition_key=str(partition_key(CHANNEL, AT.date())), instance=instance, resources=defs().resources
        )  # fmt: skip
    assert result.success
    return channel.episodes[0]


@contextlib.contextmanager
def ytingest_serve(env: dict[str, str], log_path: Path, host: str = "127.0.0.1") -> Iterator[str]:
    """Yields the server's base URL (reached on 127.0.0.1) once it answers; output goes to `log_path`."""
    with ytingest_server(["serve", "--host", host], env, log_path, "/speakers", ready_seconds=60, stop_seconds=20) as port:
        yield f"http://127.0.0.1:{port}"
