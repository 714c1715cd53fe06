"""Retrieval quality: does search find the right episode, and does the hit land where the words are
spoken? Episodes of 3-10 minutes are generated with espeak-ng (filler talk from `bench.corpus`, plus
phrases at known times); their manual captions (cue times = the ground truth) are parsed, chunked and
embedded with the real all-MiniLM-L6-v2 exactly as the pipeline does (no ASR: captions are the text).
Each phrase is queried verbatim ("exact") and reworded ("paraphrase"), by vector only, keyword only and
hybrid (the project's `search`). Reported: recall@1 and recall@5 of the right video, MRR, and the
median and p90 of |hit time - spoken time| for the first hit in the right video, against the time a
hit had before issue 14 (its chunk's start). Two chunk sizes are compared: the default and a shorter one.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg

from bench.archive import add_channels, add_videos
from bench.corpus import sentences
from bench.environment import reset_archive
from bench.report import Report, Row

# (phrase as spoken, the same asked in other words)
PHRASES = (
    ("The lighthouse keeper painted every stair a bright shade of blue.", "what colour were the lighthouse steps painted"),
    ("My grandmother kept forty beehives behind the old chapel.", "how many bee colonies did the grandma have"),
    ("The submarine cable was repaired by divers in freezing water.", "who fixed the undersea line in icy sea"),
    ("We counted three hundred flamingos on the salt lake at dawn.", "number of pink birds seen on the lake in the morning"),
    ("The chess tournament ended when the clock caught fire.", "why was the chess competition stopped"),
    ("Her bakery sells croissants shaped like tiny dinosaurs.", "pastries in the form of small reptiles"),
    ("The satellite lost contact after a solar flare hit its antenna.", "spacecraft went silent because of the sun"),
    ("A single oak tree can drink two hundred litres on a hot day.", "how much water does a big tree use in summer"),
    ("The museum guard found a forgotten painting inside the elevator shaft.", "lost artwork discovered in the lift"),
    ("Our drummer learned to play with chopsticks during the tour.", "percussionist used eating sticks on the road"),
    ("The glacier moved eleven metres after the earthquake.", "how far did the ice sheet shift after the tremor"),
    ("They brewed coffee using water from a melted iceberg.", "making espresso with thawed berg ice"),
    ("The mayor rode a camel to the opening of the new library.", "politician arrived on an animal for the book building"),
    ("Every violin in the workshop is varnished with honey and resin.", "what coating do they put on the fiddles"),
    ("The ferry captain whistled a sea shanty to calm the passengers.", "boat skipper sang to keep travellers relaxed"),
    ("A fox stole the referee's whistle during the second half.", "animal took the official's whistle in the match"),
    ("The vaccine trial recruited volunteers from twelve fishing villages.", "study participants came from coastal towns"),
    ("The bridge hums a low note whenever the wind blows from the east.", "why does the span make a sound in certain weather"),
    ("Our compost heap reached seventy degrees in the middle of winter.", "how hot did the garden rubbish pile get"),
    ("The novelist wrote the final chapter on the back of train tickets.", "author finished the book on railway stubs"),
    ("The battery factory recycles its own cooling water forty times.", "plant reuses coolant many times over"),
    ("Mountain rescuers found the climbers by following the smell of cocoa.", "how were the hikers located by the rescue team"),
    ("The owl in the barn has learned to open the grain bin.", "bird figured out how to get into the feed container"),
    ("Inflation fell for the first time since the harbour strike.", "prices stopped rising after the dock workers' walkout"),
)
PHRASES_PER_EPISODE = 3
K_VIDEOS = 5
CANDIDATES = 40


@dataclass(frozen=True)
class Probe:
    video_id: str
    spoken_at: float
    exact: str
    paraphrase: str


def sizes(quick: bool) -> list[float]:
    """Episode lengths in seconds: 3 to 10 minutes."""
    return [180.0, 300.0, 420.0] if quick else [180.0, 240.0, 300.0, 360.0, 420.0, 480.0, 540.0, 600.0]


def run(report: Report, work: Path, url: str, quick: bool) -> None:
    from resources.models import TextEncoderResource
    from ytingest.settings import get_settings

    reset_archive(url)
    episodes, probes = _generate(work / "retrieval", sizes(quick))
    settings = get_settings()
    configs = [(settings.chunk_tokens, settings.chunk_overlap_tokens), (96, 16)]
    details: dict = {"episodes": len(episodes), "minutes": round(sum(sizes(quick)) / 60, 1), "probes": len(probes)}
    with TextEncoderResource().session() as encoder:
        for tokens, overlap in configs:
            label = f"{tokens}-token chunks ({overlap} overlap)"
            with psycopg.connect(url, autocommit=True) as conn:
                chunks = _load(conn, encoder, episodes, tokens, overlap)
                results = _evaluate(conn, encoder, probes)
            details[label] = {"chunks": chunks, **results}
            _rows(report, label, results, full=(tokens, overlap) == configs[0])
    report.details["retrieval"] = details


def _generate(out: Path, lengths: list[float]):
    from ytingest.offline.sample_channel import GUEST, HOST, Captions, generate_channel
    from ytingest.offline.timed_episodes import Placed, laid_out_episode

    rng = random.Random(14)
    voices = itertools.cycle([HOST, GUEST])
    filler = ((next(voices), text) for text in itertools.cycle(sentences(600, seed=14)))
    phrases = iter(PHRASES[: len(lengths) * PHRASES_PER_EPISODE])
    specs, asked = [], {}
    for n, seconds in enumerate(lengths):
        chosen = [next(phrases) for _ in range(PHRASES_PER_EPISODE)]
        times = sorted(rng.uniform(20, seconds - 20) for _ in chosen)
        placed = [Placed(at, GUEST if i % 2 else HOST, text) for i, (at, (text, _)) in enumerate(zip(times, chosen))]
        video_id = f"retrieval{n:02d}"
        specs.append(laid_out_episode(video_id, f"Episode {n}", dt.datetime(2026, 11, 3, 12, tzinfo=dt.UTC),
                                      placed, seconds, filler, out / ".tts-cache", Captions.MANUAL))  # fmt: skip
        asked.update({text: paraphrase for text, paraphrase in chosen})
    channel = generate_channel(out, specs, media=False)
    probes = [
        Probe(episode.video_id, u.start, u.text.rstrip("."), asked[u.text])
        for episode in channel.episodes for u in episode.utterances if u.text in asked
    ]  # fmt: skip
    return channel.episodes, probes


def _load(conn: psycopg.Connection, encoder, episodes, tokens: int, overlap: int) -> int:
    from ytingest.core.captions import parse_captions
    from ytingest.core.chunking import chunk_transcript
    from ytingest.store.vectors import ChunkRow, ensure_model_index, replace_chunks

    conn.execute("TRUNCATE channels, videos CASCADE")
    add_channels(conn, ["retrieval"])
    add_videos(conn, {episode.video_id: "retrieval" for episode in episodes})
    ensure_model_index(conn, encoder.plan.name, encoder.dimensions)
    total = 0
    for episode in episodes:
        segments = parse_captions(episode.caption("en", "vtt").path.read_bytes(), "vtt")
        chunks = chunk_transcript(segments, encoder.loaded().tokenizer, tokens, overlap)
        vectors = encoder.encode([c.text for c in chunks])
        rows = [ChunkRow(c.index, c.start, c.end, c.speakers, c.token_count, c.text, c.marks) for c in chunks]
        with conn.transaction():
            total += replace_chunks(conn, episode.video_id, encoder.plan.name, rows, vectors)
    conn.execute("ANALYZE chunks")
    return total


def _evaluate(conn: psycopg.Connection, encoder, probes: list[Probe]) -> dict:
    from ytingest.core.moments import locate, marks_from_json
    from ytingest.store.search import (
        Filters,
        _filter_sql,
        keyword_ranking,
        search,
        vector_ranking,
    )
    from ytingest.store.vectors import model_index

    model = encoder.plan.name
    index = model_index(conn, model)
    where, params = _filter_sql(Filters(), None)
    stored = {
        chunk_id: (video_id, start, text, marks_from_json(marks or []))
        for chunk_id, video_id, start, text, marks in conn.execute(
            "SELECT chunk_id, video_id, start_s, text, marks FROM chunks WHERE model = %s", (model,)
        )
    }

    def rankings(text: str, vector: np.ndarray) -> dict[str, list[int]]:
        with conn.transaction():
            by_vector = vector_ranking(conn, index, vector, where, params, CANDIDATES)
        return {
            "vector": by_vector,
            "keyword": keyword_ranking(conn, model, text, where, params, CANDIDATES),
            "hybrid": [hit.chunk_id for hit in search(conn, model, text, vector, Filters(), CANDIDATES // 4)],
        }

    def similarity(query_vector: np.ndarray):
        def score(texts):
            encoded = encoder.encode(list(texts))
            return (encoded @ query_vector / np.linalg.norm(encoded, axis=1) / np.linalg.norm(query_vector)).tolist()

        return score

    results: dict = {}
    for kind in ("exact", "paraphrase"):
        texts = [getattr(p, kind) for p in probes]
        vectors = encoder.encode(texts)
        per_mode: dict[str, dict[str, list[float]]] = {}
        for probe, text, vector in zip(probes, texts, vectors, strict=True):
            for mode, ranked in rankings(text, vector).items():
                scores = per_mode.setdefault(mode, {"rank": [], "dt": [], "dt_chunk_start": []})
                videos = list(dict.fromkeys(stored[c][0] for c in ranked))
                rank = videos.index(probe.video_id) + 1 if probe.video_id in videos else None
                scores["rank"].append(rank or 0)
                if rank is None:
                    continue
                chunk = next(c for c in ranked if stored[c][0] == probe.video_id)
                _, start, chunk_text, marks = stored[chunk]
                moment = locate(text, chunk_text, marks, similarity(vector))
                scores["dt"].append(abs((moment.start if moment else start) - probe.spoken_at))
                scores["dt_chunk_start"].append(abs(start - probe.spoken_at))
        results[kind] = {mode: _summary(scores) for mode, scores in per_mode.items()}
    return results


def _summary(scores: dict[str, list[float]]) -> dict[str, float]:
    ranks = np.array(scores["rank"])
    found = ranks > 0

    def pct(values: list[float], q: int) -> float:
        return round(float(np.percentile(values, q)), 2) if values else float("nan")

    return {
        "recall@1": round(float(np.mean(ranks == 1)), 3),
        f"recall@{K_VIDEOS}": round(float(np.mean(found & (ranks <= K_VIDEOS))), 3),
        "mrr": round(float(np.mean(np.where(found, 1.0 / np.maximum(ranks, 1), 0.0))), 3),
        "dt_median": pct(scores["dt"], 50),
        "dt_p90": pct(scores["dt"], 90),
        "dt_chunk_start_median": pct(scores["dt_chunk_start"], 50),
        "dt_chunk_start_p90": pct(scores["dt_chunk_start"], 90),
    }


def _rows(report: Report, label: str, results: dict, full: bool) -> None:
    """The default chunking in full (every mode); the alternative as hybrid only, for comparison."""
    for kind, modes in results.items():
        for mode, s in modes.items():
            if not full and mode != "hybrid":
                continue
            name = f"{mode}, {kind} queries, {label}"
            exact_hybrid = kind == "exact" and mode == "hybrid"
            report.add(
                Row("retrieval", f"recall@1 of the video, {name}", s["recall@1"], "",
                    target=0.9 if exact_hybrid else None, target_op=">=", target_on="value",
                    definition="share of phrases whose episode is the first hit's; see bench/retrieval.py"),
                Row("retrieval", f"recall@{K_VIDEOS} / MRR, {name}", s[f"recall@{K_VIDEOS}"], "",
                    definition=f"MRR {s['mrr']:.3f}"),
                Row("retrieval", f"median |hit time - spoken|, {name}", s["dt_median"], "s", s["dt_chunk_start_median"],
                    target=1.0 if exact_hybrid else None, target_op="<=", target_on="value",
                    definition="first hit in the right episode, placed on its moment; baseline: that chunk's start (before)"),
                Row("retrieval", f"p90 |hit time - spoken|, {name}", s["dt_p90"], "s", s["dt_chunk_start_p90"],
                    target=3.0 if exact_hybrid else None, target_op="<=", target_on="value"),
            )  # fmt: skip
