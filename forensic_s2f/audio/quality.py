"""Signal quality of one recording (or one speaker's speech): what limits how far it can be trusted.

Units: seconds, Hz, dB. Samples are float32 mono in [-1, 1], an array or a PcmFile (read in blocks).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.signal import welch

from forensic_s2f.audio.level import STEP_SECONDS, sustained_loud_power
from forensic_s2f.audio.pcm import Samples, as_samples, iter_blocks

FRAME_SECONDS = 0.025
HOP_SECONDS = STEP_SECONDS  # 10 ms: the step `sustained_loud_power` takes its powers at
MIN_NOISE_SECONDS = 0.5  # pauses needed before SNR is measured against them instead of blindly
# Pause frames count as noise when they are sound (less than 90 dB under the speech: digital
# silence, an edit or a codec's gap, says nothing of the noise under the speech; relative, so that
# a quiet copy measures as its loud original) and within 10 dB of the pauses' median power
# (louder ones are mostly speech the voice activity missed). Measured on 8 conversations
# per condition (benchmarks/conversations.py, seed 3), the mean of all pause frames read a median
# 16.4 dB on clean audio (25 % under 10 dB, so warned of) and 9.5 / 5.3 dB in pink noise at 10 dB
# and cafe noise at 5 dB; these frames give 9.7 and 6.5 dB (clean: see SILENT_PAUSES_DB).
SILENT_BELOW_SPEECH = 1e-9  # power ratio: 90 dB
PAUSE_OUTLIER_RATIO = 10.0
# Noise gated with the speech (a phone's noise suppression, a codec's silence) leaves the pauses
# quieter than the noise under the speech: white noise at 5 / 10 / 20 dB, gated, read 75.5 /
# 71.3 / 67.7 dB against the pauses, and 7.7 / 11.9 / 20.9 dB against the speech's quietest tenth
# (the gaps between words). That second measure is capped by the speech's own dynamics (about
# 25-30 dB) and means nothing for a sound without gaps (a steady tone), so it is used only where
# the pauses are all but silent, this far under the speech.
SILENT_PAUSES_DB = 50.0
# Speech missed in noise: where the voice activity finds speech in under a third of a recording of
# 10 s or more and what lies outside it is within 10 dB of the speech (speech vs pauses), the
# detector more likely failed than the people fell silent. benchmarks/speech_missed.py: on 12
# conversations (seed 5) in four conditions at two levels, the share found was 0.39-0.83 (true
# 0.47-0.80), unwarned, except one cafe 5 dB conversation: 0.26 found, at 3.0 dB, of a true 0.47;
# eight clips in a row under the cafe noise at 5 / 0 / -5 dB: 0.64 / 0.61 / 0.11 found, warned at
# -5 dB only; a cafe mix an analyst made gave 0.7 s of 45 s.
MISSED_SPEECH_SHARE = 1 / 3
MISSED_SPEECH_MIN_SECONDS = 10.0
TELEPHONE_MAX_BANDWIDTH_HZ = 5_000.0  # telephone and 8 kHz sources measure 3.4-4.6 kHz, wideband speech 5.5-8 kHz
BANDWIDTH_FLOOR_DB = 50.0  # content this far below the spectral peak counts as absent
BANDWIDTH_SMOOTH_HZ = 250.0
CLIP_LEVEL = 0.999  # of the recording's peak magnitude
MIN_CLIP_RUN = 2  # consecutive samples at the peak that make a flat top
# A lossy codec (MP3, AAC, Opus) gives flat tops back as ripple, so audio clipped at full scale
# and then coded has no flat tops, but many samples near full scale. On 12 recordings of
# s2f-pairs speech (18 s each) set to peak at full scale and coded at 64 kb/s (MP3, AAC) or
# 24 kb/s (Opus), the share of samples at or over FULL_SCALE_LEVEL was at most 0.15 % unclipped,
# 0.23-0.96 % with 1 % of the samples clipped before coding, 0.8-2.7 % with 3 %, 2.3-6.4 % with 8 %.
FULL_SCALE_LEVEL = 0.95  # (-0.45 dBFS)
POWER_BLOCK_SECONDS = 60.0
BANDWIDTH_MAX_SECONDS = 120.0  # speech sampled evenly for the long-term spectrum
CLIP_BLOCK_SAMPLES = 1 << 20


@dataclass(frozen=True)
class QualityReport:
    """Measured quality; `speech_seconds` is None when no speech regions were given."""

    duration_seconds: float
    speech_seconds: float | None
    snr_db: float | None
    snr_method: str
    clipping_fraction: float
    effective_bandwidth_hz: float | None
    is_telephone_band: bool
    dc_offset: float = 0.0  # the waveform's mean, in units of full scale
    full_scale_fraction: float = 0.0  # share of samples at or over FULL_SCALE_LEVEL (±1 = full scale)

    def to_dict(self) -> dict:
        """The figures as recorded: seconds to the millisecond, dB to 0.01, Hz to 0.1, fractions
        to 1e-6 (more digits than that are noise, and read as false precision in exports)."""
        places = {"duration_seconds": 3, "speech_seconds": 3, "snr_db": 2, "clipping_fraction": 6,
                  "effective_bandwidth_hz": 1, "dc_offset": 6, "full_scale_fraction": 6}
        return {key: round(value, places[key]) + 0.0 if key in places and isinstance(value, float) else value
                for key, value in asdict(self).items()}

    def warnings(
        self,
        min_duration_seconds: float = 1.0,
        min_speech_seconds: float = 3.0,
        min_snr_db: float = 10.0,
        max_clipping_fraction: float = 0.001,
        max_full_scale_fraction: float = 0.002,
        max_dc_offset: float = 0.01,
    ) -> list[str]:
        """Plain-language warnings, each naming the measured value and the limit it crosses."""
        found: list[str] = []
        if self.duration_seconds < min_duration_seconds:
            found.append(
                f"very short recording: {self.duration_seconds:.2f} s "
                f"(under {min_duration_seconds:.1f} s)"
            )
        if self.speech_seconds is not None:
            if self.speech_seconds == 0.0:
                found.append("no speech detected")
            elif self.speech_seconds < min_speech_seconds:
                found.append(
                    f"little speech: {self.speech_seconds:.1f} s (under {min_speech_seconds:.1f} s); "
                    "speaker estimates are unreliable"
                )
        if self.snr_db is not None and self.snr_db < min_snr_db:
            found.append(
                f"low signal-to-noise ratio: estimated {self.snr_db:.1f} dB "
                f"(under {min_snr_db:.0f} dB, {self.snr_method})"
            )
            if (self.snr_method == "speech vs pauses" and self.speech_seconds
                    and self.duration_seconds >= MISSED_SPEECH_MIN_SECONDS
                    and self.speech_seconds < MISSED_SPEECH_SHARE * self.duration_seconds):
                found.append(
                    f"speech probably missed in the noise: voice activity found speech in only "
                    f"{100 * self.speech_seconds / self.duration_seconds:.0f} % of the recording "
                    f"({self.speech_seconds:.1f} s of {self.duration_seconds:.1f} s), and the rest is within "
                    f"{min_snr_db:.0f} dB of it: the speakers found, their speech times and their estimates "
                    "may leave out speech or whole speakers, and the signal-to-noise ratio, measured against "
                    "the rest as pauses, is itself unsure"
                )
        if self.clipping_fraction > max_clipping_fraction:
            found.append(
                f"clipped: {100 * self.clipping_fraction:.2f} % of samples at the peak level "
                f"(over {100 * max_clipping_fraction:.1f} %)"
            )
        elif self.full_scale_fraction > max_full_scale_fraction:
            found.append(
                f"probably clipped: {100 * self.full_scale_fraction:.2f} % of samples within 0.5 dB of full scale "
                f"(over {100 * max_full_scale_fraction:.1f} %), as audio clipped at full scale and then coded lossily "
                "(MP3, AAC, Opus) gives back, its flat tops turned to ripple"
            )
        if abs(self.dc_offset) > max_dc_offset:
            found.append(
                f"DC offset: the waveform's mean is {self.dc_offset:+.3f} of full scale (beyond ±{max_dc_offset}); "
                "a fault of the recording chain, which the analysis leaves out (each block of audio less its mean)"
            )
        if self.is_telephone_band and self.effective_bandwidth_hz is not None:
            found.append(
                f"narrow band: effective bandwidth {self.effective_bandwidth_hz / 1000:.1f} kHz "
                f"(telephone or 8 kHz source, at most {TELEPHONE_MAX_BANDWIDTH_HZ / 1000:.0f} kHz)"
            )
        return found


def measure_quality(
    samples: Samples,
    sample_rate: int,
    speech_regions: Sequence[tuple[float, float]] | None = None,
) -> QualityReport:
    """Measure duration, speech time, SNR, clipping and bandwidth.

    `speech_regions` are (start, end) seconds. With at least 0.5 s of non-speech, SNR compares
    the power of speech frames with that of the pauses; otherwise it is a blind percentile
    estimate (loud frames against the quietest tenth), which is rougher.
    """
    samples = as_samples(samples)
    duration = len(samples) / float(sample_rate)
    speech_seconds = None
    if speech_regions is not None:
        speech_seconds = float(sum(max(0.0, min(e, duration) - max(s, 0.0)) for s, e in speech_regions))
    snr_db, snr_method = _snr_of(samples, sample_rate, speech_regions)
    bandwidth = _effective_bandwidth(samples, sample_rate, speech_regions)
    return QualityReport(
        duration_seconds=duration,
        speech_seconds=speech_seconds,
        snr_db=snr_db,
        snr_method=snr_method,
        clipping_fraction=clipping_fraction(samples),
        effective_bandwidth_hz=bandwidth,
        is_telephone_band=bandwidth is not None and bandwidth <= TELEPHONE_MAX_BANDWIDTH_HZ,
        dc_offset=sum(float(block.sum(dtype=np.float64)) for block in iter_blocks(samples, CLIP_BLOCK_SAMPLES)) / max(len(samples), 1),
        full_scale_fraction=sum(int(np.count_nonzero(np.abs(block) >= FULL_SCALE_LEVEL))
                                for block in iter_blocks(samples, CLIP_BLOCK_SAMPLES)) / max(len(samples), 1),
    )


def speech_snr_db(samples: Samples, sample_rate: int, speech_regions: Sequence[tuple[float, float]]) -> float | None:
    """The SNR (dB) `measure_quality` reports for these speech regions, alone (None: no signal
    or no speech)."""
    return _snr_of(as_samples(samples), sample_rate, speech_regions)[0]


def _snr_of(samples: Samples, sample_rate: int,
            speech_regions: Sequence[tuple[float, float]] | None) -> tuple[float | None, str]:
    """SNR in dB and how it was estimated (`_snr`), from the samples' frame powers."""
    power = _frame_power(samples, sample_rate)
    return _snr(power, _frame_mask(speech_regions, _frame_count(len(samples), sample_rate)))


