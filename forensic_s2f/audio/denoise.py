"""Spectral-gate denoising (noisereduce), streamed in chunks so memory does not grow with duration.

The output is a derivative: same length and sample rate as the input, never written over it.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from forensic_s2f.audio.pcm import Samples, as_samples


class SpectralGateDenoiser:
    """Stationary or non-stationary spectral gating, chunk by chunk with cross-faded seams.

    chunk_seconds: audio gated at once (noise statistics are estimated per chunk, so the gate
    follows noise that drifts over minutes); overlap_seconds: cross-fade between chunks;
    prop_decrease: 0..1, how much of the estimated noise to remove; n_std_thresh: gate
    threshold in standard deviations above the noise mean (stationary mode); n_fft: STFT size
    in samples; noise_fraction: share of each chunk's quietest 32 ms frames taken as the noise
    sample in stationary mode (noisereduce's default, the whole chunk, puts speech into the
    noise estimate and gates speech away); fft_workers: threads for the STFTs (scipy.fft; the
    result does not depend on it).
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
        fft_workers: int = 2,
    ) -> None:
        if not 0.0 <= prop_decrease <= 1.0:
            raise ValueError("prop_decrease must lie in [0, 1]")
        if chunk_seconds <= 2 * overlap_seconds:
            raise ValueError("chunk_seconds must exceed twice overlap_seconds")
        if not 0.0 < noise_fraction <= 1.0:
            raise ValueError("noise_fraction must lie in (0, 1]")
        if fft_workers < 1:
            raise ValueError("fft_workers must be at least 1")
        self.stationary = stationary
        self.prop_decrease = prop_decrease
        self.n_std_thresh = n_std_thresh
        self.n_fft = n_fft
        self.chunk_seconds = chunk_seconds
        self.overlap_seconds = overlap_seconds
        self.noise_fraction = noise_fraction
        self.fft_workers = fft_workers

    def get_params(self) -> dict:
        return {
            "stationary": self.stationary,
            "prop_decrease": self.prop_decrease,
            "n_std_thresh": self.n_std_thresh,
            "n_fft": self.n_fft,
            "chunk_seconds": self.chunk_seconds,
            "overlap_seconds": self.overlap_seconds,
            "noise_fraction": self.noise_fraction,
            "fft_workers": self.fft_workers,
        }

    def __call__(self, samples: Samples, sample_rate: int) -> np.ndarray:
        """Denoised float32 copy of mono `samples` at `sample_rate` Hz."""
        return np.concatenate(list(self.stream(samples, sample_rate)))

    def stream(self, samples: Samples, sample_rate: int) -> Iterator[np.ndarray]:
        """The denoised signal as consecutive float32 blocks (about `chunk_seconds` each), so a
        long recording is denoised and written out without holding it whole."""
        samples = as_samples(samples)
        if len(samples) < self.n_fft * 2:
            yield np.array(samples[0: len(samples)], dtype=np.float32)
            return
        chunk = int(self.chunk_seconds * sample_rate)
        overlap = int(self.overlap_seconds * sample_rate)
        step = chunk - overlap
        ramp = np.linspace(0.0, 1.0, overlap, dtype=np.float32)
        starts = range(0, max(1, len(samples) - overlap), step)
        tail = None  # the previous chunk's last `overlap` samples, to cross-fade with this one
        for start in starts:
            piece = samples[start: start + chunk]
            if len(piece) < self.n_fft * 2:  # a tail too short to gate: keep it as it was
                cleaned = np.array(piece, dtype=np.float32)
            else:
                cleaned = self._gate(piece, sample_rate)
            if tail is not None:
                fade = min(overlap, len(cleaned))
                cleaned[:fade] = cleaned[:fade] * ramp[:fade] + tail[:fade] * (1.0 - ramp[:fade])
            if start == starts[-1]:
                yield cleaned
            else:
                yield cleaned[:-overlap]
                tail = cleaned[-overlap:]

    def _gate(self, piece: np.ndarray, sample_rate: int) -> np.ndarray:
        import noisereduce
        import scipy.fft

        with scipy.fft.set_workers(self.fft_workers):
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
        """The quietest `noise_fraction` of the piece's n_fft-long frames, concatenated; quietest
        about the piece's mean (a DC offset of 0.02 had 18 % of the frames taken lie in speech,
        against 3 % without)."""
        count = len(piece) // self.n_fft
        frames = piece[: count * self.n_fft].reshape(count, self.n_fft)
        centred = frames - np.float32(piece.mean(dtype=np.float64))
        energy = np.einsum("ij,ij->i", centred, centred)
        keep = max(2, int(round(self.noise_fraction * count)))
        quietest = np.sort(np.argsort(energy, kind="stable")[:keep])
        return frames[quietest].reshape(-1)
