"""Voice activity against recording level: silero as recorded against silero after levelling
(`SileroVAD(level_dbfs=...)`), on the synthetic conversations played louder and quieter.

Detection error rate (pyannote.metrics: missed + false alarm speech over reference speech,
collar 0.25 s) per condition and playback gain; the reference is the conversations' own.
`--bang SECONDS` adds, after the gain, a bang in the middle of each conversation: white noise
peaking near full scale (0.9), decaying with a time constant of a quarter of its length (a
door slam, a knock on the recorder).

    PYTHONPATH=. python benchmarks/vad_level.py --conversations 20 --gains 10 0 -20 -40 --levels -20 -15 -10
"""

from __future__ import annotations

import argparse

import numpy as np

import forensic_s2f  # noqa: F401  (offline settings first)
from benchmarks.conversations import CONDITIONS, RATE, build, degrade
from forensic_s2f.audio.quality import loud_level_dbfs
from forensic_s2f.audio.vad import SileroVAD
from pyannote.core import Annotation, Segment
from pyannote.metrics.detection import DetectionErrorRate


def detection_error(vad: SileroVAD, audio: list[np.ndarray], references: list[Annotation]) -> float:
    """Pooled detection error rate of `vad` over the recordings, as a fraction."""
    metric = DetectionErrorRate(collar=0.25)
    for samples, reference in zip(audio, references):
        hypothesis = Annotation()
        for start, end in vad(samples, RATE):
            hypothesis[Segment(start, end)] = "speech"
        metric(reference, hypothesis)
    return abs(metric)


def with_bang(samples: np.ndarray, seconds: float) -> np.ndarray:
    """`samples` with a bang of `seconds` added at the middle (see the module docstring)."""
    length = int(seconds * RATE)
    t = np.arange(length) / RATE
    burst = 0.9 * np.random.default_rng(0).uniform(-1.0, 1.0, length) * np.exp(-t / (seconds / 4))
    out = samples.copy()
    middle = len(out) // 2
    out[middle : middle + length] += burst[: len(out) - middle].astype(np.float32)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument("--gains", type=float, nargs="+", default=[10.0, 0.0, -20.0, -40.0],
                        help="playback gains in dB")
    parser.add_argument("--levels", type=float, nargs="+", default=[-20.0, -15.0, -10.0],
                        help="level_dbfs values to compare with silero as recorded")
    parser.add_argument("--bang", type=float, default=0.0, help="seconds of a bang added to each conversation (0: none)")
    args = parser.parse_args()

    conversations = build(args.conversations)
    references = [c.reference for c in conversations]
    vads = {"as recorded": SileroVAD(level_dbfs=None, remove_dc=False), **{f"levelled {lv:+.0f}": SileroVAD(level_dbfs=lv) for lv in args.levels}}
    bang = f", a {args.bang:.2f} s bang in each" if args.bang else ""
    print(f"{len(conversations)} conversations{bang}; detection error % (collar 0.25 s)")
    print(f"{'condition':<10} {'gain dB':>7} {'loud level dBFS':>15}  " + "  ".join(f"{name:>13}" for name in vads))
    for condition in CONDITIONS:
        clean = [degrade(c, condition) for c in conversations]
        for gain in args.gains:
            audio = [(samples * np.float32(10 ** (gain / 20))).astype(np.float32) for samples in clean]
            if args.bang:
                audio = [with_bang(samples, args.bang) for samples in audio]
            level = float(np.median([loud_level_dbfs(samples, RATE) for samples in audio]))
            errors = [100 * detection_error(vad, audio, references) for vad in vads.values()]
            print(f"{condition:<10} {gain:>7.0f} {level:>15.1f}  " + "  ".join(f"{e:>13.2f}" for e in errors), flush=True)


if __name__ == "__main__":
    main()
