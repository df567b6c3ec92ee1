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
from forensic_s2f.s2f.dataset import AGE_BRACKETS

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
    """Accuracy when the model hears only `seconds` of speech from each validation clip, or the
    whole clip (`whole_clip`: `seconds` is then the clips' length, speech and pauses together);
    `recall` maps k to the face retrieval's recall@k."""

    seconds: float
    gender_accuracy: float | None
    age_exact: float | None
    age_within_one: float | None
    whole_clip: bool = False
    recall: tuple[tuple[int, float], ...] = ()

    @property
    def heard(self) -> str:
        """'3 s of speech from each clip' or 'each whole 6 s clip'."""
        return f"each whole {self.seconds:g} s clip" if self.whole_clip else f"{self.seconds:g} s of speech from each clip"


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
    age_baseline: tuple[str, float, float] | None  # always answering the commonest bracket: (it, exact, within one)
    retrieval_pool_size: int | None
    retrieval: tuple[RetrievalFigure, ...]
    by_gender: tuple[GroupFigures, ...]
    by_age: tuple[GroupFigures, ...]
    by_seconds: tuple[DurationFigures, ...]
    age_ece: float | None = None
    age_estimates_given: tuple[tuple[str, int], ...] = ()  # (bracket, clips whose age estimate it was), youngest first
    group_mean_recall: tuple[tuple[int, float], ...] = ()  # (k, recall@k) of the mean face of each clip's true gender and age bracket

    def for_seconds(self, seconds: float) -> DurationFigures | None:
        """The figures for the longest validated duration not above `seconds`; None if all are longer."""
        fitting = [row for row in self.by_seconds if row.seconds <= seconds + 1e-9]
        return max(fitting, key=lambda row: row.seconds) if fitting else None

    def group(self, attribute: str, label: str) -> GroupFigures | None:
        """The breakdown row of a true gender ('female', 'male') or age bracket ('30-44')."""
        rows = self.by_gender if attribute == "gender" else self.by_age
        return next((row for row in rows if row.group == label), None)

    def gender_named(self, label: str) -> tuple[float, int] | None:
        """How often the annotation was `label` among the clips the model named `label`, and how
        many clips it named so: found from the breakdown by annotated gender, which with two
        classes holds the whole confusion table (the other class's errors were named `label`)."""
        if len(self.by_gender) != 2 or any(g.clips is None or g.gender_accuracy is None for g in self.by_gender):
            return None
        own = self.group("gender", label)
        if own is None:
            return None
        other = next(g for g in self.by_gender if g is not own)
        right = round(own.clips * own.gender_accuracy)
        named = right + other.clips - round(other.clips * other.gender_accuracy)
        return (right / named, named) if named else None


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
        return _parse(json.loads(data), str(path), hashlib.sha256(data).hexdigest(), _weights_identity(path.parent))
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


def _parse(raw: dict[str, Any], source: str, sha256: str, weights: dict[str, Any]) -> ValidationFigures:
    """Map the JSON written by `fs2f model evaluate` onto ValidationFigures (the one place to adapt).

    `weights` holds the name and SHA-256 of the model.npz the figures ship with (from the
    sibling config.json and manifest.json): the validated model.
    """
    overall = raw["overall"]
    chance = raw.get("baselines", {}).get("retrieval_chance", {})
    protocol = (
        f"{raw['folds']}-fold cross-validation with folds split by source video; {raw['clips']} clips from "
        f"{raw['videos']} videos; ensembles of {raw['members']} members; retrieval among pools of "
        f"{raw['pool_size']} ({raw.get('pools_per_query', 1)} random pools per clip); seed {raw['seed']}"
    )
    return ValidationFigures(
        source=source,
        sha256=sha256,
        model_name=str(weights.get("name", "")),
        model_sha256=str(weights.get("sha256", "")),
        protocol=protocol,
        training_clips=_count(raw.get("clips")),
        training_description=str(weights.get("data", "")),
        gender_accuracy=_rate(overall["gender_accuracy"]),
        gender_ece=_rate(overall.get("gender_ece")),
        gender_clips=_count(sum(row.get("n", 0) for row in raw.get("by_gender", {}).values()) or None),
        age_exact=_rate(overall["age_exact"]),
        age_within_one=_rate(overall["age_within_one"]),
        age_clips=_count(sum(row.get("n", 0) for row in raw.get("by_age", {}).values()) or None),
        age_baseline=_age_baseline(raw.get("baselines", {})),
        retrieval_pool_size=_count(raw.get("pool_size")),
        retrieval=tuple(
            RetrievalFigure(k=k, rate=_rate(overall[f"R@{k}"]), chance=_rate(chance.get(f"R@{k}", k / raw["pool_size"])))
            for k in (1, 5, 10) if f"R@{k}" in overall
        ),
        by_gender=tuple(_group(label, row) for label, row in raw.get("by_gender", {}).items()),
        by_age=tuple(_group(label, row) for label, row in sorted(raw.get("by_age", {}).items(), key=_bracket_order)),
        by_seconds=tuple(sorted(
            (DurationFigures(seconds=_seconds(label, raw), gender_accuracy=_rate(row.get("gender_accuracy")),
                             age_exact=_rate(row.get("age_exact")), age_within_one=_rate(row.get("age_within_one")),
                             whole_clip=not label.endswith(" s"),
                             recall=tuple((k, _rate(row[f"R@{k}"])) for k in (1, 5, 10) if f"R@{k}" in row))
             for label, row in raw.get("by_seconds", {}).items()),
            key=lambda row: row.seconds,
        )),
        age_ece=_rate(overall.get("age_ece")),
        age_estimates_given=tuple((label, int(count)) for label, count in sorted(
            overall.get("age_estimates_given", {}).items(), key=_bracket_order)),
        group_mean_recall=tuple((k, _rate(rate)) for k in (1, 5, 10)
                                if (rate := raw.get("baselines", {}).get("retrieval_true_gender_age", {}).get(f"R@{k}")) is not None),
    )


def _age_baseline(baselines: dict[str, Any]) -> tuple[str, float, float] | None:
    if not all(key in baselines for key in ("age_majority_bracket", "age_majority_exact", "age_majority_within_one")):
        return None
    return (str(baselines["age_majority_bracket"]), _rate(baselines["age_majority_exact"]),
            _rate(baselines["age_majority_within_one"]))


def _bracket_order(item: tuple[str, Any]) -> int:
    """Age brackets youngest first (the JSON keys are sorted as strings); unknown ones last."""
    return AGE_BRACKETS.index(item[0]) if item[0] in AGE_BRACKETS else len(AGE_BRACKETS)


def _seconds(label: str, raw: dict[str, Any]) -> float:
    """'1 s' → 1.0; 'whole clip' → the clips' length (6 s in the training data)."""
    if label.endswith(" s"):
        return float(label[:-2])
    return float(raw.get("clip_seconds", 6.0))


def _weights_identity(folder: Path) -> dict[str, Any]:
    """The name, data description and model.npz SHA-256 of the weights beside the figures."""
    identity: dict[str, Any] = {}
    config, manifest = folder / "config.json", folder / "manifest.json"
    if config.is_file():
        loaded = json.loads(config.read_text())
        identity["name"] = loaded.get("name", "")
        identity["data"] = loaded.get("training", {}).get("data", "")
    if manifest.is_file():
        identity["sha256"] = json.loads(manifest.read_text()).get("files", {}).get("model.npz", "")
    return identity