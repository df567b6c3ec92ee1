"""Input checks before a voice-to-face estimate: too little speech is an error, doubtful input a warning."""

from __future__ import annotations

import math

from forensic_s2f.audio.quality import QualityReport
from forensic_s2f.errors import Fs2fError

MIN_SPEECH_SECONDS = 1.0
LOW_RELIABILITY_SECONDS = 3.0
LOW_SNR_DB = 10.0


class SpeechError(Fs2fError):
    """The input holds too little usable speech for any estimate."""


def require_speech(seconds: float) -> None:
    """Refuse input with less than MIN_SPEECH_SECONDS of detected speech."""
    if seconds <= 0:
        raise SpeechError("no speech detected")
    if seconds < MIN_SPEECH_SECONDS:
        raise SpeechError(
            f"only {math.floor(seconds * 100) / 100:.2f} s of speech detected; at least {MIN_SPEECH_SECONDS:.0f} s is needed"
        )


def input_warnings(quality: QualityReport) -> list[str]:
    """Warnings about speech length and, from the audio stage's quality measures of the input
    (`measure_quality` with the speech regions), clipping, signal-to-noise ratio and telephone band."""
    warnings: list[str] = []
    seconds = quality.speech_seconds or 0.0
    if seconds < LOW_RELIABILITY_SECONDS:
        warnings.append(f"only {seconds:.1f} s of speech heard by the model: low reliability")
    warnings += quality.warnings(min_duration_seconds=0.0, min_speech_seconds=0.0, min_snr_db=LOW_SNR_DB)
    return warnings
