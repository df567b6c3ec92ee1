"""Speaker embeddings on sliding windows over speech: resemblyzer's GE2E encoder (weights ship
in the package), batched.

Times are seconds; audio 16 kHz mono float32.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from forensic_s2f.audio.ge2e import SAMPLE_RATE as ENCODER_SAMPLE_RATE
from forensic_s2f.audio.ge2e import mel_spectrogram, pretrained_network, speech_gain
from forensic_s2f.audio.level import without_dc
from forensic_s2f.audio.pcm import Samples, as_samples
from forensic_s2f.provenance import package_version

MEL_HOP_SECONDS = 0.010
BLOCK_SECONDS = 60.0
TARGET_DBFS = -30.0  # resemblyzer's training-time loudness (raised only, never lowered)


@dataclass(frozen=True)
class WindowEmbeddings:
    """One L2-normalised embedding per window; `starts`/`ends` in seconds.

    A window shorter than `window_seconds` occurs only where a speech region is shorter than a
    window; its span is the region, while the encoder saw audio centred on it.
    """

    starts: np.ndarray
    ends: np.ndarray
    vectors: np.ndarray

    def __len__(self) -> int:
        return len(self.starts)


class WindowEmbedder:
    """GE2E embeddings of `window_seconds` windows every `hop_seconds` inside speech regions.

    Regions shorter than `min_region_seconds` are left out (too short to say who spoke; the
    resegmentation labels them from their neighbours). `batch_size` windows go through the
    LSTM at once, on `num_threads` torch threads (set explicitly, because importing silero-vad
    sets torch to one thread). One is the default: on 2 cores shared with other work, two
    threads measured 15 times slower than one (OpenMP threads spin against other processes).
    Instead `workers` batches run side by side on Python threads (the LSTM releases the GIL,
    and a batch's result does not depend on what else runs), while the next spectrograms are
    computed; at most `workers` + 1 batches wait or run besides the one being filled.
    `remove_dc`: each block of speech is taken less its mean (a recorder's DC offset), which
    otherwise fills the lowest mel band of every window, and the loudness measured about it.
    """

    def __init__(
        self,
        window_seconds: float = 1.6,
        hop_seconds: float = 0.8,
        min_region_seconds: float = 0.3,
        batch_size: int = 64,
        num_threads: int = 1,
        workers: int = 2,
        remove_dc: bool = True,
    ) -> None:
        if num_threads < 1 or workers < 1:
            raise ValueError("num_threads and workers must be at least 1")
        if hop_seconds <= 0 or window_seconds <= 0:
            raise ValueError("window_seconds and hop_seconds must be positive")
        self.window_seconds = window_seconds
        self.hop_seconds = hop_seconds
        self.min_region_seconds = min_region_seconds
        self.batch_size = batch_size
        self.num_threads = num_threads
        self.workers = workers
        self.remove_dc = remove_dc

    def get_params(self) -> dict:
        return {
            "encoder": "resemblyzer GE2E",
            "encoder_version": package_version("resemblyzer"),
            "window_seconds": self.window_seconds,
            "hop_seconds": self.hop_seconds,
            "min_region_seconds": self.min_region_seconds,
            "batch_size": self.batch_size,
            "num_threads": self.num_threads,
            "workers": self.workers,
            "remove_dc": self.remove_dc,
        }

    def __call__(
        self, samples: Samples, sample_rate: int, regions: Sequence[tuple[float, float]]
    ) -> WindowEmbeddings:
        if sample_rate != ENCODER_SAMPLE_RATE:
            raise ValueError(f"the encoder needs {ENCODER_SAMPLE_RATE} Hz audio, got {sample_rate} Hz")
        samples = as_samples(samples)
        gain = speech_gain(samples, ENCODER_SAMPLE_RATE, regions, TARGET_DBFS, raise_only=True, remove_dc=self.remove_dc)
        power_gain = np.float32(gain**2)  # the encoder's mel is a power spectrum
        spans, pending, vectors = [], [], []
        network = pretrained_network()  # loaded here once, not raced for by the worker threads
        previous = torch.get_num_threads()
        torch.set_num_threads(self.num_threads)
        try:
            with ThreadPoolExecutor(self.workers) as pool:
                running: deque[Future] = deque()
                for start, end in _blocks(regions, self.min_region_seconds):
                    for span, mel in self._windows(samples, start, end):
                        spans.append(span)
                        pending.append(mel * power_gain)
                        if len(pending) == self.batch_size:  # embed as we go: memory stays bounded
                            running.append(pool.submit(_embed, network, np.stack(pending)))
                            pending = []
                            if len(running) > self.workers:
                                vectors.append(running.popleft().result())
                if pending:
                    running.append(pool.submit(_embed, network, np.stack(pending)))
                vectors.extend(future.result() for future in running)
        finally:
            torch.set_num_threads(previous)
        if not spans:
            return WindowEmbeddings(np.zeros(0), np.zeros(0), np.zeros((0, 256), dtype=np.float32))
        starts, ends = (np.array(v, dtype=np.float64) for v in zip(*spans))
        return WindowEmbeddings(starts, ends, np.concatenate(vectors))

    def _windows(self, samples: Samples, start: float, end: float):
        """(span, mel frames) for each window in one block of speech; one spectrogram per block."""
        frames = int(round(self.window_seconds / MEL_HOP_SECONDS))
        duration = len(samples) / ENCODER_SAMPLE_RATE
        if end - start < self.window_seconds:  # one window centred on the short region
            centre = (start + end) / 2
            left = min(max(0.0, centre - self.window_seconds / 2), max(0.0, duration - self.window_seconds))
            offsets, audio_start = [0.0], left
            audio_end = left + self.window_seconds
            span_of = lambda _: (start, end)  # noqa: E731 - the window stands for the region
        else:
            count = int(np.floor((end - start - self.window_seconds) / self.hop_seconds)) + 1
            offsets = [i * self.hop_seconds for i in range(count)]
            if offsets[-1] + self.window_seconds < end - start - 1e-6:
                offsets.append(end - start - self.window_seconds)
            audio_start, audio_end = start, end
            span_of = lambda off: (start + off, start + off + self.window_seconds)  # noqa: E731
        first_sample = int(audio_start * ENCODER_SAMPLE_RATE)
        last_sample = int(np.ceil(audio_end * ENCODER_SAMPLE_RATE))
        piece = samples[first_sample:last_sample]
        piece = without_dc(piece, ENCODER_SAMPLE_RATE) if self.remove_dc else piece
        if len(piece) < last_sample - first_sample:  # a recording shorter than one window
            piece = np.pad(piece, (0, last_sample - first_sample - len(piece)))
        mel = mel_spectrogram(piece)
        if len(mel) < frames:
            mel = np.pad(mel, ((0, frames - len(mel)), (0, 0)))
        for offset in offsets:
            first = min(int(round(offset / MEL_HOP_SECONDS)), len(mel) - frames)
            yield span_of(offset), mel[first : first + frames]


def _embed(network: torch.nn.Module, mels: np.ndarray) -> np.ndarray:
    """GE2E embeddings of a batch of (frames, 40) mel windows (thread-safe)."""
    with torch.inference_mode():
        return network(torch.from_numpy(mels)).numpy().astype(np.float32)


def _blocks(regions: Sequence[tuple[float, float]], shortest: float) -> list[tuple[float, float]]:
    """Regions of at least `shortest` seconds, long ones cut into blocks of at most
    BLOCK_SECONDS so the spectrogram held at once stays small whatever the speech's length."""
    blocks = []
    for start, end in regions:
        if end - start < shortest:
            continue
        count = int(np.ceil((end - start) / BLOCK_SECONDS))
        edges = np.linspace(start, end, count + 1)
        blocks += [(float(a), float(b)) for a, b in zip(edges[:-1], edges[1:])]
    return blocks
