"""Synthetic multi-speaker conversations from the s2f-pairs clips, with reference annotations.

Each speaker is one clip (distinct videos); a turn is a random 1.5–4 s excerpt of the
speaker's 6 s clip (excerpts of one speaker may repeat material). Turns alternate among 2–4
speakers with pauses (0.2–1.5 s) and, one time in five, an overlap (0.3–1.2 s). The reference
marks speech only where silero-vad found speech in the clean source clip, so pauses inside a
clip are not counted as speech. Clips are split into `FOLDS` folds by video id; a conversation
draws all its speakers from one fold, so threshold choices can be cross-validated.

Conditions: clean; pink noise at 10 dB SNR; the real cafe noise (looped) at 5 dB SNR;
telephone band (300–3400 Hz, 8 kHz, G.711 mu-law, back to 16 kHz). SNR is measured against
the clean mixture's power over its speech.
"""

from __future__ import annotations

import csv
import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pyannote.core import Annotation, Segment, Timeline
from scipy.signal import butter, resample_poly, sosfilt

import forensic_s2f  # noqa: F401  (offline settings first)
from forensic_s2f.audio.decode import load
from forensic_s2f.diarize.overlap_training import pink_noise

RATE = 16_000
FOLDS = 5
CONDITIONS = ("clean", "pink10", "cafe5", "telephone")
CACHE = Path(os.environ.get("FS2F_BENCH_CACHE", "/tmp/fs2f-bench"))


def shared_data() -> Path:
    here = Path(__file__).resolve().parents[1]
    return Path(os.environ.get("FS2F_SHARED_DATA") or here / ".." / "shared" / "data").resolve()


@dataclass(frozen=True)
class Clip:
    clip_id: str
    video: str
    gender: str
    fold: int


@dataclass
class Conversation:
    uri: str
    fold: int
    samples: np.ndarray  # clean mixture, 16 kHz
    reference: Annotation
    genders: dict[str, str]  # reference speaker label -> F/M/U


def clips() -> list[Clip]:
    root = shared_data() / "s2f-pairs"
    if not (root / "labels.csv").is_file():
        raise SystemExit(f"shared data not found under {root}: set FS2F_SHARED_DATA to the data folder")
    with open(root / "labels.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    found = []
    for row in rows:
        video = row["id"].rsplit("_", 1)[0]
        found.append(Clip(row["id"], video, row["gender"], zlib.crc32(video.encode()) % FOLDS))
    return found


def _clip_audio(clip: Clip) -> np.ndarray:
    return load(shared_data() / "s2f-pairs" / "audio" / f"{clip.clip_id}.flac").samples


def clip_speech(all_clips: list[Clip]) -> dict[str, list[tuple[float, float]]]:
    """Silero speech regions of every clean clip (cached under /tmp)."""
    from forensic_s2f.audio.vad import SileroVAD

    path = CACHE / "clip_speech.json"
    if path.is_file():
        return {k: [tuple(r) for r in v] for k, v in json.loads(path.read_text()).items()}
    vad = SileroVAD(level_dbfs=None, remove_dc=False, quiet_threshold=None)  # each clip as recorded: the reference of every earlier run
    regions = {c.clip_id: vad(_clip_audio(c), RATE) for c in all_clips}
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(regions))
    return regions


def build(count: int, seed: int = 0, seconds: tuple[float, float] = (30.0, 90.0)) -> list[Conversation]:
    """`count` conversations, deterministic in `seed`, folds taken in turn; each lasts a length
    drawn uniformly from `seconds`."""
    all_clips = [c for c in clips() if c.gender in ("F", "M")]
    speech = clip_speech(all_clips)
    rng = np.random.default_rng(seed)
    conversations = []
    for index in range(count):
        fold = index % FOLDS
        pool = [c for c in all_clips if c.fold == fold and speech[c.clip_id]]
        conversations.append(_conversation(f"conv{index:03d}", fold, pool, speech, rng, seconds))
    return conversations


