"""Every setting of ytingest, read once from the environment and `.env`.

This is the one typed place configuration lives. A bad value fails at load with
the variable's name and what it accepts; `.env.example` documents each setting.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from typing_extensions import Annotated

Device = Literal["auto", "cuda", "cpu"]
ComputeType = Literal[
    "default", "auto", "int8", "int8_float16", "int8_float32", "int8_bfloat16", "int16", "float16", "bfloat16", "float32"
]
ModelProfile = Literal["auto", "cpu", "gpu-small", "gpu-large"]
PartitionGrain = Literal["month", "day"]
# A year of one channel a run: creating a run costs Dagster 34 planned-event writes (the graph's assets
# and checks), about 1.5 s here, so ten years launch as 10 runs in seconds; days keep their old month.
PARTITIONS_PER_RUN = {"month": 12, "day": 30}

# Settings whose values must never be echoed back, even in an error message.
SECRET_FIELDS = frozenset({"hf_token", "database_url", "ytdlp_cookies_file", "web_token"})


class SettingsError(ValueError):
    """A setting has a value ytingest cannot use; the message names the variable."""


def _csv(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        validate_default=True,
    )

    # --- storage -------------------------------------------------------------------
    data_dir: Path = Field(Path("data"), description="Root of audio, captions, models and the embedded Postgres")
    database_url: SecretStr | None = Field(None, description="postgresql:// URL of an external server")
    dagster_home: Path | None = Field(None, description="Dagster instance directory")
    db_workers: int = Field(4, ge=1, le=64, description="Connections in each process's Postgres pool")
    batch_size: int = Field(500, ge=1, le=100_000, description="Rows per bulk write (one COPY or pipelined batch)")

    # --- channels, partitions, orchestration ---------------------------------------
    channels_file: Path = Field(Path("channels.yaml"), description="Declarative channel list read by the sensor")
    partition_start_date: dt.date = Field(
        dt.date(2020, 1, 1), description="Earliest publication date with a partition (its month's, at PARTITION_GRAIN=month)"
    )
    partition_grain: PartitionGrain = Field("month", description="Dates one partition spans: a calendar month or a day")
    backfill_partitions_per_run: int | None = Field(
        None, ge=1, le=3660, description="Partitions one backfill run takes (unset: 12 months, or 30 days at PARTITION_GRAIN=day)"
    )
    gpu_pool_limit: int = Field(1, ge=1, le=64, description="GPU-bound steps allowed at once across all runs")
    max_concurrent_runs: int = Field(4, ge=1, le=256, description="Runs the queued coordinator starts at once")
    free_slots_after_run_end_seconds: int = Field(
        30, ge=1, le=86_400, description="Seconds after a crashed run ends before run monitoring frees its pool slots"
    )
    run_monitoring_interval_seconds: int = Field(30, ge=1, le=3600, description="Seconds between run-monitoring checks in the daemon")
    sensor_interval_seconds: int = Field(300, ge=5, description="Seconds between new-video sensor ticks")
    sensor_running: bool = Field(True, description="Start the new_videos sensor switched on (false: turn it on in the UI)")
    listing_max_age_minutes: int = Field(60, ge=0, description="Reuse a channel's full listing for this long")

    # --- download ------------------------------------------------------------------
    caption_languages: Annotated[list[str], NoDecode] = Field(["en"], description="Caption languages, comma-separated")
    download_retries: int = Field(4, ge=0, le=20, description="Retries of transient download errors")
    retry_backoff_seconds: float = Field(2.0, ge=0, le=600, description="First retry delay; doubles each retry")
    socket_timeout_seconds: float = Field(30.0, gt=0, le=3600, description="Network read timeout")
    ytdlp_cookies_file: Path | None = Field(None, description="cookies.txt for yt-dlp (age/bot checks)")
    download_deadline_seconds: float = Field(
        3600.0, gt=0, le=86_400, description="Overall limit on one video's download, retries included"
    )
    fetch_deadline_seconds: float = Field(
        120.0, gt=0, le=3600, description="Overall limit on fetching one feed or caption file"
    )
    feed_max_bytes: int = Field(64 * 2**20, ge=1024, description="Largest feed read; a larger one fails that channel")
    caption_max_bytes: int = Field(
        16 * 2**20, ge=1024, description="Largest caption file read; a larger one is refused (ASR instead)"
    )
    page_max_bytes: int = Field(
        20 * 2**20, ge=1024, description="Largest web page yt-dlp's extractors read; a larger one fails that video"
    )
    convert_deadline_seconds: float = Field(
        3600.0, gt=0, le=86_400, description="Limit on ffmpeg's conversion of one video to WAV"
    )
    title_max_chars: int = Field(10_000, ge=16, le=1_000_000, description="Titles longer than this are cut")
    allowed_url_schemes: Annotated[list[str], NoDecode] = Field(
        ["http", "https"], description="URL schemes allowed for channels, items, media and captions"
    )
    allow_private_networks: bool = Field(
        False, description="Allow URLs at private, link-local and cloud-metadata addresses (loopback is always allowed)"
    )

    # --- models --------------------------------------------------------------------
    model_profile: ModelProfile = Field("auto", description="Model set: auto, cpu, gpu-small or gpu-large")
    models_dir: Path | None = Field(
        None,
        description="Where models are looked for first: `ytingest models fetch` or `models offline` output "
        "(unset: DATA_DIR/models, where `ytingest demo` records its set)",
    )
    hf_token: SecretStr | None = Field(None, description="Hugging Face token for gated pyannote models")
    whisper_model: str | None = Field(None, description="faster-whisper model name or directory")
    whisper_compute: ComputeType | None = Field(None, description="CTranslate2 compute type")
    whisper_device: Device = Field("auto", description="Device for faster-whisper")
    asr_workers: int = Field(1, ge=1, le=16, description="Videos transcribed at once on one loaded Whisper model")
    whisper_batch_size: int = Field(8, ge=1, le=256, description="Batched-pipeline batch size (halved on OOM)")
    embedding_model: str | None = Field(None, description="sentence-transformers model name or directory")
    embedding_dimensions: int | None = Field(None, ge=1, le=16_000, description="Expected embedding size")
    embedding_batch_size: int = Field(32, ge=1, le=4096, description="Chunks per encode call (halved on OOM)")
    embedding_device: Device = Field("auto", description="Device for the text encoder")
    diarization_model: str | None = Field(None, description="pyannote pipeline name or directory")
    diarization_device: Device = Field("auto", description="Device for pyannote")
    voice_model: str | None = Field(None, description="Voice model: a directory, a name under MODELS_DIR, or a SpeechBrain hub id")
    voice_device: Device = Field("auto", description="Device for SpeechBrain")
    whisper_word_timestamps: bool = Field(True, description="Word-level timestamps from ASR")
    whisper_temperature: float | None = Field(
        None, ge=0, le=1, description="Decoding temperature; unset = faster-whisper's fallback schedule 0..1"
    )
    min_speakers: int | None = Field(None, ge=1, le=64, description="Fewest speakers pyannote may find")
    max_speakers: int | None = Field(None, ge=1, le=64, description="Most speakers pyannote may find")
    voice_max_seconds: float = Field(30.0, gt=0, le=600, description="Speech per speaker fed to the voice model")
    diarization_window_minutes: float = Field(
        30, ge=0, le=600, description="Diarize longer audio a window of this many minutes at a time (0: whole file)"
    )
    speaker_match_threshold: float = Field(
        0.6, ge=-1, le=1, description="Cosine similarity above which voices in two videos are one speaker"
    )
    chunk_tokens: int = Field(200, ge=16, le=8192, description="Tokens per text chunk (capped by the model)")
    chunk_overlap_tokens: int = Field(32, ge=0, le=4096, description="Tokens shared by consecutive chunks")
    halfvec_index: bool = Field(False, description="Index chunk vectors as halfvec (half the index size)")
    vram_budget_fraction: float = Field(0.8, gt=0, le=1, description="Share of GPU memory a step may use")
    cpu_fallback: bool = Field(True, description="Fall back to CPU after GPU out-of-memory")

    # --- web (`ytingest serve`) ------------------------------------------------------------
    web_base_url: str = Field(
        "http://127.0.0.1:8080", pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$",
        description="Where `ytingest serve` is reached; Dagster metadata links each video to its page there",
    )  # fmt: skip
    web_token: SecretStr | None = Field(
        None, description="Token the web app asks for before renaming or merging speakers (required beyond loopback)"
    )

    # --- quality bar -----------------------------------------------------------------
    success_threshold: float = Field(0.9, ge=0, le=1, description="ingest exits non-zero below this success rate")

    @field_validator("caption_languages", mode="before")
    @classmethod
    def _split_languages(cls, value: Any) -> Any:
        return _csv(value)

    @field_validator("allowed_url_schemes", mode="before")
    @classmethod
    def _split_schemes(cls, value: Any) -> Any:
        return _csv(value)

    @field_validator("allowed_url_schemes")
    @classmethod
    def _check_schemes(cls, value: list[str]) -> list[str]:
        refused = {"file", "data", "javascript"} & {v.lower() for v in value}
        if refused:
            raise ValueError(f"{', '.join(sorted(refused))} URLs are never allowed")
        return [v.lower() for v in value]

    @field_validator("caption_languages")
    @classmethod
    def _check_languages(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("at least one language code, e.g. en or en,de")
        for code in value:
            if not code.replace("-", "").replace("_", "").isalnum() or len(code) > 16:
                raise ValueError(f"language codes like en or pt-BR, got {code!r}")
        return value

    @model_validator(mode="after")
    def _check_ranges(self) -> Settings:
        if self.min_speakers and self.max_speakers and self.min_speakers > self.max_speakers:
            raise ValueError(f"MIN_SPEAKERS ({self.min_speakers}) is above MAX_SPEAKERS ({self.max_speakers})")
        if self.chunk_overlap_tokens >= self.chunk_tokens:
            raise ValueError(
                f"CHUNK_OVERLAP_TOKENS ({self.chunk_overlap_tokens}) must be below CHUNK_TOKENS ({self.chunk_tokens})"
            )
        return self

    @model_validator(mode="after")
    def _resolve_paths(self) -> Settings:
        self.data_dir = self.data_dir.expanduser().resolve()
        if self.dagster_home is None:
            self.dagster_home = self.data_dir / "dagster_home"
        self.dagster_home = self.dagster_home.expanduser().resolve()
        self.channels_file = self.channels_file.expanduser().resolve()
        if self.models_dir is not None:
            self.models_dir = self.models_dir.expanduser().resolve()
        return self

    @property
    def partitions_per_run(self) -> int:
        return self.backfill_partitions_per_run or PARTITIONS_PER_RUN[self.partition_grain]

    # --- derived paths ---------------------------------------------------------------
    @property
    def audio_dir(self) -> Path:
        return self.data_dir / "audio"

    @property
    def models_root(self) -> Path:
        """MODELS_DIR, or DATA_DIR/models when it is unset."""
        return self.models_dir or self.data_dir / "models"

    @property
    def pgdata_dir(self) -> Path:
        return self.data_dir / "pgdata"

    def env_for_children(self) -> dict[str, str]:
        """Absolute paths for processes we start, so a different cwd reads the same data."""
        return {"DATA_DIR": str(self.data_dir), "DAGSTER_HOME": str(self.dagster_home)}


def make_files_private() -> None:
    """Whatever this process (and the processes it starts) creates, audio, captions, the Dagster
    instance's storage and logs, is readable by its user alone."""
    os.umask(0o077)


def _env_name(loc: tuple[Any, ...]) -> str:
    return str(loc[0]).upper() if loc else "settings"


def _format_error(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        name = _env_name(err["loc"])
        message = err["msg"].removeprefix("Value error, ")
        # A whole-model error's input is every setting, secrets included: never echo it.
        got = "" if not err["loc"] or name.lower() in SECRET_FIELDS else f" (got {err.get('input')!r})"
        lines.append(f"{name}: {message}{got}")
    return "invalid settings:\n  " + "\n  ".join(lines)


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment and `.env`; raise SettingsError naming each bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_format_error(exc)) from None


@functools.cache
def _cached(env_key: tuple[tuple[str, str], ...], cwd: str) -> Settings:
    return load_settings()


def get_settings() -> Settings:
    """Settings for this process; re-read when the environment changes (tests set variables)."""
    return _cached(tuple(sorted(os.environ.items())), os.getcwd())
