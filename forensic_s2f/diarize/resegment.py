"""Refine speaker boundaries frame by frame, inside speech regions.

Each `frame_seconds` frame of speech is scored against every speaker's centroid by the mean
cosine similarity of the windows covering it; a Viterbi pass then picks one speaker per
frame, paying `switch_penalty` (in cosine-similarity units) for each change of speaker inside
continuous speech (a change across a pause is free). Segments end exactly at the speech
region boundaries. Frames of regions no window covered follow their neighbours.

Overlap, two rules that each give a stretch of speech a second speaker (never the one already
chosen there): where an overlap detector found two voices (`overlaps`, see `overlap.py`), the
speaker nearest in time other than the one chosen at its middle, if within
`second_speaker_reach_seconds` (overlaps mostly happen at a change of turn); and, unless
`overlap_margin` is None, a frame near a change of speaker inside continuous speech where the
neighbouring speaker scores within `overlap_margin` of the chosen one (the windows there hear
two voices at once).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from forensic_s2f.diarize.embeddings import WindowEmbeddings


class ViterbiResegmenter:
    """`__call__(windows, labels, regions) -> [(start, end, speaker_index)]`, seconds."""

    def __init__(
        self,
        frame_seconds: float = 0.1,
        switch_penalty: float = 0.3,
        overlap_margin: float | None = 0.1,
        overlap_reach_seconds: float = 0.5,
        second_speaker_reach_seconds: float = 1.0,
    ) -> None:
        if frame_seconds <= 0:
            raise ValueError("frame_seconds must be positive")
        self.frame_seconds = frame_seconds
        self.switch_penalty = switch_penalty
        self.overlap_margin = overlap_margin
        self.overlap_reach_seconds = overlap_reach_seconds
        self.second_speaker_reach_seconds = second_speaker_reach_seconds

    def get_params(self) -> dict:
        return {
            "method": "viterbi",
            "frame_seconds": self.frame_seconds,
            "switch_penalty": self.switch_penalty,
            "overlap_margin": self.overlap_margin,
            "overlap_reach_seconds": self.overlap_reach_seconds,
            "second_speaker_reach_seconds": self.second_speaker_reach_seconds,
        }

    def __call__(
        self,
        windows: WindowEmbeddings,
        labels: np.ndarray,
        regions: Sequence[tuple[float, float]],
        overlaps: Sequence[tuple[float, float]] | None = None,
    ) -> list[tuple[float, float, int]]:
        """Segments (start, end, speaker) in seconds; `overlaps`: detected overlapped speech."""
        if len(windows) == 0 or not regions:
            return []
        names = np.unique(labels)
        centroids = np.stack([windows.vectors[labels == k].mean(axis=0) for k in names])
        centroids /= np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)
        frames, region_of = self._speech_frames(regions)
        scores = self._frame_scores(windows, centroids, frames)
        path = self._viterbi(scores, region_of)
        segments = self._segments(frames, region_of, names[path], regions)
        extra = self._second_speakers(segments, overlaps) if overlaps is not None else []
        if self.overlap_margin is not None:
            extra += self._overlaps(frames, region_of, scores, path, names)
        return segments + _outside_own_speech(_merge_overlapping(extra), segments)

    def _second_speakers(
        self, segments: list[tuple[float, float, int]], overlaps: Sequence[tuple[float, float]]
    ) -> list[tuple[float, float, int]]:
        """For each detected overlap, the nearest segment's speaker other than the one speaking
        at its middle, if that segment lies within `second_speaker_reach_seconds`."""
        extra: list[tuple[float, float, int]] = []
        for start, end in overlaps:
            middle = (start + end) / 2
            present = {speaker for s, e, speaker in segments if s <= middle < e}
            gaps = [(max(0.0, s - end, start - e), speaker) for s, e, speaker in segments if speaker not in present]
            if present and gaps:
                gap, speaker = min(gaps)
                if gap <= self.second_speaker_reach_seconds:
                    extra.append((start, end, speaker))
        return extra

    def _overlaps(
        self, frames: np.ndarray, region_of: np.ndarray, scores: np.ndarray, path: np.ndarray, names: np.ndarray
    ) -> list[tuple[float, float, int]]:
        """Second-speaker segments on frames close to an in-speech change, where that speaker
        (the one on the other side of the change) scores within the margin."""
        reach = max(1, int(round(self.overlap_reach_seconds / self.frame_seconds)))
        second = np.full(len(frames), -1)
        changes = np.flatnonzero((path[1:] != path[:-1]) & (region_of[1:] == region_of[:-1])) + 1
        for change in changes:
            before, after = path[change - 1], path[change]
            for t in range(max(0, change - reach), min(len(frames), change + reach)):
                if region_of[t] != region_of[change]:
                    continue
                other = after if path[t] == before else before if path[t] == after else -1
                if other >= 0 and scores[t, path[t]] - scores[t, other] < self.overlap_margin:
                    second[t] = other
        extra: list[tuple[float, float, int]] = []
        for t in np.flatnonzero(second >= 0):
            start, end = frames[t] * self.frame_seconds, (frames[t] + 1) * self.frame_seconds
            speaker = int(names[second[t]])
            if extra and extra[-1][2] == speaker and abs(extra[-1][1] - start) < 1e-9:
                extra[-1] = (extra[-1][0], end, speaker)
            else:
                extra.append((start, end, speaker))
        return extra

    def _speech_frames(self, regions: Sequence[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
        """Indices of frames whose centre lies in speech, and the region each belongs to."""
        step = self.frame_seconds
        frames, owners = [], []
        for index, (start, end) in enumerate(regions):
            first = int(np.ceil(start / step - 0.5))
            last = int(np.ceil(end / step - 0.5))  # exclusive
            chosen = np.arange(first, last) if last > first else np.array([int((start + end) / 2 / step)])
            frames.append(chosen)
            owners.append(np.full(len(chosen), index))
        return np.concatenate(frames), np.concatenate(owners)

    def _frame_scores(self, windows: WindowEmbeddings, centroids: np.ndarray, frames: np.ndarray) -> np.ndarray:
        """Mean similarity of covering windows to each centroid per speech frame (0 if uncovered)."""
        step = self.frame_seconds
        total = int(frames.max()) + 2
        sums = np.zeros((total + 1, len(centroids)))
        counts = np.zeros(total + 1)
        similarity = windows.vectors @ centroids.T
        first = np.clip(np.ceil(windows.starts / step - 0.5).astype(int), 0, total)
        last = np.clip(np.ceil(windows.ends / step - 0.5).astype(int), 0, total)
        last = np.maximum(last, first + 1)
        np.add.at(sums, first, similarity)  # difference arrays: +at first covered, -after last
        np.add.at(sums, last, -similarity)
        np.add.at(counts, first, 1.0)
        np.add.at(counts, last, -1.0)
        sums, counts = np.cumsum(sums, axis=0)[frames], np.cumsum(counts)[frames]
        return np.where(counts[:, None] > 0.5, sums / np.maximum(counts, 1.0)[:, None], 0.0)

    def _viterbi(self, scores: np.ndarray, region_of: np.ndarray) -> np.ndarray:
        frames, speakers = scores.shape
        if speakers == 1:
            return np.zeros(frames, dtype=int)
        back = np.zeros((frames, speakers), dtype=np.int32)
        total = scores[0].copy()
        for t in range(1, frames):
            penalty = 0.0 if region_of[t] != region_of[t - 1] else self.switch_penalty
            best = int(np.argmax(total))
            switch = total[best] - penalty
            stay = total >= switch
            back[t] = np.where(stay, np.arange(speakers), best)
            total = np.where(stay, total, switch) + scores[t]
        path = np.empty(frames, dtype=int)
        path[-1] = int(np.argmax(total))
        for t in range(frames - 1, 0, -1):
            path[t - 1] = back[t, path[t]]
        return path

    def _segments(
        self,
        frames: np.ndarray,
        region_of: np.ndarray,
        speakers: np.ndarray,
        regions: Sequence[tuple[float, float]],
    ) -> list[tuple[float, float, int]]:
        segments: list[tuple[float, float, int]] = []
        for t in range(len(frames)):
            region = int(region_of[t])
            start, end = regions[region]
            speaker = int(speakers[t])
            if t == 0 or region_of[t - 1] != region:
                segments.append((start, end, speaker))
            elif speaker != speakers[t - 1]:  # a change inside continuous speech: cut there
                cut = float(frames[t] * self.frame_seconds)
                first, _, previous = segments[-1]
                segments[-1] = (first, cut, previous)
                segments.append((cut, end, speaker))
        return segments


def _merge_overlapping(segments: list[tuple[float, float, int]]) -> list[tuple[float, float, int]]:
    """The same segments with each speaker's overlapping ones joined (touching ones stay apart)."""
    merged: list[tuple[float, float, int]] = []
    for start, end, speaker in sorted(segments, key=lambda s: (s[2], s[0], s[1])):
        if merged and merged[-1][2] == speaker and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]), speaker)
        else:
            merged.append((start, end, speaker))
    return merged


def _outside_own_speech(
    extra: list[tuple[float, float, int]], segments: list[tuple[float, float, int]]
) -> list[tuple[float, float, int]]:
    """The parts of second-speaker segments where that speaker is not already the one chosen."""
    kept = []
    for start, end, speaker in extra:
        pieces = [(start, end)]
        for s, e, own in segments:
            if own == speaker:
                pieces = [part for a, b in pieces for part in ((a, min(b, s)), (max(a, e), b)) if part[1] > part[0]]
        kept += [(a, b, speaker) for a, b in pieces]
    return kept
