"""Train the overlap detector on two-voice mixtures of single-speaker clips (s2f-pairs/audio).

Each training example is `EXAMPLE_SECONDS` long: an excerpt of one clip, then an excerpt of a
clip from another video that starts before the first ends (60 % of examples, 0.2–1.5 s of
overlap), after a pause (30 %), or not at all (10 %); each voice at -26 ± 6 dB. A frame is
labelled overlapped where silero-vad found speech in both clean excerpts. Channel
augmentation, drawn per example: pink noise at 0–25 dB SNR (40 %), a 300–3400 Hz band at
8 kHz (15 %), faint white noise (15 %), or none. The recipe uses no recorded noise, so the
benchmark's cafe condition stays unseen. Deterministic in `seed` on one software stack and
thread count (torch's deterministic algorithms on `TRAINING_THREADS` threads).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.signal import butter, resample_poly, sosfilt

from forensic_s2f.audio.decode import load
from forensic_s2f.audio.ge2e import HOP_SAMPLES, SAMPLE_RATE
from forensic_s2f.audio.vad import SileroVAD
from forensic_s2f.diarize.overlap import CHANNELS, OverlapNetwork, overlap_features
from forensic_s2f.errors import InputError

EXAMPLE_SECONDS = 6.0
TRAINING_THREADS = 2


@dataclass(frozen=True)
class TrainingClip:
    """One speaker's clip, scaled to unit RMS over its speech, and its speech mask (per sample)."""

    clip_id: str
    video: str
    samples: np.ndarray
    speech: np.ndarray


def training_clips(data_dir: Path, keep: Callable[[str], bool] = lambda clip_id: True) -> list[TrainingClip]:
    """Clips of `data_dir/audio/*.flac` whose id passes `keep`, with silero speech masks; clips
    without speech are left out. The video is the id before its last underscore."""
    files = sorted((Path(data_dir) / "audio").glob("*.flac"))
    if not files:
        raise InputError(Path(data_dir), "no audio/*.flac clips to train on")
    vad = SileroVAD(level_dbfs=None, remove_dc=False, quiet_threshold=None)  # each clip as recorded: the labels the shipped detector learned from
    clips = []
    for path in files:
        if not keep(path.stem):
            continue
        samples = load(path).samples
        speech = np.zeros(len(samples), dtype=bool)
        for start, end in vad(samples, SAMPLE_RATE):
            speech[int(start * SAMPLE_RATE): int(end * SAMPLE_RATE)] = True
        if speech.any():
            scale = float(np.sqrt(np.mean(samples[speech] ** 2)))
            clips.append(TrainingClip(path.stem, path.stem.rsplit("_", 1)[0], samples / max(scale, 1e-6), speech))
    return clips


