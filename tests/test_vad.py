"""Silero VAD: speech regions in seconds on real speech, silence, noise; resampling; bounded blocks."""

import json

import numpy as np
import pytest

import forensic_s2f  # noqa: F401  (offline settings before pyannote)
from forensic_s2f.audio.decode import load
from forensic_s2f.audio.quality import speech_snr_db
from forensic_s2f.audio.vad import SileroVAD, speech_seconds
from forensic_s2f.diarize.overlap_training import pink_noise
from conftest import with_bang as bang


@pytest.fixture(scope="module")
def sample():
    from pyannote.audio.sample import SAMPLE_FILE

    audio = load(SAMPLE_FILE["audio"])
    return audio.samples, audio.sample_rate, SAMPLE_FILE["annotation"]


@pytest.fixture(scope="module")
def vad():
    return SileroVAD()


def _overlap(a, b):
    return sum(max(0.0, min(e1, e2) - max(s1, s2)) for s1, e1 in a for s2, e2 in b)


def test_regions_match_reference_speech(sample, vad):
    samples, rate, annotation = sample
    regions = vad(samples, rate)
    reference = [(s.start, s.end) for s in annotation.get_timeline().support()]
    hit = _overlap(regions, reference)
    assert hit / speech_seconds(reference) > 0.95  # recall of reference speech
    assert hit / speech_seconds(regions) > 0.9  # precision
    assert all(0 <= a < b <= len(samples) / rate for a, b in regions)
    assert all(regions[i][1] <= regions[i + 1][0] for i in range(len(regions) - 1))


def test_silence_and_white_noise_have_no_speech(vad):
    rng = np.random.default_rng(0)
    assert vad(np.zeros(16000 * 3, np.float32), 16000) == []
    assert vad(rng.normal(0, 0.1, 16000 * 3).astype(np.float32), 16000) == []


def test_block_and_batch_sizes_do_not_change_regions(sample):
    samples, rate, _ = sample
    assert SileroVAD(block_seconds=7.3)(samples, rate) == SileroVAD(block_seconds=600)(samples, rate)
    longer = np.tile(samples, 3)  # 90 s: several 20 s streams
    one_by_one = SileroVAD(stream_seconds=20, streams_per_batch=1)(longer, rate)
    batched = SileroVAD(stream_seconds=20, streams_per_batch=3, block_seconds=7.3)(longer, rate)
    assert one_by_one == batched
    assert 3 * 20 < speech_seconds(batched) < 3 * 25


def test_other_sample_rates_give_the_same_regions(sample, vad):
    from scipy.signal import resample_poly

    samples, rate, _ = sample
    at_44k = resample_poly(samples, 441, 160).astype(np.float32)
    regions_16k, regions_44k = vad(samples, rate), vad(at_44k, 44100)
    assert len(regions_44k) == len(regions_16k)
    assert np.allclose(regions_44k, regions_16k, atol=0.1)
    assert SileroVAD(block_seconds=7.3)(at_44k, 44100) == regions_44k  # resampled as one stream


def test_quiet_recordings_are_raised_to_the_regions_of_their_loud_copy(sample, vad):
    samples, rate, _ = sample
    regions = vad(samples, rate)
    for factor_db in (-25, -35):  # (the sample's loud level is -24 dBFS: both are raised to -20)
        scaled = vad((samples * np.float32(10 ** (factor_db / 20))).astype(np.float32), rate)
        assert len(scaled) == len(regions)
        assert np.allclose(scaled, regions, atol=0.04)  # within a 32 ms frame of float rounding
    # as recorded, silero hears a recording 35 dB quieter differently
    quiet = (samples * np.float32(10 ** (-35 / 20))).astype(np.float32)
    assert SileroVAD(level_dbfs=None)(quiet, rate) != regions
    assert vad.get_params()["level_dbfs"] == -20.0 and vad.get_params()["max_gain_db"] == 40.0


def test_a_dc_offset_leaves_the_regions_as_they_were(sample, vad):
    """silero heard a recorder's DC offset: with 0.02 of full scale it joined two of the sample's
    four regions and found 0.4 s less speech. Each block's mean is now taken out first."""
    samples, rate, _ = sample
    plain = vad(samples, rate)
    for offset in (0.02, -0.3):
        assert vad(samples + np.float32(offset), rate) == plain
    as_recorded = SileroVAD(remove_dc=False)
    assert as_recorded(samples + np.float32(0.02), rate) != as_recorded(samples, rate)


