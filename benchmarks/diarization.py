"""Diarization accuracy: fs2f (with and without denoising) against the hand-made recipe
(silero VAD + resemblyzer partials at 16 per second + spectralcluster), on synthetic
conversations in four conditions and on pyannote.audio's real two-speaker sample.

DER: pyannote.metrics, collar 0.25 s, overlapped speech scored. The clustering threshold is
cross-validated by fold (video ids never cross folds): each fold is scored with the threshold
that does best on the other folds. Per-speaker gender agreement is computed when
`forensic_s2f.s2f.load_model` exists.

    PYTHONPATH=. python benchmarks/diarization.py --conversations 20
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field

import numpy as np

import forensic_s2f  # noqa: F401  (offline settings first)
from benchmarks.conversations import CONDITIONS, FOLDS, RATE, Conversation, build, degrade
from forensic_s2f.audio.denoise import SpectralGateDenoiser
from forensic_s2f.diarize.annotation import build_annotation
from forensic_s2f.diarize.clustering import SpeakerClustering
from forensic_s2f.diarize.embeddings import WindowEmbeddings
from forensic_s2f.diarize.pipeline import Diarizer
from pyannote.core import Annotation
from pyannote.metrics.diarization import DiarizationErrorRate

THRESHOLDS = (0.85, 0.9, 0.95, 1.0, 1.05)  # SpeakerClustering.threshold grid


@dataclass
class Score:
    """Summed DER components, exact-count hits and processing time over conversations."""

    components: dict = field(default_factory=lambda: {"total": 0.0, "missed detection": 0.0, "false alarm": 0.0, "confusion": 0.0})
    exact: int = 0
    count: int = 0
    seconds: float = 0.0
    audio_seconds: float = 0.0
    gender_hits: int = 0
    gender_total: int = 0

    def add(self, reference: Annotation, hypothesis: Annotation, seconds: float, audio_seconds: float) -> dict:
        detail = DiarizationErrorRate(collar=0.25, skip_overlap=False)(reference, hypothesis, detailed=True)
        for key in self.components:
            self.components[key] += detail[key]
        self.exact += int(len(hypothesis.labels()) == len(reference.labels()))
        self.count += 1
        self.seconds += seconds
        self.audio_seconds += audio_seconds
        return detail

    def row(self) -> str:
        total = max(self.components["total"], 1e-9)
        der = sum(self.components[k] for k in ("missed detection", "false alarm", "confusion")) / total
        parts = [f"{100 * der:6.2f}"] + [
            f"{100 * self.components[k] / total:5.2f}" for k in ("missed detection", "false alarm", "confusion")
        ]
        parts.append(f"{100 * self.exact / max(self.count, 1):6.1f}")
        parts.append(f"{self.seconds / max(self.audio_seconds, 1e-9):.4f}")
        gender = f"{100 * self.gender_hits / self.gender_total:5.1f}" if self.gender_total else "  n/a"
        return "  ".join(parts + [gender])


def der_of(detail: dict) -> float:
    return (detail["missed detection"] + detail["false alarm"] + detail["confusion"]) / max(detail["total"], 1e-9)


class Fs2fSteps:
    """The Diarizer's steps run separately, so embeddings are reused across thresholds."""

    def __init__(self, denoise: bool) -> None:
        self.diarizer = Diarizer()
        self.denoiser = SpectralGateDenoiser() if denoise else None

    def prepare(self, samples: np.ndarray):
        if self.denoiser is not None:
            samples = self.denoiser(samples, RATE)
        regions = self.diarizer.vad(samples, RATE)
        return regions, self.diarizer.embedder(samples, RATE, regions)

    def finish(self, prepared, threshold: float) -> Annotation:
        regions, windows = prepared
        if len(windows) == 0:
            return Annotation()
        clustering = SpeakerClustering(threshold=threshold)
        labels = clustering(windows)
        clustered = WindowEmbeddings(windows.starts, windows.ends, clustering.normalise(windows.vectors))
        return build_annotation(self.diarizer.resegmenter(clustered, labels, regions))


