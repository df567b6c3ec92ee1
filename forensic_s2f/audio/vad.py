"""Voice activity detection with silero-vad, whose weights ship inside the `silero_vad` package.

Input is mono float32 samples at any sample rate (Hz); output is speech regions in seconds.
Audio is scored in blocks of `block_seconds` with the model's recurrent state carried across
blocks, so memory stays bounded by one block plus one float per 32 ms frame, whatever the length.
"""

from __future__ import annotations

from math import gcd
from typing import Any

import numpy as np
import torch
from scipy.signal import resample_poly

VAD_SAMPLE_RATE = 16_000
FRAME_SAMPLES = 512  # silero's frame at 16 kHz: 32 ms


class SileroVAD:
    """Speech regions (start, end) in seconds from silero-vad frame probabilities.

    threshold: a frame whose speech probability is at least this opens (or continues) speech.
    neg_threshold: while in speech, a frame below this counts as silence (default threshold - 0.15).
    min_speech_seconds: shorter speech regions are dropped.
    min_silence_seconds: silences shorter than this do not split a region.
    pad_seconds: each region is widened by this on both sides (clipped to the signal).
    block_seconds: audio scored per block (bounds memory for long inputs).
    """

    def __init__(
        self,
        threshold: float = 0.5,
        neg_threshold: float | None = None,
        min_speech_seconds: float = 0.25,
        min_silence_seconds: float = 0.1,
        pad_seconds: float = 0.03,
        block_seconds: float = 60.0,
    ) -> None:
        self.threshold = threshold
        self.neg_threshold = neg_threshold
        self.min_speech_seconds = min_speech_seconds
        self.min_silence_seconds = min_silence_seconds
        self.pad_seconds = pad_seconds
        self.block_seconds = block_seconds
        self._model: Any = None

    def get_params(self) -> dict[str, Any]:
        """The constructor's parameters, JSON-able, for provenance records."""
        return {
            "threshold": self.threshold,
            "neg_threshold": self.neg_threshold,
            "min_speech_seconds": self.min_speech_seconds,
            "min_silence_seconds": self.min_silence_seconds,
            "pad_seconds": self.pad_seconds,
            "block_seconds": self.block_seconds,
            "model": "silero-vad (JIT, shipped in the silero_vad package)",
        }

    @property
    def model(self) -> Any:
        """The silero JIT model, loaded from the package's own file on first use (no network)."""
        if self._model is None:
            from silero_vad import load_silero_vad

            self._model = load_silero_vad(onnx=False)
        return self._model

    def frame_probabilities(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """Speech probability per 32 ms frame (512 samples at 16 kHz), float32."""
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 1:
            raise ValueError(f"expected mono samples of shape (n,), got {samples.shape}")
        model = self.model
        model.reset_states()
        block = max(FRAME_SAMPLES, int(self.block_seconds * sample_rate))
        up, down = _resample_ratio(sample_rate)
        probabilities: list[np.ndarray] = []
        carry = np.zeros(0, dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(samples), block):
                chunk = samples[start : start + block]
                if up != down:
                    chunk = resample_poly(chunk, up, down).astype(np.float32)
                chunk = np.concatenate([carry, chunk])
                usable = len(chunk) - len(chunk) % FRAME_SAMPLES
                last_block = start + block >= len(samples)
                if last_block and usable < len(chunk):
                    chunk = np.pad(chunk, (0, FRAME_SAMPLES - len(chunk) % FRAME_SAMPLES))
                    usable = len(chunk)
                carry = chunk[usable:]
                frames = torch.from_numpy(np.ascontiguousarray(chunk[:usable]))
                out = np.empty(usable // FRAME_SAMPLES, dtype=np.float32)
                for i in range(len(out)):
                    frame = frames[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES]
                    out[i] = float(model(frame, VAD_SAMPLE_RATE))
                probabilities.append(out)
        return np.concatenate(probabilities) if probabilities else np.zeros(0, np.float32)

    def regions_from_probabilities(
        self, probabilities: np.ndarray, duration_seconds: float
    ) -> list[tuple[float, float]]:
        """Hysteresis over frame probabilities → merged, padded speech regions in seconds."""
        frame_seconds = FRAME_SAMPLES / VAD_SAMPLE_RATE
        low = self.neg_threshold if self.neg_threshold is not None else max(self.threshold - 0.15, 0.01)
        regions: list[list[float]] = []
        in_speech = False
        start = 0.0
        for i, p in enumerate(probabilities):
            if not in_speech and p >= self.threshold:
                in_speech, start = True, i * frame_seconds
            elif in_speech and p < low:
                in_speech = False
                regions.append([start, i * frame_seconds])
        if in_speech:
            regions.append([start, len(probabilities) * frame_seconds])
        merged: list[list[float]] = []
        for region in regions:
            if merged and region[0] - merged[-1][1] < self.min_silence_seconds:
                merged[-1][1] = region[1]
            else:
                merged.append(region)
        kept = [r for r in merged if r[1] - r[0] >= self.min_speech_seconds]
        padded: list[tuple[float, float]] = []
        for a, b in kept:
            a = max(0.0, a - self.pad_seconds)
            b = min(duration_seconds, b + self.pad_seconds)
            if padded and a <= padded[-1][1]:
                padded[-1] = (padded[-1][0], b)
            elif b > a:
                padded.append((a, b))
        return [(round(a, 3), round(b, 3)) for a, b in padded]

    def __call__(self, samples: np.ndarray, sample_rate: int) -> list[tuple[float, float]]:
        """Speech regions [(start, end), ...] in seconds, sorted and non-overlapping."""
        probabilities = self.frame_probabilities(samples, sample_rate)
        return self.regions_from_probabilities(probabilities, len(samples) / sample_rate)


def _resample_ratio(sample_rate: int) -> tuple[int, int]:
    """(up, down) so that sample_rate * up / down == 16 kHz."""
    if sample_rate <= 0:
        raise ValueError(f"sample rate must be positive, got {sample_rate}")
    divisor = gcd(VAD_SAMPLE_RATE, int(sample_rate))
    return VAD_SAMPLE_RATE // divisor, int(sample_rate) // divisor


def speech_seconds(regions: list[tuple[float, float]]) -> float:
    """Total duration of speech regions, in seconds."""
    return float(sum(end - start for start, end in regions))
