"""Where the read-only shared data lies: `$FS2F_SHARED_DATA`, else ../shared/data beside the repo."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data() -> Path:
    return Path(os.environ.get("FS2F_SHARED_DATA") or REPO_ROOT / ".." / "shared" / "data").resolve()


def pair_clips(count: int) -> list[Path]:
    """The first `count` voice clips of s2f-pairs, or skip the test when they are absent."""
    folder = shared_data() / "s2f-pairs" / "audio"
    clips = sorted(folder.glob("*.flac"))[:count] if folder.is_dir() else []
    if len(clips) < count:
        pytest.skip(f"shared voice clips not found under {folder}")
    return clips


def distinct_speakers(count: int) -> list[Path]:
    """`count` clips from different videos, alternating female and male where the labels allow."""
    root = shared_data() / "s2f-pairs"
    labels = root / "labels.csv"
    if not labels.is_file():
        pytest.skip(f"shared voice clips not found under {root}")
    by_gender: dict[str, list[str]] = {"F": [], "M": []}
    for line in labels.read_text().splitlines()[1:]:
        clip_id, gender, _ = line.split(",")
        if gender in by_gender:
            by_gender[gender].append(clip_id)
    chosen: list[str] = []
    videos: set[str] = set()
    pools = [iter(sorted(by_gender["F"])), iter(sorted(by_gender["M"]))]
    while len(chosen) < count:
        for clip_id in pools[len(chosen) % 2]:
            video = clip_id.rsplit("_", 1)[0]
            if video not in videos:
                videos.add(video)
                chosen.append(clip_id)
                break
    return [root / "audio" / f"{clip_id}.flac" for clip_id in chosen]
