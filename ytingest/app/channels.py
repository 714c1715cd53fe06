"""Managing channels: registering one (its row in the catalog and its partition in Dagster), checking
that its URL lists something, removing it, and undoing a registration that failed."""

from __future__ import annotations

from ytingest.core.identifiers import ChannelSpec, parse_channel_url


class ChannelCheckFailed(ValueError):
    """The URL lists no video (or could not be listed): registering it would poll nothing."""


def register_channel(
    url: str, key: str | None = None, feed_url: str | None = None, origin: str = "cli", check: bool = False
) -> tuple[str, bool]:
    """Validate, store in Postgres, and add the channel's dynamic partition. Returns (key, was it new).
    With `check`, the URL must list at least one video (or be a feed) before anything is stored."""
    from resources.postgres import PostgresResource
    from ytingest.store import catalog

    spec = parse_channel_url(url, key=key, feed_url=feed_url)
    with PostgresResource().connect() as conn:
        known = catalog.channel_by_url(conn, spec.url) if key is None else None
    if known is not None:  # the URL is registered already, perhaps under a key given then
        spec = known.spec()
    if check:
        check_lists_videos(spec)
    with PostgresResource().connect() as conn:
        created = catalog.add_channel(conn, spec, origin=origin)
    _set_partition(spec.key, present=True)
    return spec.key, created


def check_lists_videos(spec: ChannelSpec) -> None:
    """A feed is accepted when it parses (an empty podcast feed is a feed); anything else must list a video."""
    from resources.media import MediaSource
    from ytingest.core.feeds import FeedError
    from ytingest.core.media_errors import MediaError

    try:
        listing = MediaSource().list_channel(spec, limit=1)
    except (MediaError, FeedError) as exc:
        raise ChannelCheckFailed(f"{spec.url} could not be listed: {exc}; check the URL (or add --no-check)") from exc
    if not listing.videos and spec.kind != "feed":
        raise ChannelCheckFailed(f"{spec.url} lists no video; check the URL (or add --no-check)")


def remove_channel(key: str, delete_data: bool = False) -> bool:
    """Stop polling the channel and drop its partition from the pickers; with `delete_data`, also its
    videos (those no other channel lists), everything derived from them and their files."""
    from resources.postgres import PostgresResource
    from ytingest.store import channels as channel_store

    with PostgresResource().connect() as conn:
        known = channel_store.remove_channel(conn, key)
        files = channel_store.delete_channel(conn, key) if delete_data else []
    for path in files:
        path.unlink(missing_ok=True)
    _set_partition(key, present=False)
    return known


def forget_channel(key: str) -> None:
    """Undo a registration that nothing came of (a failed `ytingest ingest`): the row and the partition."""
    from resources.postgres import PostgresResource
    from ytingest.store import channels as channel_store

    with PostgresResource().connect() as conn:
        channel_store.delete_channel(conn, key)
    _set_partition(key, present=False)


def _set_partition(key: str, present: bool) -> None:
    from dagster import DagsterInstance

    from ingest_assets.partitions import CHANNELS
    from ytingest.app.instance import ensure_instance

    ensure_instance()
    with DagsterInstance.get() as instance:
        exists = instance.has_dynamic_partition(CHANNELS.name, key)
        if present and not exists:
            instance.add_dynamic_partitions(CHANNELS.name, [key])
        elif exists and not present:
            instance.delete_dynamic_partition(CHANNELS.name, key)
