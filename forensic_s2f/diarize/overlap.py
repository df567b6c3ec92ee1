"""Overlapped-speech detection: where two voices sound at once.

A small dilated 1-D convolutional network reads 10 ms log-mel frames (the GE2E front end's 40
Slaney bands, each band's mean over the block removed) and gives each frame the probability
that two or more people speak in it; its receptive field is 1.29 s. It was trained by project
code (`overlap_training.py`) on mixtures of the s2f-pairs clips; the shipped weights are in
`weights/` with a manifest of SHA-256 hashes that the loader checks.

The recording is read in blocks of `BLOCK_SECONDS` (the length of the training mixtures) with
`CONTEXT_SECONDS` more on each side, so memory stays bounded whatever its length; blocks
without speech are skipped. Times in seconds, audio 16 kHz mono float32.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from forensic_s2f.audio.ge2e import HOP_SAMPLES, N_MELS, SAMPLE_RATE, mel_spectrogram, speech_gain
from forensic_s2f.audio.level import without_dc
from forensic_s2f.audio.pcm import Samples, as_samples
from forensic_s2f.errors import Fs2fError
from forensic_s2f.manifest import read_arrays, read_json_object, reason, verify_manifest, write_manifest

DEFAULT_OVERLAP_WEIGHTS = Path(__file__).resolve().parent / "weights"
WEIGHTS_FILE, CONFIG_FILE = "overlap.npz", "overlap.json"
FRAME_SECONDS = HOP_SAMPLES / SAMPLE_RATE  # 0.01
BLOCK_SECONDS = 6.0
CONTEXT_SECONDS = 0.5
CHANNELS = 64
DILATIONS = (1, 2, 4, 8, 16, 32)


class OverlapNetwork(torch.nn.Module):
    """Log-mel frames (batch, frames, 40) → overlap logits (batch, frames)."""

    def __init__(self, channels: int = CHANNELS, dilations: Sequence[int] = DILATIONS) -> None:
        super().__init__()
        self.dilations = tuple(int(d) for d in dilations)
        layers: list[torch.nn.Module] = [torch.nn.Conv1d(N_MELS, channels, 3, padding=1), torch.nn.ReLU()]
        for dilation in self.dilations:
            layers += [torch.nn.Conv1d(channels, channels, 3, padding=dilation, dilation=dilation), torch.nn.ReLU()]
        layers.append(torch.nn.Conv1d(channels, 1, 1))
        self.layers = torch.nn.Sequential(*layers)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.layers(frames.transpose(1, 2))[:, 0]


def overlap_features(samples: np.ndarray) -> np.ndarray:
    """(frames, 40) float32: log mel power (GE2E front end), each band's mean over the block removed."""
    mel = np.log(mel_spectrogram(samples) + 1e-6)
    return (mel - mel.mean(axis=0)).astype(np.float32)


def save_overlap_weights(network: OverlapNetwork, directory: Path, training: dict[str, Any]) -> str:
    """Write overlap.npz (the network's tensors), overlap.json (its size and `training`, how it
    was trained) and the manifest signing both; returns the weights' SHA-256."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {name: value.detach().numpy() for name, value in network.state_dict().items()}
    with open(directory / WEIGHTS_FILE, "wb") as handle:
        np.savez(handle, **arrays)
    config = {"channels": network.layers[0].out_channels, "dilations": list(network.dilations), "training": training}
    (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return write_manifest(directory, (WEIGHTS_FILE, CONFIG_FILE))[WEIGHTS_FILE]


@lru_cache(maxsize=4)
def load_overlap_network(directory: Path) -> tuple[OverlapNetwork, str, dict[str, Any]]:
    """The network of a weights folder, the SHA-256 of its weights file and its config, after
    checking the folder's manifest (Fs2fError naming the file otherwise)."""
    what = "overlap detector weights"
    hashes = verify_manifest(directory, (WEIGHTS_FILE, CONFIG_FILE), what=what)
    config = read_json_object(directory / CONFIG_FILE, what)
    state = {name: torch.from_numpy(array) for name, array in read_arrays(directory / WEIGHTS_FILE, what).items()}
    try:
        network = OverlapNetwork(channels=int(config["channels"]), dilations=config["dilations"])
    except (KeyError, TypeError, ValueError) as error:
        raise Fs2fError(f"{directory / CONFIG_FILE}: does not describe an overlap detector ({reason(error)})") from None
    try:
        network.load_state_dict(state)
    except RuntimeError as error:
        raise Fs2fError(f"{what} {directory / WEIGHTS_FILE}: do not fit the network ({error})") from None
    return network.eval(), hashes[WEIGHTS_FILE], config


