"""Registering a channel: its row in the catalog and its partition in Dagster."""

from __future__ import annotations

from ytingest.core.identifiers import parse_channel_url


def register_channel(url: str, key: str | None = None, feed_url: str | None = None, origin: str = "cli") -> tuple[str, bool]:
    """Validate, store in Postgres, and add the channel's dynamic partition. Returns (key, was it new)."""
    from dagster import DagsterInstance

    from ingest_assets.partitions import CHANNELS
    from resources.postgres import PostgresResource
    from ytingest.app.instance import ensure_instance
    from ytingest.store import catalog

    spec = parse_channel_url(url, key=key, feed_url=feed_url)
    with PostgresResource().connect() as conn:
        known = catalog.channel_by_url(conn, spec.url) if key is None else None
        if known is not None:  # the URL is registered already, perhaps under a key given then
            spec = known.spec()
        created = catalog.add_channel(conn, spec, origin=origin)
    ensure_instance()
    with DagsterInstance.get() as instance:
        if not instance.has_dynamic_partition(CHANNELS.name, spec.key):
            instance.add_dynamic_partitions(CHANNELS.name, [spec.key])
    return spec.key, created
