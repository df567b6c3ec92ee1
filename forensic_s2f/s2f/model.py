"""The Speech2Face model: VAD → voice embedding → ensemble heads → PCA face decoder.

The voice encoder is resemblyzer's GE2E (shipped weights, the default) or a local SpeechBrain ECAPA
folder (`ECAPAEncoder`); config.json's `params.encoder.kind` says which ("ecapa"; absent: GE2E).

Weights folder: `model.npz` (arrays, written deterministically), `config.json` (parameters and
temperatures), optional `validation.json` (cross-validated figures) and `manifest.json` (SHA-256 of
each of those files, checked on load).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from forensic_s2f.audio.quality import measure_quality
from forensic_s2f.audio.vad import SileroVAD, speech_seconds
from forensic_s2f.errors import Fs2fError
from forensic_s2f.manifest import read_arrays, read_json_object, reason, verify_manifest, write_manifest
from forensic_s2f.s2f.calibration import binary_probabilities, class_probabilities
from forensic_s2f.s2f.checks import input_warnings, require_speech
from forensic_s2f.s2f.dataset import AGE_BRACKETS
from forensic_s2f.s2f.ecapa import ECAPAEncoder
from forensic_s2f.s2f.encoder import GE2EEncoder
from forensic_s2f.s2f.face import PCAFaceModel, to_uint8_image
from forensic_s2f.s2f.heads import EnsembleHeads, HeadOutputs
from forensic_s2f.s2f.predict import Prediction

DEFAULT_WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"
MODEL_NAME = "fs2f-s2f-ge2e-pca"
ECAPA_MODEL_NAME = "fs2f-s2f-ecapa-pca"
ARRAYS_FILE, CONFIG_FILE, VALIDATION_FILE = "model.npz", "config.json", "validation.json"
GENDER_SPREAD_WARNING = 0.15  # std of members' P(male) above which members disagree
# Mean per-pixel spread of the members' faces (intensity in [0, 1]) above which they disagree:
# 99 % of the 755 clean s2f-pairs clips stay under it (median 0.045, 99th percentile 0.086,
# largest 0.130); in pink noise at 10 dB the median is 0.087, in cafe noise at 5 dB 0.067.
FACE_SPREAD_WARNING = 0.09
GENDER_UNSURE = 0.8  # below this top gender probability the gender is called uncertain


AGE_ESTIMATE_RULE = "within-one: the bracket whose own and adjacent brackets hold the most probability"


def within_one_bracket(probabilities: np.ndarray) -> np.ndarray:
    """The age estimate for rows (n, 5) of ordered bracket probabilities: the bracket whose own and
    adjacent brackets hold the most probability (the first on ties), i.e. the bracket most likely
    to be right or one bracket off, the criterion the validation scores."""
    return within_one_probability(probabilities).argmax(axis=-1)


def within_one_probability(probabilities: np.ndarray) -> np.ndarray:
    """Per bracket, the probability of that bracket or an adjacent one; same shape as the input."""
    window = probabilities.copy()
    window[..., 1:] += probabilities[..., :-1]
    window[..., :-1] += probabilities[..., 1:]
    return window


def encoder_from_params(params: dict[str, Any]) -> GE2EEncoder | ECAPAEncoder:
    """The voice encoder a model's recorded `params.encoder` describes (no "kind": GE2E).

    An ECAPA encoder is loaded from its recorded folder and refused (Fs2fError) when the folder is
    missing or a file's SHA-256 differs from the recorded one.
    """
    if params.get("kind") == "ecapa":
        return ECAPAEncoder(
            params["directory"],
            sha256=params["sha256"],
            block_seconds=params["block_seconds"],
            normalize_embeddings=params["normalize_embeddings"],
        )
    if "kind" in params:
        raise Fs2fError(f"unknown voice encoder kind {params['kind']!r}")
    # (a model trained before DC offsets were taken out heard them: its config does not name it)
    return GE2EEncoder(**{"remove_dc": False, **{k: v for k, v in params.items() if k != "encoder"}})


class Speech2FaceModel:
    """A trained model; build with `load_model()` or `forensic_s2f.s2f.train.fit_model()`."""

    def __init__(
        self,
        vad: SileroVAD,
        encoder: GE2EEncoder | ECAPAEncoder,
        heads: EnsembleHeads,
        face: PCAFaceModel,
        temperatures: dict[str, float],
        training: dict[str, Any],
        validation: dict[str, Any] | None = None,
        sha256: str = "",
        files: dict[str, str] | None = None,
    ) -> None:
        self.vad = vad
        self.encoder = encoder
        self.heads = heads
        self.face = face
        self.temperatures = temperatures
        self.training = training
        self.validation = validation
        self.sha256 = sha256  # of model.npz
        self.files = dict(files or {})  # {file name: SHA-256} of every file of its weights folder (its manifest)

    @property
    def name(self) -> str:
        return ECAPA_MODEL_NAME if isinstance(self.encoder, ECAPAEncoder) else MODEL_NAME

    def get_params(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "vad": self.vad.get_params(),
            "encoder": self.encoder.get_params(),
            "heads": self.heads.get_params(),
            "face": self.face.get_params(),
            "temperatures": self.temperatures,
        }

    def load_networks(self) -> None:
        """Load the VAD and voice-encoder networks now rather than on the first prediction."""
        for network in (self.vad.model, self.encoder.model):
            network.eval()

    def speech_regions(self, samples: np.ndarray, sample_rate: int) -> list[tuple[float, float]]:
        return self.vad(samples, sample_rate)

    def embed(self, samples: np.ndarray, sample_rate: int, speech_regions: list[tuple[float, float]]):
        return self.encoder(samples, sample_rate, speech_regions)

    def predict(
        self,
        samples: np.ndarray,
        sample_rate: int,
        speech_regions: list[tuple[float, float]] | None = None,
    ) -> Prediction:
        """Estimate from mono float samples at `sample_rate` Hz; regions in seconds (None: run VAD).

        Raises SpeechError (an Fs2fError) when there is less than 1 s of speech.
        """
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 1:
            raise Fs2fError(f"expected mono samples of shape (n,), got {samples.shape}")
        if not np.all(np.isfinite(samples)):
            raise Fs2fError("audio contains NaN or infinite samples")
        regions = self.speech_regions(samples, sample_rate) if speech_regions is None else speech_regions
        require_speech(speech_seconds(regions))
        quality = measure_quality(samples, sample_rate, regions)
        warnings = input_warnings(quality)
        voice = self.embed(samples, sample_rate, regions)
        outputs = self.heads(voice.embedding[None, :])
        prediction = self._assemble(outputs, warnings)
        prediction.embedding = voice.embedding
        prediction.seconds_used = voice.seconds_used
        prediction.speech_regions = [(float(a), float(b)) for a, b in regions]
        prediction.input_quality = quality.to_dict()
        return prediction

    def attribute_probabilities(self, outputs: HeadOutputs) -> tuple[np.ndarray, np.ndarray]:
        """Calibrated ensemble P(male) (n,) and age-bracket probabilities (n, 5)."""
        gender = binary_probabilities(outputs.gender_logits.mean(axis=0), self.temperatures["gender"])
        age = class_probabilities(outputs.age_logits.mean(axis=0), self.temperatures["age"])
        return gender, age

    def _assemble(self, outputs: HeadOutputs, warnings: list[str]) -> Prediction:
        p_male, p_age = self.attribute_probabilities(outputs)
        member_male = binary_probabilities(outputs.gender_logits[:, 0], self.temperatures["gender"])
        member_age = class_probabilities(outputs.age_logits[:, 0], self.temperatures["age"])
        codes = outputs.face_mean[:, 0, :]
        code = codes.mean(axis=0)
        code_variance = outputs.face_variance.mean(axis=0) + codes.var(axis=0)
        member_small = self.face.decode(codes)
        members = [to_uint8_image(face) for face in member_small]
        stack = np.stack(members).astype(np.float32) / 255.0
        face_std = stack.std(axis=0).mean(axis=2)
        gender = {"female": float(1 - p_male[0]), "male": float(p_male[0])}
        spread = float(member_male.std())
        if spread > GENDER_SPREAD_WARNING:
            warnings.append(f"ensemble members disagree on gender (spread {spread:.2f})")
        face_spread = float(face_std.mean())
        if face_spread > FACE_SPREAD_WARNING:
            warnings.append(f"ensemble members' faces disagree (mean per-pixel spread {face_spread:.3f}, over "
                            f"{FACE_SPREAD_WARNING}, which 99 % of clean validation clips stay under): the face is unreliable")
        if max(gender.values()) < GENDER_UNSURE:
            warnings.append(f"gender uncertain (top probability {max(gender.values()):.2f})")
        return Prediction(
            gender=gender,
            gender_spread={"female": spread, "male": spread},
            age={b: float(p) for b, p in zip(AGE_BRACKETS, p_age[0])},
            age_estimate=AGE_BRACKETS[int(within_one_bracket(p_age[0]))],
            age_estimate_within_one=float(within_one_probability(p_age[0]).max()),
            age_spread={b: float(s) for b, s in zip(AGE_BRACKETS, member_age.std(axis=0))},
            face=to_uint8_image(self.face.decode(code[None])[0]),
            face_std=face_std,
            member_faces=members,
            face_code=code,
            face_code_variance=code_variance,
            embedding=np.zeros(0, np.float32),
            seconds_used=0.0,
            speech_regions=[],
            model_name=self.name,
            model_sha256=self.sha256,
            model_files=dict(self.files),
            warnings=warnings,
        )

    def card(self) -> str:
        """The model card (markdown) with the measured validation figures."""
        from forensic_s2f.s2f.card import model_card

        return model_card(self)

    def save(self, directory: Path) -> dict[str, str]:
        """Write model.npz, config.json and manifest.json (plus validation.json if set)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_arrays(directory / ARRAYS_FILE, {**self.heads.arrays(), **self.face.arrays()})
        config = {
            "name": self.name,
            "format": 1,
            "params": self.get_params(),
            "training": self.training,
        }
        (directory / CONFIG_FILE).write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
        files = [ARRAYS_FILE, CONFIG_FILE]
        if self.validation is not None:
            write_validation(directory, self.validation)
            files.append(VALIDATION_FILE)
        manifest = write_manifest(directory, files)
        self.sha256, self.files = manifest[ARRAYS_FILE], dict(manifest)
        return manifest


