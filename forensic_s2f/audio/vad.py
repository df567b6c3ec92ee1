"""Voice activity detection with silero-vad, whose weights ship inside the `silero_vad` package.

Input is mono float32 samples (an array or a PcmFile) at any sample rate (Hz); output is speech regions in seconds.
Audio is scored in independent streams of `stream_seconds`, several side by side as one batch,
so memory stays bounded by one batch plus one float per 32 ms frame, whatever the length.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from forensic_s2f.audio.level import without_dc
from forensic_s2f.audio.pcm import Samples, as_samples
from forensic_s2f.audio.quality import loud_level_dbfs, speech_snr_db
from forensic_s2f.audio.resample import resampled

VAD_SAMPLE_RATE = 16_000
FRAME_SAMPLES = 512  # silero's frame at 16 kHz: 32 ms


class SileroVAD:
    """Speech regions (start, end) in seconds from silero-vad frame probabilities.

    threshold: a frame whose speech probability is at least this opens (or continues) speech.
    quiet_threshold, quiet_snr_db: in a recording whose speech stands `quiet_snr_db` (dB) or more
        above the sound of its pauses (the SNR the quality stage reports, measured on the regions
        found at `threshold`), speech is found again from the same frame probabilities at
        `quiet_threshold` (and `neg_threshold` as given, else 0.15 under it). At 0.5 silero misses
        soft syllables and word ends in clean and telephone audio, while in noise a lower threshold
        takes the noise for speech. On the 20 benchmark conversations (docs/benchmarks.md, "Voice
        activity threshold by SNR"; with the shipped overlap detector, which heard their clips in
        training) 0.4 above 15 dB lowered diarization error in clean audio from 5.26 to 4.70 % and
        in telephone audio from 9.38 to 7.63 %; 0.4 everywhere would have raised it in the cafe
        noise from 14.04 to 16.91 %. Without the detector, cross-validated: clean 6.66 to 6.04 %,
        telephone 10.70 to 9.48 %. There the cafe noise reads 5-7 dB, pink noise 8-10.5 dB, clean
        and telephone audio 19-49 dB. None: `threshold` alone (the voice activity a model or
        detector was trained with).
    neg_threshold: while in speech, a frame below this counts as silence (default threshold - 0.15).
    min_speech_seconds: shorter speech regions are dropped.
    min_silence_seconds: silences shorter than this do not split a region.
    pad_seconds: each region is widened by this on both sides (clipped to the signal).
    level_dbfs: a quiet signal is raised so that its loud level (`quality.loud_level_dbfs`: the
        level of its loudest sustained sound, so that a bang or knock shorter than about a
        quarter of a second does not set it) reaches this many dB relative to full scale before
        it is scored, by at most `max_gain_db`; a louder one is left as it is (a long loud sound
        can set the loud level, and lowering the speech under it would lose it). None: never
        raised. silero alone misses speech in quiet recordings: on the 20 benchmark
        conversations played 30 dB quieter, diarization error rose from 5.7 to 10.0 % (clean)
        and from 13.5 to 46.1 % (cafe noise at 5 dB). -20 dBFS is the benchmark's median level
        (docs/benchmarks.md, "Recording level").
    max_gain_db: the most a signal is raised (dB), so that a recording's floor is not made into
        speech (content at -120 dBFS, raised by 114 dB, was taken for 22 s of speech); a signal
        whose loud level lies under -60 dBFS is raised by this much only.
    remove_dc: take each block's mean (a recorder's DC offset) out before silero hears it: an
        offset of 0.02 of full scale raised its detection error from 2.48 to 4.25 % in telephone
        audio and from 7.96 to 9.40 % in cafe noise.
    block_seconds: audio decoded/resampled per block.
    stream_seconds: the signal is scored in independent streams of this length (fresh model state
        each), run `streams_per_batch` at a time as one batch: memory stays bounded by one batch
        (16 × 60 s by default) and long input runs about `streams_per_batch` times faster.
    """

    def __init__(
        self,
        threshold: float = 0.5,
        quiet_threshold: float | None = 0.4,
        quiet_snr_db: float = 15.0,
        neg_threshold: float | None = None,
        min_speech_seconds: float = 0.25,
        min_silence_seconds: float = 0.1,
        pad_seconds: float = 0.03,
        level_dbfs: float | None = -20.0,
        max_gain_db: float = 40.0,
        remove_dc: bool = True,
        block_seconds: float = 60.0,
        stream_seconds: float = 60.0,
        streams_per_batch: int = 16,
    ) -> None:
        self.threshold = threshold
        self.quiet_threshold = quiet_threshold
        self.quiet_snr_db = quiet_snr_db
        self.neg_threshold = neg_threshold
        self.min_speech_seconds = min_speech_seconds
        self.min_silence_seconds = min_silence_seconds
        self.pad_seconds = pad_seconds
        self.level_dbfs = level_dbfs
        self.max_gain_db = max_gain_db
        self.remove_dc = remove_dc
        self.block_seconds = block_seconds
        self.stream_seconds = stream_seconds
        self.streams_per_batch = streams_per_batch
        self._model: Any = None

    def get_params(self) -> dict[str, Any]:
        """The constructor's parameters, JSON-able, for provenance records. The quiet threshold and
        its SNR are recorded only when set, so a voice activity with one threshold (that of the
        shipped models' training) records what it recorded before they existed."""
        quiet = {} if self.quiet_threshold is None else {"quiet_threshold": self.quiet_threshold,
                                                          "quiet_snr_db": self.quiet_snr_db}
        return {
            "threshold": self.threshold,
            **quiet,
            "neg_threshold": self.neg_threshold,
            "min_speech_seconds": self.min_speech_seconds,
            "min_silence_seconds": self.min_silence_seconds,
            "pad_seconds": self.pad_seconds,
            "level_dbfs": self.level_dbfs,
            "max_gain_db": self.max_gain_db,
            "remove_dc": self.remove_dc,
            "block_seconds": self.block_seconds,
            "stream_seconds": self.stream_seconds,
            "streams_per_batch": self.streams_per_batch,
            "model": "silero-vad (JIT, shipped in the silero_vad package)",
        }

    @property
    def model(self) -> Any:
        """The silero JIT model, loaded from the package's own file on first use (no network)."""
        if self._model is None:
            from silero_vad import load_silero_vad

            self._model = load_silero_vad(onnx=False)
        return self._model

    def frame_probabilities(self, samples: Samples, sample_rate: int) -> np.ndarray:
        """Speech probability per 32 ms frame (512 samples at 16 kHz), float32.

        The 16 kHz signal is cut into streams of `stream_seconds`, each scored from a fresh model
        state; `streams_per_batch` streams run side by side as one batch (the result does not
        depend on the batch or block size).
        """
        samples = as_samples(samples)
        gain = self.gain(samples, sample_rate)
        stream_frames = max(1, int(round(self.stream_seconds * VAD_SAMPLE_RATE / FRAME_SAMPLES)))
        batch_samples = stream_frames * self.streams_per_batch * FRAME_SAMPLES
        probabilities: list[np.ndarray] = []
        pending = np.zeros(0, dtype=np.float32)
        with torch.inference_mode():
            for chunk in self._frames_16k(samples, sample_rate):
                pending = np.concatenate([pending, chunk * gain])
                while len(pending) >= batch_samples:
                    probabilities.append(self._score(pending[:batch_samples], stream_frames))
                    pending = pending[batch_samples:]
            if len(pending):
                probabilities.append(self._score(pending, stream_frames))
        return np.concatenate(probabilities) if probabilities else np.zeros(0, np.float32)

    def gain(self, samples: Samples, sample_rate: int) -> np.float32:
        """The amplitude factor that raises the signal's loud level to `level_dbfs`, by at most
        `max_gain_db` (1 when `level_dbfs` is None, the signal is silent or already that loud)."""
        level = None if self.level_dbfs is None else loud_level_dbfs(samples, sample_rate)
        raise_db = 0.0 if level is None else min(max(self.level_dbfs - level, 0.0), self.max_gain_db)
        return np.float32(10 ** (raise_db / 20))

    def _frames_16k(self, samples: Samples, sample_rate: int) -> Iterator[np.ndarray]:
        """The signal at 16 kHz in blocks of whole 512-sample frames (the last one zero-padded)."""
        block = max(FRAME_SAMPLES, int(self.block_seconds * sample_rate))
        blocks = (samples[start: start + block] for start in range(0, len(samples), block))
        if self.remove_dc:
            blocks = (without_dc(piece, sample_rate) for piece in blocks)
        carry = np.zeros(0, dtype=np.float32)
        for chunk in resampled(blocks, sample_rate, VAD_SAMPLE_RATE):
            chunk = np.concatenate([carry, chunk])
            usable = len(chunk) - len(chunk) % FRAME_SAMPLES
            carry = chunk[usable:]
            yield chunk[:usable]
        if len(carry):
            yield np.pad(carry, (0, FRAME_SAMPLES - len(carry)))

    def _score(self, audio: np.ndarray, stream_frames: int) -> np.ndarray:
        """Probabilities for whole frames of 16 kHz `audio`, streams of `stream_frames` in one batch."""
        frames = len(audio) // FRAME_SAMPLES
        length = min(stream_frames, frames)
        streams = -(-frames // length)
        batch = np.zeros((streams, length * FRAME_SAMPLES), dtype=np.float32)
        batch.reshape(-1)[: len(audio)] = audio
        batch_tensor = torch.from_numpy(batch)
        model = self.model
        model.reset_states()
        out = np.empty((streams, length), dtype=np.float32)
        for i in range(length):
            frame = batch_tensor[:, i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES]
            out[:, i] = model(frame, VAD_SAMPLE_RATE).numpy()[:, 0]
        return out.reshape(-1)[:frames]

    def regions_from_probabilities(
        self, probabilities: np.ndarray, duration_seconds: float, threshold: float | None = None
    ) -> list[tuple[float, float]]:
        """Hysteresis over frame probabilities → merged, padded speech regions in seconds, at
        `threshold` (default: `self.threshold`)."""
        threshold = self.threshold if threshold is None else threshold
        frame_seconds = FRAME_SAMPLES / VAD_SAMPLE_RATE
        low = self.neg_threshold if self.neg_threshold is not None else max(threshold - 0.15, 0.01)
        regions: list[list[float]] = []
        in_speech = False
        start = 0.0
        for i, p in enumerate(probabilities):
            if not in_speech and p >= threshold:
                in_speech, start = True, i * frame_seconds
            elif in_speech and p < low:
                in_speech = False
                regions.append([start, i * frame_seconds])
        if in_speech:
            regions.append([start, len(probabilities) * frame_seconds])
        merged: list[list[float]] = []
        for region in regions:
            if merged and region[0] - merged[-1][1] < self.min_silence_seconds:
                merged[-1][1] = region[1]
            else:
                merged.append(region)
        kept = [r for r in merged if r[1] - r[0] >= self.min_speech_seconds]
        padded: list[tuple[float, float]] = []
        for a, b in kept:
            a = max(0.0, a - self.pad_seconds)
            b = min(duration_seconds, b + self.pad_seconds)
            if padded and a <= padded[-1][1]:
                padded[-1] = (padded[-1][0], b)
            elif b > a:
                padded.append((a, b))
        return [(round(a, 3), round(b, 3)) for a, b in padded]

    def __call__(self, samples: Samples, sample_rate: int) -> list[tuple[float, float]]:
        """Speech regions [(start, end), ...] in seconds, sorted and non-overlapping."""
        samples = as_samples(samples)
        probabilities = self.frame_probabilities(samples, sample_rate)
        duration = len(samples) / sample_rate
        regions = self.regions_from_probabilities(probabilities, duration)
        if self.quiet_threshold is None or not regions:
            return regions
        snr = speech_snr_db(samples, sample_rate, regions)
        if snr is None or snr < self.quiet_snr_db:
            return regions
        return self.regions_from_probabilities(probabilities, duration, self.quiet_threshold)


def speech_seconds(regions: list[tuple[float, float]]) -> float:
    """Total duration of speech regions, in seconds."""
    return float(sum(end - start for start, end in regions))