def _conversation(uri, fold, pool, speech, rng, seconds) -> Conversation:
    speakers_wanted = int(rng.integers(2, 5))
    chosen: list[Clip] = []
    for position in rng.permutation(len(pool)):
        if pool[position].video not in {c.video for c in chosen}:
            chosen.append(pool[position])
        if len(chosen) == speakers_wanted:
            break
    audio = {}
    for clip in chosen:
        samples = _clip_audio(clip)
        active = _mask(speech[clip.clip_id], len(samples))
        rms = np.sqrt(np.mean(samples[active] ** 2)) if active.any() else 1.0
        audio[clip.clip_id] = samples * (10 ** ((-26 + rng.uniform(-3, 3)) / 20) / max(rms, 1e-6))
    target = rng.uniform(*seconds)
    mixture = np.zeros(int((target + 10) * RATE), dtype=np.float32)
    reference = Annotation(uri=uri)
    cursor, previous, track = 0.5, None, 0
    while cursor < target:
        options = [c for c in chosen if c is not previous] or chosen
        # every speaker gets a first turn early, then turns are drawn at random
        unheard = [c for c in options if c.clip_id not in {str(label) for label in reference.labels()}]
        clip = unheard[0] if unheard else options[int(rng.integers(len(options)))]
        length = rng.uniform(1.5, 4.0)
        offset = rng.uniform(0.0, 6.0 - length)
        excerpt = audio[clip.clip_id][int(offset * RATE) : int((offset + length) * RATE)].copy()
        fade = int(0.01 * RATE)
        excerpt[:fade] *= np.linspace(0, 1, fade)
        excerpt[-fade:] *= np.linspace(1, 0, fade)
        start = int(cursor * RATE)
        mixture[start : start + len(excerpt)] += excerpt
        for s, e in speech[clip.clip_id]:
            s, e = max(s, offset), min(e, offset + length)
            if e - s > 0.05:
                reference[Segment(cursor + s - offset, cursor + e - offset), track] = clip.clip_id
                track += 1
        end = cursor + len(excerpt) / RATE
        gap = rng.uniform(0.3, 1.2) * -1 if rng.uniform() < 0.2 else rng.uniform(0.2, 1.5)
        cursor, previous = end + gap, clip
    mixture = mixture[: int((cursor + 0.5) * RATE)]
    reference = reference.support(collar=0.0)
    genders = {c.clip_id: c.gender for c in chosen if c.clip_id in reference.labels()}
    return Conversation(uri, fold, mixture, reference, genders)


def _mask(regions, length: int) -> np.ndarray:
    mask = np.zeros(length, dtype=bool)
    for s, e in regions:
        mask[int(s * RATE) : int(e * RATE)] = True
    return mask


def degrade(conversation: Conversation, condition: str, seed: int = 0) -> np.ndarray:
    """The conversation's audio in one listening condition."""
    clean = conversation.samples
    if condition == "clean":
        return clean
    rng = np.random.default_rng(zlib.crc32(f"{conversation.uri}/{condition}/{seed}".encode()))
    if condition == "telephone":
        band = sosfilt(butter(6, [300, 3400], btype="band", fs=RATE, output="sos"), clean)
        narrow = resample_poly(band, 1, 2)
        mu = 255.0
        peak = max(float(np.abs(narrow).max()), 1e-9)
        companded = np.sign(narrow / peak) * np.log1p(mu * np.abs(narrow / peak)) / np.log1p(mu)
        quantised = np.round(companded * 127) / 127
        expanded = np.sign(quantised) * np.expm1(np.abs(quantised) * np.log1p(mu)) / mu * peak
        return resample_poly(expanded, 2, 1)[: len(clean)].astype(np.float32)
    if condition == "pink10":
        noise, snr = pink_noise(len(clean), rng), 10.0
    elif condition == "cafe5":
        cafe = load(shared_data() / "noise" / "cafe.flac").samples
        reps = -(-len(clean) // len(cafe)) + 1
        start = int(rng.integers(len(cafe)))
        noise, snr = np.tile(cafe, reps)[start : start + len(clean)], 5.0
    else:
        raise ValueError(f"unknown condition {condition!r}")
    speech = _reference_mask(conversation.reference, len(clean))
    signal_power = np.mean(clean[speech] ** 2)
    noise = noise * np.sqrt(signal_power / np.mean(noise**2) / 10 ** (snr / 10))
    return (clean + noise).astype(np.float32)


def _reference_mask(reference: Annotation, length: int) -> np.ndarray:
    timeline: Timeline = reference.get_timeline().support()
    return _mask([(s.start, s.end) for s in timeline], length)

