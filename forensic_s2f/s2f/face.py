"""Canonical-face appearance model: PCA of frontal faces at reduced resolution.

Faces are RGB float32 in [0, 1] at `size` × `size` px; the heads predict the vector of the first
`n_components` PCA coefficients, which decodes back to a face (upsampled to 224 px for output).

Retrieval representation: the face's coordinates on the `retrieval_directions` leading canonical
directions of a regularised CCA between voice embeddings and PCA coefficients (fitted on the
training pairs), each scaled by its training canonical correlation. It is a fixed linear map of
the face image that keeps the appearance a voice can predict (sex, age, skin tone) and drops what
it cannot (lighting, hair, pose residue), so L2 distances in it rank faces by voice-relevant
similarity. With `retrieval_directions=0` the representation is the PCA coefficients themselves.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

OUTPUT_SIZE = 224


class PCAFaceModel:
    """Linear appearance model: face ≈ mean + coefficients @ components."""

    def __init__(
        self,
        size: int = 64,
        n_components: int = 64,
        retrieval_directions: int = 0,
        retrieval_regularisation: float = 0.3,
    ) -> None:
        self.size = size
        self.n_components = n_components
        self.retrieval_directions = retrieval_directions
        self.retrieval_regularisation = retrieval_regularisation
        self.mean_: np.ndarray | None = None
        self.components_: np.ndarray | None = None
        self.explained_variance_: np.ndarray | None = None
        self.retrieval_: np.ndarray | None = None

    def get_params(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "n_components": self.n_components,
            "retrieval_directions": self.retrieval_directions,
            "retrieval_regularisation": self.retrieval_regularisation,
        }

    def fit(self, faces: np.ndarray, voices: np.ndarray | None = None) -> PCAFaceModel:
        """Fit on faces (n, size, size, 3); component signs fixed so each one's largest loading is positive.

        voices (n, d): the paired voice embeddings, required when `retrieval_directions` > 0.
        """
        flat = faces.reshape(len(faces), -1).astype(np.float64)
        mean = flat.mean(axis=0)
        _, singular, vt = np.linalg.svd(flat - mean, full_matrices=False)
        k = min(self.n_components, len(vt))
        vt = vt[:k]
        signs = np.sign(vt[np.arange(k), np.abs(vt).argmax(axis=1)])
        self.mean_ = mean.astype(np.float32)
        self.components_ = (vt * signs[:, None]).astype(np.float32)
        self.explained_variance_ = (singular[:k] ** 2 / max(len(flat) - 1, 1)).astype(np.float32)
        self.retrieval_ = np.eye(k, dtype=np.float32)
        if self.retrieval_directions > 0:
            if voices is None:
                raise ValueError("retrieval_directions > 0 needs the paired voice embeddings")
            self.retrieval_ = canonical_directions(
                np.asarray(voices, np.float64),
                self.encode(faces).astype(np.float64),
                self.retrieval_directions,
                self.retrieval_regularisation,
            ).astype(np.float32)
        return self

    def encode(self, faces: np.ndarray) -> np.ndarray:
        """Face representation (n, n_components) of faces (n, size, size, 3)."""
        flat = faces.reshape(len(faces), -1).astype(np.float32)
        return (flat - self.mean_) @ self.components_.T

    def represent(self, coefficients: np.ndarray) -> np.ndarray:
        """Retrieval representation (n, retrieval_directions or n_components) of PCA coefficients (n, k)."""
        return np.asarray(coefficients, np.float32) @ self.retrieval_

    def decode(self, coefficients: np.ndarray) -> np.ndarray:
        """Faces (n, size, size, 3) in [0, 1] from representations (n, n_components)."""
        flat = np.asarray(coefficients, np.float32) @ self.components_ + self.mean_
        return np.clip(flat, 0.0, 1.0).reshape(len(flat), self.size, self.size, 3)

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "face_mean": self.mean_,
            "face_components": self.components_,
            "face_explained_variance": self.explained_variance_,
            "face_retrieval": self.retrieval_,
            "face_retrieval_params": np.array(
                [self.retrieval_directions, self.retrieval_regularisation], np.float32
            ),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], size: int) -> PCAFaceModel:
        k = int(arrays["face_components"].shape[0])
        directions, regularisation = arrays.get("face_retrieval_params", np.array([0.0, 0.3]))
        model = cls(
            size=size,
            n_components=k,
            retrieval_directions=int(directions),
            retrieval_regularisation=round(float(regularisation), 6),
        )
        model.mean_ = arrays["face_mean"]
        model.components_ = arrays["face_components"]
        model.explained_variance_ = arrays["face_explained_variance"]
        model.retrieval_ = arrays.get("face_retrieval", np.eye(k, dtype=np.float32))
        return model


def canonical_directions(voices: np.ndarray, codes: np.ndarray, k: int, regularisation: float) -> np.ndarray:
    """Face-side CCA directions (n_components, k), each scaled by its canonical correlation.

    voices (n, d) are standardised per dimension; both covariances are shrunk towards a multiple of
    the identity by `regularisation` (a fraction of their mean variance). Column signs are fixed so
    each column's largest loading is positive.
    """
    x = (voices - voices.mean(axis=0)) / (voices.std(axis=0) + 1e-8)
    y = codes - codes.mean(axis=0)
    n = len(x)
    cxx, cyy, cxy = x.T @ x / n, y.T @ y / n, x.T @ y / n
    cxx += regularisation * np.trace(cxx) / len(cxx) * np.eye(len(cxx))
    cyy += regularisation * np.trace(cyy) / len(cyy) * np.eye(len(cyy))
    values, vectors = np.linalg.eigh(cyy)
    cyy_inv_sqrt = vectors @ np.diag(values**-0.5) @ vectors.T
    coupling = cyy_inv_sqrt @ cxy.T @ np.linalg.solve(cxx, cxy) @ cyy_inv_sqrt
    eigenvalues, eigenvectors = np.linalg.eigh((coupling + coupling.T) / 2)
    order = np.argsort(eigenvalues)[::-1][:k]
    correlation = np.sqrt(np.clip(eigenvalues[order], 0.0, 1.0))
    directions = cyy_inv_sqrt @ eigenvectors[:, order] * correlation
    signs = np.sign(directions[np.abs(directions).argmax(axis=0), np.arange(directions.shape[1])])
    return directions * np.where(signs == 0, 1.0, signs)


def to_uint8_image(face: np.ndarray, size: int = OUTPUT_SIZE) -> np.ndarray:
    """A [0, 1] float RGB face (h, w, 3) as uint8 (size, size, 3), bicubic upsampling."""
    image = Image.fromarray(np.round(np.clip(face, 0, 1) * 255).astype(np.uint8))
    return np.asarray(image.resize((size, size), Image.BICUBIC))