def clipping_fraction(samples: Samples) -> float:
    """Fraction of samples on flat tops at the recording's peak magnitude (a clipped waveform),
    read in blocks: a run of peak samples may span two blocks."""
    samples = as_samples(samples)
    if len(samples) == 0:
        return 0.0
    peak = max(float(np.abs(block).max()) for block in iter_blocks(samples, CLIP_BLOCK_SAMPLES))
    if peak == 0.0:
        return 0.0
    clipped, run = 0, 0  # run: length of the run of peak samples still open at a block's end
    for block in iter_blocks(samples, CLIP_BLOCK_SAMPLES):
        at_peak = np.abs(block) >= CLIP_LEVEL * peak
        padded = np.concatenate([[False], at_peak, [False]])
        edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
        starts, stops = edges[0::2], edges[1::2]
        lengths = stops - starts
        if len(starts) and starts[0] == 0:
            lengths[0] += run
        elif run >= MIN_CLIP_RUN:
            clipped += run
        run = 0
        if len(stops) and stops[-1] == len(block):
            run, lengths = int(lengths[-1]), lengths[:-1]
        # keep only samples in runs of MIN_CLIP_RUN or more: isolated peaks are natural
        clipped += int(lengths[lengths >= MIN_CLIP_RUN].sum())
    if run >= MIN_CLIP_RUN:
        clipped += run
    return clipped / len(samples)


