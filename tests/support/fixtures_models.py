"""Fixtures for tests that run the real speech and text models offline.

Registered through ``pytest_plugins`` in conftest.py. ``smoke_models`` builds the tiny
random models once per session, ``offline_models`` the offline set (every model real: Whisper tiny.en,
MiniLM, segmentation-3.0 and CAM++), ``speech_clip`` makes a two-voice English clip with
espeak-ng once per session, and ``no_network`` fails a test that tried to open a
connection off this machine.
"""

from __future__ import annotations

import ipaddress
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from ytingest.offline.smoke_models import (
    SAMPLE_RATE,
    SmokeModels,
    build_offline_models,
    build_smoke_models,
)

# Two voices a real speaker model tells apart, so diarization has more than one speaker to find.
_UTTERANCES = (
    ("en-us", "The quick brown fox jumps over the lazy dog near the river bank."),
    ("en-gb-x-rp+f3", "Meanwhile a second speaker answers with a different voice entirely."),
)


@dataclass(frozen=True)
class SpeechClip:
    path: Path
    waveform: np.ndarray  # float32, mono, SAMPLE_RATE
    sample_rate: int = SAMPLE_RATE

    @property
    def seconds(self) -> float:
        return len(self.waveform) / self.sample_rate


@pytest.fixture(scope="session")
def smoke_models(tmp_path_factory: pytest.TempPathFactory) -> SmokeModels:
    return build_smoke_models(tmp_path_factory.mktemp("smoke-models"), size="tiny")


@pytest.fixture(scope="session")
def offline_models(tmp_path_factory: pytest.TempPathFactory) -> SmokeModels:
    """What `ytingest models offline DIR` builds: real Whisper tiny.en, MiniLM, segmentation-3.0 and CAM++."""
    return build_offline_models(tmp_path_factory.mktemp("offline-models"))


@pytest.fixture(scope="session")
def speech_clip(tmp_path_factory: pytest.TempPathFactory) -> SpeechClip:
    for tool in ("espeak-ng", "ffmpeg"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    workdir = tmp_path_factory.mktemp("speech")
    parts = []
    for i, (voice, text) in enumerate(_UTTERANCES):
        part = workdir / f"part{i}.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-w", str(part), text], check=True, capture_output=True)
        parts.append(part)
    clip = workdir / "clip.wav"
    inputs = [arg for part in parts for arg in ("-i", str(part))]
    streams = "".join(f"[{i}:a]" for i in range(len(parts)))
    subprocess.run(
        [
            "ffmpeg", "-nostdin", "-loglevel", "error", "-y", *inputs,
            "-filter_complex", f"{streams}concat=n={len(parts)}:v=0:a=1[out]", "-map", "[out]",
            "-ac", "1", "-ar", str(SAMPLE_RATE), str(clip),
        ],
        check=True,
        capture_output=True,
    )
    waveform, rate = soundfile.read(clip, dtype="float32")
    assert rate == SAMPLE_RATE and waveform.ndim == 1
    return SpeechClip(path=clip, waveform=waveform)


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Refuse, record and finally fail on connections or DNS lookups leaving this machine.

    Refusing makes an offline violation fail fast instead of hanging on a timeout; the
    yielded list holds what was refused.
    """
    attempts: list[str] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def guarded_connect(sock: socket.socket, address: Any) -> None:
        _refuse_remote(sock, address, attempts)
        real_connect(sock, address)

    def guarded_connect_ex(sock: socket.socket, address: Any) -> int:
        _refuse_remote(sock, address, attempts)
        return real_connect_ex(sock, address)

    def guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_local_host(host):
            attempts.append(f"getaddrinfo({host!r})")
            raise socket.gaierror(socket.EAI_NONAME, f"network access refused in tests: {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    yield attempts
    assert attempts == [], "tried to reach the network"


def _refuse_remote(sock: socket.socket, address: Any, attempts: list[str]) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_local_host(address[0]):
        attempts.append(f"connect({address!r})")
        raise ConnectionRefusedError(f"network access refused in tests: {address!r}")


def _is_local_host(host: Any) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
