"""GE2E voice embedding: equals resemblyzer's own pipeline, handles long input in blocks, is deterministic."""

import numpy as np
import pytest

from forensic_s2f.audio.decode import load
from forensic_s2f.s2f.dataset import load_pairs
from forensic_s2f.audio.ge2e import mel_spectrogram, slaney_mel_filters
from forensic_s2f.s2f.encoder import GE2EEncoder, truncate_regions, window_starts
from tests.s2f_helpers import pairs_dir


@pytest.fixture(scope="module")
def clips():
    data = pairs_dir()
    ids = load_pairs(data).ids[:3]
    return [load(data / "audio" / f"{clip}.flac").samples for clip in ids]


@pytest.fixture(scope="module")
def encoder():
    return GE2EEncoder()


@pytest.mark.parametrize("rate, n_fft, n_mels", [(16_000, 400, 40), (8_000, 512, 64), (22_050, 2048, 128)])
def test_mel_filters_are_librosas(rate, n_fft, n_mels):
    from librosa.filters import mel

    assert np.array_equal(slaney_mel_filters(rate, n_fft, n_mels), mel(sr=rate, n_fft=n_fft, n_mels=n_mels))


def test_matches_resemblyzer(clips, encoder):
    from resemblyzer import VoiceEncoder
    from resemblyzer.audio import wav_to_mel_spectrogram

    wav = clips[0]
    reference_mel = wav_to_mel_spectrogram(wav)
    assert np.allclose(mel_spectrogram(wav), reference_mel, rtol=1e-4, atol=1e-6 * reference_mel.max())
    reference = VoiceEncoder("cpu", verbose=False)
    for n in (16000, 25000, 48000, 96000):
        _, slices = reference.compute_partial_slices(n, 1.3, 0.75)
        assert window_starts(n, 1.3, 0.75) == [s.start for s in slices]
    centred = wav - np.float32(wav.mean(dtype=np.float64))  # (the encoder leaves a DC offset out)
    gain = 10 ** (-30 / 20) / np.sqrt(np.mean(centred.astype(np.float64) ** 2))
    ours = encoder(wav, 16000, [(0.0, len(wav) / 16000)])
    assert np.allclose(ours.embedding, reference.embed_utterance((centred * gain).astype(np.float32)), atol=1e-5)
    assert ours.seconds_used == pytest.approx(6.0, abs=0.01)


def test_long_input_is_embedded_in_blocks(clips, encoder):
    joined = np.concatenate(clips)
    regions = [(0.0, 6.0), (6.0, 12.0), (12.0, 18.0)]
    whole = GE2EEncoder(block_seconds=120)(joined, 16000, regions)
    blocked = GE2EEncoder(block_seconds=5)(joined, 16000, regions)
    assert whole.seconds_used == blocked.seconds_used == pytest.approx(18.0)
    assert float(whole.embedding @ blocked.embedding) > 0.98
    assert len(whole.partials) >= 20


def test_only_speech_regions_count_and_resampling(clips, encoder):
    from scipy.signal import resample_poly

    wav = clips[1]
    padded = np.concatenate([np.zeros(32000, np.float32), wav, np.zeros(32000, np.float32)])
    inner = encoder(padded, 16000, [(2.0, 8.0)])
    direct = encoder(wav, 16000, [(0.0, 6.0)])
    assert np.allclose(inner.embedding, direct.embedding, atol=1e-5)
    at_48k = resample_poly(wav, 3, 1).astype(np.float32)
    assert float(encoder(at_48k, 48000, [(0.0, 6.0)]).embedding @ direct.embedding) > 0.99


def test_deterministic_and_refuses_empty(clips, encoder):
    first = encoder(clips[2], 16000, [(0.5, 4.0)])
    second = encoder(clips[2], 16000, [(0.5, 4.0)])
    assert np.array_equal(first.embedding, second.embedding)
    with pytest.raises(ValueError):
        encoder(clips[2], 16000, [])


def test_truncate_regions():
    assert truncate_regions([(0.0, 1.0), (2.0, 4.0), (5.0, 9.0)], 2.5) == [(0.0, 1.0), (2.0, 3.5)]
    assert truncate_regions([(0.0, 1.0)], 3.0) == [(0.0, 1.0)]
