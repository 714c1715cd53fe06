"""Asset `outcomes`: per partition, did its videos work? The last step of the graph, so that a failed
video shows where Dagster users look (the partition turns red) without holding up the other videos.

Each per-video step succeeds as a step whatever its videos did, because a failed step would make
Dagster skip every later step for every video of the run. This step reads the ledger instead and
reports each partition on its own: a partition whose videos are all done, or unavailable for a
permanent cause (removed, private), is materialized with its own videos listed and linked; a
partition with a video that needs attention is not, and the step fails naming it. Dagster marks only
the partitions left without a materialization as failed, so one bad partition leaves the others'
status alone, also in a run over a range of dates."""

import dagster as dg

from ingest_assets.partitions import per_video_asset, windows_by_channel
from resources.postgres import PostgresResource
from ytingest.store import catalog

STEPS = ("audio", "transcripts", "diarization", "voice_embeddings", "text_embeddings")


@per_video_asset(
    deps=["voice_embeddings", "text_embeddings"],
    group_name="ingest",
    kinds={"postgres"},
    output_required=False,
)
def outcomes(context: dg.AssetExecutionContext, postgres: PostgresResource):
    """Each partition's videos with their outcome: done, unavailable (a permanent cause: removed, private,
    corrupt) or needing attention (an error a re-run or a fix can cure). Red when one needs attention."""
    bad: dict[str, list[str]] = {}
    for channel_key, windows in windows_by_channel(context.partition_keys).items():
        for key, span in windows.items():
            with postgres.connect() as conn:
                videos = catalog.videos_in_partition(conn, channel_key, [span])
                ids = [v.video_id for v in videos]
                ledger = {step: catalog.step_statuses(conn, step, ids) for step in STEPS}
            rows = [(video, *video_outcome(video.video_id, ledger)) for video in videos]
            attention = [f"{video.video_id}: {why}" for video, kind, why in rows if kind == "needs attention"]
            if attention:
                bad[key] = attention
                continue
            yield dg.AssetMaterialization(asset_key=context.asset_key, partition=key, metadata=_metadata(rows))
    if bad:
        lines = [f"{key}: {line}" for key, lines in bad.items() for line in lines]
        raise dg.Failure(
            description=f"{len(lines)} video(s) need attention in {len(bad)} partition(s):\n" + "\n".join(lines),
            metadata={"partitions": dg.MetadataValue.json(bad)},
            allow_retries=False,
        )


def video_outcome(video_id: str, ledger: dict[str, dict[str, catalog.StepStatus]]) -> tuple[str, str]:
    for step in STEPS:
        status = ledger[step].get(video_id)
        if status is None:
            return "needs attention", f"{step} has not run for it"
        if status.status != "succeeded":
            return ("unavailable" if status.permanent else "needs attention"), f"{step} {status.status}: {status.reason}"
    return "done", ""


def _metadata(rows: list[tuple[catalog.VideoRow, str, str]]) -> dict:
    table = "\n".join(
        f"| [{_cell(video.title)}]({video.url}) | {kind} | {_cell(why)} |" for video, kind, why in rows
    )
    return {
        "videos": len(rows),
        "done": sum(kind == "done" for _, kind, _ in rows),
        "unavailable": sum(kind == "unavailable" for _, kind, _ in rows),
        "outcomes": dg.MetadataValue.md("| video | outcome | why |\n|---|---|---|\n" + table if rows else "no videos"),
    }


def _cell(text: str) -> str:
    return text.replace("|", "/").replace("\n", " ")
