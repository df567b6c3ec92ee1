import numpy as np
import pytest

import forensic_s2f  # noqa: F401
from forensic_s2f.audio.decode import load
from forensic_s2f.audio.quality import measure_quality
from forensic_s2f.diarize.embeddings import WindowEmbedder
from forensic_s2f.diarize.pipeline import Diarizer
from forensic_s2f.audio.vad import SileroVAD
from tests._shared_data import distinct_speakers

RATE = 16_000


@pytest.fixture(scope="module")
def vad() -> SileroVAD:
    return SileroVAD()


def test_silero_regions_find_speech_between_silences(vad):
    speech = load(distinct_speakers(1)[0]).samples
    silence = np.zeros(2 * RATE, np.float32)
    regions = vad(np.concatenate([silence, speech, silence]), RATE)
    assert regions and regions[0][0] >= 1.9 and regions[-1][1] <= 8.1
    assert sum(e - s for s, e in regions) > 3.0
    assert vad(np.zeros(3 * RATE, np.float32), RATE) == []
    assert vad(np.zeros(0, np.float32), RATE) == []


def test_streams_give_the_same_regions_whatever_their_length(vad):
    speech = np.concatenate([load(p).samples for p in distinct_speakers(3)] + [np.zeros(RATE, np.float32)])
    short_streams = SileroVAD(stream_seconds=5.0)(speech, RATE)
    one_stream = SileroVAD(stream_seconds=60.0)(speech, RATE)
    covered = lambda regions: sum(e - s for s, e in regions)  # noqa: E731
    assert covered(short_streams) == pytest.approx(covered(one_stream), abs=0.5)


def test_windows_cover_each_region_and_are_deterministic():
    samples = load(distinct_speakers(1)[0]).samples
    embedder = WindowEmbedder()
    regions = [(0.1, 0.3), (0.5, 1.0), (1.2, 5.9)]
    windows = embedder(samples, RATE, regions)
    assert windows.vectors.shape[1] == 256
    np.testing.assert_allclose(np.linalg.norm(windows.vectors, axis=1), 1.0, atol=1e-5)
    assert (windows.starts[0], windows.ends[0]) == (0.5, 1.0)  # the 0.2 s region is left out
    assert windows.starts[1] == 1.2 and windows.ends[-1] == pytest.approx(5.9)
    np.testing.assert_array_equal(embedder(samples, RATE, regions).vectors, windows.vectors)
    assert len(embedder(samples, RATE, [])) == 0


def test_batches_on_worker_threads_give_the_same_windows():
    samples = np.concatenate([load(p).samples for p in distinct_speakers(3)])
    regions = [(0.0, len(samples) / RATE)]
    one = WindowEmbedder(batch_size=4, workers=1)(samples, RATE, regions)
    three = WindowEmbedder(batch_size=4, workers=3)(samples, RATE, regions)
    assert len(one) > 5 * 4  # more batches than workers, and a last partial batch
    np.testing.assert_array_equal(three.vectors, one.vectors)
    np.testing.assert_array_equal(three.starts, one.starts)
    with pytest.raises(ValueError):
        WindowEmbedder(workers=0)


@pytest.mark.slow
def test_two_hour_recording_with_two_voices(vad):
    """Two hours of faint noise with six turns of two voices: speech found where it was put."""
    clips = [load(p).samples for p in distinct_speakers(2)]
    rng = np.random.default_rng(0)
    samples = (0.0005 * rng.standard_normal(2 * 3600 * RATE)).astype(np.float32)
    placed = []
    for turn, start_minute in enumerate([1, 20, 40, 61, 90, 118]):
        start = start_minute * 60 * RATE
        samples[start : start + len(clips[turn % 2])] += clips[turn % 2]
        placed.append(start_minute * 60)
    regions = vad(samples, RATE)
    assert all(any(p - 1 <= s <= p + 6 for p in placed) for s, _ in regions)
    report = measure_quality(samples, RATE, regions)
    assert report.duration_seconds == 7200.0 and 20 < report.speech_seconds < 40
    annotation = Diarizer(vad=vad)(samples, RATE, speech_regions=regions)
    assert len(annotation.labels()) == 2
    first_turns = [annotation.argmax(segment) for segment in annotation.get_timeline().support()]
    assert first_turns[:2] == ["SPEAKER_00", "SPEAKER_01"]
