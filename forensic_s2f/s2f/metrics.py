"""Evaluation measures: accuracy, within-one-bracket accuracy, ECE, retrieval recall@k."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def accuracy(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Fraction of exact matches."""
    predicted, truth = np.asarray(predicted), np.asarray(truth)
    return float(np.mean(predicted == truth)) if len(truth) else float("nan")


def within_one(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Fraction of ordinal predictions at most one bracket away from the truth."""
    predicted, truth = np.asarray(predicted), np.asarray(truth)
    return float(np.mean(np.abs(predicted - truth) <= 1)) if len(truth) else float("nan")


def expected_calibration_error(probabilities: np.ndarray, truth: np.ndarray, bins: int = 15) -> float:
    """Top-label ECE with `bins` equal-width confidence bins.

    probabilities: (n, classes) rows summing to 1, or (n,) probability of class 1 (binary).
    """
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim == 1:
        p = np.stack([1 - p, p], axis=1)
    truth = np.asarray(truth)
    confidence = p.max(axis=1)
    correct = (p.argmax(axis=1) == truth).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, bins - 1)
    error = 0.0
    for b in range(bins):
        mask = index == b
        if mask.any():
            error += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(error)


def retrieval_ranks(
    predicted: np.ndarray,
    truth: np.ndarray,
    groups: Sequence[str],
    pool_size: int = 50,
    pools_per_query: int = 20,
    seed: int = 0,
) -> np.ndarray:
    """Rank (0 = best) of each query's true face among random pools, by L2 distance.

    Query i's pool is its own true representation plus `pool_size - 1` others drawn at random
    from items of other groups (other videos). Returns ranks of shape (n, pools_per_query).
    """
    predicted = np.asarray(predicted, np.float64)
    truth = np.asarray(truth, np.float64)
    groups = np.asarray(groups)
    n = len(truth)
    rng = np.random.default_rng(seed)
    ranks = np.zeros((n, pools_per_query), dtype=np.int64)
    distances = ((predicted[:, None, :] - truth[None, :, :]) ** 2).sum(axis=2)
    for i in range(n):
        others = np.flatnonzero(groups != groups[i])
        if len(others) < pool_size - 1:
            raise ValueError(f"need {pool_size - 1} distractors from other groups, have {len(others)}")
        for j in range(pools_per_query):
            pool = rng.choice(others, size=pool_size - 1, replace=False)
            ranks[i, j] = int(np.sum(distances[i, pool] < distances[i, i]))
    return ranks


def recall_at_k(ranks: np.ndarray, ks: Sequence[int] = (1, 5, 10)) -> dict[str, float]:
    """{"R@k": fraction of pools where the true face ranks within the top k}."""
    return {f"R@{k}": float(np.mean(np.asarray(ranks) < k)) for k in ks}
