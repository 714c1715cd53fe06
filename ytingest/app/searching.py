"""`ytingest search`: embed the query with the configured text encoder, run the hybrid search, and place
each hit on its moment, scoring the chunk's sentences with the same encoder so a paraphrase lands too.
Nothing here imports dagster or torch when the encoder has its ONNX copy: a search answers in about a second.

The web UI calls `run_search` and `hit_to_json` (see /work/notes/issue-14-api.md)."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from resources.models.onnx_encoder import OnnxTextEncoder, open_onnx_encoder
from ytingest.core.moments import marked
from ytingest.core.text import printable
from ytingest.store.database import connection, ready_url
from ytingest.store.search import Filters, Hit, SearchError, search

if TYPE_CHECKING:
    from resources.models import TextEncoderSession

__all__ = ["Hit", "SearchError", "format_hits", "hit_to_json", "run_search"]


def run_search(
    query: str, channel: str | None = None, speaker: str | None = None, since: dt.date | None = None, limit: int = 10
) -> list[Hit]:
    """Raises SearchError (one line) for an empty query, an unknown channel or speaker, a future date."""
    if not query.strip():
        raise SearchError("the query is empty: say what to look for")  # before loading a model
    with query_encoder() as encoder:
        vector = encoder.encode_query(query)  # the model's query prompt

        def similarity(texts: Sequence[str]) -> Sequence[float]:
            encoded = encoder.encode(list(texts))
            norms = np.linalg.norm(encoded, axis=1) * np.linalg.norm(vector)
            return (encoded @ vector / np.where(norms > 0, norms, 1.0)).tolist()

        with connection(ready_url()) as conn:
            return search(conn, encoder.plan.name, query, vector, Filters(channel, speaker, since), limit, similarity)


@contextlib.contextmanager
def query_encoder() -> Iterator[OnnxTextEncoder | TextEncoderSession]:
    """The text encoder's ONNX copy, which answers in a fraction of a second with the same vectors; for a
    model that has none, sentence-transformers (seconds to import and load, under the OOM ladder)."""
    encoder = open_onnx_encoder()
    if encoder is not None:
        yield encoder
        return
    from resources.models import TextEncoderResource  # dagster and torch: only when needed

    with TextEncoderResource().session() as session:
        yield session


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
