"""The ingest job: every per-video asset for a channel x date partition."""

import dagster as dg


def build_ingest_job(partitions_def: dg.PartitionsDefinition):
    return dg.define_asset_job(
        name="ingest",
        selection=dg.AssetSelection.all(),
        partitions_def=partitions_def,
        description="Everything for a channel's videos of given dates: listing, audio, and the steps after it.",
    )
