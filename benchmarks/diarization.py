"""Diarization accuracy: fs2f (with and without denoising) against the hand-made recipe
(silero VAD + resemblyzer partials at 16 per second + spectralcluster), on synthetic
conversations in four conditions and on pyannote.audio's real two-speaker sample.

DER: pyannote.metrics, collar 0.25 s, overlapped speech scored. The clustering settings
(threshold, merge threshold, smallest cluster in seconds) are cross-validated by fold (video
ids never cross folds): each fold is scored with the settings that do best on the other
folds. Per-speaker gender agreement is computed when `forensic_s2f.s2f.load_model` exists.

    PYTHONPATH=. python benchmarks/diarization.py --conversations 20
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections import Counter
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
MERGE_THRESHOLDS = (None, 0.7)  # SpeakerClustering.merge_threshold grid (None: no merge step)
MIN_CLUSTER_SECONDS = (3.0, 4.0)  # SpeakerClustering.min_cluster_seconds grid
SETTINGS = tuple(itertools.product(THRESHOLDS, MERGE_THRESHOLDS, MIN_CLUSTER_SECONDS))


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
    """The Diarizer's steps run separately, so embeddings are reused across clustering settings."""

    def __init__(self, denoise: bool) -> None:
        self.diarizer = Diarizer()
        self.denoiser = SpectralGateDenoiser() if denoise else None

    def prepare(self, samples: np.ndarray):
        """Voice activity of the original audio (as `fs2f case analyze` takes it), embeddings of
        the denoised audio when denoising."""
        regions = self.diarizer.vad(samples, RATE)
        if self.denoiser is not None:
            samples = self.denoiser(samples, RATE)
        return regions, self.diarizer.embedder(samples, RATE, regions)

    def finish(self, prepared, setting: tuple[float, float | None, float]) -> Annotation:
        """Cluster and resegment with `setting` = (threshold, merge_threshold, min_cluster_seconds)."""
        regions, windows = prepared
        if len(windows) == 0:
            return Annotation()
        threshold, merge_threshold, min_cluster_seconds = setting
        clustering = SpeakerClustering(
            threshold=threshold, merge_threshold=merge_threshold, min_cluster_seconds=min_cluster_seconds)
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

    table: dict[tuple[str, str], Score] = {}
    chosen_settings: dict[str, list[tuple]] = {}
    for name, steps in systems.items():
        per_condition: dict[str, list] = {}
        for condition in args.conditions:
            runs = []
            for conversation in conversations:
                samples = degrade(conversation, condition)
                start = time.perf_counter()
                prepared = steps.prepare(samples)
                prepare_seconds = time.perf_counter() - start
                by_setting = {}
                for setting in SETTINGS:
                    start = time.perf_counter()
                    hypothesis = steps.finish(prepared, setting)
                    finish_seconds = time.perf_counter() - start
                    by_setting[setting] = (hypothesis, prepare_seconds + finish_seconds)
                runs.append((conversation, samples, by_setting))
            per_condition[condition] = runs
        # cross-validated settings: pooled over conditions, chosen on the other folds
        errors = {f: {s: [0.0, 0.0] for s in SETTINGS} for f in range(FOLDS)}
        for runs in per_condition.values():
            for conversation, _, by_setting in runs:
                for setting, (hypothesis, _) in by_setting.items():
                    detail = DiarizationErrorRate(collar=0.25, skip_overlap=False)(
                        conversation.reference, hypothesis, detailed=True)
                    errors[conversation.fold][setting][0] += detail["total"] * der_of(detail)
                    errors[conversation.fold][setting][1] += detail["total"]
        best_for = {}
        for fold in range(FOLDS):
            def outside(s):
                err = sum(errors[f][s][0] for f in range(FOLDS) if f != fold)
                return err / max(sum(errors[f][s][1] for f in range(FOLDS) if f != fold), 1e-9)
            best_for[fold] = min(SETTINGS, key=outside)
        chosen_settings[name] = [best_for[f] for f in range(FOLDS)]
        overall = {s: sum(errors[f][s][0] for f in range(FOLDS)) / max(sum(errors[f][s][1] for f in range(FOLDS)), 1e-9) for s in SETTINGS}
        print(f"{name}: DER by (threshold, merge_threshold, min_cluster_seconds) (all folds, all conditions): "
              + ", ".join(f"{s}: {100 * d:.2f}%" for s, d in overall.items()))
        for condition, runs in per_condition.items():
            score = table.setdefault((condition, name), Score())
            for conversation, samples, by_setting in runs:
                hypothesis, seconds = by_setting[best_for[conversation.fold]]
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

    print("\nsettings chosen per fold (on the other folds):", chosen_settings)
    print(f"\n{'condition':<10} {'system':<13}  DER %  miss    FA   conf  count%  RTF     gender%")
    for (condition, name), score in table.items():
        print(f"{condition:<10} {name:<13} {score.row()}")
    sample_table(systems, baseline, chosen_settings)


def sample_table(systems, baseline, chosen_settings) -> None:
    """DER on the real two-speaker recording pyannote.audio ships, with the settings most folds chose."""
    from pyannote.audio.sample import SAMPLE_FILE

    from forensic_s2f.audio.decode import load

    samples = load(SAMPLE_FILE["audio"]).samples
    reference = SAMPLE_FILE["annotation"]
    print("\npyannote sample (30 s, 2 speakers, real):")
    for name, steps in systems.items():
        setting = Counter(chosen_settings[name]).most_common(1)[0][0]
        hypothesis = steps.finish(steps.prepare(samples), setting)
        der = DiarizationErrorRate(collar=0.25, skip_overlap=False)(reference, hypothesis)
        print(f"  {name:<13} settings {setting}  DER {100 * der:5.2f} %  speakers {len(hypothesis.labels())}")
    if baseline is not None:
        der = DiarizationErrorRate(collar=0.25, skip_overlap=False)(reference, baseline(samples))
        print(f"  {'hand recipe':<13}                 DER {100 * der:5.2f} %")


if __name__ == "__main__":
    main()
