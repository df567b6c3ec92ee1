"""Diarization accuracy: fs2f (with and without denoising) against the hand-made recipe
(silero VAD + resemblyzer partials at 16 per second + spectralcluster), on synthetic
conversations in four conditions and on pyannote.audio's real two-speaker sample.

DER: pyannote.metrics, collar 0.25 s, overlapped speech scored. The clustering settings
(threshold, merge threshold, smallest cluster in seconds) and the overlap detector's threshold
are cross-validated by fold (video ids never cross folds): each fold is scored with the
settings that do best on the other folds. The overlap detector is cross-validated too: each
fold's conversations are scored with a detector trained (by `overlap_training`, the shipped
recipe) on the clips of the other folds only; the five detectors are cached under
$FS2F_BENCH_CACHE. "fs2f, no overlap detector" is the pipeline without it (the resegmenter's
own rule at speaker changes). Per-speaker gender agreement uses the shipped face model. "95% CI"
is a bootstrap interval of the DER over draws of the conversations scored (`Score.der_interval`):
run other draws with `--seed`; `--seed 0 1 2` pools three draws (each conversation keeps its
fold), so that settings are chosen over all of them.

    PYTHONPATH=. python benchmarks/diarization.py --conversations 20
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import forensic_s2f  # noqa: F401  (offline settings first)
from benchmarks.conversations import CACHE, CONDITIONS, FOLDS, RATE, Conversation, build, degrade, shared_data
from forensic_s2f.audio.denoise import SpectralGateDenoiser
from forensic_s2f.audio.vad import SileroVAD
from forensic_s2f.diarize.annotation import build_annotation
from forensic_s2f.diarize.clustering import SpeakerClustering
from forensic_s2f.diarize.embeddings import WindowEmbeddings
from forensic_s2f.diarize.overlap import CHANNELS, DILATIONS, OverlapDetector, overlap_regions
from forensic_s2f.diarize.pipeline import Diarizer
from pyannote.core import Annotation
from pyannote.metrics.diarization import DiarizationErrorRate

THRESHOLDS = (0.85, 0.9, 0.95, 1.0, 1.05)  # SpeakerClustering.threshold grid
MERGE_THRESHOLDS = (None, 0.7)  # SpeakerClustering.merge_threshold grid (None: no merge step)
MIN_CLUSTER_SECONDS = (3.0, 4.0)  # SpeakerClustering.min_cluster_seconds grid
OVERLAP_THRESHOLDS = (0.2, 0.3, 0.5, 0.7)  # OverlapDetector.threshold grid


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
    overlap_found: float = 0.0  # seconds the hypothesis marks as overlapped
    overlap_true: float = 0.0  # seconds the reference marks as overlapped
    overlap_both: float = 0.0  # seconds both mark
    per_conversation: list = field(default_factory=list)  # (error seconds, scored seconds) of each conversation

    def add(self, reference: Annotation, hypothesis: Annotation, seconds: float, audio_seconds: float) -> dict:
        detail = DiarizationErrorRate(collar=0.25, skip_overlap=False)(reference, hypothesis, detailed=True)
        for key in self.components:
            self.components[key] += detail[key]
        self.per_conversation.append((detail["total"] * der_of(detail), detail["total"]))
        self.exact += int(len(hypothesis.labels()) == len(reference.labels()))
        self.count += 1
        self.seconds += seconds
        self.audio_seconds += audio_seconds
        found, true = hypothesis.get_overlap(), reference.get_overlap()
        self.overlap_found += found.duration()
        self.overlap_true += true.duration()
        self.overlap_both += sum((a & b).duration for a in found for b in true if a.intersects(b))
        return detail

    def row(self) -> str:
        total = max(self.components["total"], 1e-9)
        der = sum(self.components[k] for k in ("missed detection", "false alarm", "confusion")) / total
        parts = [f"{100 * der:6.2f}"] + [
            f"{100 * self.components[k] / total:5.2f}" for k in ("missed detection", "false alarm", "confusion")
        ]
        low, high = self.der_interval()
        parts.append(f"{100 * low:5.1f}-{100 * high:<5.1f}")
        parts.append(f"{100 * self.exact / max(self.count, 1):6.1f}")
        parts.append(f"{self.seconds / max(self.audio_seconds, 1e-9):.4f}")
        gender = f"{100 * self.gender_hits / self.gender_total:5.1f}" if self.gender_total else "  n/a"
        overlap = (f"{100 * self.overlap_both / max(self.overlap_found, 1e-9):5.1f}  "
                   f"{100 * self.overlap_both / max(self.overlap_true, 1e-9):5.1f}")
        return "  ".join(parts + [gender, overlap])

    def der_interval(self, resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
        """95 % interval of the pooled DER (a fraction) over draws of conversations: the 2.5th and
        97.5th percentiles of the DER of `resamples` bootstrap resamples of the conversations
        scored (seeded). One conversation of little speech and many errors moves a 20-conversation
        figure by points (docs/benchmarks.md, "A second draw of conversations")."""
        if not self.per_conversation:
            return float("nan"), float("nan")
        errors, totals = np.array(self.per_conversation).T
        drawn = np.random.default_rng(seed).integers(0, len(errors), (resamples, len(errors)))
        ders = errors[drawn].sum(axis=1) / np.maximum(totals[drawn].sum(axis=1), 1e-9)
        return float(np.percentile(ders, 2.5)), float(np.percentile(ders, 97.5))


def der_of(detail: dict) -> float:
    return (detail["missed detection"] + detail["false alarm"] + detail["confusion"]) / max(detail["total"], 1e-9)


def fold_detectors(steps: int, examples: int) -> dict[int, Path]:
    """Weights folder of an overlap detector per fold, trained on the other folds' clips
    (trained once, then read from the cache)."""
    from benchmarks.conversations import clips as all_clips
    from forensic_s2f.diarize.overlap import save_overlap_weights
    from forensic_s2f.diarize.overlap_training import train_overlap_network, training_clips

    fold_of = {c.clip_id: c.fold for c in all_clips()}
    folders = {}
    for fold in range(FOLDS):
        folder = CACHE / f"overlap-{CHANNELS}ch-{len(DILATIONS)}layers-{examples}x{steps}" / f"fold{fold}"
        if not (folder / "manifest.json").is_file():
            started = time.perf_counter()
            clips = training_clips(shared_data() / "s2f-pairs", keep=lambda c, f=fold: fold_of.get(c, f) != f)
            network, record = train_overlap_network(clips, seed=0, examples=examples, steps=steps)
            save_overlap_weights(network, folder, record)
            print(f"overlap detector without fold {fold}: trained in {time.perf_counter() - started:.0f} s", flush=True)
        folders[fold] = folder
    return folders


class Fs2fSteps:
    """The Diarizer's steps run separately, so embeddings and overlap probabilities are reused
    across settings. `detectors`: weights folder per fold (None: no overlap detector)."""

    def __init__(self, denoise: bool, detectors: dict[int, Path] | None, vad: SileroVAD | None = None) -> None:
        self.diarizer = Diarizer(vad=vad, overlap=None)
        self.denoiser = SpectralGateDenoiser() if denoise else None
        self.detectors = detectors

    def settings(self) -> tuple:
        overlap = OVERLAP_THRESHOLDS if self.detectors else (None,)
        return tuple(itertools.product(THRESHOLDS, MERGE_THRESHOLDS, MIN_CLUSTER_SECONDS, overlap))

    def prepare(self, samples: np.ndarray, fold: int | None):
        """Voice activity of the original audio (as `fs2f case analyze` takes it), embeddings of
        the denoised audio when denoising, overlap probabilities of the original audio from the
        detector that never saw this fold's clips (`fold` None: the shipped detector)."""
        regions = self.diarizer.vad(samples, RATE)
        probabilities = None
        if self.detectors:
            detector = OverlapDetector(self.detectors[fold]) if fold is not None else OverlapDetector()
            probabilities = detector.probabilities(samples, RATE, regions)
        if self.denoiser is not None:
            samples = self.denoiser(samples, RATE)
        return regions, self.diarizer.embedder(samples, RATE, regions), probabilities

    def finish(self, prepared, setting: tuple[float, float | None, float, float | None]) -> Annotation:
        """Cluster and resegment with `setting` = (threshold, merge_threshold,
        min_cluster_seconds, overlap threshold)."""
        regions, windows, probabilities = prepared
        if len(windows) == 0:
            return Annotation()
        threshold, merge_threshold, min_cluster_seconds, overlap_threshold = setting
        clustering = SpeakerClustering(
            threshold=threshold, merge_threshold=merge_threshold, min_cluster_seconds=min_cluster_seconds)
        labels = clustering(windows)
        overlaps = None
        if probabilities is not None:
            overlaps = overlap_regions(probabilities, overlap_threshold, OverlapDetector().min_seconds, regions)
        clustered = WindowEmbeddings(windows.starts, windows.ends, clustering.normalise(windows.vectors))
        return build_annotation(self.diarizer.resegmenter(clustered, labels, regions, overlaps))


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
    parser.add_argument("--seed", type=int, nargs="+", default=[0],
                        help="draw(s) of conversations; several are pooled, settings then chosen over all of them")
    parser.add_argument("--conditions", nargs="+", default=list(CONDITIONS))
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--no-denoise", action="store_true", help="skip the fs2f + denoise column")
    parser.add_argument("--gain-db", type=float, default=0.0,
                        help="play every conversation this many dB louder (negative: quieter)")
    parser.add_argument("--dc-offset", type=float, default=0.0,
                        help="add this DC offset (fraction of full scale) to every conversation, after the gain")
    parser.add_argument("--vad-level", default=None,
                        help="SileroVAD level_dbfs for fs2f ('none': silero hears the audio as recorded; "
                             "default: fs2f's own)")
    parser.add_argument("--detector-steps", type=int, default=5000, help="training steps of the fold detectors")
    parser.add_argument("--detector-examples", type=int, default=8000, help="training mixtures of the fold detectors")
    args = parser.parse_args()

    conversations = [c for seed in args.seed for c in build(args.conversations, seed)]
    total_audio = sum(len(c.samples) for c in conversations) / RATE
    speakers = [len(c.reference.labels()) for c in conversations]
    print(f"{len(conversations)} conversations, {total_audio / 60:.1f} min per condition, "
          f"speakers {min(speakers)}-{max(speakers)}, folds {FOLDS}")
    detectors = fold_detectors(args.detector_steps, args.detector_examples)
    vad = SileroVAD() if args.vad_level is None else SileroVAD(
        level_dbfs=None if args.vad_level == "none" else float(args.vad_level))
    gain, offset = np.float32(10 ** (args.gain_db / 20)), np.float32(args.dc_offset)
    print(f"VAD level_dbfs {vad.level_dbfs}, audio played {args.gain_db:+.0f} dB, DC offset {args.dc_offset:+.3f}")
    systems = {"fs2f": Fs2fSteps(False, detectors, vad), "fs2f, no overlap detector": Fs2fSteps(False, None, vad)}
    if not args.no_denoise:
        systems["fs2f+denoise"] = Fs2fSteps(True, detectors, vad)
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
                samples = degrade(conversation, condition) * gain + offset
                start = time.perf_counter()
                prepared = steps.prepare(samples, conversation.fold)
                prepare_seconds = time.perf_counter() - start
                by_setting = {}
                for setting in steps.settings():
                    start = time.perf_counter()
                    hypothesis = steps.finish(prepared, setting)
                    finish_seconds = time.perf_counter() - start
                    by_setting[setting] = (hypothesis, prepare_seconds + finish_seconds)
                runs.append((conversation, samples, by_setting))
            per_condition[condition] = runs
        # cross-validated settings: pooled over conditions, chosen on the other folds
        grid = steps.settings()
        errors = {f: {s: [0.0, 0.0] for s in grid} for f in range(FOLDS)}
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
            best_for[fold] = min(grid, key=outside)
        chosen_settings[name] = [best_for[f] for f in range(FOLDS)]
        overall = {s: sum(errors[f][s][0] for f in range(FOLDS)) / max(sum(errors[f][s][1] for f in range(FOLDS)), 1e-9) for s in grid}
        best = sorted(overall.items(), key=lambda item: item[1])[:5]
        clustering = SpeakerClustering()
        shipped = (clustering.threshold, clustering.merge_threshold, clustering.min_cluster_seconds,
                   OverlapDetector().threshold if steps.detectors else None)
        if shipped in overall:
            print(f"{name}: the shipped settings {shipped}: {100 * overall[shipped]:.2f}% over all folds and conditions")
        print(f"{name}: the 5 best (threshold, merge_threshold, min_cluster_seconds, overlap threshold) "
              "by DER over all folds and conditions: " + ", ".join(f"{s}: {100 * d:.2f}%" for s, d in best))
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
                samples = degrade(conversation, condition) * gain + offset
                start = time.perf_counter()
                hypothesis = baseline(samples)
                score.add(conversation.reference, hypothesis, time.perf_counter() - start, len(samples) / RATE)

    print("\nsettings chosen per fold (on the other folds):", chosen_settings)
    print(f"\n{'condition':<10} {'system':<26}  DER %  miss    FA   conf  95% CI       count%  RTF     gender%  "
          "overlap precision% recall%")
    for (condition, name), score in table.items():
        print(f"{condition:<10} {name:<26} {score.row()}")
    sample_table(systems, baseline, chosen_settings, gain, offset)


def sample_table(systems, baseline, chosen_settings, gain: np.float32, offset: np.float32) -> None:
    """DER on the real two-speaker recording pyannote.audio ships, with the settings most folds chose."""
    from pyannote.audio.sample import SAMPLE_FILE

    from forensic_s2f.audio.decode import load

    samples = load(SAMPLE_FILE["audio"]).samples * gain + offset
    reference = SAMPLE_FILE["annotation"]
    print("\npyannote sample (30 s, 2 speakers, real):")
    for name, steps in systems.items():
        setting = Counter(chosen_settings[name]).most_common(1)[0][0]
        hypothesis = steps.finish(steps.prepare(samples, None), setting)
        der = DiarizationErrorRate(collar=0.25, skip_overlap=False)(reference, hypothesis)
        print(f"  {name:<26} settings {setting}  DER {100 * der:5.2f} %  speakers {len(hypothesis.labels())}")
    if baseline is not None:
        der = DiarizationErrorRate(collar=0.25, skip_overlap=False)(reference, baseline(samples))
        print(f"  {'hand recipe':<26}                 DER {100 * der:5.2f} %")


if __name__ == "__main__":
    main()
