"""Temperature scaling: one scalar T > 0 per classifier, fitted on held-out logits by likelihood."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax


def binary_probabilities(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """P(class 1) from log-odds divided by the temperature."""
    return 1.0 / (1.0 + np.exp(-np.asarray(logits, np.float64) / temperature))


def class_probabilities(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Softmax of logits (..., classes) divided by the temperature."""
    return softmax(np.asarray(logits, np.float64) / temperature, axis=-1)


def fit_temperature(logits: np.ndarray, truth: np.ndarray) -> float:
    """The T in [0.05, 20] minimising negative log-likelihood of `truth`.

    logits: (n,) log-odds for binary truth in {0, 1}, or (n, classes) for class indices.
    """
    logits = np.asarray(logits, np.float64)
    truth = np.asarray(truth)
    if logits.ndim == 1:
        logits = np.stack([np.zeros_like(logits), logits], axis=1)

    def nll(log_t: float) -> float:
        return -float(log_softmax(logits / np.exp(log_t), axis=1)[np.arange(len(truth)), truth].mean())

    result = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(result.x))
