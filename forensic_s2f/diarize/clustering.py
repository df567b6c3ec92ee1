"""Group window embeddings by speaker, choosing the number of speakers when it is not given.

Single 1.6 s GE2E windows are noisy (same-speaker windows lie about 0.2 apart in cosine
distance, while two speakers on one microphone may lie only 0.3 apart), so clustering works on
"pieces": runs of `piece_windows` consecutive windows of continuous speech, averaged. The
recording's mean embedding is removed first (what all speech in the recording shares:
channel, room, codec), which spreads speakers apart and makes one threshold fit clean,
noisy and telephone audio alike. Pieces are then grouped by average-linkage agglomerative
clustering on cosine distance, cut at `threshold` unless `num_speakers` fixes the count;
`min_speakers` and `max_speakers` bound an automatic count. Clusters holding less than
`min_cluster_seconds` of speech are folded into their nearest large cluster: a few stray
windows (a laugh, a cough, overlapped speech) are not a speaker.

With an automatic count, a merge step follows: each cluster's centroid is taken over all its
windows (far steadier than a 3.2 s piece), and the two closest clusters are joined while their
centroid cosine distance is under `merge_threshold`. On benchmarks/diarization.py (20
conversations in 4 conditions, cut at 0.9) no two different speakers' clusters lay under 0.76
apart, while 3 of the 18 splits of one speaker into two clusters lay under 0.7 and are joined;
the other splits lie as far apart as different voices. `threshold`, `merge_threshold` and
`min_cluster_seconds` are cross-validated together there, by fold: 0.9 / 0.7 / 4 s lower
pooled DER from 11.05 % (0.95 / none / 3 s) to 10.22 %. A larger `min_cluster_seconds` would
count better there but drops a real speaker who talks for only 5-6 s.

Last, a blend step (automatic count, three or more clusters): pieces that straddle a change of
speaker, or hold two voices at once, form clusters of their own whose speech grows with the
number of turns, so an absolute `min_cluster_seconds` cannot hold them back in a long
recording (15-minute two- to four-speaker conversations were counted exactly in 42 %). A
cluster's mean embedding (GE2E space, not centred) is compared with the segment between the
mean embeddings of two larger clusters: a cluster closer to that segment than `blend_ratio`
times the length of the segment is a blend of those two voices, and its windows join their
nearest cluster. The ratio is unchanged by what all speech shares (the channel). On
exploration sets of 1-15 minute conversations in the four conditions every two-voice cluster lay
under 0.55, every real speaker above 0.58; on benchmarks/speaker_count.py's own conversations it
raised the exact count of 15-minute ones from 33-75 % to 50-83 % and folded one real speaker
(docs/benchmarks.md, speaker count in long conversations).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import pdist

from forensic_s2f.diarize.embeddings import WindowEmbeddings


@dataclass(frozen=True)
class Clusters:
    """Labels (0..K-1 by first appearance), one per window, and `set_aside`: the windows of a
    cluster folded away for holding under `min_cluster_seconds` of speech whose voice is unlike
    the speaker that took them (mean embeddings' cosine similarity under
    `set_aside_similarity`): a change of speaker, two voices at once, a laugh, or a person who
    spoke too little to be counted; groups under SET_ASIDE_MIN_SECONDS are not reported. On 25
    single-speaker s2f clips 1 of 43 folded groups lay under 0.7 (0.65, of 0.7 s; the others
    0.70-0.93); on 25 mixes of two speakers with a third who speaks for 1.5-3.5 s, each of the 27
    folded groups holding the third person lay under 0.7 (0.42-0.66; 24 of them 1 s or more).
    Checked on other draws (rule fixed): 3 of 40 single clips get a stretch set aside; of 19
    three-person mixes counted as two speakers, 16 are warned, each naming a stretch on the
    third person (the 3 not warned of spoke for 1.5-1.6 s)."""

    labels: np.ndarray
    set_aside: np.ndarray


SET_ASIDE_MIN_SECONDS = 1.0  # less speech set aside is not reported (too little for any estimate of a voice)


class SpeakerClustering:
    """`__call__(windows, ...) -> labels` (0..K-1 by first appearance), one per window;
    `cluster(windows, ...)` also says which windows were folded away (`Clusters`).

    At most `max_points` pieces are clustered directly (evenly spaced); the rest join the
    nearest centroid, so memory stays bounded on long recordings. `min_cluster_seconds` is in
    seconds of speech; `merge_threshold` None skips the merge step.
    """

    def __init__(
        self,
        threshold: float = 0.9,
        piece_windows: int = 2,
        center: bool = True,
        linkage_method: str = "average",
        min_cluster_seconds: float = 4.0,
        merge_threshold: float | None = 0.7,
        blend_ratio: float | None = 0.5,
        set_aside_similarity: float = 0.7,
        max_points: int = 3000,
    ) -> None:
        if piece_windows < 1:
            raise ValueError("piece_windows must be at least 1")
        self.threshold = threshold
        self.piece_windows = piece_windows
        self.center = center
        self.linkage_method = linkage_method
        self.min_cluster_seconds = min_cluster_seconds
        self.merge_threshold = merge_threshold
        self.blend_ratio = blend_ratio
        self.set_aside_similarity = set_aside_similarity
        self.max_points = max_points

    def get_params(self) -> dict:
        return {
            "method": "agglomerative",
            "metric": "cosine",
            "threshold": self.threshold,
            "piece_windows": self.piece_windows,
            "center": self.center,
            "linkage_method": self.linkage_method,
            "min_cluster_seconds": self.min_cluster_seconds,
            "merge_threshold": self.merge_threshold,
            "blend_ratio": self.blend_ratio,
            "set_aside_similarity": self.set_aside_similarity,
            "max_points": self.max_points,
        }

    def normalise(self, vectors: np.ndarray) -> np.ndarray:
        """The vectors as clustered: recording mean removed (if `center`), unit length."""
        if self.center and len(vectors) > 1:
            vectors = vectors - vectors.mean(axis=0)
        return _unit_rows(vectors)

    def __call__(self, *args, **kwargs) -> np.ndarray:
        """`cluster(...)`'s labels alone (same arguments)."""
        return self.cluster(*args, **kwargs).labels

    def cluster(
        self,
        windows: WindowEmbeddings,
        num_speakers: int | None = None,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
    ) -> Clusters:
        none = np.zeros(len(windows), dtype=bool)
        if len(windows) == 0:
            return Clusters(np.zeros(0, dtype=int), none)
        pieces = _pieces(windows, self.piece_windows)
        count = int(pieces.max()) + 1
        low, high = _bounds(count, num_speakers, min_speakers, max_speakers)
        seconds = np.bincount(pieces, weights=_own_seconds(windows), minlength=count)
        sums = np.zeros((count, windows.vectors.shape[1]))
        np.add.at(sums, pieces, windows.vectors)
        vectors = self.normalise(sums / np.bincount(pieces, minlength=count)[:, None])
        if count == 1:
            return Clusters(np.zeros(len(windows), dtype=int), none)
        chosen = np.unique(np.linspace(0, count - 1, min(count, self.max_points)).round().astype(int))
        tree = linkage(pdist(vectors[chosen], metric="cosine"), method=self.linkage_method)
        if low == high:
            labels = fcluster(tree, t=low, criterion="maxclust") - 1
        else:
            labels = fcluster(tree, t=self.threshold, criterion="distance") - 1
            found = int(labels.max()) + 1
            if not low <= found <= high:
                labels = fcluster(tree, t=int(np.clip(found, low, high)), criterion="maxclust") - 1
        labels = _assign_all(vectors, chosen, labels)
        set_aside = none
        if num_speakers is None:
            folded = self._fold_small(vectors, seconds, labels, low)
            set_aside = self._unlike_their_speaker(windows, labels[pieces], folded[pieces])
            labels = folded
        labels = labels[pieces]
        if num_speakers is None and self.merge_threshold is not None:
            labels = self._merge_close(self.normalise(windows.vectors), labels, low)
        if num_speakers is None and self.blend_ratio is not None:
            labels = self._fold_blends(windows, labels, low)
        return Clusters(_relabel_by_first_appearance(labels), set_aside)

    def _fold_blends(self, windows: WindowEmbeddings, labels: np.ndarray, low: int) -> np.ndarray:
        """Move the windows of a cluster that is a blend of two larger ones (see the module
        docstring) to their nearest remaining cluster, smallest such cluster first, keeping at
        least `low` clusters."""
        raw = _unit_rows(windows.vectors)
        unit = self.normalise(windows.vectors)
        seconds = _own_seconds(windows)
        labels = labels.copy()
        while True:
            names = np.unique(labels)
            if len(names) <= max(low, 2):
                return labels
            sizes = np.array([seconds[labels == k].sum() for k in names])
            means = np.stack([raw[labels == k].mean(axis=0) for k in names])
            blend = next((k for k in np.argsort(sizes, kind="stable") if _blend_distance(means, sizes, k) < self.blend_ratio), None)
            if blend is None:
                return labels
            keep = names[names != names[blend]]
            moved = labels == names[blend]
            labels[moved] = keep[np.argmax(unit[moved] @ _centroids(unit, labels, keep).T, axis=1)]

    def _merge_close(self, unit: np.ndarray, labels: np.ndarray, low: int) -> np.ndarray:
        """Join the two clusters with the closest centroids over all their windows while their
        cosine distance is under `merge_threshold`, keeping at least `low` clusters."""
        labels = labels.copy()
        while True:
            names = np.unique(labels)
            if len(names) <= max(low, 1):
                return labels
            centroids = _centroids(unit, labels, names)
            distances = 1.0 - centroids @ centroids.T
            np.fill_diagonal(distances, np.inf)
            first, second = np.unravel_index(int(np.argmin(distances)), distances.shape)
            if distances[first, second] >= self.merge_threshold:
                return labels
            labels[labels == names[second]] = names[first]

    def _unlike_their_speaker(self, windows: WindowEmbeddings, before: np.ndarray, after: np.ndarray) -> np.ndarray:
        """The windows of each cluster folded away whose mean embedding (GE2E space) has a cosine
        similarity under `set_aside_similarity` with the mean of the cluster that took them: a
        voice unlike that speaker's. (A single speaker's recording breaks into small clusters of
        the same voice; they are folded back and not reported.)"""
        raw = _unit_rows(windows.vectors)
        seconds = _own_seconds(windows)
        marked = np.zeros(len(windows), dtype=bool)
        for source, target in {(int(b), int(a)) for b, a in zip(before, after) if b != a}:
            group = (before == source) & (after == target)
            own = (before == target) & (after == target)
            if not own.any() or seconds[group].sum() < SET_ASIDE_MIN_SECONDS:
                continue
            first, second = raw[group].mean(axis=0), raw[own].mean(axis=0)
            similarity = float(first @ second / max(np.linalg.norm(first) * np.linalg.norm(second), 1e-12))
            if similarity < self.set_aside_similarity:
                marked |= group
        return marked

    def _fold_small(self, vectors: np.ndarray, seconds: np.ndarray, labels: np.ndarray, low: int) -> np.ndarray:
        """Move pieces of clusters under `min_cluster_seconds` to the nearest remaining cluster."""
        while True:
            names = np.unique(labels)
            sizes = np.array([seconds[labels == k].sum() for k in names])
            smallest = int(np.argmin(sizes))
            if len(names) <= max(low, 1) or sizes[smallest] >= self.min_cluster_seconds:
                return labels
            keep = names[names != names[smallest]]
            centroids = _centroids(vectors, labels, keep)
            moved = labels == names[smallest]
            labels = labels.copy()
            labels[moved] = keep[np.argmax(vectors[moved] @ centroids.T, axis=1)]


