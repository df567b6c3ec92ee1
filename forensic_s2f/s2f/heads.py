"""Ensemble heads: voice embedding → gender logit, age-bracket logits, face representation.

Each member is fitted on its own bootstrap resample (drawn from `numpy.random.default_rng([seed,
member])`): an L2-regularised logistic regression for gender, a multinomial one for the age
bracket, and a ridge regression for the face coefficients whose per-coefficient variance is the
member's out-of-bag squared error. Inputs are standardised with the full training set's statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

ABSENT_CLASS_LOGIT = -30.0  # intercept for an age bracket missing from a member's resample


@dataclass(frozen=True)
class HeadOutputs:
    """Per-member outputs for n inputs and m members.

    gender_logits (m, n): log-odds of male. age_logits (m, n, 5). face_mean (m, n, k) face
    coefficients. face_variance (m, k): each member's out-of-bag error variance per coefficient.
    """

    gender_logits: np.ndarray
    age_logits: np.ndarray
    face_mean: np.ndarray
    face_variance: np.ndarray


class EnsembleHeads:
    """`members` bootstrap members; C and alpha are inverse / direct L2 strengths."""

    def __init__(
        self,
        members: int = 5,
        seed: int = 0,
        gender_c: float = 0.01,
        age_c: float = 0.01,
        face_alpha: float = 100.0,
        age_classes: int = 5,
    ) -> None:
        self.members = members
        self.seed = seed
        self.gender_c = gender_c
        self.age_c = age_c
        self.face_alpha = face_alpha
        self.age_classes = age_classes
        self.arrays_: dict[str, np.ndarray] = {}

    def get_params(self) -> dict[str, Any]:
        return {
            "members": self.members,
            "seed": self.seed,
            "gender_c": self.gender_c,
            "age_c": self.age_c,
            "face_alpha": self.face_alpha,
            "age_classes": self.age_classes,
        }

    def fit(self, x: np.ndarray, gender: np.ndarray, age: np.ndarray, face: np.ndarray) -> EnsembleHeads:
        """x (n, d) embeddings; gender (n,) 0/1, -1 unknown; age (n,) bracket index, -1 unknown; face (n, k)."""
        from sklearn.linear_model import LogisticRegression, Ridge  # training only: slow to import

        x = np.asarray(x, np.float64)
        center = x.mean(axis=0)
        scale = x.std(axis=0) + 1e-8
        xs = (x - center) / scale
        n, d = xs.shape
        k = face.shape[1]
        arrays = {
            "x_center": center,
            "x_scale": scale,
            "gender_w": np.zeros((self.members, d)),
            "gender_b": np.zeros(self.members),
            "age_w": np.zeros((self.members, self.age_classes, d)),
            "age_b": np.full((self.members, self.age_classes), ABSENT_CLASS_LOGIT),
            "face_w": np.zeros((self.members, d, k)),
            "face_b": np.zeros((self.members, k)),
            "face_var": np.zeros((self.members, k)),
        }
        for m in range(self.members):
            rng = np.random.default_rng([self.seed, m])
            sample = rng.integers(0, n, size=n)
            out_of_bag = np.setdiff1d(np.arange(n), sample)
            rows = sample[gender[sample] >= 0]
            if len(np.unique(gender[rows])) < 2:
                raise ValueError("a bootstrap resample lacks one gender; train on more labelled clips")
            model = LogisticRegression(C=self.gender_c, max_iter=5000).fit(xs[rows], gender[rows])
            arrays["gender_w"][m] = model.coef_[0]
            arrays["gender_b"][m] = model.intercept_[0]
            rows = sample[age[sample] >= 0]
            model = LogisticRegression(C=self.age_c, max_iter=5000).fit(xs[rows], age[rows])
            coef = model.coef_ if len(model.classes_) > 2 else np.vstack([-model.coef_, model.coef_]) / 2
            intercept = (
                model.intercept_ if len(model.classes_) > 2 else np.array([-1, 1]) * model.intercept_ / 2
            )
            arrays["age_w"][m, model.classes_] = coef
            arrays["age_b"][m, model.classes_] = intercept
            ridge = Ridge(alpha=self.face_alpha).fit(xs[sample], face[sample])
            arrays["face_w"][m] = ridge.coef_.T
            arrays["face_b"][m] = ridge.intercept_
            check = out_of_bag if len(out_of_bag) else sample
            residual = face[check] - ridge.predict(xs[check])
            arrays["face_var"][m] = (residual**2).mean(axis=0)
        self.arrays_ = {name: value.astype(np.float32) for name, value in arrays.items()}
        return self

    def __call__(self, x: np.ndarray) -> HeadOutputs:
        """Member outputs for embeddings x (n, d)."""
        a = self.arrays_
        xs = ((np.asarray(x, np.float32) - a["x_center"]) / a["x_scale"]).astype(np.float32)
        return HeadOutputs(
            gender_logits=np.einsum("nd,md->mn", xs, a["gender_w"]) + a["gender_b"][:, None],
            age_logits=np.einsum("nd,mcd->mnc", xs, a["age_w"]) + a["age_b"][:, None, :],
            face_mean=np.einsum("nd,mdk->mnk", xs, a["face_w"]) + a["face_b"][:, None, :],
            face_variance=a["face_var"],
        )

    def arrays(self) -> dict[str, np.ndarray]:
        return {f"heads_{name}": value for name, value in self.arrays_.items()}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], params: dict[str, Any]) -> EnsembleHeads:
        heads = cls(**params)
        heads.arrays_ = {
            name.removeprefix("heads_"): value for name, value in arrays.items() if name.startswith("heads_")
        }
        return heads
