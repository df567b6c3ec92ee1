"""Who spoke when: speech regions → window embeddings → clustering → overlap detection → resegmentation.

`Diarizer()(samples, sample_rate)` returns a pyannote.core Annotation, speakers labelled
SPEAKER_00, SPEAKER_01 … in order of first appearance. Times in seconds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import numpy as np
from pyannote.core import Annotation, Segment, Timeline

from forensic_s2f.audio.pcm import Samples, as_samples
from forensic_s2f.audio.resample import resample
from forensic_s2f.diarize.annotation import Diarization, build_annotation
from forensic_s2f.diarize.clustering import SpeakerClustering
from forensic_s2f.diarize.embeddings import ENCODER_SAMPLE_RATE, WindowEmbedder, WindowEmbeddings
from forensic_s2f.diarize.overlap import OverlapDetector
from forensic_s2f.diarize.resegment import ViterbiResegmenter
from forensic_s2f.audio.vad import SileroVAD

SpeechRegions = Callable[[np.ndarray, int], list[tuple[float, float]]]


class Diarizer:
    """Speaker diarization with an automatic speaker count.

    vad: `(samples, sample_rate) -> [(start, end)]` seconds, used when no speech regions are
    passed; embedder, clustering, overlap, resegmenter: the swappable steps (see their modules;
    `overlap` None: no overlap detector; the resegmenter's own rule at speaker changes applies
    either way).
    Audio at another rate is resampled to 16 kHz first.
    """

    def __init__(
        self,
        vad: SpeechRegions | None = None,
        embedder: WindowEmbedder | None = None,
        clustering: SpeakerClustering | None = None,
        resegmenter: ViterbiResegmenter | None = None,
        overlap: OverlapDetector | None | Literal["default"] = "default",
    ) -> None:
        self.vad = vad if vad is not None else SileroVAD()
        self.embedder = embedder if embedder is not None else WindowEmbedder()
        self.clustering = clustering if clustering is not None else SpeakerClustering()
        self.resegmenter = resegmenter if resegmenter is not None else ViterbiResegmenter()
        self.overlap = OverlapDetector() if overlap == "default" else overlap

    def get_params(self) -> dict:
        return {
            "vad": _params_of(self.vad),
            "embedder": self.embedder.get_params(),
            "clustering": self.clustering.get_params(),
            "overlap": self.overlap.get_params() if self.overlap is not None else None,
            "resegmenter": self.resegmenter.get_params(),
        }

    def __call__(self, *args, **kwargs) -> Annotation:
        """`diarize(...)`'s annotation alone (same arguments)."""
        return self.diarize(*args, **kwargs).annotation

    def diarize(
        self,
        samples: Samples,
        sample_rate: int,
        speech_regions: Sequence[tuple[float, float]] | None = None,
        num_speakers: int | None = None,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
    ) -> Diarization:
        """The annotation, and the stretches of speech the clustering set aside (see `Diarization`)."""
        samples = as_samples(samples)
        if sample_rate != ENCODER_SAMPLE_RATE:  # (the analysis always gives 16 kHz audio)
            samples = resample(samples[0: len(samples)], sample_rate, ENCODER_SAMPLE_RATE)
            sample_rate = ENCODER_SAMPLE_RATE
        duration = len(samples) / sample_rate
        regions = self.vad(samples, sample_rate) if speech_regions is None else speech_regions
        regions = [(max(0.0, float(s)), min(duration, float(e))) for s, e in regions]
        regions = [(s, e) for s, e in sorted(regions) if e > s]
        windows = self.embedder(samples, sample_rate, regions)
        if len(windows) == 0:
            return Diarization(Annotation(), [])
        clusters = self.clustering.cluster(windows, num_speakers, min_speakers, max_speakers)
        free_count = None  # (set where the examiner's limits changed the count)
        if any(limit is not None for limit in (num_speakers, min_speakers, max_speakers)):
            free = int(self.clustering(windows).max()) + 1
            free_count = free if free != int(clusters.labels.max()) + 1 else None
        overlaps = self.overlap(samples, sample_rate, regions) if self.overlap is not None else None
        # boundaries are refined in the space the clusters were found in
        clustered = WindowEmbeddings(windows.starts, windows.ends, self.clustering.normalise(windows.vectors))
        annotation = build_annotation(self.resegmenter(clustered, clusters.labels, regions, overlaps))
        return Diarization(annotation, _stretches(windows, clusters.set_aside), free_count)


def _stretches(windows: WindowEmbeddings, marked: np.ndarray) -> list[tuple[float, float]]:
    """The marked windows' time, touching or overlapping windows joined."""
    spans = Timeline([Segment(float(s), float(e)) for s, e in zip(windows.starts[marked], windows.ends[marked])])
    return [(segment.start, segment.end) for segment in spans.support()]


def _params_of(step: object) -> dict:
    """A step's recorded parameters; a plain function is recorded by its qualified name."""
    if hasattr(step, "get_params"):
        return step.get_params()
    return {"callable": f"{getattr(step, '__module__', '?')}.{getattr(step, '__qualname__', type(step).__name__)}"}