def loud_level_dbfs(samples: Samples, sample_rate: int) -> float | None:
    """The level of the recording's loud sustained sound, in dB of mean square relative to 1.0
    (dBFS): each second's (in 10 ms steps) 75th-percentile 25 ms frame power, i.e. what fills a
    quarter of that second, then the 99.9th percentile of those over the recording (its loudest
    3.6 s in an hour, its loudest second in a short recording). Speech sets it wherever that much
    is in the file; a bang or click that fills less than a quarter of every second does not (the
    loudest frames alone let a 50 ms bump near full scale set the level of a quiet recording).
    A recording shorter than a second is one window. None for a recording shorter than one frame
    or all zero."""
    power = _frame_power(as_samples(samples), sample_rate)
    if len(power) == 0:
        return None
    loud = sustained_loud_power(power)
    return 10 * float(np.log10(loud)) if loud > 0.0 else None


def _frame_count(n_samples: int, sample_rate: int) -> int:
    frame, hop = int(FRAME_SECONDS * sample_rate), int(HOP_SECONDS * sample_rate)
    return 0 if n_samples < frame else 1 + (n_samples - frame) // hop


def _frame_power(samples: Samples, sample_rate: int) -> np.ndarray:
    """Mean power per 25 ms frame, 10 ms hop, with each minute's mean (a DC offset) left out;
    computed a minute at a time to bound memory."""
    frame, hop = int(FRAME_SECONDS * sample_rate), int(HOP_SECONDS * sample_rate)
    count = _frame_count(len(samples), sample_rate)
    power = np.zeros(count)
    per_block = max(1, int(POWER_BLOCK_SECONDS / HOP_SECONDS))
    for first in range(0, count, per_block):
        frames = min(per_block, count - first)
        block = samples[first * hop : (first + frames - 1) * hop + frame].astype(np.float64)
        block -= block.mean()  # (not each frame's own mean: that would take out sound under 40 Hz too)
        squared = np.concatenate([[0.0], np.cumsum(block * block)])
        starts = np.arange(frames) * hop
        power[first : first + frames] = (squared[starts + frame] - squared[starts]) / frame
    return power


