"""Decoded audio kept on disk: mono float32 samples in a raw file, read a slice at a time.

Long evidence is decoded once into a `PcmFile`; the stages slice it (`pcm[a:b]` gives a float32
array) instead of holding the whole recording in memory, so memory does not grow with duration.
Reads go through the file (not a memory map), so slices read are not held as resident pages.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np

SAMPLE_BYTES = 4  # float32, the machine's (little-endian) byte order
HASH_BLOCK_SAMPLES = 1 << 20


@dataclass(frozen=True)
class PcmFile:
    """`length` mono float32 samples at `sample_rate` Hz in the raw file `path`."""

    path: Path
    sample_rate: int
    length: int

    ndim = 1
    dtype = np.dtype(np.float32)

    def __len__(self) -> int:
        return self.length

    @property
    def shape(self) -> tuple[int]:
        return (self.length,)

    @property
    def duration_seconds(self) -> float:
        return self.length / self.sample_rate

    def __getitem__(self, index: slice) -> np.ndarray:
        """A contiguous slice as a new float32 array (a step other than 1 is refused)."""
        if not isinstance(index, slice):
            raise TypeError("a PcmFile is read by slices, e.g. pcm[start:stop]")
        start, stop, step = index.indices(self.length)
        if step != 1:
            raise TypeError("a PcmFile slice must have step 1")
        out = np.empty(max(0, stop - start), dtype=np.float32)
        if len(out):
            with open(self.path, "rb") as handle:
                handle.seek(start * SAMPLE_BYTES)
                if handle.readinto(memoryview(out).cast("B")) != out.nbytes:
                    raise OSError(f"{self.path}: raw audio file is shorter than recorded")
        return out


Samples = Union[np.ndarray, PcmFile]


def as_samples(samples: Samples) -> Samples:
    """A PcmFile as it is; anything else as a flat float32 array (ValueError unless mono:
    at most one axis longer than 1)."""
    if isinstance(samples, PcmFile):
        return samples
    array = np.asarray(samples, dtype=np.float32)
    if array.ndim != 1 and sum(size > 1 for size in array.shape) > 1:
        raise ValueError(f"expected mono samples of shape (n,), got {array.shape}")
    return array.reshape(-1)


def iter_blocks(samples: Samples, block: int) -> Iterator[np.ndarray]:
    """Consecutive slices of at most `block` samples."""
    for start in range(0, len(samples), block):
        yield samples[start: start + block]


def pcm_sha256(samples: Samples) -> str:
    """SHA-256 of the float32 samples' bytes, read in blocks: pins decoded or derived audio
    without storing it (the same digest for an array and for a PcmFile of the same samples)."""
    digest = hashlib.sha256()
    for block in iter_blocks(samples, HASH_BLOCK_SAMPLES):
        digest.update(np.ascontiguousarray(block, dtype=np.float32).tobytes())
    return digest.hexdigest()


class PcmWriter:
    """Appends float32 blocks to a raw file; `close()` gives the PcmFile and the samples' SHA-256."""

    def __init__(self, path: Path, sample_rate: int) -> None:
        self.path, self.sample_rate = Path(path), sample_rate
        self._handle = open(self.path, "wb")
        self._digest = hashlib.sha256()
        self._length = 0

    def write(self, block: np.ndarray) -> None:
        data = np.ascontiguousarray(block, dtype=np.float32).tobytes()
        self._handle.write(data)
        self._digest.update(data)
        self._length += len(data) // SAMPLE_BYTES

    def passing(self, blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """Write each block as it passes on to another consumer."""
        for block in blocks:
            self.write(block)
            yield block

    def close(self) -> tuple[PcmFile, str]:
        self._handle.close()
        return PcmFile(self.path, self.sample_rate, self._length), self._digest.hexdigest()

    def __enter__(self) -> PcmWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._handle.close()