def _blend_distance(means: np.ndarray, sizes: np.ndarray, index: int) -> float:
    """Distance of cluster `index`'s mean from the nearest segment joining the means of two
    larger clusters, as a fraction of that segment's length (inf with fewer than two larger)."""
    larger = np.flatnonzero(sizes > sizes[index])
    best = np.inf
    for position, first in enumerate(larger):
        for second in larger[position + 1 :]:
            span = means[second] - means[first]
            length = float(np.linalg.norm(span))
            if length == 0.0:
                continue
            along = float(np.clip((means[index] - means[first]) @ span / length**2, 0.0, 1.0))
            best = min(best, float(np.linalg.norm(means[index] - means[first] - along * span)) / length)
    return best


def _pieces(windows: WindowEmbeddings, size: int) -> np.ndarray:
    """Piece index of each window: runs of at most `size` windows that touch in time."""
    pieces = np.zeros(len(windows), dtype=int)
    current, run = 0, 1
    for index in range(1, len(windows)):
        if windows.starts[index] > windows.ends[index - 1] + 1e-6 or run >= size:
            current, run = current + 1, 0
        run += 1
        pieces[index] = current
    return pieces


def _own_seconds(windows: WindowEmbeddings) -> np.ndarray:
    """Speech time each window stands for: up to the next window's start when they overlap."""
    ends = windows.ends.copy()
    ends[:-1] = np.minimum(ends[:-1], np.maximum(windows.starts[1:], windows.starts[:-1]))
    return ends - windows.starts