def _frame_mask(regions: Sequence[tuple[float, float]] | None, count: int) -> np.ndarray | None:
    """True for frames whose centre lies in a region."""
    if regions is None:
        return None
    centres = np.arange(count) * HOP_SECONDS + FRAME_SECONDS / 2
    mask = np.zeros(count, dtype=bool)
    for start, end in regions:
        mask |= (centres >= start) & (centres < end)
    return mask


def _snr(power: np.ndarray, speech_mask: np.ndarray | None) -> tuple[float | None, str]:
    """SNR in dB of speech over noise power, and how it was estimated: against the sound of the
    pauses (see SILENT_BELOW_SPEECH), else blindly, the loud half of the frames against the quietest
    tenth. Pauses all but silent (SILENT_PAUSES_DB or more under the speech) may be quieter than
    the noise under the speech: then the speech is measured against its quietest tenth (the gaps
    between its words) where that reads lower."""
    if len(power) == 0 or power.max() <= 0.0:
        return None, "no signal"
    if speech_mask is not None and not speech_mask.any():
        return None, "no speech"
    min_noise_frames = int(MIN_NOISE_SECONDS / HOP_SECONDS)
    signal = noise = 0.0
    if speech_mask is not None:
        signal = power[speech_mask].mean()
        pauses = power[~speech_mask]
        sound = pauses[pauses > SILENT_BELOW_SPEECH * signal]
        if len(sound) >= min_noise_frames:
            noise, method = sound[sound <= PAUSE_OUTLIER_RATIO * np.median(sound)].mean(), "speech vs pauses"
        else:
            signal = 0.0
    if signal <= noise:  # no pauses, or "pauses" as loud as the speech: the regions say nothing here
        ordered = np.sort(power)
        audible = ordered[ordered > SILENT_BELOW_SPEECH * ordered[len(ordered) // 2:].mean()]
        ordered = audible if len(audible) >= min_noise_frames else ordered
        tenth = max(1, len(ordered) // 10)
        noise = ordered[:tenth].mean()
        signal = ordered[len(ordered) // 2 :].mean()
        method = "blind percentile estimate"
    snr = _db(signal, noise)
    if method == "speech vs pauses":  # noise that sounds only under the speech (a noise gate, a codec) is not in the pauses
        inside = np.sort(power[speech_mask])
        within = _db(inside.mean(), inside[: max(1, len(inside) // 10)].mean())
        if snr >= SILENT_PAUSES_DB and within < snr:
            return within, "speech vs its quietest tenth"
    return snr, method


def _db(signal: float, noise: float) -> float:
    """SNR in dB of `signal` power (noise included) over `noise` power, within -20 to 100 dB."""
    noise = max(float(noise), 1e-12)
    clean = max(float(signal) - noise, 1e-12)
    return float(np.clip(10 * np.log10(clean / noise), -20.0, 100.0))


def _effective_bandwidth(
    samples: Samples, sample_rate: int, regions: Sequence[tuple[float, float]] | None
) -> float | None:
    """Highest frequency (Hz) whose long-term level is within 60 dB of the spectral peak."""
    if regions:
        spans = [(max(0, int(s * sample_rate)), min(len(samples), int(e * sample_rate))) for s, e in regions]
        spans = [(a, b) for a, b in spans if b > a]
        if spans:
            # a long recording is represented by evenly spaced regions, to bound time and memory
            total = sum(b - a for a, b in spans)
            step = max(1, int(np.ceil(total / (BANDWIDTH_MAX_SECONDS * sample_rate))))
            samples = np.concatenate([samples[a:b] for a, b in spans[::step]])
    elif len(samples) > BANDWIDTH_MAX_SECONDS * sample_rate:
        middle = (len(samples) - int(BANDWIDTH_MAX_SECONDS * sample_rate)) // 2
        samples = samples[middle : middle + int(BANDWIDTH_MAX_SECONDS * sample_rate)]
    samples = samples[0: len(samples)]  # an array, also when a short PcmFile was passed whole
    n_fft = 1024 if sample_rate >= 16_000 else 512
    if len(samples) < n_fft or not np.any(samples):
        return None
    frequencies, psd = welch(samples, fs=sample_rate, nperseg=n_fft)
    smooth = max(1, int(round(BANDWIDTH_SMOOTH_HZ / (frequencies[1] - frequencies[0]))))
    level = 10 * np.log10(np.convolve(psd, np.ones(smooth) / smooth, mode="same") + 1e-20)
    present = np.flatnonzero(level >= level.max() - BANDWIDTH_FLOOR_DB)
    return float(frequencies[present[-1]])
