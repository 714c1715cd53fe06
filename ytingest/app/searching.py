"""`ytingest search`: embed the query with the configured text encoder, run the hybrid search, and place
each hit on its moment, scoring the chunk's sentences with the same encoder so a paraphrase lands too.

The web UI calls `run_search` and `hit_to_json` (see /work/notes/issue-14-api.md)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np

from resources.models import TextEncoderResource
from resources.postgres import PostgresResource
from ytingest.core.moments import marked
from ytingest.core.text import printable
from ytingest.store.search import Filters, Hit, SearchError, search

__all__ = ["Hit", "SearchError", "format_hits", "hit_to_json", "run_search"]


def run_search(
    query: str, channel: str | None = None, speaker: str | None = None, since: dt.date | None = None, limit: int = 10
) -> list[Hit]:
    """Raises SearchError (one line) for an empty query, an unknown channel or speaker, a future date."""
    if not query.strip():
        raise SearchError("the query is empty: say what to look for")  # before loading a model
    with TextEncoderResource().session() as encoder:
        vector = encoder.encode_query(query)  # the model's query prompt; loads under the OOM ladder

        def similarity(texts: Sequence[str]) -> Sequence[float]:
            encoded = encoder.encode(list(texts))
            norms = np.linalg.norm(encoded, axis=1) * np.linalg.norm(vector)
            return (encoded @ vector / np.where(norms > 0, norms, 1.0)).tolist()

        with PostgresResource().connect() as conn:
            return search(conn, encoder.plan.name, query, vector, Filters(channel, speaker, since), limit, similarity)


def hit_to_json(hit: Hit) -> dict:
    """One hit as `ytingest search --json` prints it: every field, plus the snippet with `**` marks."""
    return {**hit.as_dict(), "snippet_marked": marked(hit.snippet, hit.highlights)}


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
        lines.append(printable(f"    {marked(hit.snippet, hit.highlights, '[', ']')}"))
        lines.append(printable(f"    {hit.url}"))
    return "\n".join(lines)
