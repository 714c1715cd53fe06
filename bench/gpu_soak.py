"""The GPU soak: the seed's original large configuration through `ytingest ingest`, under a 10 GB VRAM cap.

    python bench/gpu_soak.py                       # 24 generated videos, models of the real sizes
    python bench/gpu_soak.py --allow-cpu --size tiny --videos 3   # checks the script without a GPU

The configuration the seed lost 78% of its videos with: distil-large-v3-sized Whisper (int8_float16)
with ASR_WORKERS=4, a gte-Qwen2-1.5B-instruct-sized text encoder (1536 dimensions, batch 256),
pyannote and ECAPA, all on one GPU. The models are built locally with the real shapes and random
weights (the hub is out of reach); the videos are generated speech served on loopback, half with
captions (so the text encoder has text to embed) and half without (so Whisper runs on all of them).
VRAM_BUDGET_FRACTION caps every step at 10 GB of the device, whatever its size.

Passes when no OOM happened (no ladder step, no CPU fallback), every video succeeded, and the peak
device memory sampled by NVML from outside the run stayed under 80% of the cap. Writes its JSON to
bench/results/gpu-soak.json (or --out; a CPU check writes nothing unless told) and exits 0 on a pass, 1 on a fail, 2 without CUDA.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script, the repository is not on the path
    sys.path.insert(0, str(ROOT))

from bench.gpu_check import cuda_status
from ytingest.offline.isolation import isolated_environment

CAP_BYTES = 10 * 10**9
VRAM_BAR = 0.8
_LINES = (
    "Welcome back to the programme, today we talk about how archives of spoken words are searched.",
    "Thank you for having me. The first problem is that nobody wrote down who said what, or when.",
    "So the machine listens, writes the words down, and then works out which voice spoke each line.",
    "And every few sentences become a vector, so that a question finds the moment it was answered.",
    "What happens when the graphics card runs out of memory halfway through a long recording?",
    "Then only one model should be on the card at a time, and each one should leave when it is done.",
)


def soak_episodes(count: int, seconds: float) -> list[Any]:
    """`count` two-voice episodes of about `seconds` each over consecutive days, every other one captioned."""
    from ytingest.offline.sample_channel import GUEST, HOST, Captions, Episode

    per_line = 5.0  # espeak-ng reads one of these lines in 4-6 s
    lines = max(2, round(seconds / per_line))
    start = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    return [
        Episode(
            video_id=f"gpuSoak{n:04d}",
            title=f"GPU soak episode {n}",
            published=start + dt.timedelta(days=n),
            utterances=[((HOST, GUEST)[i % 2], _LINES[(n + i) % len(_LINES)]) for i in range(lines)],
            captions=Captions.MANUAL if n % 2 else Captions.NONE,
        )
        for n in range(count)
    ]


def build_models(work: Path, size: str) -> dict[str, str]:
    """The seed's large set at `size` ("real": the production shapes), as the variables a user would set."""
    from ytingest.offline.smoke_models import (
        build_gte_qwen2_sized_encoder,
        build_smoke_models,
    )

    models = build_smoke_models(work / f"smoke-{size}", size=size)
    encoder = build_gte_qwen2_sized_encoder(work / f"gte-qwen2-{size}", size=size)
    from sentence_transformers import SentenceTransformer

    dimensions = SentenceTransformer(str(encoder), device="cpu", local_files_only=True).get_embedding_dimension()
    return {
        "WHISPER_MODEL": str(models.whisper),
        "DIARIZATION_MODEL": str(models.pyannote),
        "VOICE_MODEL": str(models.voice),
        "EMBEDDING_MODEL": str(encoder),
        "EMBEDDING_DIMENSIONS": str(dimensions),
    }


class DeviceMemorySampler(threading.Thread):
    """Peak memory used on GPU 0 by every process, and mean utilisation while anything ran, via NVML."""

    def __init__(self, interval_s: float = 0.2):
        super().__init__(daemon=True)
        self.interval_s = interval_s
        self.peak_used = 0
        self.idle_used = 0
        self.total = 0
        self.busy_samples: list[int] = []
        self._halt = threading.Event()

    def run(self) -> None:
        import pynvml

        pynvml.nvmlInit()
        try:
            handle = pynvml.nvmlDeviceGetHandleByIndex(0)
            info = pynvml.nvmlDeviceGetMemoryInfo(handle)
            self.total, self.idle_used = info.total, info.used
            while not self._halt.wait(self.interval_s):
                self.peak_used = max(self.peak_used, pynvml.nvmlDeviceGetMemoryInfo(handle).used)
                utilisation = pynvml.nvmlDeviceGetUtilizationRates(handle).gpu
                if utilisation:
                    self.busy_samples.append(utilisation)
        finally:
            pynvml.nvmlShutdown()

    def stop(self) -> dict[str, Any]:
        self._halt.set()
        self.join(timeout=5)
        used_by_run = max(0, self.peak_used - self.idle_used)
        return {
            "device_total_gb": round(self.total / 1e9, 1),
            "peak_used_by_run_gb": round(used_by_run / 1e9, 2),
            "peak_share_of_cap": round(used_by_run / CAP_BYTES, 4),
            "mean_utilisation_when_busy_pct": round(sum(self.busy_samples) / len(self.busy_samples), 1)
            if self.busy_samples
            else None,
        }


