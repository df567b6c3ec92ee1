"""Group window embeddings by speaker, choosing the number of speakers when it is not given.

Two stages. First, average-linkage agglomerative clustering of the windows on cosine
distance, cut at `threshold`: single 1.6 s windows are noisy (same-speaker windows lie about
0.2 apart), so this cut over-splits on purpose. Second, clusters are merged greedily while the
cosine distance between their centroids (averages over many windows, far steadier) is below
`merge_threshold` (chosen by cross-validated benchmark, see benchmarks/diarization.py).
`num_speakers` fixes the count instead; `min_speakers`/`max_speakers` bound an automatic
count. Clusters holding less than `min_cluster_seconds` of windows are folded into their
nearest large cluster: a few stray windows (a laugh, a cough, a noise burst) are not a speaker.
"""

from __future__ import annotations

import numpy as np
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import pdist


class SpeakerClustering:
    """`__call__(vectors, seconds, ...) -> labels` (0..K-1, by first appearance).

    vectors: (N, D) L2-normalised embeddings in time order; seconds: (N,) speech time each
    window stands for (its hop), used to weigh cluster sizes. At most `max_points` windows are
    clustered directly (evenly spaced); the rest join the nearest centroid, so memory stays
    bounded on long recordings.
    """

    def __init__(
        self,
        threshold: float = 0.25,
        merge_threshold: float = 0.2,
        linkage_method: str = "average",
        min_cluster_seconds: float = 3.0,
        max_points: int = 3000,
    ) -> None:
        self.threshold = threshold
        self.merge_threshold = merge_threshold
        self.linkage_method = linkage_method
        self.min_cluster_seconds = min_cluster_seconds
        self.max_points = max_points

    def get_params(self) -> dict:
        return {
            "method": "agglomerative",
            "metric": "cosine",
            "threshold": self.threshold,
            "merge_threshold": self.merge_threshold,
            "linkage_method": self.linkage_method,
            "min_cluster_seconds": self.min_cluster_seconds,
            "max_points": self.max_points,
        }

    def __call__(
        self,
        vectors: np.ndarray,
        seconds: np.ndarray,
        num_speakers: int | None = None,
        min_speakers: int | None = None,
        max_speakers: int | None = None,
    ) -> np.ndarray:
        count = len(vectors)
        if count == 0:
            return np.zeros(0, dtype=int)
        low, high = _bounds(count, num_speakers, min_speakers, max_speakers)
        if count == 1:
            return np.zeros(1, dtype=int)
        chosen = np.unique(np.linspace(0, count - 1, min(count, self.max_points)).round().astype(int))
        tree = linkage(pdist(vectors[chosen], metric="cosine"), method=self.linkage_method)
        if low == high:
            labels = fcluster(tree, t=low, criterion="maxclust") - 1
            return _relabel_by_first_appearance(_assign_all(vectors, chosen, labels))
        labels = fcluster(tree, t=self.threshold, criterion="distance") - 1
        if labels.max() + 1 < low:
            labels = fcluster(tree, t=low, criterion="maxclust") - 1
        labels = _assign_all(vectors, chosen, labels)
        labels = self._fold_small(vectors, seconds, labels, low)
        labels = self._merge_centroids(vectors, labels, low, high)
        return _relabel_by_first_appearance(labels)

    def _merge_centroids(self, vectors: np.ndarray, labels: np.ndarray, low: int, high: int) -> np.ndarray:
        """Join the two clusters with the closest centroids while they are closer than
        `merge_threshold` (or while there are more than `high`), never below `low` clusters."""
        labels = labels.copy()
        while True:
            names = np.unique(labels)
            if len(names) <= max(low, 1):
                return labels
            centroids = _centroids(vectors, labels, names)
            distance = 1.0 - centroids @ centroids.T
            np.fill_diagonal(distance, np.inf)
            a, b = np.unravel_index(int(np.argmin(distance)), distance.shape)
            if distance[a, b] >= self.merge_threshold and len(names) <= high:
                return labels
            labels[labels == names[b]] = names[a]

    def _fold_small(self, vectors: np.ndarray, seconds: np.ndarray, labels: np.ndarray, low: int) -> np.ndarray:
        """Move windows of clusters under `min_cluster_seconds` to the nearest remaining cluster."""
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


def _centroids(vectors: np.ndarray, labels: np.ndarray, names: np.ndarray) -> np.ndarray:
    centroids = np.stack([vectors[labels == k].mean(axis=0) for k in names])
    return centroids / np.maximum(np.linalg.norm(centroids, axis=1, keepdims=True), 1e-12)


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
