"""Spectral-gate denoising (noisereduce), streamed in chunks so memory does not grow with duration.

The output is a derivative: same length and sample rate as the input, never written over it.
"""

from __future__ import annotations

import numpy as np


class SpectralGateDenoiser:
    """Stationary or non-stationary spectral gating, chunk by chunk with cross-faded seams.

    chunk_seconds: audio gated at once (noise statistics are estimated per chunk, so the gate
    follows noise that drifts over minutes); overlap_seconds: cross-fade between chunks;
    prop_decrease: 0..1, how much of the estimated noise to remove; n_std_thresh: gate
    threshold in standard deviations above the noise mean (stationary mode); n_fft: STFT size
    in samples; noise_fraction: share of each chunk's quietest 32 ms frames taken as the noise
    sample in stationary mode (noisereduce's default, the whole chunk, puts speech into the
    noise estimate and gates speech away).
    """

    def __init__(
        self,
        stationary: bool = True,
        prop_decrease: float = 0.8,
        n_std_thresh: float = 1.5,
        n_fft: int = 512,
        chunk_seconds: float = 30.0,
        overlap_seconds: float = 0.5,
        noise_fraction: float = 0.1,
    ) -> None:
        if not 0.0 <= prop_decrease <= 1.0:
            raise ValueError("prop_decrease must lie in [0, 1]")
        if chunk_seconds <= 2 * overlap_seconds:
            raise ValueError("chunk_seconds must exceed twice overlap_seconds")
        if not 0.0 < noise_fraction <= 1.0:
            raise ValueError("noise_fraction must lie in (0, 1]")
        self.stationary = stationary
        self.prop_decrease = prop_decrease
        self.n_std_thresh = n_std_thresh
        self.n_fft = n_fft
        self.chunk_seconds = chunk_seconds
        self.overlap_seconds = overlap_seconds
        self.noise_fraction = noise_fraction

    def get_params(self) -> dict:
        return {
            "stationary": self.stationary,
            "prop_decrease": self.prop_decrease,
            "n_std_thresh": self.n_std_thresh,
            "n_fft": self.n_fft,
            "chunk_seconds": self.chunk_seconds,
            "overlap_seconds": self.overlap_seconds,
            "noise_fraction": self.noise_fraction,
        }

    def __call__(self, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """Denoised float32 copy of mono `samples` at `sample_rate` Hz."""
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        output = np.zeros_like(samples)
        chunk = int(self.chunk_seconds * sample_rate)
        overlap = int(self.overlap_seconds * sample_rate)
        step = chunk - overlap
        if len(samples) < self.n_fft * 2:
            return samples.copy()
        ramp = np.linspace(0.0, 1.0, overlap, dtype=np.float32)
        for start in range(0, max(1, len(samples) - overlap), step):
            piece = samples[start : start + chunk]
            if len(piece) < self.n_fft * 2:  # a tail too short to gate: keep it as it was
                cleaned = piece.copy()
            else:
                cleaned = self._gate(piece, sample_rate)
            if start > 0:
                fade = min(overlap, len(cleaned))
                cleaned[:fade] *= ramp[:fade]
                output[start : start + fade] *= 1.0 - ramp[:fade]
            output[start : start + len(cleaned)] += cleaned
        return output

    def _gate(self, piece: np.ndarray, sample_rate: int) -> np.ndarray:
        import noisereduce

        cleaned = noisereduce.reduce_noise(
            y=piece,
            sr=sample_rate,
            y_noise=self._noise_sample(piece) if self.stationary else None,
            stationary=self.stationary,
            prop_decrease=self.prop_decrease,
            n_std_thresh_stationary=self.n_std_thresh,
            n_fft=self.n_fft,
            chunk_size=len(piece) + 1,
            padding=0,
            n_jobs=1,
        )
        return np.asarray(cleaned, dtype=np.float32)[: len(piece)]

    def _noise_sample(self, piece: np.ndarray) -> np.ndarray:
        """The quietest `noise_fraction` of the piece's n_fft-long frames, concatenated."""
        count = len(piece) // self.n_fft
        frames = piece[: count * self.n_fft].reshape(count, self.n_fft)
        energy = np.einsum("ij,ij->i", frames, frames)
        keep = max(2, int(round(self.noise_fraction * count)))
        quietest = np.sort(np.argsort(energy, kind="stable")[:keep])
        return frames[quietest].reshape(-1)
