"""When does the warning "speech probably missed in the noise" fire (`audio/quality.py`,
MISSED_SPEECH_SHARE)? Silero's speech share against the reference's, per recording.

Part 1: the synthetic conversations (benchmarks/conversations.py) in each condition, played
as built and 30 dB quieter. Part 2: eight s2f-pairs clips in a row (0.5 s apart) under the
cafe noise at 5, 0 and -5 dB SNR (against the speech's power), where silero starts to miss
most of the speech. For each recording: the speech share found and the reference's, the SNR
as measured, and whether the warning fires.

    PYTHONPATH=. python benchmarks/speech_missed.py --conversations 12 --seed 5
"""

from __future__ import annotations

import argparse

import numpy as np

import forensic_s2f  # noqa: F401  (offline settings first)
from benchmarks.conversations import CONDITIONS, RATE, build, clips, degrade, shared_data
from forensic_s2f.audio.decode import load
from forensic_s2f.audio.quality import measure_quality
from forensic_s2f.audio.vad import SileroVAD

WARNING = "speech probably missed"


def _row(name: str, samples: np.ndarray, reference_share: float | None, vad: SileroVAD) -> str:
    quality = measure_quality(samples, RATE, vad(samples, RATE))
    found = quality.speech_seconds / quality.duration_seconds
    fires = any(w.startswith(WARNING) for w in quality.warnings())
    reference = "-" if reference_share is None else f"{reference_share:.2f}"
    return (f"{name:<28} {quality.duration_seconds:>6.1f} {found:>6.2f} {reference:>6} {quality.snr_db:>7.1f}  "
            f"{'yes' if fires else 'no'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=12)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    vad = SileroVAD()
    print(f"{'recording':<28} {'s':>6} {'found':>6} {'ref':>6} {'SNR dB':>7}  warned")
    for conversation in build(args.conversations, seed=args.seed):
        share = conversation.reference.get_timeline().support().duration() / (len(conversation.samples) / RATE)
        for condition in CONDITIONS:
            for gain in (0, -30):
                samples = (degrade(conversation, condition) * np.float32(10 ** (gain / 20))).astype(np.float32)
                print(_row(f"{conversation.uri} {condition} {gain:+d} dB", samples, share, vad), flush=True)
    gap = np.zeros(RATE // 2, dtype=np.float32)
    speech = np.concatenate([np.concatenate([load(shared_data() / "s2f-pairs" / "audio" / f"{clip.clip_id}.flac").samples,
                                             gap]) for clip in clips()[:8]])
    noise = np.resize(load(shared_data() / "noise" / "cafe.flac").samples, len(speech))
    for snr in (5, 0, -5):
        gain = np.sqrt(np.mean(speech ** 2) / np.mean(noise ** 2) / 10 ** (snr / 10))
        mixed = speech + np.float32(gain) * noise
        mixed = (mixed / max(1.0, float(np.abs(mixed).max()))).astype(np.float32)
        print(_row(f"8 clips in cafe {snr:+d} dB", mixed, None, vad), flush=True)


if __name__ == "__main__":
    main()
