"""Training: embed every clip, fit the face PCA, the ensemble heads and the temperatures.

Temperatures are fitted on out-of-fold ensemble logits (folds split by source video), so the
shipped probabilities are calibrated on clips the heads did not see.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from forensic_s2f.audio.decode import load
from forensic_s2f.audio.vad import SileroVAD
from forensic_s2f.errors import Fs2fError
from forensic_s2f.s2f.calibration import fit_temperature
from forensic_s2f.s2f.dataset import PairSet, cached_embeddings, load_faces, load_pairs
from forensic_s2f.s2f.ecapa import ECAPAEncoder
from forensic_s2f.s2f.encoder import GE2EEncoder, truncate_regions
from forensic_s2f.s2f.face import PCAFaceModel
from forensic_s2f.s2f.heads import EnsembleHeads
from forensic_s2f.s2f.model import Speech2FaceModel

DEFAULT_HYPERPARAMETERS: dict[str, Any] = {
    "face_size": 64,
    "face_components": 64,
    "face_retrieval_directions": 8,
    "face_retrieval_regularisation": 0.3,
    "face_alpha": 100.0,
    "gender_c": 0.01,
    "age_c": 0.003,
    "calibration_folds": 5,
}


def grouped_folds(groups: list[str], folds: int, seed: int) -> np.ndarray:
    """Fold index (n,) per item: groups shuffled by `seed`, dealt round-robin, so a group stays whole."""
    unique = sorted(set(groups))
    order = np.random.default_rng(seed).permutation(len(unique))
    fold_of = {unique[g]: i % folds for i, g in enumerate(order)}
    return np.array([fold_of[g] for g in groups], dtype=np.int64)


def clip_vad() -> SileroVAD:
    """The voice activity the model is trained and validated with, recorded in its config:
    silero on each clip as recorded (`case analyze` and `model predict` give the model their own
    levelled voice activity, with DC offsets taken out, instead). A levelled VAD (`SileroVAD`'s
    default) measured no better in the cross-validation of `fs2f model evaluate` (gender 96.3 %,
    age within one 90.7 %, R@10 34.0 %, against 96.4, 90.6 and 34.3 % with silero as recorded,
    both before the encoder left out DC offsets), and this one reproduces the shipped weights."""
    return SileroVAD(level_dbfs=None, remove_dc=False, quiet_threshold=None)


def embed_clips(
    data_dir: Path,
    ids: list[str],
    vad: SileroVAD,
    encoder: GE2EEncoder | ECAPAEncoder,
    seconds: float | None = None,
    cache_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Voice embeddings (n, d) of each clip's speech (its first `seconds` of speech if given)."""
    done = [0]

    def embed(path: Path) -> np.ndarray:
        audio = load(path)
        regions = vad(audio.samples, audio.sample_rate) or [(0.0, audio.duration_seconds)]
        if seconds is not None:
            regions = truncate_regions(regions, seconds)
        done[0] += 1
        if progress is not None:
            progress(done[0], len(ids))
        return encoder(audio.samples, audio.sample_rate, regions).embedding

    key = {"vad": vad.get_params(), "encoder": encoder.get_params(), "seconds": seconds}
    return cached_embeddings(data_dir, ids, embed, key, cache_dir)


