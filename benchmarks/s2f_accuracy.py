"""Speech2Face benchmark: accuracy against seconds of speech (1, 3, 6 s), load and predict speed.

    PYTHONPATH=. python benchmarks/s2f_accuracy.py [--data DIR] [--cache DIR] [--skip-accuracy]

Speed is measured on one CPU thread (torch.set_num_threads(1)). Accuracy is the cross-validated
evaluation (folds by video) of `forensic_s2f.s2f.evaluate`, whose embeddings are kept in --cache.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

import forensic_s2f  # noqa: F401  (offline settings first)
from forensic_s2f.audio.decode import load
from forensic_s2f.audio.vad import SileroVAD
from forensic_s2f.s2f.dataset import default_data_dir, load_pairs
from forensic_s2f.s2f.evaluate import evaluate, format_evaluation
from forensic_s2f.s2f.model import load_model


def speed(data: Path, repeats: int) -> list[tuple[str, str]]:
    rows = []
    start = time.perf_counter()
    model = load_model()
    rows.append(("load_model() (weights check + GE2E + silero)", f"{time.perf_counter() - start:.3f} s"))
    pairs = load_pairs(data)
    clips = [load(data / "audio" / f"{clip}.flac").samples for clip in pairs.ids[:10]]
    model.predict(clips[0], 16000)
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        model.predict(clips[i % len(clips)], 16000)
        times.append(time.perf_counter() - start)
    rows.append(("predict one 6 s clip, median", f"{statistics.median(times):.3f} s"))
    rows.append(("predict one 6 s clip, max", f"{max(times):.3f} s"))
    minute = np.concatenate(clips)
    start = time.perf_counter()
    model.predict(minute, 16000)
    rows.append((f"predict {len(minute) / 16000:.0f} s of audio", f"{time.perf_counter() - start:.3f} s"))
    ten_minutes = np.tile(minute, 10)
    start = time.perf_counter()
    SileroVAD()(ten_minutes, 16000)
    per_minute = (time.perf_counter() - start) / (len(ten_minutes) / 16000 / 60)
    rows.append(("SileroVAD per minute of audio", f"{per_minute:.3f} s"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=default_data_dir())
    parser.add_argument("--cache", type=Path, default=Path("/tmp/fs2f-benchmark-cache"))
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--skip-accuracy", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print("Speed (one CPU thread)")
    for name, value in speed(args.data, args.repeats):
        print(f"  {name:<48}{value:>10}")
    if args.skip_accuracy:
        return
    print()
    result = evaluate(args.data, cache_dir=args.cache)
    print(format_evaluation(result))


if __name__ == "__main__":
    main()
