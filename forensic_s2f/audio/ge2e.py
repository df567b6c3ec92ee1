"""resemblyzer's GE2E speaker encoder, run by project code: one network and one mel front end
for both the diarizer's window embeddings and the voice-to-face model's voice embedding.

The weights (`pretrained.pt`) ship inside the resemblyzer PyPI package; resemblyzer itself is
not imported (its import pulls in webrtcvad and librosa's slow first-call compilation).
Audio is 16 kHz mono float32; a mel frame is 10 ms; a GE2E window is 160 frames (1.6 s).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from forensic_s2f.audio.pcm import Samples
from forensic_s2f.audio.level import STEP_SECONDS, bang_blocks, block_sums
from forensic_s2f.errors import Fs2fError

SAMPLE_RATE = 16_000
N_FFT = 400  # 25 ms analysis window
HOP_SAMPLES = 160  # 10 ms frame step
N_MELS = 40
PARTIAL_FRAMES = 160  # one GE2E window: 1.6 s
EMBEDDING_SIZE = 256
GAIN_CHUNK_BLOCKS = 6000  # 10 ms blocks of speech `speech_gain` reads at once: 60 s


class GE2ENetwork(torch.nn.Module):
    """3-layer LSTM (256 units), linear + ReLU, L2-normalised output, as resemblyzer defines it."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = torch.nn.LSTM(N_MELS, EMBEDDING_SIZE, 3, batch_first=True)
        self.linear = torch.nn.Linear(EMBEDDING_SIZE, EMBEDDING_SIZE)
        self.relu = torch.nn.ReLU()

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        """Embeddings (batch, 256) of mel spectrograms (batch, frames, 40)."""
        _, (hidden, _) = self.lstm(mels)
        raw = self.relu(self.linear(hidden[-1]))
        return raw / torch.norm(raw, dim=1, keepdim=True)


@lru_cache(maxsize=1)
def pretrained_network() -> GE2ENetwork:
    """The network with the weights shipped in the resemblyzer package (loaded once per process)."""
    spec = importlib.util.find_spec("resemblyzer")
    if spec is None or spec.origin is None:
        raise Fs2fError("the resemblyzer package (GE2E weights) is not installed")
    weights = Path(spec.origin).parent / "pretrained.pt"
    network = GE2ENetwork()
    state = torch.load(weights, map_location="cpu", weights_only=True)["model_state"]
    network.load_state_dict({k: v for k, v in state.items() if not k.startswith("similarity_")})
    return network.eval()


def mel_spectrogram(samples: np.ndarray) -> np.ndarray:
    """(frames, 40) mel power spectrogram of 16 kHz audio, as resemblyzer's `wav_to_mel_spectrogram`
    computes it (librosa: centred 400-sample Hann frames, 160-sample hop, zero padding, Slaney mel
    bands), through torch.stft, several times faster than librosa."""
    spectrum = torch.stft(
        torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32)), N_FFT, HOP_SAMPLES,
        window=_hann(), center=True, pad_mode="constant", return_complex=True,
    )
    power = spectrum.real**2 + spectrum.imag**2
    return (power.T @ _mel_filters()).numpy()


@lru_cache(maxsize=1)
def _hann() -> torch.Tensor:
    return torch.hann_window(N_FFT, periodic=True)


@lru_cache(maxsize=1)
def _mel_filters() -> torch.Tensor:
    """(201, 40) Slaney mel filterbank, the one the encoder was trained with."""
    return torch.from_numpy(np.ascontiguousarray(slaney_mel_filters(SAMPLE_RATE, N_FFT, N_MELS).T))


def slaney_mel_filters(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) float32 triangular mel filters from 0 Hz to `sample_rate` / 2,
    area-normalised, on Slaney's mel scale (linear to 1 kHz, logarithmic above): the values
    `librosa.filters.mel` gives, without importing librosa (and numba, about 0.3 s)."""
    log_step = np.log(6.4) / 27.0  # mel per log-Hz above 1 kHz (= 15 mel)

    def to_mel(hz: np.ndarray) -> np.ndarray:
        hz = np.asarray(hz, dtype=np.float64)
        return np.where(hz >= 1000.0, 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / log_step, hz / (200.0 / 3))

    def to_hz(mel: np.ndarray) -> np.ndarray:
        return np.where(mel >= 15.0, 1000.0 * np.exp(log_step * (mel - 15.0)), mel * (200.0 / 3))

    bins_hz = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    edges = to_hz(np.linspace(to_mel(0.0), to_mel(sample_rate / 2), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - bins_hz[None, :]
    rising, falling = -ramps[:-2] / widths[:-1, None], ramps[2:] / widths[1:, None]
    filters = np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)
    filters *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return filters


def speech_gain(samples: Samples, sample_rate: int, regions: Sequence[tuple[float, float]],
                target_dbfs: float, raise_only: bool, remove_dc: bool = True) -> float:
    """Amplitude gain bringing the RMS of the speech in `regions` (seconds) to `target_dbfs`,
    its mean (a DC offset) left out unless `remove_dc` is False; with `raise_only`, quiet speech
    is raised and loud speech left alone. 1.0 for silence.

    The 10 ms blocks of a bang or a knock on the recorder (`level.bang_blocks`) are left out of
    the RMS and the mean: in the s2f-pairs clips played 20 dB quieter, a 0.2 s bang near full
    scale lowered the gain so far that the estimated gender of 4 of 60 clips changed. Speech
    alone has no such block in any of the 757 clips with speech, so their gain is the plain RMS's.
    """
    # (the totals are summed piece by piece as before the bang rule, not from the block sums, so
    # that speech without a bang keeps its gain bit for bit and the shipped model reproduces)
    energy, total, count = 0.0, 0.0, 0
    blocks = []
    chunk = int(sample_rate * STEP_SECONDS) * GAIN_CHUNK_BLOCKS  # samples read at once (memory stays bounded)
    for start, end in regions:
        first, stop = max(0, int(start * sample_rate)), min(len(samples), int(end * sample_rate))
        for at in range(first, max(first, stop), chunk):
            piece = samples[at: min(at + chunk, stop)].astype(np.float64)
            energy += float(np.dot(piece, piece))
            total += float(piece.sum())
            count += len(piece)
            blocks.append(block_sums(piece, sample_rate))
    if count:
        block_energy, block_sum, block_count = (np.concatenate(parts) for parts in zip(*blocks))
        bang = bang_blocks(block_energy, block_sum, block_count, total / count if remove_dc else 0.0)
        if bang.any():
            energy -= float(block_energy[bang].sum())
            total -= float(block_sum[bang].sum())
            count -= int(block_count[bang].sum())
    rms = np.sqrt(max(0.0, energy / count - ((total / count) ** 2 if remove_dc else 0.0))) if count else 0.0
    if rms < 1e-6:
        return 1.0
    gain = 10 ** (target_dbfs / 20) / rms
    return float(max(gain, 1.0) if raise_only else gain)
