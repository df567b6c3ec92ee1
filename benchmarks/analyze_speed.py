"""Real-time factor and peak memory of the whole `fs2f case analyze`, stage by stage.

For each duration (minutes) the long conversation file of benchmarks/speed.py is ingested into
a fresh temporary store and analysed by the real command in a child process (so its peak RSS is
that run's alone). Stage times come from the activities the run records in the store (started
and ended UTC), so the figures are exactly what the provenance says.

    PYTHONPATH=. python benchmarks/analyze_speed.py --minutes 10 60 120 [--wav-44k 10]

`--wav-44k M` also measures the M-minute file as a 44.1 kHz 16-bit WAV, which libsndfile reads
and soxr resamples to 16 kHz; `--mp3 M` as a 44.1 kHz MP3 (FFmpeg's encoder, its default
bit rate), which FFmpeg decodes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import forensic_s2f  # noqa: F401
from benchmarks.speed import long_file
from forensic_s2f.store.case_store import CaseStore

PEAK_RSS = "import resource, runpy, sys; sys.argv = sys.argv[1:]; "\
    "exec('try:\\n runpy.run_module(\"forensic_s2f.cli\", run_name=\"__main__\")\\nfinally:\\n "\
    "print(\"peak_rss_mib\", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, file=sys.stderr)')"


def _seconds(start: str, end: str) -> float:
    parse = lambda text: datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def _covered_seconds(spans: list[tuple[str, str]]) -> float:
    """Wall time covered by (start, end) UTC stamps: activities that ran side by side (the
    speakers' face predictions) count once."""
    total, reach = 0.0, None
    for start, end in sorted(spans):
        if reach is None or start > reach:
            total += _seconds(start, end)
            reach = end
        elif end > reach:
            total += _seconds(reach, end)
            reach = end
    return total


def wav_44k(minutes: float) -> Path:
    """The long file resampled to a 44.1 kHz 16-bit WAV (cached beside it)."""
    import numpy as np
    import soundfile
    from scipy.signal import resample_poly

    source = long_file(minutes)
    path = source.with_name(f"{source.stem}_44k.wav")
    if not path.is_file():
        samples, _ = soundfile.read(source, dtype="float32")
        soundfile.write(path, np.clip(resample_poly(samples, 441, 160), -1, 1), 44_100, subtype="PCM_16")
    return path


def mp3_44k(minutes: float) -> Path:
    """The 44.1 kHz WAV encoded as MP3 by FFmpeg (cached beside it)."""
    import torch
    from torchcodec.encoders import AudioEncoder

    from forensic_s2f.audio.decode import load

    source = wav_44k(minutes)
    path = source.with_suffix(".mp3")
    if not path.is_file():
        samples = load(source, 44_100).samples
        AudioEncoder(torch.from_numpy(samples[None]), sample_rate=44_100).to_file(str(path))
    return path


def measure(minutes: float, path: Path, name: str) -> dict:
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "FS2F_HOME": home, "FS2F_EXAMINER": "benchmark"}
        subprocess.run([sys.executable, "-m", "forensic_s2f.cli", "case", "add", "B", str(path)],
                       env=env, check=True, capture_output=True)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", PEAK_RSS, "fs2f", "case", "analyze", "B"],
                              env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(done.stderr)
        peak = float(done.stderr.rsplit("peak_rss_mib", 1)[1].split()[0])
        store = CaseStore(Path(home))
        spans: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for activity in store.activities("B"):
            spans[activity.kind].append((activity.started_utc, activity.ended_utc))
        stages = {kind: _covered_seconds(times) for kind, times in spans.items()}
        stages_wall = _covered_seconds([span for times in spans.values() for span in times])
        speakers = sum(len(r.speakers) for r in store.run_results(store.run("B").id))
        store.close()
    audio = minutes * 60
    return {"name": name, "wall": wall, "stages": stages, "stages_wall": stages_wall, "peak_mib": peak, "audio": audio, "speakers": speakers}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="*", default=[10, 60, 120])
    parser.add_argument("--wav-44k", type=float, nargs="*", default=[], metavar="MINUTES")
    parser.add_argument("--mp3", type=float, nargs="*", default=[], metavar="MINUTES")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each file (the timings vary between runs)")
    args = parser.parse_args()
    files = [(m, long_file(m), f"{m:g} min") for m in args.minutes] + [(m, wav_44k(m), f"{m:g} min 44k") for m in args.wav_44k] \
        + [(m, mp3_44k(m), f"{m:g} min mp3") for m in args.mp3]
    results = [measure(*file) for file in files for _ in range(args.repeat)]
    kinds = list(dict.fromkeys(k for r in results for k in r["stages"]))
    print(f"{'stage':<16}" + "".join(f"{r['name'] + ' RTF':>16}" for r in results))
    for kind in kinds:
        print(f"{kind:<16}" + "".join(f"{r['stages'].get(kind, 0.0) / r['audio']:>16.4f}" for r in results))
    print(f"{'all stages':<16}" + "".join(f"{r['stages_wall'] / r['audio']:>16.4f}" for r in results)
          + "   (wall time; denoising runs beside vad and quality, speakers two at a time)")
    print(f"{'whole command':<16}" + "".join(f"{r['wall'] / r['audio']:>16.4f}" for r in results)
          + "   (process start, imports and model loading included)")
    print(f"{'peak RSS (MiB)':<16}" + "".join(f"{r['peak_mib']:>16.0f}" for r in results))
    print(f"{'speakers found':<16}" + "".join(f"{r['speakers']:>16d}" for r in results))


if __name__ == "__main__":
    main()
