"""Sample-rate conversion, one resampler for the whole project: soxr at high quality.

Rates in Hz; samples mono float32. A stream keeps its filter state across chunks, so the
result does not depend on where the chunks break.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from forensic_s2f.provenance import package_version

QUALITY = "HQ"  # soxr's high quality: 20-bit precision, 95 % passband, linear phase


def resampler_name() -> str:
    """The resampler, as recorded with each decode."""
    return f"soxr {package_version('soxr')} ({QUALITY})"


def resampled(chunks: Iterable[np.ndarray], from_rate: int, to_rate: int) -> Iterator[np.ndarray]:
    """Consecutive chunks at `from_rate` Hz as consecutive chunks at `to_rate` Hz, through one
    soxr stream. (FFmpeg's resampler, restarted at each decoding chunk, had shifted everything
    after the first chunk by about 1 ms and left a click there.)"""
    if from_rate <= 0 or to_rate <= 0:
        raise ValueError(f"sample rates must be positive, got {from_rate} and {to_rate} Hz")
    if from_rate == to_rate:
        yield from (np.asarray(chunk, dtype=np.float32) for chunk in chunks)
        return
    import soxr

    stream = soxr.ResampleStream(from_rate, to_rate, 1, dtype="float32", quality=QUALITY)
    for chunk in chunks:
        out = stream.resample_chunk(np.ascontiguousarray(chunk, dtype=np.float32))
        if len(out):
            yield out
    yield stream.resample_chunk(np.zeros(0, np.float32), last=True)


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Mono `samples` at `from_rate` Hz as float32 at `to_rate` Hz."""
    return np.concatenate(list(resampled([samples], from_rate, to_rate)))  # (never an empty list)
