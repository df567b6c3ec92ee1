"""Should the voice-to-face model hear the original or the denoised audio?

For single-speaker clips from ../shared/data/s2f-pairs in four listening conditions (clean,
pink noise at 10 dB SNR, the cafe noise at 5 dB, telephone band), prints the gender accuracy
of the shipped model on the original and on the spectral-gated audio, and how far the
probabilities move. Usage: PYTHONPATH=. python benchmarks/denoise_choice.py [--clips 150]
"""

from __future__ import annotations

import argparse
import zlib

import pandas as pd

import forensic_s2f  # noqa: F401
from benchmarks.conversations import Conversation, clip_speech, clips, degrade, _clip_audio
from forensic_s2f.audio.denoise import SpectralGateDenoiser
from forensic_s2f.diarize.annotation import build_annotation
from forensic_s2f.s2f.model import load_model

RATE = 16_000
CONDITIONS = ("clean", "pink10", "cafe5", "telephone")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=150)
    args = parser.parse_args()
    pool = [c for c in clips() if c.gender in ("F", "M")]
    chosen = sorted(pool, key=lambda c: zlib.crc32(c.clip_id.encode()))[: args.clips]
    speech = clip_speech(chosen)
    model, denoiser = load_model(), SpectralGateDenoiser()
    rows = []
    for clip in chosen:
        regions = speech[clip.clip_id]
        if sum(e - s for s, e in regions) < 1.0:
            continue
        clean = _clip_audio(clip)
        conversation = Conversation(uri=clip.clip_id, fold=0, samples=clean,
                                    reference=build_annotation([(s, e, "A") for s, e in regions]), genders={"A": clip.gender})
        for condition in CONDITIONS:
            heard = degrade(conversation, condition)
            for audio_name, audio in (("original", heard), ("denoised", denoiser(heard, RATE))):
                p_female = model.predict(audio, RATE, speech_regions=regions).gender["female"]
                rows.append({"condition": condition, "audio": audio_name, "clip": clip.clip_id,
                             "correct": (p_female >= 0.5) == (clip.gender == "F"), "p_female": p_female})
    table = pd.DataFrame(rows)
    accuracy = table.pivot_table(index="condition", columns="audio", values="correct", aggfunc="mean") * 100
    wide = table.pivot_table(index=["condition", "clip"], columns="audio", values="p_female")
    shift = (wide["denoised"] - wide["original"]).abs().groupby("condition").mean()
    accuracy["mean |Δ p(female)|"] = shift
    print(f"{table['clip'].nunique()} clips; gender accuracy (%) of the shipped model")
    print(accuracy.reindex(list(CONDITIONS)).round(2).to_string())


if __name__ == "__main__":
    main()