class HandRecipe:
    """What users assemble by hand: silero's get_speech_timestamps, resemblyzer's
    embed_utterance(return_partials=True, rate=16) on the concatenated speech (resemblyzer's
    diarization demo), and spectralcluster's SpectralClusterer with the ICASSP 2018 refinement
    its README gives (2..8 clusters); partial labels mapped back to time."""

    def __init__(self) -> None:
        from resemblyzer import VoiceEncoder
        from silero_vad import load_silero_vad
        from spectralcluster import (
            ICASSP2018_REFINEMENT_SEQUENCE,
            RefinementOptions,
            SpectralClusterer,
            ThresholdType,
        )

        self.vad_model = load_silero_vad()
        self.encoder = VoiceEncoder("cpu", verbose=False)
        refinement = RefinementOptions(
            gaussian_blur_sigma=1,
            p_percentile=0.95,
            thresholding_soft_multiplier=0.01,
            thresholding_type=ThresholdType.RowMax,
            refinement_sequence=ICASSP2018_REFINEMENT_SEQUENCE,
        )
        self.clusterer = SpectralClusterer(
            min_clusters=2, max_clusters=8, autotune=None, laplacian_type=None,
            refinement_options=refinement, custom_dist="cosine",
        )

    def __call__(self, samples: np.ndarray) -> Annotation:
        import torch
        from silero_vad import get_speech_timestamps

        stamps = get_speech_timestamps(torch.from_numpy(samples), self.vad_model, sampling_rate=RATE)
        if not stamps:
            return Annotation()
        speech = np.concatenate([samples[s["start"] : s["end"]] for s in stamps])
        original = np.concatenate([np.arange(s["start"], s["end"]) for s in stamps])
        _, partials, slices = self.encoder.embed_utterance(speech, return_partials=True, rate=16)
        labels = self.clusterer.predict(partials) if len(partials) > 2 else np.zeros(len(partials), int)
        centres = np.array([(s.start + min(s.stop, len(speech))) / 2 for s in slices])
        segments = []
        for stamp in stamps:
            first = np.searchsorted(original, stamp["start"])
            positions = np.arange(first, first + stamp["end"] - stamp["start"], RATE // 100)
            nearest = labels[np.abs(centres[None, :] - positions[:, None]).argmin(axis=1)]
            change = np.flatnonzero(np.diff(nearest)) + 1
            bounds = np.concatenate([[0], change, [len(positions)]])
            for a, b in zip(bounds[:-1], bounds[1:]):
                start = stamp["start"] / RATE + a * 0.01
                end = min(stamp["end"] / RATE, stamp["start"] / RATE + b * 0.01)
                segments.append((start, end, int(nearest[a])))
        return build_annotation(segments)


def gender_model():
    from forensic_s2f.s2f.model import load_model

    return load_model()


def add_gender(score: Score, model, conversation: Conversation, samples: np.ndarray, hypothesis: Annotation) -> None:
    """Per hypothesis speaker: predicted gender on their solo speech vs the mapped reference speaker's label."""
    from forensic_s2f.diarize.annotation import solo_regions

    mapping = DiarizationErrorRate().optimal_mapping(conversation.reference, hypothesis)
    for speaker, reference_speaker in mapping.items():
        truth = conversation.genders.get(reference_speaker)
        if truth not in ("F", "M"):
            continue
        prediction = model.predict(samples, RATE, speech_regions=solo_regions(hypothesis, speaker))
        guess = "F" if prediction.gender["female"] >= 0.5 else "M"
        score.gender_hits += int(guess == truth)
        score.gender_total += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--conditions", nargs="+", default=list(CONDITIONS))
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()

    conversations = build(args.conversations, args.seed)
    total_audio = sum(len(c.samples) for c in conversations) / RATE
    speakers = [len(c.reference.labels()) for c in conversations]
    print(f"{len(conversations)} conversations, {total_audio / 60:.1f} min per condition, "
          f"speakers {min(speakers)}-{max(speakers)}, folds {FOLDS}")
    systems = {"fs2f": Fs2fSteps(denoise=False), "fs2f+denoise": Fs2fSteps(denoise=True)}
    baseline = None
    if not args.no_baseline:
        try:
            baseline = HandRecipe()
        except ImportError:
            print("hand-made recipe skipped: `pip install spectralcluster` to compare")
    model = gender_model()

    # details[system][condition] = list of (fold, {threshold: (detail, hypothesis)}, seconds)
    table: dict[tuple[str, str], Score] = {}
    chosen_thresholds: dict[str, list[float]] = {}
    for name, steps in systems.items():
        per_condition: dict[str, list] = {}
        for condition in args.conditions:
            runs = []
            for conversation in conversations:
                samples = degrade(conversation, condition)
                start = time.perf_counter()
                prepared = steps.prepare(samples)
                prepare_seconds = time.perf_counter() - start
                by_threshold = {}
                for threshold in THRESHOLDS:
                    start = time.perf_counter()
                    hypothesis = steps.finish(prepared, threshold)
                    finish_seconds = time.perf_counter() - start
                    by_threshold[threshold] = (hypothesis, prepare_seconds + finish_seconds)
                runs.append((conversation, samples, by_threshold))
            per_condition[condition] = runs
        # cross-validated threshold: pooled over conditions, chosen on the other folds
        errors = {f: {t: [0.0, 0.0] for t in THRESHOLDS} for f in range(FOLDS)}
        for runs in per_condition.values():
            for conversation, _, by_threshold in runs:
                for threshold, (hypothesis, _) in by_threshold.items():
                    detail = DiarizationErrorRate(collar=0.25, skip_overlap=False)(
                        conversation.reference, hypothesis, detailed=True)
                    errors[conversation.fold][threshold][0] += detail["total"] * der_of(detail)
                    errors[conversation.fold][threshold][1] += detail["total"]
        best_for = {}
        for fold in range(FOLDS):
            def outside(t):
                err = sum(errors[f][t][0] for f in range(FOLDS) if f != fold)
                return err / max(sum(errors[f][t][1] for f in range(FOLDS) if f != fold), 1e-9)
            best_for[fold] = min(THRESHOLDS, key=outside)
        chosen_thresholds[name] = [best_for[f] for f in range(FOLDS)]
        overall = {t: sum(errors[f][t][0] for f in range(FOLDS)) / max(sum(errors[f][t][1] for f in range(FOLDS)), 1e-9) for t in THRESHOLDS}
        print(f"{name}: DER by threshold (all folds, all conditions): "
              + ", ".join(f"{t}: {100 * d:.2f}%" for t, d in overall.items()))
        for condition, runs in per_condition.items():
            score = table.setdefault((condition, name), Score())
            for conversation, samples, by_threshold in runs:
                hypothesis, seconds = by_threshold[best_for[conversation.fold]]
                score.add(conversation.reference, hypothesis, seconds, len(samples) / RATE)
                add_gender(score, model, conversation, samples, hypothesis)
    if baseline is not None:
        for condition in args.conditions:
            score = table.setdefault((condition, "hand recipe"), Score())
            for conversation in conversations:
                samples = degrade(conversation, condition)
                start = time.perf_counter()
                hypothesis = baseline(samples)
                score.add(conversation.reference, hypothesis, time.perf_counter() - start, len(samples) / RATE)

    print("\nthresholds chosen per fold (on the other folds):", chosen_thresholds)
    print(f"\n{'condition':<10} {'system':<13}  DER %  miss    FA   conf  count%  RTF     gender%")
    for (condition, name), score in table.items():
        print(f"{condition:<10} {name:<13} {score.row()}")
    sample_table(systems, baseline, chosen_thresholds)


def sample_table(systems, baseline, chosen_thresholds) -> None:
    """DER on the real two-speaker recording pyannote.audio ships."""
    from pyannote.audio.sample import SAMPLE_FILE

    from forensic_s2f.audio.decode import load

    samples = load(SAMPLE_FILE["audio"]).samples
    reference = SAMPLE_FILE["annotation"]
    print("\npyannote sample (30 s, 2 speakers, real):")
    for name, steps in systems.items():
        threshold = float(np.median(chosen_thresholds[name]))
        hypothesis = steps.finish(steps.prepare(samples), threshold)
        der = DiarizationErrorRate(collar=0.25, skip_overlap=False)(reference, hypothesis)
        print(f"  {name:<13} threshold {threshold:.2f}  DER {100 * der:5.2f} %  speakers {len(hypothesis.labels())}")
    if baseline is not None:
        der = DiarizationErrorRate(collar=0.25, skip_overlap=False)(reference, baseline(samples))
        print(f"  {'hand recipe':<13}                 DER {100 * der:5.2f} %")


if __name__ == "__main__":
    main()
