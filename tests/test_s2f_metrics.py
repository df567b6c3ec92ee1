"""Metric functions, temperature scaling and grouped folds on known inputs."""

import json

import numpy as np
import pytest

from forensic_s2f.s2f.calibration import binary_probabilities, class_probabilities, fit_temperature
from forensic_s2f.s2f.metrics import (
    accuracy,
    expected_calibration_error,
    recall_at_k,
    retrieval_ranks,
    within_one,
)
from forensic_s2f.s2f.dataset import AGE_BRACKETS
from forensic_s2f.s2f.evaluate import format_evaluation
from forensic_s2f.s2f.face import PCAFaceModel
from forensic_s2f.s2f.model import DEFAULT_WEIGHTS_DIR, within_one_bracket, within_one_probability
from forensic_s2f.s2f.train import grouped_folds


def test_accuracy_and_within_one():
    assert accuracy(np.array([0, 1, 2, 3]), np.array([0, 1, 0, 0])) == 0.5
    assert within_one(np.array([0, 1, 2, 4]), np.array([0, 2, 0, 3])) == 0.75


def test_ece_of_known_bins():
    # Binary: confidence 0.9 for all, 8 of 10 right → ECE 0.1.
    p = np.full(10, 0.9)
    truth = np.array([1] * 8 + [0] * 2)
    assert expected_calibration_error(p, truth) == pytest.approx(0.1)
    # Perfectly calibrated halves: conf 0.6 with 60 % right, conf 1.0 with 100 % right.
    probs = np.array([[0.4, 0.6]] * 10 + [[0.0, 1.0]] * 10)
    truth = np.array([1] * 6 + [0] * 4 + [1] * 10)
    assert expected_calibration_error(probs, truth) == pytest.approx(0.0)


def test_retrieval_perfect_and_reversed():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=(120, 8))
    groups = [f"v{i}" for i in range(120)]
    perfect = recall_at_k(retrieval_ranks(truth, truth, groups, pool_size=50, pools_per_query=3))
    assert perfect == {"R@1": 1.0, "R@5": 1.0, "R@10": 1.0}
    far = recall_at_k(retrieval_ranks(-10 * truth, truth, groups, pool_size=50, pools_per_query=3))
    assert far["R@10"] < 0.05
    random = recall_at_k(retrieval_ranks(rng.normal(size=(120, 8)), truth, groups, 50, 20))
    assert abs(random["R@10"] - 0.2) < 0.05


def test_retrieval_excludes_same_group_and_needs_enough_distractors():
    truth = np.eye(4)
    with pytest.raises(ValueError):
        retrieval_ranks(truth, truth, ["a", "a", "b", "b"], pool_size=4)  # 3 items, only 2 of other videos
    ranks = retrieval_ranks(truth, truth, ["a", "b", "c", "d"], pool_size=4, pools_per_query=2)
    assert ranks.shape == (4, 2) and not ranks.any()
    assert recall_at_k(np.array([[0, 4], [9, 10]])) == {"R@1": 0.25, "R@5": 0.5, "R@10": 0.75}


def test_temperature_recovers_known_scale():
    rng = np.random.default_rng(1)
    true_logits = rng.normal(0, 2, size=20000)
    truth = (rng.random(20000) < binary_probabilities(true_logits)).astype(int)
    assert fit_temperature(3.0 * true_logits, truth) == pytest.approx(3.0, rel=0.1)
    logits = rng.normal(0, 1.5, size=(20000, 3))
    truth = np.array([rng.choice(3, p=p) for p in class_probabilities(logits)])
    assert fit_temperature(logits / 2.0, truth) == pytest.approx(0.5, rel=0.1)


def test_grouped_folds_keep_groups_whole_and_are_seeded():
    groups = [f"v{i // 2}" for i in range(40)]
    folds = grouped_folds(groups, 5, seed=3)
    assert all(folds[i] == folds[i + 1] for i in range(0, 40, 2))
    assert sorted(np.bincount(folds)) == [8] * 5
    assert np.array_equal(folds, grouped_folds(groups, 5, seed=3))
    assert not np.array_equal(folds, grouped_folds(groups, 5, seed=4))


def test_age_estimate_is_the_bracket_most_likely_within_one():
    probabilities = np.array([
        [0.4, 0.05, 0.1, 0.05, 0.4],  # both ends: the middle three hold only 0.2
        [0.0, 0.5, 0.5, 0.0, 0.0],  # tie between brackets 1 and 2 (1.0 each): the first
        [0.1, 0.1, 0.1, 0.1, 0.6],
        [0.0, 0.45, 0.0, 0.3, 0.25],  # the most probable bracket (1) is not the estimate
    ])
    windows = within_one_probability(probabilities)
    assert np.allclose(windows[0], [0.45, 0.55, 0.2, 0.55, 0.45])
    assert np.allclose(windows[3], [0.45, 0.45, 0.75, 0.55, 0.55])
    assert within_one_bracket(probabilities).tolist() == [1, 1, 3, 2]
    assert within_one_bracket(probabilities[3]) == 2  # a single row


def test_evaluation_table_lists_recall_and_age_brackets_in_order():
    shipped = json.loads((DEFAULT_WEIGHTS_DIR / "validation.json").read_text())  # keys sorted as strings
    table = format_evaluation(shipped)
    assert "retrieval chance R@1/5/10 = 2/10/20 %" in table
    oracle = shipped["baselines"]["retrieval_true_gender_age"]
    assert "R@1/5/10 = " + "/".join(f"{100 * oracle[k]:.1f}" for k in ("R@1", "R@5", "R@10")) in table
    rows = [line.split()[0] for line in table.splitlines() if line.split()[:1] and line.split()[0] in AGE_BRACKETS]
    assert rows == list(AGE_BRACKETS)


def test_voice_aligned_retrieval_map_keeps_what_voices_predict_and_round_trips():
    rng = np.random.default_rng(0)
    n, size = 300, 8
    voices = rng.normal(size=(n, 16))
    predictable = rng.normal(size=(size * size * 3,))
    unpredictable = rng.normal(size=(size * size * 3,))
    # faces: one pixel pattern driven by the voice, a larger one (lighting) that is not
    flat = 0.5 + 0.02 * np.outer(voices[:, 0], predictable) + 0.05 * np.outer(rng.normal(size=n), unpredictable)
    faces = flat.reshape(n, size, size, 3).astype(np.float32)
    face = PCAFaceModel(size=size, n_components=4, retrieval_directions=1, retrieval_regularisation=0.1)
    face.fit(faces, voices)
    representation = face.represent(face.encode(faces))[:, 0]
    assert representation.shape == (n,)
    assert abs(np.corrcoef(representation, voices[:, 0])[0, 1]) > 0.9
    plain = PCAFaceModel(size=size, n_components=4).fit(faces)
    assert abs(np.corrcoef(plain.encode(faces)[:, 0], voices[:, 0])[0, 1]) < 0.5
    loaded = PCAFaceModel.from_arrays(face.arrays(), size=size)
    assert loaded.get_params() == face.get_params()
    np.testing.assert_array_equal(loaded.represent(face.encode(faces)), face.represent(face.encode(faces)))
    with pytest.raises(ValueError):
        PCAFaceModel(size=size, n_components=4, retrieval_directions=1).fit(faces)
