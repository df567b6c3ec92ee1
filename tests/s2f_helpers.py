"""Shared paths for the Speech2Face tests: the pair collection in ../shared, skipped when absent."""

from pathlib import Path

import pytest

import forensic_s2f  # noqa: F401  (offline settings first)
from forensic_s2f.s2f.dataset import default_data_dir


def pairs_dir() -> Path:
    """The s2f-pairs folder, or skip the test when ../shared is not there."""
    data = default_data_dir()
    if not (data / "labels.csv").is_file():
        pytest.skip(f"shared voice–face pairs not found at {data}")
    return data


def noise_file() -> Path:
    path = pairs_dir().parent / "noise" / "cafe.flac"
    if not path.is_file():
        pytest.skip(f"shared cafe noise not found at {path}")
    return path