class OverlapDetector:
    """`__call__(samples, sample_rate, speech_regions) -> [(start, end)]`: overlapped speech.

    Frames whose probability exceeds `threshold` form runs; runs shorter than `min_seconds` are
    dropped and the rest are kept where they lie inside `speech_regions`. `weights_dir` None:
    the shipped weights. `speech_dbfs`: the speech (RMS over `speech_regions`) is brought to this
    level first, the level the training mixtures put it at (-26 dBFS ± 6 dB); None: as it is. The
    features' log floor otherwise takes quiet recordings for silence: played 30 dB quieter, the
    benchmark's telephone conversations lost half the overlap found. The threshold is the one
    every fold chose in benchmarks/diarization.py over three draws of conversations pooled
    (`--seed 0 1 2`, 60 conversations; 0.2, 0.3, 0.5 and 0.7 cross-validated with the clustering
    settings): pooled DER 10.12 % over all folds and conditions, against 10.30 % at 0.3, which
    the first draw alone had chosen. `remove_dc`: each block is taken less its mean (a
    recorder's DC offset) first.
    """

    def __init__(self, weights_dir: Path | None = None, threshold: float = 0.5, min_seconds: float = 0.1,
                 speech_dbfs: float | None = -26.0, remove_dc: bool = True) -> None:
        if not 0.0 < threshold < 1.0:
            raise ValueError("threshold must lie between 0 and 1")
        self.weights_dir = Path(weights_dir) if weights_dir is not None else DEFAULT_OVERLAP_WEIGHTS
        self.threshold = threshold
        self.min_seconds = min_seconds
        self.speech_dbfs = speech_dbfs
        self.remove_dc = remove_dc

    def get_params(self) -> dict[str, Any]:
        _, sha256, config = load_overlap_network(self.weights_dir)
        return {
            "method": "dilated-cnn",
            "weights": str(self.weights_dir),
            "weights_sha256": sha256,
            "training": config.get("training", {}),
            "threshold": self.threshold,
            "min_seconds": self.min_seconds,
            "speech_dbfs": self.speech_dbfs,
            "remove_dc": self.remove_dc,
        }

    def probabilities(self, samples: Samples, sample_rate: int, speech_regions: Sequence[tuple[float, float]]) -> np.ndarray:
        """Per 10 ms frame (frame i centred at i × 10 ms), the probability of overlapped speech;
        0 in blocks without speech."""
        if sample_rate != SAMPLE_RATE:
            raise ValueError(f"the overlap detector takes {SAMPLE_RATE} Hz audio")
        samples = as_samples(samples)
        network, _, _ = load_overlap_network(self.weights_dir)
        gain = np.float32(1.0 if self.speech_dbfs is None else
                          speech_gain(samples, SAMPLE_RATE, speech_regions, self.speech_dbfs, raise_only=False,
                                      remove_dc=self.remove_dc))
        total = len(samples) // HOP_SAMPLES + 1
        result = np.zeros(total, np.float32)
        block, context = int(BLOCK_SECONDS * SAMPLE_RATE), int(CONTEXT_SECONDS * SAMPLE_RATE)
        speech = np.array(sorted(speech_regions), dtype=np.float64).reshape(-1, 2) * SAMPLE_RATE
        latest_end = np.maximum.accumulate(speech[:, 1]) if len(speech) else speech[:, 1]
        for start in range(0, len(samples), block):
            end = min(start + block, len(samples))
            # some region starts before the block ends and ends after it starts
            before = int(np.searchsorted(speech[:, 0], end, side="left"))
            if before == 0 or latest_end[before - 1] <= start:
                continue
            first, last = max(0, start - context), min(len(samples), end + context)
            piece = samples[first:last]  # (a DC offset: the training mixtures carry next to none)
            frames = overlap_features((without_dc(piece, SAMPLE_RATE) if self.remove_dc else np.asarray(piece, np.float32)) * gain)
            with torch.inference_mode():
                p = torch.sigmoid(network(torch.from_numpy(frames)[None]))[0].numpy()
            lo, hi = start // HOP_SAMPLES, min(total, -(-end // HOP_SAMPLES))
            offset = first // HOP_SAMPLES
            result[lo:hi] = p[lo - offset: hi - offset]
        return result

    def __call__(self, samples: Samples, sample_rate: int, speech_regions: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
        if not speech_regions:
            return []
        probabilities = self.probabilities(samples, sample_rate, speech_regions)
        return overlap_regions(probabilities, self.threshold, self.min_seconds, speech_regions)


def overlap_regions(
    probabilities: np.ndarray, threshold: float, min_seconds: float, speech_regions: Sequence[tuple[float, float]]
) -> list[tuple[float, float]]:
    """Runs of 10 ms frames above `threshold` lasting at least `min_seconds`, cut to the speech
    regions; (start, end) seconds in time order."""
    on = probabilities > threshold
    edges = np.flatnonzero(np.diff(np.concatenate([[0], on.astype(np.int8), [0]])))
    found = []
    for first, last in zip(edges[::2], edges[1::2]):
        start, end = (first - 0.5) * FRAME_SECONDS, (last - 0.5) * FRAME_SECONDS
        if end - start < min_seconds:
            continue
        for s, e in speech_regions:
            a, b = max(start, s), min(end, e)
            if b > a:
                found.append((float(a), float(b)))
    return sorted(found)
