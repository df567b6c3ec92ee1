"""Real-time factor per analysis stage and peak memory, on long files built from the clips.

For each duration (minutes) a FLAC file of back-to-back synthetic conversations is written
under /tmp, then analysed in a fresh process (so peak RSS belongs to that run alone):
decode → quality → denoise → speech regions → embeddings → clustering → resegmentation.
RTF = processing seconds / audio seconds; loading the models (once per process, a few
seconds) is reported apart. The Speech2Face stage is timed when
`forensic_s2f.s2f.load_model` exists.

    PYTHONPATH=. python benchmarks/speed.py --minutes 10 60 [--threads 1] [--denoise]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import forensic_s2f  # noqa: F401  (offline settings first)

REPO = Path(__file__).resolve().parents[1]


def long_file(minutes: float) -> Path:
    """A FLAC of `minutes` of conversations (cached under /tmp)."""
    import soundfile

    from benchmarks.conversations import CACHE, RATE, build

    path = CACHE / f"long_{minutes:g}min.flac"
    if path.is_file():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    target = int(minutes * 60 * RATE)
    with soundfile.SoundFile(path, "w", samplerate=RATE, channels=1, subtype="PCM_16") as out:
        written, seed = 0, 0
        while written < target:
            for conversation in build(10, seed=seed):
                piece = conversation.samples[: target - written]
                out.write(np.clip(piece, -1, 1))
                written += len(piece)
                if written >= target:
                    break
            seed += 1
    return path


def worker(path: Path, threads: int, denoise: bool) -> dict:
    """Run every stage once on `path`; seconds per stage and peak RSS in MiB."""
    import torch

    from forensic_s2f.audio.decode import load
    from forensic_s2f.audio.denoise import SpectralGateDenoiser
    from forensic_s2f.audio.quality import measure_quality
    from forensic_s2f.diarize.embeddings import WindowEmbedder, WindowEmbeddings
    from forensic_s2f.diarize.pipeline import Diarizer

    torch.set_num_threads(threads)
    diarizer = Diarizer(embedder=WindowEmbedder(num_threads=threads))
    times: dict[str, float] = {}
    start = time.perf_counter()  # loading models once per process is not per-audio work
    warm = np.zeros(3 * 16_000, dtype=np.float32)
    diarizer.vad(warm, 16_000)
    diarizer.embedder(warm, 16_000, [(0.0, 3.0)])
    SpectralGateDenoiser()(warm, 16_000)
    load_seconds = time.perf_counter() - start

    def timed(name, call, *args):
        start = time.perf_counter()
        result = call(*args)
        times[name] = time.perf_counter() - start
        return result

    audio = timed("decode", load, path)
    samples, rate = audio.samples, audio.sample_rate
    if denoise:
        samples = timed("denoise", SpectralGateDenoiser(), samples, rate)
    regions = timed("speech regions", diarizer.vad, samples, rate)
    timed("quality", measure_quality, samples, rate, regions)
    windows = timed("embeddings", diarizer.embedder, samples, rate, regions)
    labels = timed("clustering", diarizer.clustering, windows)
    clustered = WindowEmbeddings(windows.starts, windows.ends, diarizer.clustering.normalise(windows.vectors))
    segments = timed("resegmentation", diarizer.resegmenter, clustered, labels, regions)
    try:
        from forensic_s2f.s2f import load_model
    except ImportError:
        load_model = None
    if load_model is not None:
        model = load_model()
        speakers = sorted({s[2] for s in segments})
        start = time.perf_counter()
        for speaker in speakers:
            model.predict(samples, rate, speech_regions=[(a, b) for a, b, k in segments if k == speaker])
        times["speech2face"] = time.perf_counter() - start
    return {
        "audio_seconds": len(samples) / rate,
        "times": times,
        "speakers": len({s[2] for s in segments}),
        "load_seconds": load_seconds,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[10.0, 60.0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads for the encoder")
    parser.add_argument("--denoise", action="store_true", help="include the denoising stage")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(Path(args.worker), args.threads, args.denoise)))
        return
    results = {}
    for minutes in args.minutes:
        path = long_file(minutes)
        command = [sys.executable, __file__, "--worker", str(path), "--threads", str(args.threads)]
        if args.denoise:
            command.append("--denoise")
        env = dict(os.environ, PYTHONPATH=str(REPO))
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
        results[minutes] = json.loads(done.stdout.strip().splitlines()[-1])
    stages = list(next(iter(results.values()))["times"])
    print(f"threads {args.threads}, denoise {'on' if args.denoise else 'off'}; RTF = seconds of work per second of audio")
    print(f"{'stage':<16}" + "".join(f"{f'{m:g} min RTF':>14}" for m in results))
    for stage in stages + ["total"]:
        cells = []
        for result in results.values():
            spent = sum(result["times"].values()) if stage == "total" else result["times"][stage]
            cells.append(f"{spent / result['audio_seconds']:14.4f}")
        print(f"{stage:<16}" + "".join(cells))
    print(f"{'model loading s':<16}" + "".join(f"{r['load_seconds']:14.1f}" for r in results.values()))
    print(f"{'peak RSS MiB':<16}" + "".join(f"{r['peak_rss_mib']:14.0f}" for r in results.values()))
    print(f"{'speakers found':<16}" + "".join(f"{r['speakers']:14d}" for r in results.values()))


if __name__ == "__main__":
    main()
