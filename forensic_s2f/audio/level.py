"""A recording's loud sustained level, and the bangs above it: what levelling and DC removal
leave out so that a knock on the recorder sets neither the level nor the offset of its speech.

Powers are mean squares (relative to 1.0, i.e. full scale) at 10 ms steps; samples are float.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import percentile_filter

LOUD_PERCENTILE = 99.9  # of the recording's seconds
LOUD_WINDOW_SECONDS = 1.0
LOUD_WINDOW_PERCENTILE = 75.0  # a sound sets the loud level only if it fills a quarter of a second
STEP_SECONDS = 0.010
BANG_DB = 15.0  # a 10 ms block this far above the loud sustained level is a bang, not speech
BANG_MAX_SHARE = 0.1  # more of the blocks than this so far above it are sparse speech, not bangs


def sustained_loud_power(power: np.ndarray) -> float:
    """The loud sustained power of a non-empty sequence of powers at 10 ms steps: each second's
    75th percentile (what fills a quarter of that second; only seconds that lie inside the
    sequence), then the 99.9th percentile of those (the loudest 3.6 s of an hour, the loudest
    second of a short recording). A sequence shorter than a second is one window."""
    window = min(len(power), round(LOUD_WINDOW_SECONDS / STEP_SECONDS))
    sustained = percentile_filter(power, LOUD_WINDOW_PERCENTILE, size=window)
    whole = sustained[window // 2 : len(power) - (window - 1) // 2]
    return float(np.percentile(whole, LOUD_PERCENTILE))


def block_sums(samples: np.ndarray, sample_rate: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum of squares, sum and number of samples of each 10 ms block of `samples` (float64; the
    last block may be shorter)."""
    block = max(1, int(sample_rate * STEP_SECONDS))
    samples = np.asarray(samples, dtype=np.float64)
    padded = np.pad(samples, (0, -len(samples) % block)).reshape(-1, block)
    counts = np.full(len(padded), block)
    if len(samples) % block:
        counts[-1] = len(samples) % block
    return (padded * padded).sum(axis=1), padded.sum(axis=1), counts


def bang_blocks(energy: np.ndarray, sums: np.ndarray, counts: np.ndarray, mean: float) -> np.ndarray:
    """Which 10 ms blocks (`block_sums`) are bangs: whole blocks whose power about `mean` lies more
    than `BANG_DB` above the blocks' loud sustained power, unless more than `BANG_MAX_SHARE` of
    the blocks do (speech that fills less than a quarter of every second, as in one region drawn
    round a whole recording, sets no sustained level: its noise floor does). Speech alone came at
    most 13.3 dB above that level in the 757 s2f-pairs clips with speech and under 10 dB in the
    diarization benchmark's conversations."""
    whole = counts == counts.max(initial=0)
    if not whole.any():
        return whole
    power = (energy - 2 * mean * sums) / counts + mean * mean
    bang = whole & (power > sustained_loud_power(power[whole]) * 10 ** (BANG_DB / 10))
    return bang if bang.sum() <= BANG_MAX_SHARE * whole.sum() else np.zeros_like(bang)


def without_dc(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    """float32 `samples` less their mean: a DC offset (a recorder's, not the voice's) fills the
    lowest mel band and moved speaker embeddings as far as a change of speaker (0.02 of full
    scale took the pyannote sample from 7 % DER to 35 %), and silero missed more speech. The
    mean leaves out the blocks of a bang (`bang_blocks`): a knock near full scale in speech
    played 30 dB quieter moved the mean of its 9 s of speech by 7e-5 of full scale, enough to
    move the embeddings of every window there (cosine down to 0.62)."""
    samples = np.asarray(samples, dtype=np.float32)
    if not len(samples):
        return samples
    mean = float(samples.mean(dtype=np.float64))
    energy, sums, counts = block_sums(samples, sample_rate)
    bang = bang_blocks(energy, sums, counts, mean)
    if bang.any():
        mean = float((sums.sum() - sums[bang].sum()) / (counts.sum() - counts[bang].sum()))
    return samples - np.float32(mean)