def _bounds(count: int, num: int | None, low: int | None, high: int | None) -> tuple[int, int]:
    """The allowed number of clusters, given what the user fixed."""
    if num is not None:
        if num < 1:
            raise ValueError("num_speakers must be at least 1")
        return min(num, count), min(num, count)
    low = 1 if low is None else low
    high = count if high is None else high
    if low < 1 or high < low:
        raise ValueError("need 1 <= min_speakers <= max_speakers")
    return min(low, count), min(high, count)


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to length 1 (a zero row stays zero)."""
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def _centroids(vectors: np.ndarray, labels: np.ndarray, names: np.ndarray) -> np.ndarray:
    centroids = np.stack([vectors[labels == k].mean(axis=0) for k in names])
    return _unit_rows(centroids)


def _assign_all(vectors: np.ndarray, chosen: np.ndarray, chosen_labels: np.ndarray) -> np.ndarray:
    """Labels for every window: clustered ones keep theirs, the others take the nearest centroid."""
    if len(chosen) == len(vectors):
        return chosen_labels
    names = np.unique(chosen_labels)
    centroids = _centroids(vectors[chosen], chosen_labels, names)
    labels = names[np.argmax(vectors @ centroids.T, axis=1)]
    labels[chosen] = chosen_labels
    return labels


def _relabel_by_first_appearance(labels: np.ndarray) -> np.ndarray:
    order = {}
    for label in labels:
        order.setdefault(int(label), len(order))
    return np.array([order[int(label)] for label in labels], dtype=int)
