"""Plain views of a diarization (pyannote.core Annotation): RTTM, records, overlap, speech time.

All times in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyannote.core import Annotation, Segment, Timeline


def annotation_to_rttm(annotation: Annotation, uri: str) -> str:
    """Standard 10-field RTTM: `SPEAKER uri 1 start duration <NA> <NA> speaker <NA> <NA>`."""
    if not uri or any(c.isspace() for c in uri):
        raise ValueError(f"RTTM file id must be non-empty without spaces, got {uri!r}")
    lines = [
        f"SPEAKER {uri} 1 {segment.start:.3f} {segment.duration:.3f} <NA> <NA> {label} <NA> <NA>\n"
        for segment, _, label in annotation.itertracks(yield_label=True)
    ]
    return "".join(lines)


def overlap_fraction(annotation: Annotation) -> float:
    """Share of speech time where two or more speakers talk at once (0 when there is no speech)."""
    speech = annotation.get_timeline().support().duration()
    if speech == 0.0:
        return 0.0
    return annotation.get_overlap().duration() / speech


def solo_regions(annotation: Annotation, speaker: str) -> list[tuple[float, float]]:
    """Where `speaker` talks and nobody else does: the cleanest audio to describe them with."""
    own = annotation.label_timeline(speaker).support()
    others = Timeline([s for s, _, label in annotation.itertracks(yield_label=True) if label != speaker]).support()
    solo = own.extrude(others) if others else own
    return [(segment.start, segment.end) for segment in solo if segment.duration > 0]


def label_by_first_appearance(annotation: Annotation, prefix: str = "SPEAKER_") -> Annotation:
    """The same diarization with speakers renamed SPEAKER_00, SPEAKER_01 … in order of first speech."""
    order: dict = {}
    for _, _, label in annotation.itertracks(yield_label=True):
        order.setdefault(label, f"{prefix}{len(order):02d}")
    return annotation.rename_labels(mapping=order)


def build_annotation(segments: list[tuple[float, float, object]], uri: str | None = None) -> Annotation:
    """An Annotation from (start, end, label) triples, labels renamed by first appearance; one
    speaker's segments that touch or overlap are joined into one turn (`Annotation.support`: a
    window boundary inside a turn is no change of speaker, and would count as two segments in
    exports and reports)."""
    annotation = Annotation(uri=uri)
    for index, (start, end, label) in enumerate(sorted(segments, key=lambda s: (s[0], s[1]))):
        if end > start:
            annotation[Segment(start, end), index] = label
    return label_by_first_appearance(annotation.support())


@dataclass(frozen=True)
class Diarization:
    """Who spoke when, and `set_aside`: the (start, end) stretches, s, whose speech matched no
    speaker well and was too little to count as one (under the clustering's smallest cluster),
    given to the nearest speaker: a change of speaker, two voices at once, a laugh, or a person
    who spoke too little to be counted. A diarizer that sets nothing aside gives [].
    `free_count`: where limits on the speaker count (fixed or bounded) changed the count the
    clustering gives, the count it gives without them (None: no limits, limits that changed
    nothing, or a diarizer that cannot say)."""

    annotation: Annotation
    set_aside: list[tuple[float, float]] = field(default_factory=list)
    free_count: int | None = None
