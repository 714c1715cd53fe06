"""Run every model resource on generated speech on the GPU and report VRAM and utilisation as JSON.

    python bench/gpu_check.py                      # smoke models at the real dimensions
    python bench/gpu_check.py --models configured  # the models the settings name (after `ytingest models fetch`)

Each model runs in a fresh process, as a GPU step does, so its peak VRAM is its own.
On a machine without CUDA it says so and exits with status 2 (`--allow-cpu` runs anyway,
which checks the script but measures no VRAM).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script, the repository is not on the path
    sys.path.insert(0, str(ROOT))

KINDS = ("whisper", "diarization", "voice", "text_encoder")
_VOICES = ("en-us", "en-gb-x-rp+f3")
_SENTENCES = (
    "The quick brown fox jumps over the lazy dog near the river bank.",
    "Meanwhile a second speaker answers with a different voice entirely.",
    "They talk about archives, search, and the cost of running models on one graphics card.",
)


def cuda_status() -> tuple[bool, str]:
    import ctranslate2
    import torch

    ct2 = ctranslate2.get_cuda_device_count()
    if torch.cuda.is_available() and ct2 > 0:
        return True, f"{torch.cuda.get_device_name(0)} ({torch.cuda.device_count()} visible)"
    return False, f"torch sees {'a' if torch.cuda.is_available() else 'no'} CUDA device, CTranslate2 sees {ct2}"


def generate_speech(target: Path, seconds: float) -> Path:
    """Alternating voices reading sentences with espeak-ng, as one 16 kHz mono WAV of about `seconds`."""
    for tool in ("espeak-ng", "ffmpeg"):
        if shutil.which(tool) is None:
            raise SystemExit(f"gpu_check: {tool} is needed to generate speech (make system-deps installs it)")
    parts: list[Path] = []
    total = 0.0
    while total < seconds:
        i = len(parts)
        part = target.parent / f"part{i}.wav"
        text = _SENTENCES[i % len(_SENTENCES)]
        subprocess.run(["espeak-ng", "-v", _VOICES[i % 2], "-w", str(part), text], check=True, capture_output=True)
        parts.append(part)
        total += 4.0  # each sentence is 3-5 s; the exact length is reported by the models
    listing = target.parent / "parts.txt"
    listing.write_text("".join(f"file '{p}'\n" for p in parts))
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing),
         "-ac", "1", "-ar", "16000", str(target)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return target


def model_env(choice: str, work: Path) -> dict[str, str]:
    if choice == "configured":
        return {}
    from ytingest.offline.smoke_models import build_smoke_models

    models = build_smoke_models(work / f"smoke-{choice}", size="real" if choice == "smoke-real" else "tiny")
    return {
        "MODELS_DIR": str(models.manifest.parent),
        "WHISPER_MODEL": models.whisper.name,
        "DIARIZATION_MODEL": models.pyannote.name,
        "VOICE_MODEL": models.voice.name,
        "EMBEDDING_MODEL": str(models.text_encoder),
    }


def run_one(kind: str, clip: Path, smoke: bool) -> dict[str, Any]:
    """Open `kind`'s resource, run it on the clip, and return its materialisation metadata."""
    import soundfile

    from resources.models import (
        DiarizationResource,
        TextEncoderResource,
        VoiceEncoderResource,
        WhisperResource,
    )

    waveform, _ = soundfile.read(str(clip), dtype="float32")
    started = time.perf_counter()
    if kind == "whisper":
        # Random weights trip the temperature fallback and VAD would skip nothing; real models keep the defaults.
        options: dict[str, Any] = {"language": "en", **({"temperature": 0, "vad_filter": False} if smoke else {})}
        with WhisperResource().session() as asr:
            outputs = len(asr.transcribe(clip, **options).segments)
        metadata = asr.metadata()
    elif kind == "diarization":
        with DiarizationResource().session() as diarizer:
            outputs = len(diarizer.diarize(waveform).turns)
        metadata = diarizer.metadata()
    elif kind == "voice":
        clips = [waveform[i : i + 160_000] for i in range(0, len(waveform) - 16_000, 160_000)]
        with VoiceEncoderResource().session() as voice:
            outputs = len(voice.embed(clips))
        metadata = voice.metadata()
    else:
        passage = " ".join(_SENTENCES * 7)  # ~200 words, the size of a transcript chunk
        chunks = [f"{i}: {passage}" for i in range(256)]
        with TextEncoderResource().session() as encoder:
            outputs = len(encoder.encode(chunks))
        metadata = encoder.metadata()
    return {"outputs": outputs, "wall_seconds": round(time.perf_counter() - started, 2), **metadata}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", choices=["smoke-real", "smoke-tiny", "configured"], default="smoke-real")
    parser.add_argument("--seconds", type=float, default=120.0, help="length of the generated speech")
    parser.add_argument("--allow-cpu", action="store_true", help="run without CUDA (checks the script only)")
    parser.add_argument("--pool", action="store_true", help="also launch two concurrent runs and check the gpu pool")
    parser.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--clip", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(run_one(args.child, args.clip, smoke=args.models != "configured")))
        return 0

    has_cuda, device = cuda_status()
    if not has_cuda and not args.allow_cpu:
        print(f"gpu_check: no CUDA device here ({device}); run it on a machine with an NVIDIA GPU", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        work = Path(tmp)
        clip = generate_speech(work / "speech.wav", args.seconds)
        env = {**os.environ, **model_env(args.models, Path(tempfile.gettempdir()) / "ytingest-gpu-check")}
        env["DATA_DIR"] = str(work / "data")  # measured footprints of smoke models stay out of the real data
        report: dict[str, Any] = {
            "device": device,
            "models": args.models,
            "speech_seconds": args.seconds,
            "results": {},
        }
        for kind in KINDS:
            child = subprocess.run(
                [sys.executable, __file__, "--models", args.models, "--child", kind, "--clip", str(clip)],
                env=env,
                capture_output=True,
                text=True,
            )
            if child.returncode != 0:
                report["results"][kind] = {"error": child.stderr.strip().splitlines()[-1:] or ["failed"]}
                continue
            report["results"][kind] = json.loads(child.stdout.strip().splitlines()[-1])
        if args.pool:
            report["pool"] = pool_check(work, env)
    print(json.dumps(report, indent=2))
    failed = any("error" in result for result in report["results"].values())
    return 1 if failed or report.get("pool", {}).get("overlaps") else 0


POOL_RUN = """
import datetime as dt, sys
from dagster import DagsterInstance
from ytingest.app.runs import run_channel_dates
day = dt.date.fromisoformat(sys.argv[1])
with DagsterInstance.get() as instance:
    sys.exit(0 if run_channel_dates(instance, "gpu-check", day, day, tags={"ytingest/gpu-check": "pool"}).success else 1)
"""


def pool_check(work: Path, env: dict[str, str]) -> dict[str, Any]:
    """Two runs of the whole graph at once through the project's instance: do GPU steps ever overlap?"""
    import datetime as dt

    from dagster import DagsterInstance, RunsFilter

    from ytingest.app.runs import overlapping, step_intervals
    from ytingest.offline.loopback_server import LoopbackChannel
    from ytingest.offline.sample_channel import generate_channel, quick_episode

    os.environ.update(env)
    days = [dt.date(2026, 1, 1), dt.date(2026, 1, 2)]
    episodes = [
        quick_episode(f"gpuCheck{n:03d}", published=dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC))
        for n, day in enumerate(days)
    ]
    channel = generate_channel(work / "pool-channel", episodes)
    from ytingest.app.channels import register_channel

    with LoopbackChannel(channel) as site:
        register_channel(site.rss_url, key="gpu-check")
        # They inherit this environment: the model variables and the DAGSTER_HOME registration just set.
        launches = [subprocess.Popen([sys.executable, "-c", POOL_RUN, day.isoformat()]) for day in days]
        codes = [p.wait() for p in launches]
    gpu_steps = {"transcripts", "diarization", "voice_embeddings", "text_embeddings"}
    with DagsterInstance.get() as instance:
        runs = instance.get_runs(filters=RunsFilter(tags={"ytingest/gpu-check": "pool"}))
        intervals = [
            (interval, f"{step} of {run.run_id[:8]}")
            for run in runs
            for step, interval in step_intervals(instance, run.run_id).items()
            if step in gpu_steps
        ]
    return {"run_exit_codes": codes, "gpu_steps": len(intervals), "overlaps": overlapping(intervals)}


if __name__ == "__main__":
    sys.exit(main())
