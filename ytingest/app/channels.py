"""Managing channels: registering them (rows in the catalog and partitions in Dagster), checking
that its URL lists something, removing it, and undoing a registration that failed."""

from __future__ import annotations

from ytingest.core.identifiers import ChannelSpec, InvalidChannel, parse_channel_url


class ChannelCheckFailed(ValueError):
    """The URL lists no video (or could not be listed): registering it would poll nothing."""


def register_channel(
    url: str, key: str | None = None, feed_url: str | None = None, origin: str = "cli", check: bool = False
) -> tuple[str, bool]:
    """Validate, store in Postgres, and add the channel's dynamic partition. Returns (key, was it new).
    With `check`, the URL must list at least one video (or be a feed) before anything is stored."""
    return register_channels([url], key=key, feed_url=feed_url, origin=origin, check=check)[0]


def register_channels(
    urls: list[str], key: str | None = None, feed_url: str | None = None, origin: str = "cli", check: bool = False
) -> list[tuple[str, bool]]:
    """Register every URL in one pass: all are validated (and, with `check`, listed) first, then stored in
    one transaction and given their partitions in one call, so a bad URL leaves nothing registered.
    `key` and `feed_url` name one channel. Returns (key, was it new) per URL."""
    from resources.postgres import PostgresResource
    from ytingest.store import catalog

    if len(urls) != 1 and (key is not None or feed_url is not None):
        raise InvalidChannel("a key or feed URL names one channel: give exactly one URL with it")
    specs = [_parse(url, key, feed_url) for url in urls]
    with PostgresResource().connect() as conn:
        # A URL registered already keeps its key (perhaps one given then), unless a key is given now.
        known = [catalog.channel_by_url(conn, spec.url) if key is None else None for spec in specs]
    specs = [row.spec() if row is not None else spec for spec, row in zip(specs, known, strict=True)]
    if check:
        for spec in specs:
            check_lists_videos(spec)
    with PostgresResource().connect() as conn:
        created = [catalog.add_channel(conn, spec, origin=origin) for spec in specs]
    _set_partitions([spec.key for spec in specs], present=True)
    return [(spec.key, new) for spec, new in zip(specs, created, strict=True)]


def _parse(url: str, key: str | None, feed_url: str | None) -> ChannelSpec:
    """The URL's channel; its error names the URL (credentials removed) where the message does not already."""
    from ytingest.core.urls import without_credentials

    try:
        return parse_channel_url(url, key=key, feed_url=feed_url)
    except InvalidChannel as exc:
        shown = without_credentials(url)
        raise InvalidChannel(str(exc) if shown in str(exc) else f"{shown!r}: {exc}") from None


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
    _set_partitions([key], present=False)
    return known


def forget_channel(key: str) -> None:
    """Undo a registration that nothing came of (a failed `ytingest ingest`): the row and the partition."""
    from resources.postgres import PostgresResource
    from ytingest.store import channels as channel_store

    with PostgresResource().connect() as conn:
        channel_store.delete_channel(conn, key)
    _set_partitions([key], present=False)


def _set_partitions(keys: list[str], present: bool) -> None:
    from dagster import DagsterInstance

    from ingest_assets.partitions import CHANNELS
    from ytingest.app.instance import ensure_instance

    ensure_instance()
    with DagsterInstance.get() as instance:
        existing = set(instance.get_dynamic_partitions(CHANNELS.name))
        if present:
            missing = list(dict.fromkeys(k for k in keys if k not in existing))
            if missing:
                instance.add_dynamic_partitions(CHANNELS.name, missing)
        else:
            for key in keys:
                if key in existing:
                    instance.delete_dynamic_partition(CHANNELS.name, key)