def fit_model(
    embeddings: np.ndarray,
    pairs: PairSet,
    faces: np.ndarray,
    members: int = 5,
    seed: int = 0,
    hyperparameters: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    encoder: GE2EEncoder | ECAPAEncoder | None = None,
) -> Speech2FaceModel:
    """Fit a model on embeddings (n, d) made by `encoder` (None: GE2E), labels and faces (n, size, size, 3)."""
    hp = {**DEFAULT_HYPERPARAMETERS, **(hyperparameters or {})}
    face = PCAFaceModel(
        size=hp["face_size"],
        n_components=hp["face_components"],
        retrieval_directions=hp["face_retrieval_directions"],
        retrieval_regularisation=hp["face_retrieval_regularisation"],
    ).fit(faces, embeddings)
    codes = face.encode(faces)

    def make_heads() -> EnsembleHeads:
        return EnsembleHeads(
            members=members,
            seed=seed,
            gender_c=hp["gender_c"],
            age_c=hp["age_c"],
            face_alpha=hp["face_alpha"],
        )

    fold = grouped_folds(pairs.videos, hp["calibration_folds"], seed)
    gender_logits = np.zeros(len(pairs.ids))
    age_logits = np.zeros((len(pairs.ids), 5))
    for f in range(hp["calibration_folds"]):
        train, held = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        outputs = make_heads().fit(embeddings[train], pairs.gender[train], pairs.age[train], codes[train])(
            embeddings[held]
        )
        gender_logits[held] = outputs.gender_logits.mean(axis=0)
        age_logits[held] = outputs.age_logits.mean(axis=0)
    g, a = pairs.gender >= 0, pairs.age >= 0
    temperatures = {
        "gender": round(fit_temperature(gender_logits[g], pairs.gender[g]), 6),
        "age": round(fit_temperature(age_logits[a], pairs.age[a]), 6),
    }
    heads = make_heads().fit(embeddings, pairs.gender, pairs.age, codes)
    return Speech2FaceModel(
        vad=clip_vad(),
        encoder=encoder if encoder is not None else GE2EEncoder(),
        heads=heads,
        face=face,
        temperatures=temperatures,
        training={**(training or {}), "hyperparameters": hp, "members": members, "seed": seed},
    )


def require_new_folder(folder: Path) -> None:
    """Refuse (Fs2fError naming it) a `folder` that is a link, a file or a folder with anything in it."""
    if folder.is_symlink():
        raise Fs2fError(f"{folder}: is a link; choose a new folder for the weights")
    if folder.exists() and not folder.is_dir():
        raise Fs2fError(f"{folder}: exists and is not a folder; choose a new folder for the weights")
    try:
        empty = not folder.exists() or not any(folder.iterdir())
    except OSError as error:
        raise Fs2fError(f"{folder}: cannot be read ({error.strerror or error})") from None
    if not empty:
        raise Fs2fError(f"{folder}: exists and is not empty; choose a new folder for the weights")


def train(
    data_dir: Path,
    output_dir: Path,
    members: int = 5,
    seed: int = 0,
    limit: int | None = None,
    cache_dir: Path | None = None,
    hyperparameters: dict[str, Any] | None = None,
    progress: Callable[[int, int], None] | None = None,
    encoder: GE2EEncoder | ECAPAEncoder | None = None,
) -> Speech2FaceModel:
    """Train on the pair folder `data_dir` (the first `limit` clips by id if given); save to `output_dir`.

    output_dir: a new or empty folder; anything else is refused (Fs2fError) before any work, so
    existing weights are never overwritten.
    encoder: the voice encoder (None: the shipped GE2E); it is recorded in config.json.
    """
    if members < 2:
        raise ValueError("an ensemble needs at least 2 members")
    require_new_folder(Path(output_dir))
    data_dir = Path(data_dir)
    pairs = load_pairs(data_dir)
    if limit is not None:
        pairs = pairs.subset(np.arange(min(limit, len(pairs.ids))))
    hp = {**DEFAULT_HYPERPARAMETERS, **(hyperparameters or {})}
    encoder = encoder if encoder is not None else GE2EEncoder()
    embeddings = embed_clips(data_dir, pairs.ids, clip_vad(), encoder, None, cache_dir, progress)
    faces = load_faces(data_dir, pairs.ids, hp["face_size"])
    training = {
        "data": "s2f-pairs (Speech2Face CVPR 2019 supplementary AVSpeech test examples)",
        "clips": len(pairs.ids),
        "videos": len(set(pairs.videos)),
        "labels_sha256": hashlib.sha256((data_dir / "labels.csv").read_bytes()).hexdigest(),
        "ids_sha256": hashlib.sha256("\n".join(pairs.ids).encode()).hexdigest(),
    }
    model = fit_model(embeddings, pairs, faces, members, seed, hp, training, encoder)
    model.save(Path(output_dir))
    return model
