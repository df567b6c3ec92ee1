"""Shared fixtures: a private case store per test, the CLI as a function, test audio."""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import forensic_s2f  # noqa: F401  (sets the offline/no-telemetry environment first)
from forensic_s2f.cli import main
from forensic_s2f.errors import STOP_SIGNALS

SHARED_DATA = Path(os.environ.get("FS2F_SHARED_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data")).resolve()


@pytest.fixture
def shared_data() -> Path:
    """../shared/data, or a clean skip where it is absent."""
    if not (SHARED_DATA / "s2f-pairs" / "labels.csv").is_file():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def store_dir(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "store"
    monkeypatch.setenv("FS2F_HOME", str(home))
    monkeypatch.delenv("FS2F_EXAMINER", raising=False)
    return home


class CliResult:
    def __init__(self, code: int, stdout: str, stderr: str) -> None:
        self.code, self.stdout, self.stderr = code, stdout, stderr

    def __repr__(self) -> str:
        return f"CliResult(code={self.code}, stdout={self.stdout!r}, stderr={self.stderr!r})"


@pytest.fixture
def cli(capsys):
    """Run `fs2f ARGS…` in-process; returns exit code, stdout and stderr."""

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        handlers = {number: signal.getsignal(number) for number in STOP_SIGNALS}
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        finally:  # (a command that was stopped leaves its end-at-once handlers: the process is ending)
            for number, handler in handlers.items():
                signal.signal(number, handler)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def _ebml(element_id: bytes, payload: bytes | int | float | str) -> bytes:
    """One EBML element: id, size (8-byte form), payload."""
    if isinstance(payload, int):
        payload = payload.to_bytes(max(1, (payload.bit_length() + 7) // 8), "big")
    elif isinstance(payload, float):
        payload = struct.pack(">d", payload)
    elif isinstance(payload, str):
        payload = payload.encode()
    return element_id + (0x01 << 56 | len(payload)).to_bytes(8, "big") + payload


def write_mka(path: Path, tracks: list[np.ndarray], rate: int = 16_000, first_ms: int = 0,
              pause: tuple[int, int] = (0, 0), track_delays_ms: tuple[int, ...] = ()) -> Path:
    """A Matroska audio file with one 16-bit mono PCM track per array (equal lengths), in
    1 s blocks, whose first block is stamped `first_ms` on the file's timeline; `pause` (block
    index, milliseconds) stamps that block and the later ones that much later, as a recorder's
    pause would; `track_delays_ms` stamps each track's blocks that much later (under 32 s)."""
    header = _ebml(b"\x1a\x45\xdf\xa3", _ebml(b"\x42\x82", "matroska") + _ebml(b"\x42\x87", 4) + _ebml(b"\x42\x85", 2))
    info = _ebml(b"\x15\x49\xa9\x66", _ebml(b"\x2a\xd7\xb1", 1_000_000))
    entries = b"".join(
        _ebml(b"\xae", _ebml(b"\xd7", number) + _ebml(b"\x73\xc5", number) + _ebml(b"\x83", 2)
              + _ebml(b"\x86", "A_PCM/INT/LIT")
              + _ebml(b"\xe1", _ebml(b"\xb5", float(rate)) + _ebml(b"\x9f", 1) + _ebml(b"\x62\x64", 16)))
        for number in range(1, len(tracks) + 1))
    clusters = b""
    for start in range(0, len(tracks[0]), rate):
        blocks = b"".join(
            _ebml(b"\xa3", bytes([0x80 | number]) + (track_delays_ms[number - 1] if track_delays_ms else 0).to_bytes(2, "big")
                  + b"\x80" + (track[start: start + rate] * 32767).astype("<i2").tobytes())
            for number, track in enumerate(tracks, 1))
        paused = pause[1] if pause[1] and start >= pause[0] * rate else 0
        clusters += _ebml(b"\x1f\x43\xb6\x75", _ebml(b"\xe7", first_ms + start * 1000 // rate + paused) + blocks)
    path.write_bytes(header + _ebml(b"\x18\x53\x80\x67", info + _ebml(b"\x16\x54\xae\x6b", entries) + clusters))
    return path


def with_bang(samples: np.ndarray, rate: int, at_seconds: float, seconds: float) -> np.ndarray:
    """`samples` with a bang (a door slam, a knock on the recorder) added at `at_seconds`: white
    noise peaking at 0.9, decaying with a time constant of a quarter of `seconds`."""
    length = int(seconds * rate)
    burst = 0.9 * np.random.default_rng(0).uniform(-1, 1, length) * np.exp(-np.arange(length) / (length / 4))
    out = samples.copy()
    out[int(at_seconds * rate): int(at_seconds * rate) + length] += burst.astype(np.float32)
    return out


def write_tone(path: Path, seconds: float = 2.0, sample_rate: int = 16_000, frequency: float = 220.0,
               channels: int = 1, fmt: str | None = None) -> Path:
    """A real audio file: a tone with a little noise, so each call with new arguments differs."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    rng = np.random.default_rng(int(frequency * 1000 + seconds * 10))
    signal = 0.3 * np.sin(2 * np.pi * frequency * t) + 0.01 * rng.standard_normal(t.size)
    data = np.stack([signal] * channels, axis=1) if channels > 1 else signal
    sf.write(path, data, sample_rate, format=fmt)
    return path


@pytest.fixture
def tone(tmp_path) -> Path:
    return write_tone(tmp_path / "tone.wav")


def store_snapshot(home: Path) -> dict[str, str]:
    """Every file under the store with its SHA-256, plus a dump of the database rows."""
    if not home.exists():
        return {}
    snapshot = {}
    for path in sorted(home.rglob("*")):
        if path.is_file() and not path.name.startswith("fs2f.db") and path.name != ".fs2f.lock":
            snapshot[str(path.relative_to(home))] = hashlib.sha256(path.read_bytes()).hexdigest()
    database = home / "fs2f.db"
    if database.exists():
        with sqlite3.connect(database) as connection:
            snapshot["<database>"] = "\n".join(connection.iterdump())
    return snapshot
