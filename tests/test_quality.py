import json

import numpy as np
import pytest
from scipy.signal import butter, resample_poly, sosfilt

import forensic_s2f  # noqa: F401  (offline settings before third-party imports)
from forensic_s2f.audio.decode import load
from forensic_s2f.audio.quality import clipping_fraction, measure_quality
from tests._shared_data import pair_clips

RATE = 16_000


def _tone_in_noise(speech_db: float, noise_db: float, seconds: float = 6.0, seed: int = 0):
    """A harmonic 'voice' in the middle third, over white noise throughout; powers in dBFS."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    voice = sum(np.sin(2 * np.pi * f * t) for f in (150, 300, 450, 900)) / 2
    voice *= np.sqrt(10 ** (speech_db / 10) / np.mean(voice**2))
    mask = (t >= seconds / 3) & (t < 2 * seconds / 3)
    noise = rng.standard_normal(len(t)) * np.sqrt(10 ** (noise_db / 10))
    return (voice * mask + noise).astype(np.float32), [(seconds / 3, 2 * seconds / 3)]


def test_snr_against_pauses_matches_the_mixing_level():
    samples, regions = _tone_in_noise(-20.0, -35.0, seconds=12.0)
    report = measure_quality(samples, RATE, regions)
    assert report.snr_method == "speech vs pauses"
    assert report.snr_db == pytest.approx(15.0, abs=1.0)
    assert report.speech_seconds == pytest.approx(4.0)
    assert report.warnings() == []


def test_snr_ignores_digital_silence_and_speech_the_voice_activity_missed():
    """A clean call: 40 dB over its background, digital silence between the turns, and the start
    of a turn that the voice activity missed. The mean power of all pauses had read -4.6 dB on
    such a recording, and the low-SNR warning went to every speaker."""
    samples, _ = _tone_in_noise(-20.0, -60.0, seconds=12.0)
    samples[: 3 * RATE] = 0.0  # (digital silence before the turn, 4-8 s)
    samples[9 * RATE:] = 0.0  # (and after it, but for the background up to 9 s)
    report = measure_quality(samples, RATE, [(4.6, 8.0)])  # (4-4.6 s: speech the regions missed)
    assert report.snr_method == "speech vs pauses"
    assert report.snr_db == pytest.approx(40.0, abs=1.5)  # (before: 11.2 dB)
    assert not any("signal-to-noise" in warning for warning in report.warnings())


def test_noise_heard_only_under_the_speech_is_measured_in_its_gaps():
    """A noise gate (a phone's noise suppression) leaves silent pauses and noise under the speech:
    measured against the pauses, 10 dB read over 70 dB. Syllables of a harmonic voice with gaps
    between them, white noise at 10 dB under them only while the voice speaks."""
    rng = np.random.default_rng(5)
    t = np.arange(10 * RATE) / RATE
    voice = sum(np.sin(2 * np.pi * f * t) for f in (150, 300, 450, 900)) / 2
    talking = (t >= 2.0) & (t < 8.0)
    syllables = talking & ((t - 2.0) % 0.28 < 0.2)
    voice *= np.sqrt(10 ** (-20 / 10) / np.mean(voice[syllables] ** 2)) * syllables
    noise = rng.standard_normal(len(t)) * np.sqrt(np.mean(voice[talking] ** 2) / 10) * talking
    report = measure_quality((voice + noise).astype(np.float32), RATE, [(2.0, 8.0)])
    assert report.snr_method == "speech vs its quietest tenth"
    assert report.snr_db == pytest.approx(10.0, abs=3.0)


def test_low_snr_is_warned_with_its_value():
    samples, regions = _tone_in_noise(-30.0, -33.0)
    report = measure_quality(samples, RATE, regions)
    assert report.snr_db == pytest.approx(3.0, abs=1.0)
    assert any(w.startswith("low signal-to-noise ratio: estimated 3.") for w in report.warnings())


def test_little_speech_found_in_loud_noise_is_warned_of_as_probably_missed():
    """Cafe noise at 5 dB: voice activity found 0.7 s of 45 s of speech, and the only warnings
    were 'little speech' and a low SNR 'speech vs pauses' (the pauses being missed speech)."""
    noisy = measure_quality(_tone_in_noise(-30.0, -33.0, seconds=45.0)[0], RATE, [(15.0, 15.7)])
    assert any(w.startswith("speech probably missed in the noise: voice activity found speech in only 2 % of the "
                            "recording (0.7 s of 45.0 s)") for w in noisy.warnings())
    quiet = measure_quality(_tone_in_noise(-30.0, -70.0, seconds=45.0)[0], RATE, [(15.0, 15.7)])
    assert not any("probably missed" in w for w in quiet.warnings())  # (a quiet room: the speech is all there is)
    busy = measure_quality(_tone_in_noise(-30.0, -33.0, seconds=45.0)[0], RATE, [(15.0, 30.0)])
    assert not any("probably missed" in w for w in busy.warnings())  # (a third of it found: no sign of a failure)
    short = measure_quality(_tone_in_noise(-30.0, -33.0, seconds=6.0)[0], RATE, [(2.0, 2.5)])
    assert not any("probably missed" in w for w in short.warnings())


def test_blind_snr_without_regions_orders_clean_above_noisy():
    clean, _ = _tone_in_noise(-20.0, -60.0)
    noisy, _ = _tone_in_noise(-20.0, -25.0)
    high, low = measure_quality(clean, RATE), measure_quality(noisy, RATE)
    assert high.snr_method == low.snr_method == "blind percentile estimate"
    assert high.snr_db > low.snr_db + 15


def test_clipping_counts_flat_tops_only():
    t = np.arange(RATE) / RATE
    sine = np.sin(2 * np.pi * 200 * t).astype(np.float32) * 0.5
    assert clipping_fraction(sine) < 0.001
    clipped = np.clip(sine * 4, -0.5, 0.5)
    fraction = clipping_fraction(clipped)
    assert fraction > 0.5
    warnings = measure_quality(clipped, RATE, [(0.0, 1.0)]).warnings()
    assert any(w.startswith("clipped: ") for w in warnings)


@pytest.mark.parametrize("extension", ["mp3", "m4a", "opus"])
def test_clipping_that_a_lossy_codec_turned_to_ripple_is_warned_of(tmp_path, extension):
    """A WAV clipped on 7.9 % of its samples was warned of; its MP3, AAC and Opus copies, whose
    flat tops the codec turns to ripple, measured 0 % and were not (a format review). Speech set
    to peak at full scale and coded alike is not warned of."""
    import torch
    from torchcodec.encoders import AudioEncoder

    speech = np.concatenate([load(path).samples for path in pair_clips(3)])
    speech = speech / np.abs(speech).max()
    clipped = np.clip(speech / np.quantile(np.abs(speech), 1 - 0.05), -1.0, 1.0)  # 5 % of the samples clipped
    found = {}
    for name, audio in (("speech", speech), ("clipped", clipped)):
        path = tmp_path / f"{name}.{extension}"
        AudioEncoder(torch.from_numpy(audio.astype(np.float32)[None]), sample_rate=RATE).to_file(str(path))
        decoded = load(path).samples
        report = measure_quality(decoded, RATE, [(0.0, len(decoded) / RATE)])
        found[name] = (report, report.warnings())
    speech_report, speech_warnings = found["speech"]
    clipped_report, clipped_warnings = found["clipped"]
    assert speech_report.full_scale_fraction < 0.002 and not any("clipped" in w for w in speech_warnings)
    assert clipped_report.clipping_fraction < 0.001  # (no flat tops left)
    assert any(w.startswith("probably clipped: ") and "within 0.5 dB of full scale" in w for w in clipped_warnings), \
        clipped_warnings


def test_a_dc_offset_is_measured_and_warned_of():
    """An offset of 0.2 turned a male voice female (82 %) in a tester's run; it is now named."""
    t = np.arange(2 * RATE) / RATE
    sine = (np.sin(2 * np.pi * 200 * t) * 0.3).astype(np.float32)
    assert abs(measure_quality(sine, RATE, [(0.0, 2.0)]).dc_offset) < 1e-6
    offset = measure_quality(sine + np.float32(0.2), RATE, [(0.0, 2.0)])
    assert abs(offset.dc_offset - 0.2) < 1e-6
    assert "DC offset: the waveform's mean is +0.200 of full scale (beyond ±0.01); a fault of the recording chain, " \
           "which the analysis leaves out (each block of audio less its mean)" in offset.warnings()
    assert not any(w.startswith("DC offset") for w in measure_quality(sine + np.float32(0.005), RATE, [(0.0, 2.0)]).warnings())
    # the SNR leaves it out: an offset of 0.02 (-34 dBFS) in -35 dBFS noise read as 11.5 dB instead of 14.9
    samples, regions = _tone_in_noise(-20.0, -35.0, seconds=12.0)
    plain, shifted = (measure_quality(x, RATE, regions).snr_db for x in (samples, samples + np.float32(0.02)))
    assert shifted == pytest.approx(plain, abs=0.01)


def test_silence_and_short_inputs_give_warnings_not_errors():
    silent = measure_quality(np.zeros(RATE // 2, np.float32), RATE, [])
    assert silent.snr_db is None and silent.clipping_fraction == 0.0
    assert silent.warnings() == ["very short recording: 0.50 s (under 1.0 s)", "no speech detected"]
    empty = measure_quality(np.zeros(0, np.float32), RATE)
    assert empty.duration_seconds == 0.0 and empty.effective_bandwidth_hz is None
    json.dumps(empty.to_dict())


def test_white_noise_bandwidth_and_telephone_band():
    rng = np.random.default_rng(1)
    noise = rng.standard_normal(3 * RATE).astype(np.float32) * 0.1
    wide = measure_quality(noise, RATE)
    assert wide.effective_bandwidth_hz > 7_500 and not wide.is_telephone_band
    band = sosfilt(butter(8, [300, 3400], btype="band", fs=RATE, output="sos"), noise)
    narrow = measure_quality(resample_poly(resample_poly(band, 1, 2), 2, 1).astype(np.float32), RATE)
    assert narrow.is_telephone_band and narrow.effective_bandwidth_hz < 5_000
    assert any(w.startswith("narrow band: effective bandwidth") for w in narrow.warnings())


def test_real_speech_is_wideband_and_its_telephone_copy_is_not():
    audio = load(pair_clips(1)[0])
    assert not measure_quality(audio.samples, audio.sample_rate).is_telephone_band
    eight_khz = resample_poly(audio.samples, 1, 2)
    phone = resample_poly(sosfilt(butter(8, [300, 3400], btype="band", fs=8000, output="sos"), eight_khz), 2, 1)
    assert measure_quality(phone.astype(np.float32), RATE).is_telephone_band


def test_snr_falls_back_to_blind_estimate_when_pauses_are_louder_than_speech():
    rate = 16_000
    rng = np.random.default_rng(3)
    quiet = 0.01 * rng.standard_normal(2 * rate)
    loud = 0.3 * rng.standard_normal(2 * rate)
    samples = np.concatenate([quiet, loud]).astype(np.float32)
    report = measure_quality(samples, rate, [(0.0, 2.0)])  # the "speech" is the quiet half
    assert report.snr_method == "blind percentile estimate"
    assert report.snr_db is not None and report.snr_db > 10.0


def test_loud_level_of_known_signals():
    from forensic_s2f.audio.quality import loud_level_dbfs

    rate = 16_000
    t = np.arange(2 * rate) / rate
    assert loud_level_dbfs(np.sin(2 * np.pi * 440 * t).astype(np.float32), rate) == pytest.approx(-3.01, abs=0.02)
    square = np.where(np.arange(2 * rate) // 40 % 2 == 0, 0.1, -0.1).astype(np.float32)  # 200 Hz, ±0.1
    assert loud_level_dbfs(square, rate) == pytest.approx(-20.0, abs=1e-4)
    assert loud_level_dbfs(square + np.float32(0.05), rate) == pytest.approx(-20.0, abs=1e-4)  # a DC offset is left out
    assert loud_level_dbfs(np.full(rate, 0.1, np.float32), rate) is None  # nothing but DC
    # the loudest 0.1 % of the seconds set it: one loud second in 100 s of faint sound does
    faint = np.concatenate([np.tile(square[:80] / 100, 99 * rate // 80), square[:rate]])
    assert loud_level_dbfs(faint, rate) == pytest.approx(-20.0, abs=1e-4)
    # a sound must fill a quarter of a second: a loud 0.2 s in 30 s of faint sound does not set it
    # (with the loudest frames alone it did: -20 dBFS), a loud 0.5 s does
    for seconds, level in ((0.05, -60.0), (0.2, -60.0), (0.5, -20.0)):
        bumped = np.tile(square[:80] / 100, 30 * rate // 80)
        bumped[15 * rate: 15 * rate + int(seconds * rate)] *= 100
        assert loud_level_dbfs(bumped, rate) == pytest.approx(level, abs=1e-4)
    assert loud_level_dbfs(np.zeros(rate, np.float32), rate) is None
    assert loud_level_dbfs(np.ones(100, np.float32), rate) is None  # shorter than one 25 ms frame


def test_recorded_figures_carry_no_false_precision():
    """Exports showed speech_seconds 16.880000000000003, snr_db -0.25382485736597066, dc_offset -0.0."""
    from forensic_s2f.audio.quality import QualityReport

    figures = QualityReport(15.0, 16.880000000000003, -0.25382485736597066, "speech vs pauses", 1.2345678e-4,
                            7999.96, False, -1e-9).to_dict()
    assert figures["speech_seconds"] == 16.88 and figures["snr_db"] == -0.25 and figures["clipping_fraction"] == 0.000123
    assert figures["effective_bandwidth_hz"] == 8000.0 and str(figures["dc_offset"]) == "0.0"


def test_a_noisy_recordings_speakers_carry_its_low_snr():
    """A speaker's own SNR is measured on its turns alone (no pauses): 13 dB on a recording that
    measured -0.3 dB with its pauses, and its estimate carried no warning at all."""
    from forensic_s2f.analysis import recording_snr_warnings
    from forensic_s2f.audio.quality import QualityReport

    noisy = QualityReport(20.0, 12.0, -0.3, "speech vs pauses", 0.0, 8000.0, False)
    (warning,) = recording_snr_warnings(noisy)
    assert "-0.3 dB" in warning and "less reliable" in warning
    assert recording_snr_warnings(QualityReport(20.0, 12.0, 25.0, "speech vs pauses", 0.0, 8000.0, False)) == []
    assert recording_snr_warnings(QualityReport(20.0, 0.0, None, "no speech", 0.0, None, False)) == []
