"""Test fixtures for the report: analysis runs recorded through the store API with drawn images.

The face, uncertainty and member images here are PIL drawings and the validation figures a
JSON this module writes: clearly test fixtures, never model output. Evidence is real audio
ingested through the CLI; runs, activities and artifacts go through the real store.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from conftest import write_tone
from forensic_s2f.store.case_store import CaseStore
from forensic_s2f.store.runs import EvidenceResult, SpeakerResult

FIXTURE_MODEL = {"name": "fixture-ensemble-v0", "sha256": "ab" * 32}
AGE_BRACKETS = ("<18", "18-29", "30-44", "45-59", "60+")


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def drawn_face(seed: int, size: int = 224) -> Image.Image:
    """A grey cartoon face whose proportions depend on `seed` (a test drawing)."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (size, size), (236, 236, 236))
    draw = ImageDraw.Draw(image)
    width = int(size * rng.uniform(0.28, 0.36))
    tone = tuple(int(v) for v in rng.integers(150, 210, 3))
    draw.ellipse([size // 2 - width, int(size * 0.14), size // 2 + width, int(size * 0.9)], fill=tone)
    for side in (-1, 1):
        x = size // 2 + side * width // 2
        draw.ellipse([x - 9, int(size * 0.42) - 5, x + 9, int(size * 0.42) + 5], fill=(60, 60, 60))
    draw.line([size // 2 - 22, int(size * 0.72), size // 2 + 22, int(size * 0.72)], fill=(110, 60, 60), width=4)
    return image


def speaker_images(seed: int, members: int = 5) -> dict[str, bytes]:
    """face.png, uncertainty.png and members.png bytes for one drawn speaker."""
    face = drawn_face(seed)
    spread = np.abs(np.random.default_rng(seed).normal(0, 1, (28, 28)))
    uncertainty = Image.fromarray((255 * spread / spread.max()).astype(np.uint8)).resize((224, 224)).convert("RGB")
    strip = Image.new("RGB", (112 * members, 112), "white")
    for index in range(members):
        strip.paste(drawn_face(seed * 100 + index, 112), (112 * index, 0))
    return {"face": _png(face), "uncertainty": _png(uncertainty), "members": _png(strip)}


def prediction(seed: int, seconds: float, warnings: list[str]) -> dict:
    rng = np.random.default_rng(seed)
    female = float(round(rng.uniform(0.02, 0.98), 3))
    age = rng.dirichlet(np.ones(len(AGE_BRACKETS)) * 0.7)
    return {
        "gender": {"female": female, "male": round(1 - female, 3)},
        "gender_member_spread": {"female": 0.04, "male": 0.04},
        "age": {label: float(round(p, 3)) for label, p in zip(AGE_BRACKETS, age, strict=True)},
        "age_member_spread": {label: 0.05 for label in AGE_BRACKETS},
        "seconds_used": seconds, "model": FIXTURE_MODEL, "warnings": warnings,
    }


def record_run(store: CaseStore, case_id: str, evidence_id: int, duration: float, speakers: int,
               examiner: str = "Ann", denoise: bool = True, unestimated: tuple[int, ...] = (),
               count: dict | None = None) -> int:
    """A completed run on one evidence with `speakers` speakers taking turns; returns the run id.
    Speakers whose index is in `unestimated` get no estimate, as `case analyze` records one with
    too little speech; `count` holds the run's num_speakers / min_speakers / max_speakers options."""
    run = store.start_run(case_id, examiner, {"options": {"denoise": denoise, **(count or {})}}, [evidence_id])
    software = {"fs2f": "0.1.0", "python": "3.11", "numpy": "2.4.6"}
    activity = store.start_activity(case_id, "diarize", examiner, {"window_seconds": 1.5}, software,
                                    [{"evidence_id": evidence_id}], run_id=run.id)
    store.finish_activity(activity.id, examiner, outputs=[{"speakers": speakers}])
    segments, results = [], []
    if speakers:
        turn = duration / (2 * speakers)
        segments = [(f"SPEAKER_{i % speakers:02d}", round(i * turn, 3), round((i + 0.9) * turn, 3))
                    for i in range(2 * speakers)]
    for index in range(speakers):
        label = f"SPEAKER_{index:02d}"
        seconds = round(2 * 0.9 * turn, 3)
        warnings = ["only 0.8 s of speech: low reliability"] if index == 1 else []
        pred = prediction(index + 7, 0.8 if index == 1 else seconds, warnings)
        images = speaker_images(index + 1)
        if index in unestimated:
            warnings, pred, images = ["no voice-to-face estimate: only 0.4 s of speech, at least 1 s is needed"], {}, {}
        activity = store.start_activity(case_id, "speech2face", examiner, {"label": label}, software,
                                        [{"evidence_id": evidence_id}], model_name=FIXTURE_MODEL["name"],
                                        model_sha256=FIXTURE_MODEL["sha256"], run_id=run.id)
        rows = store.finish_activity(activity.id, examiner, outputs=[], artifacts=[
            *[(kind, f"E{evidence_id}-{label}-{kind}.png", data, "image/png") for kind, data in images.items()],
            *([("prediction", f"E{evidence_id}-{label}-prediction.json", json.dumps(pred).encode(), "application/json")]
              if pred else []),
        ])
        results.append(SpeakerResult(label, seconds, 2, pred, {"snr_db": 18.5, "snr_method": "blind percentile estimate",
                                                               "clipping_fraction": 0.0},
                                     warnings, {row.kind: row.id for row in rows}))
    quality = {"duration_seconds": duration, "speech_seconds": sum(e - s for _, s, e in segments), "snr_db": 18.5,
               "snr_method": "speech vs pauses", "clipping_fraction": 0.0, "effective_bandwidth_hz": 7600.0,
               "is_telephone_band": False, "overlap_fraction": 0.0}
    warnings = [] if speakers else ["no speech found: no speakers to analyse"]
    store.record_result(run.id, examiner, EvidenceResult(evidence_id, quality, warnings, segments, results))
    store.finish_run(run.id, examiner, "completed")
    return run.id


def record_first_evidence_run(store_dir: Path, case_id: str, duration: float, speakers: int, **options) -> int:
    """`record_run` on the case's first evidence file, through a store opened and closed here."""
    store = CaseStore(store_dir)
    try:
        return record_run(store, case_id, store.evidence(case_id)[0].id, duration, speakers, **options)
    finally:
        store.close()


def make_case(cli, store_dir: Path, tmp_path: Path, case_id: str, speakers: int, seconds: float = 12.0) -> int:
    """Ingest a generated WAV through the CLI and record a run with `speakers` speakers; returns the run id."""
    audio = write_tone(tmp_path / f"{case_id}-interview.wav", seconds=seconds, frequency=180.0 + 10 * speakers)
    result = cli("case", "add", case_id, audio, "-e", "Ann", "--title", f"Test case {case_id}",
                 "--source", "exhibit AB/3", "--note", "copied from seized phone")
    assert result.code == 0, result
    store = CaseStore(store_dir)
    try:
        return record_run(store, case_id, store.evidence(case_id)[0].id, seconds, speakers)
    finally:
        store.close()


# The layout `fs2f model evaluate` writes into the weights folder (see s2f/evaluate.py), with
# made-up figures: a test fixture, never shipped.
FIXTURE_VALIDATION = {
    "clips": 762, "videos": 736, "folds": 5, "members": 5, "seed": 0, "pool_size": 50, "pools_per_query": 20,
    "overall": {"n": 762, "gender_accuracy": 0.9612, "gender_ece": 0.021, "age_exact": 0.4731,
                "age_within_one": 0.9188, "R@1": 0.0812, "R@5": 0.3044, "R@10": 0.4677},
    "baselines": {"retrieval_chance": {"R@1": 0.02, "R@5": 0.1, "R@10": 0.2}, "age_majority_bracket": "30-44",
                  "age_majority_exact": 0.3832, "age_majority_within_one": 0.8556},
    "by_gender": {"female": {"n": 287, "gender_accuracy": 0.9373, "age_exact": 0.45, "age_within_one": 0.9},
                  "male": {"n": 471, "gender_accuracy": 0.9745, "age_exact": 0.49, "age_within_one": 0.93}},
    "by_age": {label: {"n": 100 + i, "gender_accuracy": 0.95, "age_exact": 0.4 + i / 100, "age_within_one": 0.9}
               for i, label in enumerate(AGE_BRACKETS)},
    "by_seconds": {"1 s": {"gender_accuracy": 0.8811, "age_exact": 0.3522, "age_within_one": 0.8433},
                   "3 s": {"gender_accuracy": 0.9391, "age_within_one": 0.9011},
                   "whole clip": {"gender_accuracy": 0.9612, "age_exact": 0.4731, "age_within_one": 0.9188}},
}


def write_validation(path: Path) -> Path:
    """The fixture figures, beside the config and manifest naming the validated weights."""
    path.write_text(json.dumps(FIXTURE_VALIDATION, indent=1, sort_keys=True))  # as `fs2f model evaluate` writes it
    (path.parent / "config.json").write_text(json.dumps({"name": FIXTURE_MODEL["name"],
                                                         "training": {"data": "fixture description of the training data"}}))
    (path.parent / "manifest.json").write_text(json.dumps({"files": {"model.npz": FIXTURE_MODEL["sha256"]}}))
    return path
