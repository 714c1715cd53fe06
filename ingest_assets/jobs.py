"""The ingest job: every per-video asset for a channel x date partition."""

import dagster as dg

from ingest_assets.partitions import PARTITIONS

ingest_job = dg.define_asset_job(
    name="ingest",
    selection=dg.AssetSelection.all(),
    partitions_def=PARTITIONS,
    description="Everything for a channel's videos of given dates: listing, audio, and the steps after it.",
)
