"""`ytingest search`: embed the query with the configured text encoder and run the hybrid search."""

from __future__ import annotations

import datetime as dt

from resources.models import TextEncoderResource
from resources.postgres import PostgresResource
from ytingest.core.text import printable
from ytingest.store.search import Filters, Hit, search


def run_search(query: str, channel: str | None, speaker: str | None, since: dt.date | None, limit: int) -> list[Hit]:
    with TextEncoderResource().session() as encoder:
        vector = encoder.encode_query(query)  # loads the model under the OOM ladder
        model = encoder.plan.name
    with PostgresResource().connect() as conn:
        return search(conn, model, query, vector, Filters(channel, speaker, since), limit)


def _clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600:d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def format_hits(hits: list[Hit]) -> str:
    if not hits:
        return "no hits"
    lines = []
    for rank, hit in enumerate(hits, start=1):
        who = f" - {hit.speaker}" if hit.speaker else ""
        # Titles and text come from the outside world: escape what would drive the terminal (ESC[2J).
        lines.append(printable(f"{rank:2d}. [{hit.channel}] {hit.title} @ {_clock(hit.start)}{who}"))
        lines.append(printable(f"    {hit.text[:200]}"))
        lines.append(printable(f"    {hit.url}"))
    return "\n".join(lines)
