"""Sentence vectors an encoder has computed, kept on disk (SQLite) beside the model's ONNX copy.

A search scores every sentence of its hits against the query to place each hit on its moment: about a
hundred sentences for ten hits, most of a search's CPU time on a small machine. A user searching the
same archive again and again meets the same sentences, and their vectors do not change while the model
does not (the cache lives in the copy's directory, named after the model's files). The cache only ever
saves work: any trouble with its file (read-only, locked, corrupt) and the texts are simply encoded.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

import numpy as np

log = logging.getLogger(__name__)

# About 15 MB of float32 384-dimension vectors: the sentences of some 1,000 chunks. Past it the oldest go.
MAX_ROWS: Final = 10_000


class VectorCache:
    def __init__(self, path: Path, dimensions: int, max_rows: int = MAX_ROWS) -> None:
        self.path, self.dimensions, self.max_rows = path, dimensions, max_rows

    def encode(self, texts: Sequence[str], encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """`encode(texts)`, with the vectors of texts seen before read back instead of computed."""
        keys = [hashlib.sha256(text.encode()).digest() for text in texts]
        found = self._read(set(keys))
        missing = {key: text for key, text in zip(keys, texts, strict=True) if key not in found}
        if missing:
            fresh = dict(zip(missing, encode(list(missing.values())), strict=True))
            self._write(fresh)
            found.update(fresh)
        return np.stack([found[key] for key in keys]) if keys else np.empty((0, self.dimensions), np.float32)

    def _read(self, keys: set[bytes]) -> dict[bytes, np.ndarray]:
        try:
            with contextlib.closing(sqlite3.connect(self.path, timeout=2)) as db:
                db.execute(_TABLE)
                marks = ",".join("?" * len(keys))
                rows = db.execute(f"SELECT digest, vector FROM vectors WHERE digest IN ({marks})", list(keys)).fetchall()
        except sqlite3.Error as exc:
            log.info("sentence vectors in %s not read (%s); encoding them", self.path, exc)
            return {}
        return {digest: np.frombuffer(vector, dtype=np.float32) for digest, vector in rows if len(vector) == 4 * self.dimensions}

    def _write(self, vectors: dict[bytes, np.ndarray]) -> None:
        try:
            with contextlib.closing(sqlite3.connect(self.path, timeout=2)) as db, db:  # one transaction
                db.execute(_TABLE)
                rows = [(key, np.asarray(vector, dtype=np.float32).tobytes()) for key, vector in vectors.items()]
                db.executemany("INSERT OR IGNORE INTO vectors (digest, vector) VALUES (?, ?)", rows)
                db.execute("DELETE FROM vectors WHERE rowid <= (SELECT max(rowid) FROM vectors) - ?", (self.max_rows,))
        except sqlite3.Error as exc:
            log.info("sentence vectors not kept in %s (%s)", self.path, exc)


_TABLE: Final = "CREATE TABLE IF NOT EXISTS vectors (digest BLOB PRIMARY KEY, vector BLOB NOT NULL)"
