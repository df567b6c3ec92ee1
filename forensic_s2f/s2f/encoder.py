"""Voice embedding: resemblyzer's GE2E speaker encoder (weights ship in the PyPI package).

Windowing for input of any length: the speech regions are cut out and joined, loudness is
normalised to `target_dbfs` over all speech, and the joined speech is cut into 1.6 s partial
windows, `partials_per_second` of them per second of speech (they overlap). Each window gives
one L2-normalised 256-d GE2E embedding; the voice embedding is the L2-normalised mean of all
windows. Long input is processed in blocks of `block_seconds` of speech, so memory is bounded.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from forensic_s2f.audio.ge2e import HOP_SAMPLES, PARTIAL_FRAMES, GE2ENetwork, mel_spectrogram, pretrained_network, speech_gain
from forensic_s2f.audio.ge2e import SAMPLE_RATE as ENCODER_SAMPLE_RATE
from forensic_s2f.audio.level import without_dc
from forensic_s2f.audio.resample import resample


def window_starts(n_samples: int, rate: float, min_coverage: float) -> list[int]:
    """First mel frame of each 1.6 s window over n_samples of audio (resemblyzer's slicing).

    Windows start every round(100 / rate) frames; the last one is kept only if at least
    `min_coverage` of it lies inside the audio, unless it is the only window.
    """
    n_frames = int(np.ceil((n_samples + 1) / HOP_SAMPLES))
    step = int(np.round(ENCODER_SAMPLE_RATE / rate / HOP_SAMPLES))
    if not 0 < step <= PARTIAL_FRAMES:
        raise ValueError(f"window rate {rate} per second must be between 0.625 and 100")
    starts = list(range(0, max(1, n_frames - PARTIAL_FRAMES + step + 1), step))
    last = starts[-1] * HOP_SAMPLES
    coverage = (n_samples - last) / (PARTIAL_FRAMES * HOP_SAMPLES)
    if coverage < min_coverage and len(starts) > 1:
        starts = starts[:-1]
    return starts


@dataclass(frozen=True)
class VoiceEmbedding:
    """The pooled embedding (256,), the per-window embeddings (n, 256), seconds of speech used."""

    embedding: np.ndarray
    partials: np.ndarray
    seconds_used: float


class GE2EEncoder:
    """Speaker embedding of the speech in a recording (see module docstring for the windowing).

    partials_per_second: window rate in windows per second of speech (≥ 0.625 so windows cover it).
    min_coverage: a last window is kept if at least this fraction of it holds speech.
    target_dbfs: speech loudness (RMS, dB re full scale) after normalisation.
    block_seconds: seconds of speech embedded per block.
    remove_dc: each block is taken less its mean (a recorder's DC offset), and the loudness
        measured about it: an offset of 0.02 of full scale changed the likeliest age bracket of
        28 % of 40 clips. False for models trained before (their config does not name it).
    """

    def __init__(
        self,
        partials_per_second: float = 1.3,
        min_coverage: float = 0.75,
        target_dbfs: float = -30.0,
        block_seconds: float = 120.0,
        remove_dc: bool = True,
    ) -> None:
        self.partials_per_second = partials_per_second
        self.min_coverage = min_coverage
        self.target_dbfs = target_dbfs
        self.block_seconds = block_seconds
        self.remove_dc = remove_dc

    def get_params(self) -> dict[str, Any]:
        return {
            "encoder": "resemblyzer GE2E 0.1.4 (pretrained.pt shipped in the package)",
            "partials_per_second": self.partials_per_second,
            "min_coverage": self.min_coverage,
            "target_dbfs": self.target_dbfs,
            "block_seconds": self.block_seconds,
            "remove_dc": self.remove_dc,
        }

    @property
    def model(self) -> GE2ENetwork:
        return pretrained_network()

    def __call__(
        self, samples: np.ndarray, sample_rate: int, speech_regions: list[tuple[float, float]]
    ) -> VoiceEmbedding:
        """Embed the speech inside `speech_regions` (seconds) of mono `samples` at `sample_rate` Hz."""
        model = self.model
        samples = np.asarray(samples, dtype=np.float32)
        regions = clip_regions(speech_regions, len(samples) / sample_rate)
        seconds = float(sum(b - a for a, b in regions))
        if seconds <= 0:
            raise ValueError("no speech to embed")
        gain = speech_gain(samples, sample_rate, regions, self.target_dbfs, raise_only=False, remove_dc=self.remove_dc)
        partials: list[np.ndarray] = []
        with torch.inference_mode():
            for block in speech_blocks(samples, sample_rate, regions, int(self.block_seconds * sample_rate)):
                wav = resample(block, sample_rate, ENCODER_SAMPLE_RATE)
                wav = (without_dc(wav, ENCODER_SAMPLE_RATE) if self.remove_dc else wav) * gain
                starts = window_starts(len(wav), self.partials_per_second, self.min_coverage)
                if partials and (starts[-1] + PARTIAL_FRAMES) * HOP_SAMPLES > 2 * len(wav):
                    continue  # a block tail shorter than half a window adds nothing reliable
                wav = np.pad(wav, (0, max(0, (starts[-1] + PARTIAL_FRAMES) * HOP_SAMPLES - len(wav))))
                mel = mel_spectrogram(wav)
                mels = torch.from_numpy(np.stack([mel[s : s + PARTIAL_FRAMES] for s in starts]))
                partials.append(model(mels).numpy())
        stacked = np.concatenate(partials).astype(np.float32)
        mean = stacked.mean(axis=0)
        return VoiceEmbedding(
            embedding=(mean / np.linalg.norm(mean)).astype(np.float32),
            partials=stacked,
            seconds_used=round(seconds, 3),
        )


def truncate_regions(regions: list[tuple[float, float]], seconds: float) -> list[tuple[float, float]]:
    """The first `seconds` of speech in `regions` (seconds)."""
    kept: list[tuple[float, float]] = []
    left = seconds
    for a, b in regions:
        if left <= 0:
            break
        kept.append((a, min(b, a + left)))
        left -= kept[-1][1] - a
    return kept


def clip_regions(regions: list[tuple[float, float]], duration: float) -> list[tuple[float, float]]:
    """Regions (seconds) cut to [0, duration], sorted, empty ones dropped."""
    clipped = [(max(0.0, float(a)), min(duration, float(b))) for a, b in regions]
    return [(a, b) for a, b in sorted(clipped) if b > a]


def speech_blocks(
    samples: np.ndarray, sample_rate: int, regions: list[tuple[float, float]], limit: int
) -> Iterator[np.ndarray]:
    """Joined speech of `regions` (seconds) in pieces of `limit` samples (the last one may be shorter)."""
    pending: list[np.ndarray] = []
    size = 0
    for a, b in regions:
        piece = samples[int(a * sample_rate) : int(b * sample_rate)]
        while len(piece):
            take = piece[: limit - size]
            pending.append(take)
            size += len(take)
            piece = piece[len(take) :]
            if size >= limit:
                yield np.concatenate(pending)
                pending, size = [], 0
    if size:
        yield np.concatenate(pending)