def write_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """An .npz readable by numpy.load, byte-identical for identical arrays (fixed zip dates)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(arrays):
            buffer = io.BytesIO()
            np.save(buffer, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, buffer.getvalue())


def write_validation(directory: Path, validation: dict[str, Any]) -> None:
    (Path(directory) / VALIDATION_FILE).write_text(json.dumps(validation, indent=2, sort_keys=True) + "\n")


def attach_validation(directory: Path, validation: dict[str, Any]) -> dict[str, str]:
    """Add (or replace) validation.json in a weights folder and re-sign its manifest."""
    load_model(directory)  # refuse to sign a folder whose files do not match its manifest
    write_validation(directory, validation)
    return write_manifest(directory, [ARRAYS_FILE, CONFIG_FILE, VALIDATION_FILE])


def load_model(path: Path | None = None) -> Speech2FaceModel:
    """Load and verify a weights folder (None: the shipped default weights).

    Raises Fs2fError naming the file when the manifest or a listed file is missing or altered, or
    when a file that matches its manifest still cannot be read as fs2f weights.
    """
    directory = Path(path) if path is not None else DEFAULT_WEIGHTS_DIR
    expected = verify_manifest(directory, (ARRAYS_FILE, CONFIG_FILE))
    config = read_json_object(directory / CONFIG_FILE)
    arrays = read_arrays(directory / ARRAYS_FILE)
    validation = None
    if VALIDATION_FILE in expected:
        validation = read_json_object(directory / VALIDATION_FILE)
    try:
        params = config["params"]
        # a model trained before the VAD levelled its input (and took DC out, and had a quiet threshold)
        # heard every clip as recorded, at one threshold
        vad_params = {"level_dbfs": None, "remove_dc": False, "quiet_threshold": None,
                      **{k: v for k, v in params["vad"].items() if k != "model"}}
        model = Speech2FaceModel(
            vad=SileroVAD(**vad_params),
            encoder=encoder_from_params(params["encoder"]),
            heads=EnsembleHeads.from_arrays(arrays, params["heads"]),
            face=PCAFaceModel.from_arrays(arrays, size=params["face"]["size"]),
            temperatures=dict(params["temperatures"]),
            training=dict(config["training"]),
            validation=validation,
            sha256=expected[ARRAYS_FILE],
            files=expected,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise Fs2fError(
            f"{directory}: {CONFIG_FILE} and {ARRAYS_FILE} do not describe an fs2f model ({reason(error)})"
        ) from None
    model.load_networks()
    return model