def soak_env(work: Path, models: dict[str, str], on_gpu: bool, total_bytes: int | None) -> dict[str, str]:
    settings = {
        "PARTITION_START_DATE": "2025-12-01",
        "MODEL_PROFILE": "gpu-large" if on_gpu else "cpu",
        "WHISPER_COMPUTE": "int8_float16" if on_gpu else "int8",
        "ASR_WORKERS": "4",
        "EMBEDDING_BATCH_SIZE": "256",
        # Random weights: temperature fallback would only repeat the same noise five times.
        "WHISPER_TEMPERATURE": "0",
        "VRAM_BUDGET_FRACTION": f"{min(1.0, CAP_BYTES / total_bytes):.4f}" if total_bytes else "0.8",
        "SUCCESS_THRESHOLD": "1.0",
    }
    return isolated_environment(work, **{**models, **settings})


def device_total_bytes() -> int | None:
    import torch

    return torch.cuda.get_device_properties(0).total_memory if torch.cuda.is_available() else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=90.0, help="about how long each video is")
    parser.add_argument("--size", choices=["real", "tiny"], default="real", help="model shapes")
    parser.add_argument("--models-dir", type=Path, default=Path(tempfile.gettempdir()) / "ytingest-gpu-soak")
    parser.add_argument("--allow-cpu", action="store_true", help="run without CUDA (checks the script only)")
    parser.add_argument("--out", type=Path, help="where the JSON goes (default on a GPU: bench/results/gpu-soak.json)")
    args = parser.parse_args(argv)

    on_gpu, device = cuda_status()
    if not on_gpu and not args.allow_cpu:
        print(f"gpu_soak: no CUDA device here ({device}); run it on a machine with an NVIDIA GPU", file=sys.stderr)
        return 2
    from ytingest.offline.loopback_server import LoopbackChannel
    from ytingest.offline.sample_channel import generate_channel

    models = build_models(args.models_dir, args.size)
    ytingest = [sys.executable, "-m", "ytingest.app.cli"]  # the console script, without needing it installed
    with tempfile.TemporaryDirectory(prefix="gpu-soak-") as tmp:
        work = Path(tmp)
        channel = generate_channel(work / "channel", soak_episodes(args.videos, args.seconds))
        env = soak_env(work, models, on_gpu, device_total_bytes())
        sampler = DeviceMemorySampler() if on_gpu else None
        with LoopbackChannel(channel) as site:
            if sampler:
                sampler.start()
            started = time.perf_counter()
            ingest = subprocess.run(
                [*ytingest, "ingest", site.rss_url, "--limit", str(args.videos), "--json"],
                env=env, cwd=ROOT, capture_output=True, text=True, check=False,
            )  # fmt: skip
            wall = time.perf_counter() - started
        device_memory = sampler.stop() if sampler else None
        subprocess.run([*ytingest, "db", "stop"], env=env, cwd=ROOT, capture_output=True, check=False)
    lines = ingest.stdout.strip().splitlines()
    if not lines:
        print(f"gpu_soak: ytingest ingest printed no report (exit {ingest.returncode}):\n{ingest.stderr[-4000:]}", file=sys.stderr)
        return 1
    report = json.loads(lines[-1])
    result = {
        "device": device,
        "model_size": args.size,
        "videos": args.videos,
        "settings": {k: env[k] for k in ("MODEL_PROFILE", "WHISPER_COMPUTE", "ASR_WORKERS", "EMBEDDING_BATCH_SIZE",
                                         "EMBEDDING_DIMENSIONS", "VRAM_BUDGET_FRACTION")},
        "wall_seconds": round(wall, 1),
        "device_memory": device_memory,
        "ingest_report": report,
    }
    checks = {
        "no OOM (no ladder step, no CPU fallback)": report["oom_events"] == 0 and report["cpu_fallbacks"] == 0,
        "every video succeeded": report["videos_succeeded"] == report["videos_attempted"] == args.videos,
        f"peak VRAM under {VRAM_BAR:.0%} of the 10 GB cap": None
        if device_memory is None
        else device_memory["peak_share_of_cap"] < VRAM_BAR,
    }
    result["checks"] = {name: ("not measurable without a GPU" if ok is None else "pass" if ok else "FAIL") for name, ok in checks.items()}
    result["passed"] = all(ok is not False for ok in checks.values()) and on_gpu
    out = args.out or (ROOT / "bench" / "results" / "gpu-soak.json" if on_gpu else None)
    if out:  # a CPU check never replaces the GPU figures
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if all(ok is not False for ok in checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
