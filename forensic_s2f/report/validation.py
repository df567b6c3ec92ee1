"""The model's measured validation figures, as the report quotes them.

This module is the one place that knows the layout of `forensic_s2f/s2f/weights/validation.json`
(written by `fs2f model evaluate`). Everything else in the report reads `ValidationFigures`.
Rates are fractions in [0, 1]; durations are seconds. When the file is absent the report says
that no measured figures are available: nothing here invents a figure.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forensic_s2f.errors import Fs2fError

DEFAULT_VALIDATION_PATH = Path(__file__).resolve().parents[1] / "s2f" / "weights" / "validation.json"


@dataclass(frozen=True)
class GroupFigures:
    """Accuracy on the validation clips of one group (a true gender or a true age bracket)."""

    group: str
    clips: int | None
    gender_accuracy: float | None
    age_exact: float | None
    age_within_one: float | None


@dataclass(frozen=True)
class DurationFigures:
    """Accuracy when the model hears only `seconds` of speech from each validation clip."""

    seconds: float
    gender_accuracy: float | None
    age_exact: float | None
    age_within_one: float | None


@dataclass(frozen=True)
class RetrievalFigure:
    """Recall@k of the true canonical face among `pool_size` candidates, and its chance level."""

    k: int
    rate: float
    chance: float


@dataclass(frozen=True)
class ValidationFigures:
    """The measured figures of one model, read from its validation file (`sha256` pins that file)."""

    source: str
    sha256: str
    model_name: str
    model_sha256: str
    protocol: str
    training_clips: int | None
    training_description: str
    gender_accuracy: float
    gender_ece: float | None
    gender_clips: int | None
    age_exact: float
    age_within_one: float
    age_clips: int | None
    retrieval_pool_size: int | None
    retrieval: tuple[RetrievalFigure, ...]
    by_gender: tuple[GroupFigures, ...]
    by_age: tuple[GroupFigures, ...]
    by_seconds: tuple[DurationFigures, ...]

    def for_seconds(self, seconds: float) -> DurationFigures | None:
        """The figures for the longest validated duration not above `seconds`; None if all are longer."""
        fitting = [row for row in self.by_seconds if row.seconds <= seconds + 1e-9]
        return max(fitting, key=lambda row: row.seconds) if fitting else None

    def group(self, attribute: str, label: str) -> GroupFigures | None:
        """The breakdown row of a true gender ('female', 'male') or age bracket ('30-44')."""
        rows = self.by_gender if attribute == "gender" else self.by_age
        return next((row for row in rows if row.group == label), None)


def load_validation_figures(path: Path | None = None) -> ValidationFigures | None:
    """The figures in `path` (default: the shipped model's validation.json), or None if absent.

    A file that exists but cannot be read as validation figures is an error, not an absence:
    a report must never silently drop the model's measured error rates.
    """
    path = Path(path) if path is not None else DEFAULT_VALIDATION_PATH
    if not path.is_file():
        return None
    data = path.read_bytes()
    try:
        return _parse(json.loads(data), str(path), hashlib.sha256(data).hexdigest())
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise Fs2fError(f"{path}: not a readable validation-figures file ({type(error).__name__}: {error})") from error


def _rate(value: Any) -> float | None:
    if value is None:
        return None
    rate = float(value)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate {rate} outside [0, 1]")
    return rate


def _count(value: Any) -> int | None:
    return None if value is None else int(value)


def _group(label: str, row: dict[str, Any]) -> GroupFigures:
    return GroupFigures(
        group=label, clips=_count(row.get("n")), gender_accuracy=_rate(row.get("gender_accuracy")),
        age_exact=_rate(row.get("age_exact")), age_within_one=_rate(row.get("age_within_one")),
    )


def _parse(raw: dict[str, Any], source: str, sha256: str) -> ValidationFigures:
    """Map the JSON written by `fs2f model evaluate` onto ValidationFigures (the one place to adapt)."""
    training = raw.get("training_data", {})
    retrieval = raw.get("retrieval", {})
    return ValidationFigures(
        source=source,
        sha256=sha256,
        model_name=str(raw.get("model", {}).get("name", "")),
        model_sha256=str(raw.get("model", {}).get("sha256", "")),
        protocol=str(raw.get("protocol", "")),
        training_clips=_count(training.get("clips")),
        training_description=str(training.get("description", "")),
        gender_accuracy=_rate(raw["gender"]["accuracy"]),
        gender_ece=_rate(raw["gender"].get("ece")),
        gender_clips=_count(raw["gender"].get("n")),
        age_exact=_rate(raw["age"]["exact"]),
        age_within_one=_rate(raw["age"]["within_one"]),
        age_clips=_count(raw["age"].get("n")),
        retrieval_pool_size=_count(retrieval.get("pool_size")),
        retrieval=tuple(
            RetrievalFigure(k=int(k), rate=_rate(row["rate"]), chance=_rate(row["chance"]))
            for k, row in sorted(retrieval.get("recall", {}).items(), key=lambda item: int(item[0]))
        ),
        by_gender=tuple(_group(label, row) for label, row in raw.get("by_gender", {}).items()),
        by_age=tuple(_group(label, row) for label, row in raw.get("by_age", {}).items()),
        by_seconds=tuple(sorted(
            (DurationFigures(seconds=float(s), gender_accuracy=_rate(row.get("gender_accuracy")),
                             age_exact=_rate(row.get("age_exact")), age_within_one=_rate(row.get("age_within_one")))
             for s, row in raw.get("by_seconds", {}).items()),
            key=lambda row: row.seconds,
        )),
    )
