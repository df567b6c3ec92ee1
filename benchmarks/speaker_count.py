"""Speaker count and DER as conversations grow longer, with and without the clustering's blend step.

Conversations as in benchmarks/conversations.py (2-4 speakers from s2f-pairs, turns of 1.5-4 s),
lasting about `--minutes` each (±20 %). Each conversation's voice activity and window
embeddings are computed once, then clustered with `SpeakerClustering(blend_ratio=None)` (no
blend step) and with the shipped settings, and resegmented without the overlap detector.
Prints, per length and condition: DER (collar 0.25 s, overlap scored), the share of
conversations whose speaker count is exact, and how many were over- and under-counted.

    .venv/bin/python -m benchmarks.speaker_count --minutes 1 5 15 --conversations 12
"""

from __future__ import annotations

import argparse

import numpy as np
from pyannote.metrics.diarization import DiarizationErrorRate

from benchmarks.conversations import CONDITIONS, RATE, build, degrade
from forensic_s2f.diarize.annotation import build_annotation
from forensic_s2f.diarize.clustering import SpeakerClustering
from forensic_s2f.diarize.embeddings import WindowEmbeddings
from forensic_s2f.diarize.pipeline import Diarizer

SYSTEMS = {"no blend step": SpeakerClustering(blend_ratio=None), "shipped": SpeakerClustering()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 5.0, 15.0])
    parser.add_argument("--conversations", type=int, default=12, help="conversations per length")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--conditions", nargs="+", default=list(CONDITIONS))
    args = parser.parse_args()

    diarizer = Diarizer(overlap=None)
    print(f"{'minutes':>7} {'condition':<10} {'system':<14} {'DER %':>6} {'exact %':>8} {'over':>5} {'under':>6}")
    for minutes in args.minutes:
        seconds = 60.0 * minutes
        conversations = build(args.conversations, args.seed, (0.8 * seconds, 1.2 * seconds))
        for condition in args.conditions:
            scores = {name: (DiarizationErrorRate(collar=0.25, skip_overlap=False), []) for name in SYSTEMS}
            for conversation in conversations:
                samples = degrade(conversation, condition)
                regions = diarizer.vad(samples, RATE)
                windows = diarizer.embedder(samples, RATE, regions)
                for name, clustering in SYSTEMS.items():
                    metric, differences = scores[name]
                    labels = clustering(windows)
                    clustered = WindowEmbeddings(windows.starts, windows.ends, clustering.normalise(windows.vectors))
                    hypothesis = build_annotation(diarizer.resegmenter(clustered, labels, regions, None))
                    metric(conversation.reference, hypothesis)
                    differences.append(len(hypothesis.labels()) - len(conversation.reference.labels()))
            for name, (metric, differences) in scores.items():
                found = np.array(differences)
                print(f"{minutes:>7g} {condition:<10} {name:<14} {100 * abs(metric):>6.2f} "
                      f"{100 * np.mean(found == 0):>8.0f} {int(np.sum(found > 0)):>5} {int(np.sum(found < 0)):>6}",
                      flush=True)


if __name__ == "__main__":
    main()
