"""The voice–face pair collection (../shared/data/s2f-pairs): labels, faces and voice embeddings.

Layout: `audio/ID.flac`, `face_f2f/ID.jpg` (224 px canonical faces), `labels.csv` (id, gender
F/M/U, age bracket). ID is `<video id>_<start>-<end>`; folds are split by video id.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from forensic_s2f.errors import InputError

AGE_BRACKETS = ("<18", "18-29", "30-44", "45-59", "60+")
_GENDER_CODES = {"F": 0, "M": 1}


def age_range(bracket: str) -> str:
    """The bracket with its neighbours, as the within-one rule scores an estimate: '30-44' →
    '18-29 to 45-59', '<18' → '<18 to 18-29'; a label that is not a bracket stays as it is."""
    if bracket not in AGE_BRACKETS:
        return bracket
    index = AGE_BRACKETS.index(bracket)
    return f"{AGE_BRACKETS[max(index - 1, 0)]} to {AGE_BRACKETS[min(index + 1, len(AGE_BRACKETS) - 1)]}"


def default_data_dir() -> Path:
    """`$FS2F_SHARED_DATA/s2f-pairs`, else `../shared/data/s2f-pairs` beside the project root."""
    shared = os.environ.get("FS2F_SHARED_DATA")
    root = Path(shared) if shared else Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
    return (root / "s2f-pairs").resolve()


@dataclass(frozen=True)
class PairSet:
    """Clip ids with labels: gender 0 female / 1 male / -1 unknown, age index into AGE_BRACKETS."""

    ids: list[str]
    videos: list[str]
    gender: np.ndarray
    age: np.ndarray

    def subset(self, index: np.ndarray) -> PairSet:
        return PairSet(
            ids=[self.ids[i] for i in index],
            videos=[self.videos[i] for i in index],
            gender=self.gender[index],
            age=self.age[index],
        )


def video_id(clip_id: str) -> str:
    """The YouTube video id: everything before the last underscore (ids may contain '_')."""
    return clip_id.rsplit("_", 1)[0]


def load_pairs(data_dir: Path) -> PairSet:
    """Labels of every clip that has both audio and a canonical face, sorted by id."""
    data_dir = Path(data_dir)
    labels = data_dir / "labels.csv"
    if not labels.is_file():
        raise InputError(data_dir, "not a voice–face pair folder (no labels.csv)")
    rows = []
    with open(labels, newline="") as handle:
        for row in csv.DictReader(handle):
            clip = row["id"]
            if (data_dir / "audio" / f"{clip}.flac").is_file() and (
                data_dir / "face_f2f" / f"{clip}.jpg"
            ).is_file():
                rows.append(row)
    if not rows:
        raise InputError(data_dir, "no clip has both audio/ID.flac and face_f2f/ID.jpg")
    rows.sort(key=lambda r: r["id"])
    return PairSet(
        ids=[r["id"] for r in rows],
        videos=[video_id(r["id"]) for r in rows],
        gender=np.array([_GENDER_CODES.get(r["gender"], -1) for r in rows], dtype=np.int64),
        age=np.array(
            [AGE_BRACKETS.index(r["age"]) if r["age"] in AGE_BRACKETS else -1 for r in rows],
            dtype=np.int64,
        ),
    )


def load_faces(data_dir: Path, ids: list[str], size: int) -> np.ndarray:
    """Canonical faces as float32 RGB in [0, 1], shape (n, size, size, 3), area-downsampled."""
    faces = np.empty((len(ids), size, size, 3), dtype=np.float32)
    for i, clip in enumerate(ids):
        with Image.open(Path(data_dir) / "face_f2f" / f"{clip}.jpg") as image:
            faces[i] = np.asarray(image.convert("RGB").resize((size, size), Image.BOX)) / 255.0
    return faces


def cached_embeddings(
    data_dir: Path,
    ids: list[str],
    embed: Callable[[Path], np.ndarray],
    key: dict,
    cache_dir: Path | None,
) -> np.ndarray:
    """`embed(audio path)` for every id, stacked; memoised in `cache_dir` under a hash of `key`."""
    cache_file = None
    if cache_dir is not None:
        digest = hashlib.sha256(json.dumps([key, ids], sort_keys=True).encode()).hexdigest()[:16]
        cache_file = Path(cache_dir) / f"embeddings-{digest}.npy"
        if cache_file.is_file():
            return np.load(cache_file)
    stacked = np.stack([embed(Path(data_dir) / "audio" / f"{clip}.flac") for clip in ids])
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache_file, stacked)
    return stacked
