import json

import numpy as np
import pytest
from pyannote.core import Annotation, Segment
from pyannote.metrics.diarization import DiarizationErrorRate

import forensic_s2f  # noqa: F401
from forensic_s2f.audio.decode import load
from forensic_s2f.diarize.annotation import (
    annotation_to_rttm,
    overlap_fraction,
    solo_regions,
)
from forensic_s2f.diarize.clustering import SpeakerClustering
from forensic_s2f.diarize.embeddings import WindowEmbeddings
from forensic_s2f.diarize.pipeline import Diarizer
from forensic_s2f.errors import InputError
from tests._shared_data import distinct_speakers
from conftest import with_bang

RATE = 16_000


@pytest.fixture(scope="module")
def diarizer() -> Diarizer:
    return Diarizer()


def _turns(clips, order, pause=0.6):
    """Concatenate 3 s halves of the clips in `order` with pauses; returns audio and reference."""
    audio = [load(c).samples for c in clips]
    pieces, reference, cursor = [], Annotation(), 0.0
    used = [0] * len(clips)
    for speaker in order:
        half = audio[speaker][used[speaker] * 3 * RATE : (used[speaker] + 1) * 3 * RATE]
        used[speaker] = (used[speaker] + 1) % 2
        pieces += [half, np.zeros(int(pause * RATE), np.float32)]
        reference[Segment(cursor, cursor + len(half) / RATE)] = f"ref{speaker}"
        cursor += len(half) / RATE + pause
    return np.concatenate(pieces), reference


def test_pyannote_sample_two_speakers(diarizer):
    from pyannote.audio.sample import SAMPLE_FILE

    audio = load(SAMPLE_FILE["audio"])
    hypothesis = diarizer(audio.samples, audio.sample_rate)
    assert hypothesis.labels() == ["SPEAKER_00", "SPEAKER_01"]
    der = DiarizationErrorRate(collar=0.25, skip_overlap=False)(SAMPLE_FILE["annotation"], hypothesis)
    assert der < 0.25


def test_a_dc_offset_leaves_the_speakers_as_they_were(diarizer):
    """A recorder's DC offset of 0.02 of full scale took the sample from 7 % DER and 2 speakers
    to 35 % and 3 (it filled the lowest mel band of every window); the windows now leave it out."""
    from pyannote.audio.sample import SAMPLE_FILE

    audio = load(SAMPLE_FILE["audio"])
    regions = diarizer.vad(audio.samples, RATE)
    plain = diarizer(audio.samples, RATE, speech_regions=regions)
    for offset in (0.02, -0.1):
        shifted = diarizer(audio.samples + np.float32(offset), RATE, speech_regions=regions)
        assert shifted.labels() == plain.labels() == ["SPEAKER_00", "SPEAKER_01"]
        der = DiarizationErrorRate(collar=0.0, skip_overlap=False)(plain, shifted)
        assert der < 0.01, (offset, der)


def test_a_knock_in_a_quiet_recording_leaves_the_speakers_as_they_were(diarizer):
    """The sample played 30 dB quieter with a 0.2 s knock near full scale gave 44 % DER and 3
    speakers: the knock moved the mean taken out of its speech region, and the DC left in every
    window there moved their embeddings (and, 40 dB quieter, it set the VAD's loud level). A
    knock's 10 ms blocks are now left out of the mean and the levels."""
    from pyannote.audio.sample import SAMPLE_FILE

    audio = load(SAMPLE_FILE["audio"])
    for db in (-30, -40):
        quiet = with_bang((audio.samples * np.float32(10 ** (db / 20))).astype(np.float32), RATE, 15.0, 0.2)
        hypothesis = diarizer(quiet, RATE)
        assert hypothesis.labels() == ["SPEAKER_00", "SPEAKER_01"], db
        assert DiarizationErrorRate(collar=0.25, skip_overlap=False)(SAMPLE_FILE["annotation"], hypothesis) < 0.1


def test_real_voices_alternating_are_two_speakers_labelled_by_first_appearance(diarizer):
    samples, reference = _turns(distinct_speakers(2), [0, 1, 0, 1])
    hypothesis = diarizer(samples, RATE)
    assert hypothesis.labels() == ["SPEAKER_00", "SPEAKER_01"]
    first = next(iter(hypothesis.itertracks(yield_label=True)))
    assert first[2] == "SPEAKER_00"
    assert DiarizationErrorRate(collar=0.25)(reference, hypothesis) < 0.1


