"""Canonical-face appearance model: PCA of frontal faces at reduced resolution.

Faces are RGB float32 in [0, 1] at `size` × `size` px; the face representation is the vector of
the first `n_components` PCA coefficients. Decoded faces are upsampled to 224 px for output.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image

OUTPUT_SIZE = 224


class PCAFaceModel:
    """Linear appearance model: face ≈ mean + coefficients @ components."""

    def __init__(self, size: int = 64, n_components: int = 64) -> None:
        self.size = size
        self.n_components = n_components
        self.mean_: np.ndarray | None = None
        self.components_: np.ndarray | None = None
        self.explained_variance_: np.ndarray | None = None

    def get_params(self) -> dict[str, Any]:
        return {"size": self.size, "n_components": self.n_components}

    def fit(self, faces: np.ndarray) -> PCAFaceModel:
        """Fit on faces (n, size, size, 3); component signs fixed so each one's largest loading is positive."""
        flat = faces.reshape(len(faces), -1).astype(np.float64)
        mean = flat.mean(axis=0)
        _, singular, vt = np.linalg.svd(flat - mean, full_matrices=False)
        k = min(self.n_components, len(vt))
        vt = vt[:k]
        signs = np.sign(vt[np.arange(k), np.abs(vt).argmax(axis=1)])
        self.mean_ = mean.astype(np.float32)
        self.components_ = (vt * signs[:, None]).astype(np.float32)
        self.explained_variance_ = (singular[:k] ** 2 / max(len(flat) - 1, 1)).astype(np.float32)
        return self

    def encode(self, faces: np.ndarray) -> np.ndarray:
        """Face representation (n, n_components) of faces (n, size, size, 3)."""
        flat = faces.reshape(len(faces), -1).astype(np.float32)
        return (flat - self.mean_) @ self.components_.T

    def decode(self, coefficients: np.ndarray) -> np.ndarray:
        """Faces (n, size, size, 3) in [0, 1] from representations (n, n_components)."""
        flat = np.asarray(coefficients, np.float32) @ self.components_ + self.mean_
        return np.clip(flat, 0.0, 1.0).reshape(len(flat), self.size, self.size, 3)

    def pixel_std(self, coefficient_variance: np.ndarray) -> np.ndarray:
        """Per-pixel standard deviation (size, size, 3) implied by independent coefficient variances (k,)."""
        var = (np.asarray(coefficient_variance, np.float32)[:, None] * self.components_**2).sum(axis=0)
        return np.sqrt(var).reshape(self.size, self.size, 3)

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "face_mean": self.mean_,
            "face_components": self.components_,
            "face_explained_variance": self.explained_variance_,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], size: int) -> PCAFaceModel:
        model = cls(size=size, n_components=int(arrays["face_components"].shape[0]))
        model.mean_ = arrays["face_mean"]
        model.components_ = arrays["face_components"]
        model.explained_variance_ = arrays["face_explained_variance"]
        return model


def to_uint8_image(face: np.ndarray, size: int = OUTPUT_SIZE) -> np.ndarray:
    """A [0, 1] float RGB face (h, w, 3) as uint8 (size, size, 3), bicubic upsampling."""
    image = Image.fromarray(np.round(np.clip(face, 0, 1) * 255).astype(np.uint8))
    return np.asarray(image.resize((size, size), Image.BICUBIC))
