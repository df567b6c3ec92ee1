"""Input checks before a voice-to-face estimate: too little speech is an error, doubtful input a warning."""

from __future__ import annotations

import numpy as np

from forensic_s2f.errors import Fs2fError

MIN_SPEECH_SECONDS = 1.0
LOW_RELIABILITY_SECONDS = 3.0
CLIP_LEVEL = 0.99  # |sample| at or above this counts as clipped (full scale is 1.0)
CLIP_FRACTION = 0.001
LOW_SNR_DB = 10.0
MIN_NOISE_SECONDS = 0.5


class SpeechError(Fs2fError):
    """The input holds too little usable speech for any estimate."""


def require_speech(seconds: float) -> None:
    """Refuse input with less than MIN_SPEECH_SECONDS of detected speech."""
    if seconds <= 0:
        raise SpeechError("no speech detected")
    if seconds < MIN_SPEECH_SECONDS:
        raise SpeechError(
            f"only {seconds:.1f} s of speech detected; at least {MIN_SPEECH_SECONDS:.0f} s is needed"
        )


def input_warnings(samples: np.ndarray, sample_rate: int, regions: list[tuple[float, float]]) -> list[str]:
    """Warnings about speech length, clipping and signal-to-noise ratio (regions in seconds)."""
    warnings: list[str] = []
    seconds = float(sum(b - a for a, b in regions))
    if seconds < LOW_RELIABILITY_SECONDS:
        warnings.append(f"only {seconds:.1f} s of speech: low reliability")
    clipped = _clipped_fraction(samples)
    if clipped > CLIP_FRACTION:
        warnings.append(f"clipped audio: {100 * clipped:.2f} % of samples at full scale")
    snr = speech_to_noise_db(samples, sample_rate, regions)
    if snr is not None and snr < LOW_SNR_DB:
        warnings.append(f"low signal-to-noise ratio ({snr:.1f} dB): background noise may bias the estimate")
    return warnings


def _clipped_fraction(samples: np.ndarray, block: int = 1 << 20) -> float:
    """Fraction of samples at or above CLIP_LEVEL in magnitude."""
    if not len(samples):
        return 0.0
    count = sum(
        int(np.count_nonzero(np.abs(samples[i : i + block]) >= CLIP_LEVEL)) for i in range(0, len(samples), block)
    )
    return count / len(samples)


def speech_to_noise_db(
    samples: np.ndarray, sample_rate: int, regions: list[tuple[float, float]]
) -> float | None:
    """Power in speech regions over power outside them, in dB; None without ≥ 0.5 s of each.

    Sums run over blocks, so memory stays small for hour-long input.
    """
    total = _energy(samples)
    speech = sum(_energy(samples[int(a * sample_rate) : int(b * sample_rate)]) for a, b in regions)
    speech_count = sum(len(samples[int(a * sample_rate) : int(b * sample_rate)]) for a, b in regions)
    noise_count = len(samples) - speech_count
    if min(speech_count, noise_count) < MIN_NOISE_SECONDS * sample_rate:
        return None
    speech_power = speech / speech_count
    noise_power = max(total - speech, 0.0) / noise_count
    if noise_power <= 1e-12:
        return None
    return 10.0 * np.log10(max(speech_power - noise_power, 1e-12) / noise_power)


def _energy(samples: np.ndarray, block: int = 1 << 20) -> float:
    """Sum of squared samples, accumulated in float64 block by block."""
    total = 0.0
    for start in range(0, len(samples), block):
        total += float(np.square(samples[start : start + block], dtype=np.float64).sum())
    return total