def test_speaker_count_options_are_honoured(diarizer):
    samples, _ = _turns(distinct_speakers(3), [0, 1, 2, 0, 1, 2])
    assert len(diarizer(samples, RATE).labels()) == 3
    assert len(diarizer(samples, RATE, num_speakers=2).labels()) == 2
    assert len(diarizer(samples, RATE, max_speakers=2).labels()) <= 2
    one, _ = _turns(distinct_speakers(1), [0, 0])
    assert len(diarizer(one, RATE).labels()) == 1
    assert len(diarizer(one, RATE, min_speakers=2).labels()) == 2


def test_given_speech_regions_bound_the_output(diarizer):
    samples, _ = _turns(distinct_speakers(2), [0, 1])
    hypothesis = diarizer(samples, RATE, speech_regions=[(0.5, 2.5)])
    assert hypothesis.get_timeline().extent() == Segment(0.5, 2.5)


def test_silence_and_noise_give_no_speakers(diarizer):
    assert len(diarizer(np.zeros(5 * RATE, np.float32), RATE).labels()) == 0
    noise = (0.05 * np.random.default_rng(0).standard_normal(5 * RATE)).astype(np.float32)
    assert len(diarizer(noise, RATE).labels()) == 0
    assert len(diarizer(np.zeros(0, np.float32), RATE).labels()) == 0