def training_example(clips: list[TrainingClip], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One mixture's features (frames, 40) and overlap labels (frames,) in {0, 1}."""
    length = int(EXAMPLE_SECONDS * SAMPLE_RATE)
    first = clips[int(rng.integers(len(clips)))]
    second = first
    while second.video == first.video:
        second = clips[int(rng.integers(len(clips)))]
    mixture = np.zeros(length, np.float32)
    voices = np.zeros(length, np.int8)
    start = rng.uniform(0.0, 1.0)
    draw = rng.uniform()
    gap = -rng.uniform(0.2, 1.5) if draw < 0.6 else rng.uniform(0.1, 1.0) if draw < 0.9 else None
    for index, clip in enumerate((first, second)):
        span = rng.uniform(1.5, 4.5)
        offset = rng.uniform(0.0, len(clip.samples) / SAMPLE_RATE - span)
        a, b = int(offset * SAMPLE_RATE), int((offset + span) * SAMPLE_RATE)
        if index == 1:
            if gap is None:
                break
            start += gap
        at = int(start * SAMPLE_RATE)
        piece = clip.samples[a:b][: max(0, length - at)] * 10 ** ((-26 + rng.uniform(-6, 6)) / 20)
        mixture[at: at + len(piece)] += piece
        voices[at: at + len(piece)] += clip.speech[a: a + len(piece)]
        start += span
    mixture = _augment(mixture, voices > 0, rng)
    frames = overlap_features(mixture)
    labels = np.zeros(len(frames), np.float32)
    centres = voices[::HOP_SAMPLES][: len(frames)]
    labels[: len(centres)] = centres >= 2
    return frames, labels


def _augment(mixture: np.ndarray, speech: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    draw = rng.uniform()
    if draw < 0.4:
        noise = pink_noise(len(mixture), rng)
        power = float(np.mean(mixture[speech] ** 2)) if speech.any() else 1e-4
        noise *= np.sqrt(power / np.mean(noise**2) / 10 ** (rng.uniform(0.0, 25.0) / 10))
        return (mixture + noise).astype(np.float32)
    if draw < 0.55:
        band = sosfilt(butter(4, [300, 3400], btype="band", fs=SAMPLE_RATE, output="sos"), mixture)
        return resample_poly(resample_poly(band, 1, 2), 2, 1)[: len(mixture)].astype(np.float32)
    if draw < 0.7:
        return (mixture + rng.standard_normal(len(mixture)) * 10 ** (rng.uniform(-60, -35) / 20)).astype(np.float32)
    return mixture


def pink_noise(length: int, rng: np.random.Generator) -> np.ndarray:
    """`length` samples of noise whose power falls 3 dB per octave (unscaled)."""
    spectrum = np.fft.rfft(rng.standard_normal(length))
    spectrum[1:] /= np.sqrt(np.fft.rfftfreq(length)[1:])
    spectrum[0] = 0.0
    return np.fft.irfft(spectrum, n=length)


def train_overlap_network(
    clips: list[TrainingClip],
    seed: int = 0,
    examples: int = 8000,
    steps: int = 5000,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
    channels: int = CHANNELS,
    progress: Callable[[str, int, int], None] | None = None,
) -> tuple[OverlapNetwork, dict[str, Any]]:
    """The trained network and its training record (JSON-able: the recipe, not the data).

    Adam with a cosine-decayed learning rate, binary cross-entropy per frame, on `examples`
    mixtures drawn once from `clips` (at least two videos needed).
    """
    if len({clip.video for clip in clips}) < 2:
        raise ValueError("the overlap detector needs clips from at least two videos")
    rng = np.random.default_rng(seed)
    frames_per_example = int(EXAMPLE_SECONDS * SAMPLE_RATE) // HOP_SAMPLES + 1
    features = np.zeros((examples, frames_per_example, 40), np.float32)
    labels = np.zeros((examples, frames_per_example), np.float32)
    for index in range(examples):
        f, y = training_example(clips, rng)
        features[index], labels[index] = f[:frames_per_example], y[:frames_per_example]
        if progress is not None and index % 200 == 0:
            progress("mixtures", index, examples)
    threads = torch.get_num_threads()
    torch.manual_seed(seed)
    torch.set_num_threads(TRAINING_THREADS)
    torch.use_deterministic_algorithms(True)
    try:
        network = OverlapNetwork(channels)
        optimiser = torch.optim.Adam(network.parameters(), lr=learning_rate)
        x, y = torch.from_numpy(features), torch.from_numpy(labels)
        order = torch.Generator().manual_seed(seed)
        for step in range(steps):
            for group in optimiser.param_groups:
                group["lr"] = learning_rate * 0.5 * (1 + np.cos(np.pi * step / steps))
            batch = torch.randint(0, examples, (batch_size,), generator=order)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(network(x[batch]), y[batch])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            if progress is not None and step % 100 == 0:
                progress("training steps", step, steps)
    finally:
        torch.use_deterministic_algorithms(False)
        torch.set_num_threads(threads)
    record = {
        "seed": seed, "examples": examples, "steps": steps, "batch_size": batch_size,
        "learning_rate": learning_rate, "threads": TRAINING_THREADS, "clips": len(clips), "videos": len({c.video for c in clips}),
        "clip_ids_sha256": hashlib.sha256("\n".join(sorted(c.clip_id for c in clips)).encode()).hexdigest(),
        "overlapped_frame_fraction": round(float(labels.mean()), 4),
    }
    return network.eval(), record