def test_speech_is_found_at_the_quiet_threshold_only_in_quiet_recordings(sample, vad):
    """The sample's speech stands about 37 dB above its pauses: it is found at the quiet
    threshold (0.4), which takes in more of it than 0.5. Under pink noise 10 dB below the speech
    the threshold stays 0.5, where 0.4 would find other regions."""
    samples, rate, _ = sample
    one, low = SileroVAD(quiet_threshold=None), SileroVAD(threshold=0.4, quiet_threshold=None)
    assert speech_snr_db(samples, rate, one(samples, rate)) >= vad.quiet_snr_db == 15.0
    assert vad(samples, rate) == low(samples, rate)
    assert speech_seconds(vad(samples, rate)) > speech_seconds(one(samples, rate))
    noise = pink_noise(len(samples), np.random.default_rng(0))
    power = np.mean(samples[samples != 0] ** 2)
    noisy = (samples + noise * np.sqrt(power / np.mean(noise**2) / 10)).astype(np.float32)
    assert speech_snr_db(noisy, rate, one(noisy, rate)) < vad.quiet_snr_db
    assert vad(noisy, rate) == one(noisy, rate) != low(noisy, rate)
    assert vad.get_params()["quiet_threshold"] == 0.4 and "quiet_threshold" not in one.get_params()


def test_a_bang_in_a_quiet_recording_leaves_its_speech_raised(sample):
    """The loud level was the loudest frames': a bang near full scale set it, so a quiet recording
    with a bang was heard about as recorded. At -45 dB with a 0.2 s bang, silero then found 6.2 s
    of the sample's 22.5 s of speech. A sound must now fill a quarter of a second to set the level.
    (One threshold on both sides: the quiet threshold finds much of that speech unraised too.)"""
    samples, rate, _ = sample
    vad = SileroVAD(quiet_threshold=None)
    for db in (-30, -45):
        quiet = (samples * np.float32(10 ** (db / 20))).astype(np.float32)
        for seconds in (0.05, 0.2):
            banged = bang(quiet, rate, 15.0, seconds)
            assert vad.gain(banged, rate) > 0.5 * vad.gain(quiet, rate)
            found = speech_seconds(vad(banged, rate))
            assert found > speech_seconds(SileroVAD(level_dbfs=None, quiet_threshold=None)(banged, rate)) + 1.0
            assert found == pytest.approx(speech_seconds(vad(quiet, rate)), abs=1.0)


def test_a_loud_sound_never_lowers_the_speech_and_inaudible_sound_is_not_raised_far(sample, vad):
    """A bang near full scale long enough to set the loud level leaves the signal as it is: lowered
    under it, the speech of the sample played 30 dB quieter was 15.7 s instead of 20.4 s. Content
    at -120 dBFS was raised by 114 dB and taken for 22 s of speech."""
    samples, rate, _ = sample
    quiet = (samples * np.float32(10 ** (-30 / 20))).astype(np.float32)
    banged = bang(quiet, rate, 15.0, 2.0)
    assert vad.gain(banged, rate) == 1.0
    assert speech_seconds(vad(banged, rate)) == speech_seconds(SileroVAD(level_dbfs=None)(banged, rate))
    faint = (samples * np.float32(10 ** (-100 / 20))).astype(np.float32)
    assert vad.gain(faint, rate) == pytest.approx(100.0)  # +40 dB, no more
    assert vad(faint, rate) == []


def test_a_quiet_recording_measures_the_snr_of_its_loud_copy(sample, vad):
    from forensic_s2f.audio.quality import measure_quality

    samples, rate, _ = sample
    quiet = (samples * np.float32(10 ** (-33 / 20))).astype(np.float32)  # peak -43 dBFS
    loud_snr = measure_quality(samples, rate, vad(samples, rate)).snr_db
    assert loud_snr > 25
    assert measure_quality(quiet, rate, vad(quiet, rate)).snr_db == pytest.approx(loud_snr, abs=1.0)


def test_min_speech_drops_short_regions(sample):
    samples, rate, _ = sample
    regions = SileroVAD(min_speech_seconds=2.0)(samples, rate)
    assert regions and all(b - a >= 2.0 for a, b in regions)


def test_params_are_json_and_stereo_is_refused(vad):
    assert json.loads(json.dumps(vad.get_params()))["threshold"] == 0.5
    with pytest.raises(ValueError):
        vad(np.zeros((2, 16000), np.float32), 16000)