def test_half_second_clipped_and_8khz_inputs_still_diarize(diarizer):
    speech = load(distinct_speakers(1)[0]).samples
    short = diarizer(speech[RATE : RATE + RATE // 2], RATE)
    assert len(short.labels()) <= 1
    clipped = np.clip(speech * 20, -1.0, 1.0)
    assert len(diarizer(clipped, RATE).labels()) == 1
    narrow = speech[::2].copy()  # 8 kHz: resampled to 16 kHz inside
    hypothesis = diarizer(narrow, 8_000)
    assert len(hypothesis.labels()) == 1
    assert hypothesis.get_timeline().extent().end <= len(narrow) / 8_000 + 0.01


def test_stereo_48khz_file_decodes_to_mono_16khz_and_diarizes(tmp_path, diarizer):
    import soundfile

    speech = load(distinct_speakers(1)[0]).samples
    from scipy.signal import resample_poly

    wide = resample_poly(speech, 3, 1).astype(np.float32)
    path = tmp_path / "stereo48k.wav"
    soundfile.write(path, np.stack([wide, 0.5 * wide], axis=1), 48_000)
    audio = load(path)
    assert audio.sample_rate == RATE and audio.info.channels == 2 and audio.info.sample_rate == 48_000
    assert len(diarizer(audio.samples, audio.sample_rate).labels()) == 1


def test_undecodable_evidence_is_a_one_line_input_error(tmp_path):
    path = tmp_path / "evidence.wav"
    path.write_bytes(b"RIFF\x00\x00\x00\x00WAVEnot really audio" * 10)
    with pytest.raises(InputError) as raised:
        load(path)
    assert "\n" not in str(raised.value) and str(path) in str(raised.value)


def test_params_are_json_and_name_the_steps(diarizer):
    params = json.loads(json.dumps(diarizer.get_params()))
    assert params["vad"]["model"].startswith("silero-vad")
    assert params["embedder"]["encoder"] == "resemblyzer GE2E"
    assert {"threshold", "piece_windows", "center"} <= set(params["clustering"])
    assert params["overlap"]["method"] == "dilated-cnn" and len(params["overlap"]["weights_sha256"]) == 64
    assert Diarizer(overlap=None).get_params()["overlap"] is None


def _windows(vectors: np.ndarray, gap: float = 0.4) -> WindowEmbeddings:
    """Windows 1.6 s long, `gap` s apart (a gap > 0 keeps each window its own piece)."""
    starts = np.arange(len(vectors)) * (1.6 + gap)
    return WindowEmbeddings(starts, starts + 1.6, vectors / np.linalg.norm(vectors, axis=1, keepdims=True))


def test_clustering_finds_separated_groups_and_respects_bounds():
    rng = np.random.default_rng(0)
    directions = np.eye(8)[:3]
    windows = _windows(np.concatenate([d + 0.05 * rng.standard_normal((20, 8)) for d in directions]))
    clustering = SpeakerClustering()
    labels = clustering(windows)
    assert len(set(labels)) == 3 and list(labels[:20]) == [0] * 20
    assert len(set(clustering(windows, num_speakers=2))) == 2
    assert len(set(clustering(windows, max_speakers=2))) == 2
    assert len(set(clustering(windows, min_speakers=4))) == 4
    stray = _windows(np.concatenate([windows.vectors[:20], windows.vectors[20:22]]))  # 3.2 s of a voice
    assert len(set(SpeakerClustering(min_cluster_seconds=4.0)(stray))) == 1
    with pytest.raises(ValueError):
        clustering(windows, min_speakers=3, max_speakers=2)


def test_merge_step_joins_a_speaker_the_cut_split_but_not_a_fixed_count():
    rng = np.random.default_rng(0)
    e = np.eye(8)
    # one speaker in two shades (first and last 15 windows), another speaker in between
    shades = [e[0] + 0.3 * e[2], e[1], e[0] - 0.3 * e[2]]
    windows = _windows(np.concatenate([s + 0.05 * rng.standard_normal((15, 8)) for s in shades]))
    truth = [0] * 15 + [1] * 15 + [0] * 15
    unmerged = SpeakerClustering(threshold=0.5, merge_threshold=None, blend_ratio=None)
    assert len(set(unmerged(windows))) == 3  # the cut splits
    clustering = SpeakerClustering(threshold=0.5, merge_threshold=0.7)
    assert list(clustering(windows)) == truth
    assert clustering.get_params()["merge_threshold"] == 0.7
    assert len(set(clustering(windows, num_speakers=3))) == 3
    assert len(set(clustering(windows, min_speakers=3))) == 3
    assert len(set(SpeakerClustering(threshold=0.5, merge_threshold=0.5, blend_ratio=None)(windows))) == 3


def test_blend_step_folds_windows_of_two_voices_but_not_a_third_voice():
    """Pieces that hold two speakers at once (or straddle a change) cluster of their own; they
    lie near the segment between the two voices, a third speaker does not."""
    rng = np.random.default_rng(0)
    e = np.eye(8)
    first, second, third = e[0] + 0.5 * e[3], e[1] + 0.5 * e[3], e[2] + 0.5 * e[3]  # a shared channel
    noisy = lambda centre, n: centre + 0.05 * rng.standard_normal((n, 8))  # noqa: E731
    blended = (first + second) / 2 + 0.6 * e[4]  # off the segment by 0.43 of its length
    windows = _windows(np.concatenate([noisy(first, 20), noisy(second, 20), noisy(blended / np.linalg.norm(blended), 8)]))
    loose = dict(threshold=0.3, min_cluster_seconds=1.0, merge_threshold=None)
    assert len(set(SpeakerClustering(**loose, blend_ratio=None)(windows))) == 3
    labels = SpeakerClustering(**loose)(windows)
    assert len(set(labels)) == 2 and list(labels[:40]) == [0] * 20 + [1] * 20
    assert len(set(SpeakerClustering(**loose, blend_ratio=0.4)(windows))) == 3  # 0.43 is no blend at 0.4
    assert len(set(SpeakerClustering(**loose)(windows, min_speakers=3))) == 3
    voices = _windows(np.concatenate([noisy(first, 20), noisy(second, 20), noisy(third, 8)]))
    assert len(set(SpeakerClustering(**loose)(voices))) == 3


def test_touching_windows_are_clustered_as_pieces():
    rng = np.random.default_rng(1)
    vectors = np.concatenate([np.eye(4)[0] + 0.05 * rng.standard_normal((6, 4)), np.eye(4)[1] + 0.05 * rng.standard_normal((6, 4))])
    touching = _windows(vectors, gap=-0.8)  # 50 % overlap: pieces of two windows
    labels = SpeakerClustering(piece_windows=2, min_cluster_seconds=1.0)(touching)
    assert list(labels) == [0] * 6 + [1] * 6
    assert all(labels[i] == labels[i + 1] for i in range(0, 12, 2))


def test_rttm_records_overlap_and_solo_regions(tmp_path):
    from pyannote.database.util import load_rttm

    annotation = Annotation(uri="case1")
    annotation[Segment(0.0, 4.0)] = "SPEAKER_00"
    annotation[Segment(3.0, 6.0)] = "SPEAKER_01"
    text = annotation_to_rttm(annotation, "evidence_1")
    lines = text.splitlines()
    assert len(lines) == 2 and all(len(line.split()) == 10 for line in lines)
    assert lines[0].split()[:5] == ["SPEAKER", "evidence_1", "1", "0.000", "4.000"]
    (tmp_path / "e.rttm").write_text(text)
    loaded = load_rttm(tmp_path / "e.rttm")["evidence_1"]
    assert DiarizationErrorRate()(annotation, loaded) == 0.0
    assert overlap_fraction(annotation) == pytest.approx(1.0 / 6.0)
    assert overlap_fraction(Annotation()) == 0.0
    assert solo_regions(annotation, "SPEAKER_00") == [(0.0, 3.0)]
    with pytest.raises(ValueError):
        annotation_to_rttm(annotation, "has space")


def test_fast_mel_matches_the_encoders_training_features():
    from resemblyzer.audio import wav_to_mel_spectrogram

    from forensic_s2f.audio.ge2e import mel_spectrogram

    for length in (401, 1000, 5 * RATE):
        samples = (0.1 * np.random.default_rng(length).standard_normal(length)).astype(np.float32)
        expected = wav_to_mel_spectrogram(samples)
        np.testing.assert_allclose(mel_spectrogram(samples), expected, rtol=1e-4, atol=1e-6 * expected.max())


def test_one_speakers_touching_segments_are_one_turn():
    """The resegmenter can end a segment where the next of the same speaker starts (10.0-10.8,
    10.8-11.175): one turn, not two segments in exports, counts and RTTM."""
    from forensic_s2f.diarize.annotation import build_annotation

    annotation = build_annotation([(10.8, 11.175, 7), (10.0, 10.8, 7), (11.175, 12.0, 3), (11.9, 12.4, 3),
                                   (11.5, 12.2, 7), (12.5, 13.0, 3)])
    turns = [(round(s.start, 3), round(s.end, 3), label) for s, _, label in annotation.itertracks(yield_label=True)]
    assert turns == [(10.0, 11.175, "SPEAKER_00"), (11.175, 12.4, "SPEAKER_01"), (11.5, 12.2, "SPEAKER_00"),
                     (12.5, 13.0, "SPEAKER_01")]  # (a gap keeps turns apart)


def test_speech_set_aside_by_the_clustering_is_named():
    """Two voices of 6 s and a third person who says one thing (2.5 s): too little for a cluster
    of its own, folded into a speaker, and named with where it lies. A single voice's small
    clusters are folded back without a word (the warning had fired on every short clip)."""
    from forensic_s2f.analysis import set_aside_warnings
    from forensic_s2f.diarize.annotation import Diarization

    first, second, third = (load(p).samples for p in distinct_speakers(3))
    rate, pause = 16_000, np.zeros(8_000, np.float32)
    mix = np.concatenate([first[:48_000], pause, second[:48_000], pause, third[16_000:56_000], pause,
                          first[48_000:], pause, second[48_000:]])
    third_at = (7.0, 9.5)  # seconds: where the third person speaks
    diarization = Diarizer().diarize(mix, rate)
    assert len(diarization.annotation.labels()) == 2
    assert any(s < third_at[1] and third_at[0] < e for s, e in diarization.set_aside)
    (warning,) = set_aside_warnings(diarization)
    assert "may be a further person" in warning
    assert set_aside_warnings(Diarization(diarization.annotation)) == []
    assert Diarizer().diarize(mix, rate, num_speakers=2).set_aside == []  # (a count given: nothing folded)
    assert diarization.free_count is None  # (no limits)
    assert Diarizer().diarize(mix, rate, max_speakers=1).free_count == 2  # (the limit joined two voices)
    assert Diarizer().diarize(mix, rate, max_speakers=2).free_count is None  # (a limit that changed nothing)
    for clip in (first, second, third):
        assert Diarizer().diarize(clip, rate).set_aside == []
