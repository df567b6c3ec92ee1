"""The overlapped-speech detector: shipped weights, training, detection, second speakers."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest

import forensic_s2f  # noqa: F401
from forensic_s2f.audio.decode import load
from forensic_s2f.audio.pcm import PcmWriter
from forensic_s2f.diarize.overlap import (
    DEFAULT_OVERLAP_WEIGHTS,
    WEIGHTS_FILE,
    OverlapDetector,
    load_overlap_network,
    save_overlap_weights,
)
from forensic_s2f.diarize.resegment import ViterbiResegmenter
from forensic_s2f.errors import Fs2fError
from tests._shared_data import distinct_speakers, shared_data

RATE = 16_000


def test_shipped_weights_load_offline_and_are_recorded():
    network, sha256, config = load_overlap_network(DEFAULT_OVERLAP_WEIGHTS)
    assert sum(p.numel() for p in network.parameters()) < 100_000
    params = OverlapDetector().get_params()
    assert params["weights_sha256"] == sha256 and len(sha256) == 64
    assert params["training"]["examples"] == config["training"]["examples"]


def test_altered_weights_are_refused_naming_the_file(tmp_path):
    copy = tmp_path / "weights"
    shutil.copytree(DEFAULT_OVERLAP_WEIGHTS, copy)
    data = bytearray((copy / WEIGHTS_FILE).read_bytes())
    data[-10] ^= 0xFF
    (copy / WEIGHTS_FILE).write_bytes(bytes(data))
    with pytest.raises(Fs2fError, match=f"{WEIGHTS_FILE}: SHA-256 mismatch"):
        OverlapDetector(copy).get_params()
    (copy / "manifest.json").unlink()
    with pytest.raises(Fs2fError, match="no manifest.json"):
        OverlapDetector(copy)(np.zeros(RATE, np.float32), RATE, [(0.0, 1.0)])


def test_unreadable_weights_matching_their_manifest_are_one_line_errors(tmp_path):
    """The same reading as the face model's weights: a truncated .npz or a config that is no
    detector's is an Fs2fError naming the file, not an internal error."""
    from forensic_s2f.diarize.overlap import CONFIG_FILE
    from forensic_s2f.manifest import write_manifest

    for name, damage, message in (
        (WEIGHTS_FILE, lambda data: data[: len(data) // 2], "cannot be read as overlap detector weights (BadZipFile"),
        (CONFIG_FILE, lambda data: b'{"channels": 64}', "does not describe an overlap detector (KeyError: 'dilations')"),
    ):
        copy = tmp_path / name
        shutil.copytree(DEFAULT_OVERLAP_WEIGHTS, copy)
        (copy / name).write_bytes(damage((copy / name).read_bytes()))
        write_manifest(copy, (WEIGHTS_FILE, CONFIG_FILE))
        with pytest.raises(Fs2fError, match=re.escape(f"{copy / name}: {message}")):
            load_overlap_network(copy)


def _two_voices(overlap_seconds: float) -> tuple[np.ndarray, tuple[float, float]]:
    """Two different speakers' clips, the second starting `overlap_seconds` before the first ends;
    returns the mixture and the overlapped span (seconds)."""
    first, second = (load(p).samples for p in distinct_speakers(2))
    start = len(first) - int(overlap_seconds * RATE)
    mixture = np.zeros(start + len(second), np.float32)
    mixture[: len(first)] += first
    mixture[start:] += second
    return mixture, (start / RATE, len(first) / RATE)


def test_detects_two_voices_at_once_more_than_one():
    mixture, (a, b) = _two_voices(2.0)
    p = OverlapDetector().probabilities(mixture, RATE, [(0.0, len(mixture) / RATE)])
    frames = np.arange(len(p)) * 0.01
    inside = p[(frames > a + 0.2) & (frames < b - 0.2)]
    alone = p[(frames > 1.0) & (frames < a - 1.0)]
    # a weak detector (see docs/benchmarks.md), but one voice alone never looks like two
    assert alone.max() < 0.05 and inside.mean() > 0.1, (alone.max(), inside.mean())
    assert (inside > alone.max()).mean() > 0.8


def test_probabilities_do_not_depend_on_the_recording_level():
    mixture, _ = _two_voices(2.0)
    regions = [(0.0, len(mixture) / RATE)]
    detector = OverlapDetector()
    p = detector.probabilities(mixture, RATE, regions)
    quiet = (mixture * np.float32(10 ** (-40 / 20))).astype(np.float32)
    assert np.allclose(detector.probabilities(quiet, RATE, regions), p, atol=1e-3)
    # as it is, a quiet recording's features sink into their log floor
    as_is = OverlapDetector(speech_dbfs=None)
    assert np.abs(as_is.probabilities(quiet, RATE, regions) - as_is.probabilities(mixture, RATE, regions)).max() > 0.1
    assert detector.get_params()["speech_dbfs"] == -26.0


def test_streamed_file_gives_the_same_probabilities_as_the_array(tmp_path):
    mixture, _ = _two_voices(1.0)
    mixture = np.concatenate([mixture, np.zeros(3 * RATE, np.float32), mixture])  # more than two blocks
    with PcmWriter(tmp_path / "x.f32", RATE) as writer:
        writer.write(mixture)
        pcm, _ = writer.close()
    regions = [(0.0, len(mixture) / RATE)]
    detector = OverlapDetector()
    assert np.array_equal(detector.probabilities(pcm, RATE, regions), detector.probabilities(mixture, RATE, regions))
    found = detector(mixture, RATE, [(0.5, 9.0)])
    assert all(0.5 <= s < e <= 9.0 and e - s >= detector.min_seconds - 1e-9 for s, e in found)
    assert detector(mixture, RATE, []) == []


def test_second_speaker_is_the_nearest_other_one_within_reach():
    segments = [(0.0, 5.0, 0), (5.0, 10.0, 1), (12.0, 20.0, 2)]
    second = ViterbiResegmenter(second_speaker_reach_seconds=1.0)._second_speakers(
        segments, [(4.5, 5.3), (7.0, 7.5), (16.0, 16.5)])
    # 4.5-5.3: speaker 0 at its middle, speaker 1 touches it; 7.0-7.5: speaker 1 speaks, speaker 0
    # ended 2 s before (out of reach); 16.0-16.5: speaker 1 ended 6 s before
    assert second == [(4.5, 5.3, 1)]


def test_training_end_to_end_is_deterministic(tmp_path):
    from forensic_s2f.diarize.overlap_training import train_overlap_network, training_clips

    if not (shared_data() / "s2f-pairs" / "audio").is_dir():
        pytest.skip("shared voice clips not found")
    names = {p.stem for p in distinct_speakers(4)}
    clips = training_clips(shared_data() / "s2f-pairs", keep=lambda clip_id: clip_id in names)
    assert len(clips) == 4 and all(c.speech.any() for c in clips)
    hashes = []
    for run in range(2):
        network, record = train_overlap_network(clips, seed=3, examples=12, steps=3)
        hashes.append(save_overlap_weights(network, tmp_path / f"run{run}", record))
    assert hashes[0] == hashes[1]
    assert record["clips"] == 4 and 0.0 < record["overlapped_frame_fraction"] < 0.5
    detector = OverlapDetector(tmp_path / "run0")
    assert detector.get_params()["weights_sha256"] == hashes[0]
    assert detector.probabilities(np.zeros(RATE, np.float32), RATE, [(0.0, 1.0)]).shape == (101,)


def test_train_overlap_command_refuses_a_used_folder_and_a_folder_without_clips(cli, tmp_path):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "keep.txt").write_text("x")
    result = cli("model", "train-overlap", "--data", tmp_path, "--output", tmp_path / "used")
    assert result.code != 0 and "exists and is not empty" in result.stderr and "Traceback" not in result.stderr
    assert (tmp_path / "used" / "keep.txt").read_text() == "x"
    result = cli("model", "train-overlap", "--data", tmp_path, "--output", tmp_path / "new")
    assert result.code != 0 and "no audio/*.flac clips" in result.stderr
    assert not (tmp_path / "new").exists()
    result = cli("model", "train-overlap", "--data", tmp_path, "--output", tmp_path / "used" / "keep.txt")
    assert result.code == 2 and result.stderr.endswith("keep.txt: exists and is not a folder; choose a new folder for the weights\n")


def test_second_speaker_segments_never_repeat_that_speakers_own_speech():
    from forensic_s2f.diarize.resegment import _merge_overlapping, _outside_own_speech

    segments = [(0.0, 5.0, 0), (5.0, 10.0, 1)]
    extra = _merge_overlapping([(4.5, 5.3, 1), (4.8, 5.0, 1), (9.5, 10.5, 0)])
    assert extra == [(9.5, 10.5, 0), (4.5, 5.3, 1)]
    assert sorted(_outside_own_speech(extra, segments)) == [(4.5, 5.0, 1), (9.5, 10.5, 0)]
