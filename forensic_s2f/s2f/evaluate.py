"""Cross-validated evaluation, folds split by source video (the clip id before the timestamp).

Each outer fold trains the whole model (face PCA, ensemble, temperatures from inner folds) on the
other folds and scores the held-out clips. Retrieval: each held-out clip's predicted face
representation (the model's retrieval representation, see `face.py`) against its true one plus 49
others from the same held-out fold (other videos), ranked by L2 distance; 20 random pools per clip.
References: the same retrieval with the group-mean face of the clip's TRUE gender and age bracket
(how far those two attributes go), and with plain PCA coefficients as the representation. The age
estimate scored is the model's: the bracket most likely to be right or one bracket off under the
calibrated age distribution (`within_one_bracket`). Shorter-speech figures use only the first 1 s or
3 s of each clip's detected speech with the model trained on whole clips.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from forensic_s2f.s2f.calibration import binary_probabilities
from forensic_s2f.s2f.dataset import AGE_BRACKETS, load_faces, load_pairs
from forensic_s2f.s2f.ecapa import ECAPAEncoder
from forensic_s2f.s2f.encoder import GE2EEncoder
from forensic_s2f.s2f.metrics import (
    accuracy,
    expected_calibration_error,
    recall_at_k,
    retrieval_ranks,
    within_one,
)
from forensic_s2f.s2f.model import AGE_ESTIMATE_RULE, within_one_bracket
from forensic_s2f.s2f.train import DEFAULT_HYPERPARAMETERS, clip_vad, embed_clips, fit_model, grouped_folds

POOL_SIZE = 50
POOLS_PER_QUERY = 20
FULL = "whole clip"
RECALL_KS = (1, 5, 10)  # retrieval figures are printed in this order, whatever the dict order


def evaluate(
    data_dir: Path,
    folds: int = 5,
    seed: int = 0,
    members: int = 5,
    seconds: Sequence[float] = (1.0, 3.0),
    pool_size: int = POOL_SIZE,
    limit: int | None = None,
    cache_dir: Path | None = None,
    hyperparameters: dict[str, Any] | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    encoder: GE2EEncoder | ECAPAEncoder | None = None,
) -> dict[str, Any]:
    """Cross-validated figures (see module docstring) with `encoder` (None: GE2E); JSON-able dict."""
    encoder = encoder if encoder is not None else GE2EEncoder()
    hp = {**DEFAULT_HYPERPARAMETERS, **(hyperparameters or {})}
    pairs = load_pairs(Path(data_dir))
    if limit is not None:
        pairs = pairs.subset(np.arange(min(limit, len(pairs.ids))))
    faces = load_faces(Path(data_dir), pairs.ids, hp["face_size"])
    variants: dict[str, float | None] = {FULL: None, **{f"{s:g} s": float(s) for s in seconds}}
    embeddings = {}
    for name, cut in variants.items():
        step = (lambda done, total, name=name: progress(f"embedding ({name})", done, total)) if progress else None
        embeddings[name] = embed_clips(data_dir, pairs.ids, clip_vad(), encoder, cut, cache_dir, step)
    fold = grouped_folds(pairs.videos, folds, seed)
    n = len(pairs.ids)
    p_male = {name: np.zeros(n) for name in variants}
    p_age = {name: np.zeros((n, len(AGE_BRACKETS))) for name in variants}
    raw_male = np.zeros(n)
    ranks: dict[str, list[np.ndarray]] = {name: [] for name in variants}
    oracle_ranks: list[np.ndarray] = []
    pixel_ranks: list[np.ndarray] = []
    for f in range(folds):
        if progress:
            progress("cross-validation folds", f, folds)
        train, held = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        model = fit_model(embeddings[FULL][train], pairs.subset(train), faces[train], members, seed, hp)
        truth_codes = model.face.encode(faces[held])
        truth = model.face.represent(truth_codes)
        held_videos = [pairs.videos[i] for i in held]
        oracle = _label_means(model.face.encode(faces[train]), pairs.gender[train], pairs.age[train])
        guesses = np.stack([oracle(pairs.gender[i], pairs.age[i]) for i in held])
        oracle_ranks.append(
            retrieval_ranks(model.face.represent(guesses), truth, held_videos, pool_size, POOLS_PER_QUERY, seed + f)
        )
        for name in variants:
            outputs = model.heads(embeddings[name][held])
            p_male[name][held], p_age[name][held] = model.attribute_probabilities(outputs)
            if name == FULL:
                pixel_ranks.append(
                    retrieval_ranks(
                        outputs.face_mean.mean(axis=0), truth_codes, held_videos, pool_size, POOLS_PER_QUERY, seed + f
                    )
                )
            ranks[name].append(
                retrieval_ranks(
                    model.face.represent(outputs.face_mean.mean(axis=0)),
                    truth,
                    held_videos,
                    pool_size,
                    POOLS_PER_QUERY,
                    seed + f,
                )
            )
            if name == FULL:
                raw_male[held] = binary_probabilities(outputs.gender_logits.mean(axis=0))
    if progress:
        progress("cross-validation folds", folds, folds)
    g, a = pairs.gender >= 0, pairs.age >= 0

    def scores(name: str, rows: np.ndarray) -> dict[str, Any]:
        gr, ar = rows & g, rows & a
        predicted_age = within_one_bracket(p_age[name])
        return {
            "n": int(rows.sum()),
            "gender_accuracy": _finite(accuracy((p_male[name][gr] > 0.5).astype(int), pairs.gender[gr])),
            "age_exact": _finite(accuracy(predicted_age[ar], pairs.age[ar])),
            "age_within_one": _finite(within_one(predicted_age[ar], pairs.age[ar])),
        }

    everything = np.ones(n, dtype=bool)
    overall = scores(FULL, everything)
    overall.update(
        {
            "gender_ece": expected_calibration_error(p_male[FULL][g], pairs.gender[g]),
            "gender_ece_uncalibrated": expected_calibration_error(raw_male[g], pairs.gender[g]),
            "age_ece": expected_calibration_error(p_age[FULL][a], pairs.age[a]),
            **recall_at_k(np.concatenate(ranks[FULL])),
        }
    )
    overall["age_estimates_given"] = dict(
        zip(AGE_BRACKETS, np.bincount(within_one_bracket(p_age[FULL][a]), minlength=len(AGE_BRACKETS)).tolist()))
    majority = int(np.bincount(pairs.age[a]).argmax())
    return {
        "folds": folds,
        "seed": seed,
        "members": members,
        "clips": n,
        "videos": len(set(pairs.videos)),
        "pool_size": pool_size,
        "pools_per_query": POOLS_PER_QUERY,
        "hyperparameters": hp,
        "age_estimate_rule": AGE_ESTIMATE_RULE,
        "overall": overall,
        "baselines": {
            "age_majority_bracket": AGE_BRACKETS[majority],
            "age_majority_exact": accuracy(np.full(a.sum(), majority), pairs.age[a]),
            "age_majority_within_one": within_one(np.full(a.sum(), majority), pairs.age[a]),
            "gender_majority": float(max(pairs.gender[g].mean(), 1 - pairs.gender[g].mean())),
            "retrieval_chance": {f"R@{k}": k / pool_size for k in RECALL_KS},
            "retrieval_true_gender_age": recall_at_k(np.concatenate(oracle_ranks)),
            "retrieval_pca_coefficients": recall_at_k(np.concatenate(pixel_ranks)),
        },
        "by_gender": {
            label: scores(FULL, pairs.gender == code) for label, code in (("female", 0), ("male", 1))
        },
        "by_age": {bracket: scores(FULL, pairs.age == i) for i, bracket in enumerate(AGE_BRACKETS)},
        "by_seconds": {
            name: {**scores(name, everything), **recall_at_k(np.concatenate(ranks[name]))}
            for name in variants
        },
    }


def format_evaluation(result: dict[str, Any]) -> str:
    """The evaluation figures as plain-text tables."""
    o = result["overall"]
    lines = [
        f"Cross-validation: {result['folds']} folds by source video, {result['clips']} clips "
        f"from {result['videos']} videos, {result['members']} ensemble members, seed {result['seed']}",
        "",
        f"{'measure':<34}{'value':>10}",
        f"{'voice gender accuracy':<34}{_pct(o['gender_accuracy']):>10}",
        f"{'gender ECE (15 bins, calibrated)':<34}{o['gender_ece']:>10.3f}",
        f"{'gender ECE (before calibration)':<34}{o['gender_ece_uncalibrated']:>10.3f}",
        f"{'age bracket exact':<34}{_pct(o['age_exact']):>10}",
        f"{'age bracket within one':<34}{_pct(o['age_within_one']):>10}",
        f"{'age ECE (15 bins, calibrated)':<34}{o['age_ece']:>10.3f}",
    ]

    for k in RECALL_KS:
        label = f"retrieval R@{k} (pools of {result['pool_size']})"
        lines.append(f"{label:<34}{_pct(o[f'R@{k}']):>10}")
    b = result["baselines"]
    lines += [
        "",
        "age estimate scored: "
        + result.get("age_estimate_rule", "the ordinal median (figures scored before the within-one rule)"),
        *(
            ["age estimates given (clips): "
             + ", ".join(f"{bracket} {o['age_estimates_given'].get(bracket, 0)}" for bracket in AGE_BRACKETS)]
            if "age_estimates_given" in o else []
        ),
        f"baselines: always '{b['age_majority_bracket']}' → age exact {_pct(b['age_majority_exact'])}, "
        f"within one {_pct(b['age_majority_within_one'])}; majority gender {_pct(b['gender_majority'])}; "
        "retrieval chance R@1/5/10 = "
        + "/".join(f"{100 * b['retrieval_chance'][f'R@{k}']:.0f}" for k in RECALL_KS)
        + " %",
        "retrieval knowing the TRUE gender and age bracket (mean face of that group): R@1/5/10 = "
        + "/".join(f"{100 * b['retrieval_true_gender_age'][f'R@{k}']:.1f}" for k in RECALL_KS)
        + " %",
    ]
    if "retrieval_pca_coefficients" in b:
        lines.append(
            "retrieval ranked by plain PCA coefficients instead: R@1/5/10 = "
            + "/".join(f"{100 * b['retrieval_pca_coefficients'][f'R@{k}']:.1f}" for k in RECALL_KS)
            + " %"
        )
    lines += [
        "",
        _group_table("gender", result["by_gender"]),
        "",
        _group_table("age bracket", {a: result["by_age"][a] for a in AGE_BRACKETS if a in result["by_age"]}),
        "",
        f"{'speech used':<14}{'gender':>9}{'age exact':>11}{'within one':>12}{'R@1':>8}{'R@5':>8}{'R@10':>8}",
    ]
    # shortest speech first, the whole clip last, whatever order the JSON keys came in
    for name, s in sorted(result["by_seconds"].items(), key=lambda item: _seconds_order(item[0])):
        lines.append(
            f"{name:<14}{_pct(s['gender_accuracy']):>9}{_pct(s['age_exact']):>11}"
            f"{_pct(s['age_within_one']):>12}{_pct(s['R@1']):>8}{_pct(s['R@5']):>8}{_pct(s['R@10']):>8}"
        )
    return "\n".join(lines)


def _seconds_order(name: str) -> float:
    """Sort key of a `by_seconds` row: its seconds ('3 s' → 3.0), the whole clip last."""
    return float("inf") if name == FULL else float(name.split()[0])


def _label_means(codes: np.ndarray, gender: np.ndarray, age: np.ndarray) -> Callable[[int, int], np.ndarray]:
    """Mean face code per (gender, age bracket) of the training rows; the overall mean if unseen."""
    overall = codes.mean(axis=0)
    means = {
        (int(g), int(a)): codes[(gender == g) & (age == a)].mean(axis=0)
        for g, a in set(zip(gender.tolist(), age.tolist()))
    }
    return lambda g, a: means.get((int(g), int(a)), overall)


def _group_table(title: str, groups: dict[str, dict[str, Any]]) -> str:
    rows = [f"{title:<14}{'n':>6}{'gender':>9}{'age exact':>11}{'within one':>12}"]
    for name, s in groups.items():
        rows.append(
            f"{name:<14}{s['n']:>6}{_pct(s['gender_accuracy']):>9}{_pct(s['age_exact']):>11}"
            f"{_pct(s['age_within_one']):>12}"
        )
    return "\n".join(rows)


def _finite(value: float) -> float | None:
    """None for the NaN of an empty group, so the figures stay valid JSON."""
    return None if value != value else value


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"
