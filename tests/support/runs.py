"""Materialising the project's own assets for one (channel, date) partition, in process."""

import datetime as dt

import dagster as dg


def materialize(instance, channel_key: str, day: dt.date, selection: set[str] | None = None) -> dg.ExecuteInProcessResult:
    """Run the assets named in `selection` (all of them when None) with the project's resources."""
    from definitions import defs
    from ingest_assets.partitions import partition_key

    built = defs()
    assets = [a for a in built.assets if selection is None or a.key.to_user_string() in selection]
    return dg.materialize(
        assets, partition_key=str(partition_key(channel_key, day)), instance=instance, resources=built.resources
    )


def project_assets(*names: str) -> list[dg.AssetsDefinition]:
    """The named assets as the code location builds them (partitions and backfill policy from settings)."""
    from definitions import defs

    built = defs()
    return [built.get_assets_def(name) for name in names]
