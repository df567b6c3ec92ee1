"""A voice-to-face estimate and its files: face.png, uncertainty.png, members.png, prediction.json."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from forensic_s2f.errors import Fs2fError, stops_held
from forensic_s2f.output_files import PendingFile, discard, place_all, write_pending

UNCERTAINTY_FULL_SCALE = 0.15  # per-pixel std (intensity in [0, 1]) drawn as the hottest colour


@dataclass
class Prediction:
    """What the model says about one voice, with its uncertainty.

    gender / age: calibrated ensemble probabilities; *_spread: std of the members' probabilities.
    age_estimate: the bracket most likely to be right or one bracket off (see
    `model.within_one_bracket`); age_estimate_within_one: that probability (the estimate's bracket
    and its neighbours together).
    face: mean canonical face, uint8 (224, 224, 3). face_std: per-pixel std across members'
    faces, float32 (224, 224), intensity units in [0, 1]. member_faces: one uint8 face per member.
    face_code: the predicted face representation (PCA coefficients); face_code_variance: its
    predictive variance (members' out-of-bag error plus spread between members).
    embedding: the voice embedding (256-d GE2E, or the ECAPA checkpoint's size). seconds_used:
    seconds of speech embedded.
    input_quality: the audio stage's quality measures of the input (seconds, dB, Hz).
    """

    gender: dict[str, float]
    gender_spread: dict[str, float]
    age: dict[str, float]
    age_spread: dict[str, float]
    age_estimate: str
    age_estimate_within_one: float
    face: np.ndarray
    face_std: np.ndarray
    member_faces: list[np.ndarray]
    face_code: np.ndarray
    face_code_variance: np.ndarray
    embedding: np.ndarray
    seconds_used: float
    speech_regions: list[tuple[float, float]]
    model_name: str
    model_sha256: str
    model_files: dict[str, str] = field(default_factory=dict)  # every file of the weights folder: SHA-256
    warnings: list[str] = field(default_factory=list)
    input_quality: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)  # what else shaped it (voice activity, software)

    def to_json(self) -> dict[str, Any]:
        """The JSON document written as prediction.json."""
        return {
            "gender": _rounded(self.gender),
            "age": _rounded(self.age),
            "age_estimate": self.age_estimate,
            "age_estimate_within_one": round(float(self.age_estimate_within_one), 4),
            "gender_member_spread": _rounded(self.gender_spread),
            "age_member_spread": _rounded(self.age_spread),
            "seconds_used": round(float(self.seconds_used), 3),
            "speech_regions": [[round(a, 3), round(b, 3)] for a, b in self.speech_regions],
            "speech_regions_time": "seconds from the start of the audio the model heard (for a speaker of a case "
                                   "analysis: that speaker's turns joined end to end, not the recording's time)",
            "face": {
                "image": "face.png",
                "uncertainty_image": "uncertainty.png",
                "members_image": "members.png",
                "uncertainty_full_scale_std": UNCERTAINTY_FULL_SCALE,
                "mean_pixel_std": round(float(self.face_std.mean()), 5),
                "members": len(self.member_faces),
                "code": [round(float(v), 5) for v in self.face_code],
                "code_variance": [round(float(v), 6) for v in self.face_code_variance],
            },
            "model": {"name": self.model_name, "sha256": self.model_sha256, "files": dict(self.model_files)},
            "input_quality": _rounded_values(self.input_quality),
            "warnings": list(self.warnings),
            **({"settings": self.settings} if self.settings else {}),
        }


def uncertainty_image(face_std: np.ndarray) -> np.ndarray:
    """Per-pixel std (h, w) as a uint8 RGB heat map (black = none, yellow = UNCERTAINTY_FULL_SCALE)."""
    from matplotlib import colormaps

    level = np.clip(face_std / UNCERTAINTY_FULL_SCALE, 0.0, 1.0)
    return (colormaps["inferno"](level)[..., :3] * 255).round().astype(np.uint8)


def prediction_folders(files: Sequence[Path], output: Path) -> list[Path]:
    """The new folder under `output` for each input: its stem (`_` before a stem of dots only),
    then `<stem>-2`, `-3`, … for a stem already taken by an earlier input of the same call.

    Raises Fs2fError naming `output` when it exists and is not a folder, or naming the first target
    that already exists (folder, file or link, even a dangling one): predictions never replace
    earlier files nor write through links.
    """
    output = Path(output)
    if (output.exists() or output.is_symlink()) and not output.is_dir():
        raise Fs2fError(f"{output}: exists and is not a folder; choose a new output folder")
    folders: list[Path] = []
    used: set[str] = set()
    for path in files:
        stem = _folder_stem(Path(path))
        name, suffix = stem, 2
        while name in used:
            name, suffix = f"{stem}-{suffix}", suffix + 1
        used.add(name)
        folder = output / name
        if folder.exists() or folder.is_symlink():
            raise Fs2fError(f"{folder}: already exists; nothing was written (choose a new output folder)")
        folders.append(folder)
    return folders


def _folder_stem(path: Path) -> str:
    """The file's stem, as a folder name under the output: a stem of dots only (`..wav`, `...wav`)
    would name the output folder itself or its parent, so it takes a leading `_`."""
    return path.stem if path.stem.strip(".") else f"_{path.stem}"


def write_prediction(prediction: Prediction, out_dir: Path, source: dict[str, Any] | None = None) -> dict[str, Path]:
    """Write the four files into `out_dir` (created if needed), all of them or none; returns
    {name: path}.

    source: what the input was (cli_model's `_input_record`), written first in prediction.json as "input" (None: no
    "input" key). Each file is written whole under a hidden partial name and the four take their
    names together, with stop signals held (`output_files`): a stop, a full disk or a name that
    is taken (a file or a link, never replaced nor written through: Fs2fError naming it) leaves
    none of them, where a set cut short used to stay and block the next try.
    """
    out_dir = Path(out_dir)
    paths = {
        "face": out_dir / "face.png",
        "uncertainty": out_dir / "uncertainty.png",
        "members": out_dir / "members.png",
        "prediction": out_dir / "prediction.json",
    }
    document = prediction.to_json() if source is None else {"input": source, **prediction.to_json()}
    contents = {
        "face": _png(prediction.face),
        "uncertainty": _png(uncertainty_image(prediction.face_std)),
        "members": _png(np.concatenate(prediction.member_faces, axis=1)),
        "prediction": (json.dumps(document, indent=2) + "\n").encode(),
    }
    pending: list[PendingFile] = []
    try:
        write_pending(out_dir, {paths[name].name: data for name, data in contents.items()}, pending)
        with stops_held():
            taken = place_all(pending)
    finally:
        discard(pending)
    if taken:
        raise Fs2fError(f"{taken[0]}: appeared while the prediction was written and was left as it is; "
                        f"{len(pending) - len(taken)} of the {len(pending)} files took their names")
    return paths


def _png(pixels: np.ndarray) -> bytes:
    """uint8 pixels (h, w, 3) as PNG file bytes."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {name: round(float(value), 4) for name, value in values.items()}


def _rounded_values(values: dict[str, Any]) -> dict[str, Any]:
    """Floats to 4 decimals; other values as they are."""
    return {name: round(value, 4) if isinstance(value, float) else value for name, value in values.items()}
