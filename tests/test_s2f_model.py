"""The shipped Speech2Face model: offline loading, manifest checks, predictions, bad input."""

import copy
import json
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from forensic_s2f.audio.decode import load
from forensic_s2f.errors import Fs2fError
from forensic_s2f.s2f.checks import SpeechError
from forensic_s2f.s2f.dataset import load_pairs
from forensic_s2f.s2f.model import DEFAULT_WEIGHTS_DIR, load_model
from forensic_s2f.s2f.predict import write_prediction
from conftest import with_bang
from tests.s2f_helpers import noise_file, pairs_dir


def within_one_name(age: dict[str, float]) -> tuple[str, float]:
    """The bracket whose own and adjacent brackets hold the most probability, and that sum."""
    names, p = list(age), list(age.values())
    sums = [sum(p[max(0, i - 1): i + 2]) for i in range(len(p))]
    best = max(range(len(p)), key=lambda i: (sums[i], -i))
    return names[best], sums[best]


@pytest.fixture(scope="module")
def model():
    return load_model()


@pytest.fixture(scope="module")
def clip():
    data = pairs_dir()
    pairs = load_pairs(data)
    audio = load(data / "audio" / f"{pairs.ids[0]}.flac")
    return audio.samples, audio.sample_rate


def test_shipped_model_loads_and_predicts_without_network(monkeypatch):
    from pyannote.audio.sample import SAMPLE_FILE  # real two-speaker speech shipped with pyannote.audio

    def refuse(*args, **kwargs):
        raise OSError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    model = load_model()
    assert len(model.sha256) == 64
    audio = load(SAMPLE_FILE["audio"])
    prediction = model.predict(audio.samples[6 * audio.sample_rate : 14 * audio.sample_rate], audio.sample_rate)
    assert prediction.model_sha256 == model.sha256
    assert 5.0 < prediction.seconds_used <= 8.0


def test_a_dc_offset_does_not_move_the_estimate(model):
    """An offset of 0.02 of full scale moved the voice embedding by 0.46 and changed the likeliest
    age bracket of 28 % of 40 clips; the encoder now takes the speech less its mean."""
    from pyannote.audio.sample import SAMPLE_FILE

    audio = load(SAMPLE_FILE["audio"])
    speech = audio.samples[6 * audio.sample_rate : 14 * audio.sample_rate]
    regions = model.speech_regions(speech, audio.sample_rate)
    plain = model.predict(speech, audio.sample_rate, regions)
    for offset in (0.02, -0.2):
        shifted = model.predict(speech + np.float32(offset), audio.sample_rate, regions)
        assert np.abs(shifted.embedding - plain.embedding).max() < 1e-3
        assert shifted.to_json()["gender"] == plain.to_json()["gender"]
        assert shifted.to_json()["age"] == plain.to_json()["age"]


def test_a_bang_in_quiet_speech_leaves_its_level_as_it_was(model):
    """The speech was brought to -30 dBFS by its RMS, which a bang set: in the sample's speech
    played 20 dB quieter, a 0.2 s bang near full scale took the gain from +20 to -0.1 dB and moved
    the embedding to a cosine of 0.59 from the bang-free one. The bang's blocks are now left out
    of the RMS."""
    from pyannote.audio.sample import SAMPLE_FILE

    from forensic_s2f.audio.ge2e import speech_gain

    audio = load(SAMPLE_FILE["audio"])
    rate = audio.sample_rate
    speech = audio.samples[6 * rate : 14 * rate]
    regions = model.speech_regions(speech, rate)
    quiet = (speech * np.float32(0.1)).astype(np.float32)
    banged = with_bang(quiet, rate, 3.0, 0.2)
    gain = [20 * np.log10(speech_gain(x, rate, regions, -30.0, raise_only=False)) for x in (quiet, banged)]
    assert gain[1] == pytest.approx(gain[0], abs=2.0)
    plain, knocked = (model.predict(x, rate, regions).embedding for x in (quiet, banged))
    assert float(plain @ knocked) > 0.9
    # speech alone keeps its plain RMS gain
    rms = np.sqrt(np.mean(np.concatenate([quiet[int(a * rate): int(b * rate)] for a, b in regions]).astype(np.float64) ** 2))
    assert gain[0] == pytest.approx(-30.0 - 20 * np.log10(rms), abs=0.05)


def test_manifest_mismatch_and_missing_files_are_clear_errors(tmp_path):
    weights = tmp_path / "weights"
    shutil.copytree(DEFAULT_WEIGHTS_DIR, weights)
    data = bytearray((weights / "model.npz").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (weights / "model.npz").write_bytes(bytes(data))
    with pytest.raises(Fs2fError, match="model.npz: SHA-256 mismatch"):
        load_model(weights)
    (weights / "config.json").unlink()
    shutil.copy(DEFAULT_WEIGHTS_DIR / "model.npz", weights / "model.npz")
    with pytest.raises(Fs2fError, match="config.json: missing"):
        load_model(weights)
    (weights / "manifest.json").unlink()
    with pytest.raises(Fs2fError, match="no manifest.json"):
        load_model(weights)


def test_the_model_hears_speech_as_its_voice_activity_was_trained(model, tmp_path):
    """The shipped model was trained with silero on each clip as recorded; the analysis's VAD
    now levels its input first. Weights written before that parameter existed load as recorded."""
    from forensic_s2f.manifest import write_manifest

    config = json.loads((DEFAULT_WEIGHTS_DIR / "config.json").read_text())
    assert config["params"]["vad"]["level_dbfs"] is None and model.vad.get_params() == config["params"]["vad"]
    older = tmp_path / "older"
    shutil.copytree(DEFAULT_WEIGHTS_DIR, older)
    del config["params"]["vad"]["level_dbfs"]
    del config["params"]["vad"]["remove_dc"], config["params"]["encoder"]["remove_dc"]
    (older / "config.json").write_text(json.dumps(config))
    write_manifest(older, ["config.json", "model.npz", "validation.json"])
    loaded = load_model(older)  # (weights from before DC offsets were taken out heard them)
    assert loaded.vad.level_dbfs is None and loaded.vad.remove_dc is False and loaded.encoder.remove_dc is False
    assert model.encoder.remove_dc is True and model.vad.remove_dc is False  # (the shipped model's own VAD: as trained)


def test_prediction_contents_and_files(model, clip, tmp_path):
    prediction = model.predict(*clip)
    assert sum(prediction.gender.values()) == pytest.approx(1.0)
    assert list(prediction.age) == ["<18", "18-29", "30-44", "45-59", "60+"]
    assert sum(prediction.age.values()) == pytest.approx(1.0)
    label, within = within_one_name(prediction.age)
    assert prediction.age_estimate == label
    assert prediction.age_estimate_within_one == pytest.approx(within)
    assert prediction.age[label] <= within <= 1.0
    assert 5.0 < prediction.seconds_used <= 6.0
    assert prediction.face.shape == (224, 224, 3) and prediction.face.dtype == np.uint8
    assert len(prediction.member_faces) >= 5
    assert prediction.face_std.shape == (224, 224) and prediction.face_std.max() > 0
    paths = write_prediction(prediction, tmp_path / "out")
    assert {p.name for p in paths.values()} == {"face.png", "uncertainty.png", "members.png", "prediction.json"}
    assert Image.open(paths["face"]).size == (224, 224) and Image.open(paths["face"]).mode == "RGB"
    assert Image.open(paths["members"]).size == (224 * len(prediction.member_faces), 224)
    document = json.loads(paths["prediction"].read_text())
    assert set(document["gender"]) == {"female", "male"}
    assert document["age_estimate"] == prediction.age_estimate
    assert document["age_estimate_within_one"] == pytest.approx(prediction.age_estimate_within_one, abs=1e-4)
    manifest = json.loads((DEFAULT_WEIGHTS_DIR / "manifest.json").read_text())["files"]
    assert document["model"] == {"name": model.name, "sha256": model.sha256, "files": manifest}
    assert set(manifest) == {"model.npz", "config.json", "validation.json"}  # config.json: temperatures, VAD, encoder
    assert document["seconds_used"] == pytest.approx(prediction.seconds_used, abs=1e-3)
    assert isinstance(document["warnings"], list)


def test_predictions_are_deterministic(model, clip):
    first, second = model.predict(*clip), model.predict(*clip)
    assert first.gender == second.gender and first.age == second.age
    assert np.array_equal(first.face, second.face)


def test_gender_of_real_clips():
    data = pairs_dir()
    pairs = load_pairs(data)
    model = load_model()
    chosen = [i for code in (0, 1) for i in np.flatnonzero(pairs.gender == code)[:4]]
    right = 0
    for i in chosen:
        audio = load(data / "audio" / f"{pairs.ids[i]}.flac")
        p = model.predict(audio.samples, audio.sample_rate)
        right += int((p.gender["male"] > 0.5) == bool(pairs.gender[i]))
    assert right >= 7


def test_silence_and_noise_only_are_refused(model):
    with pytest.raises(SpeechError, match="no speech"):
        model.predict(np.zeros(0, np.float32), 16000)
    with pytest.raises(SpeechError, match="no speech"):
        model.predict(np.zeros(16000 * 4, np.float32), 16000)
    noise = np.random.default_rng(0).normal(0, 0.1, 16000 * 4).astype(np.float32)
    with pytest.raises(SpeechError, match="no speech"):
        model.predict(noise, 16000)


def test_cafe_noise_alone_gives_no_confident_answer(model):
    cafe = load(noise_file()).samples
    looped = np.tile(cafe, 2)[: 16000 * 8]
    try:
        prediction = model.predict(looped, 16000)
    except SpeechError:
        return
    assert prediction.warnings


def test_malformed_samples_are_refused(model, clip):
    samples, rate = clip
    with pytest.raises(Fs2fError, match="mono"):
        model.predict(np.stack([samples, samples]), rate)
    broken = samples.copy()
    broken[100] = np.nan
    with pytest.raises(Fs2fError, match="NaN"):
        model.predict(broken, rate)


def test_less_than_one_second_of_speech_is_refused(model, clip):
    samples, rate = clip
    short = np.concatenate([np.zeros(rate, np.float32), samples[rate : int(1.7 * rate)], np.zeros(rate, np.float32)])
    with pytest.raises(SpeechError, match=r"only 0\.\d+ s of speech"):
        model.predict(short, rate)


def test_short_speech_is_flagged(model, clip):
    samples, rate = clip
    prediction = model.predict(samples[: 2 * rate], rate)
    assert any("low reliability" in w for w in prediction.warnings)
    assert prediction.seconds_used < 3


def test_clipped_audio_is_flagged(model, clip):
    samples, rate = clip
    clipped = np.clip(samples * 30, -1, 1)
    assert any("clipped" in w for w in model.predict(clipped, rate).warnings)
    assert not any("clipped" in w for w in model.predict(samples, rate).warnings)


def test_noisy_audio_is_flagged(model, clip):
    samples, rate = clip
    cafe = load(noise_file()).samples
    noise = np.tile(cafe, 4)[: len(samples) + 2 * rate]
    speech = np.concatenate([np.zeros(rate, np.float32), samples, np.zeros(rate, np.float32)])
    scale = np.sqrt(np.mean(samples**2) / np.mean(noise**2))
    noisy = (speech + scale * noise).astype(np.float32)
    try:
        warnings = model.predict(noisy, rate).warnings
    except SpeechError:
        return
    assert any("signal-to-noise" in w for w in warnings)


def test_members_whose_faces_disagree_are_flagged(model, clip):
    """White noise at 0 dB SNR over a real clip pushes the members' faces apart (the warning's
    threshold is the 99th percentile of clean clips); the clean clip is not flagged."""
    from forensic_s2f.s2f.model import FACE_SPREAD_WARNING

    samples, rate = clip
    clean = model.predict(samples, rate)
    noise = np.random.default_rng(0).standard_normal(len(samples)).astype(np.float32) * np.sqrt(np.mean(samples**2))
    noisy = model.predict((samples + noise).astype(np.float32), rate)
    assert clean.face_std.mean() <= FACE_SPREAD_WARNING < noisy.face_std.mean()
    assert not any("faces disagree" in w for w in clean.warnings)
    assert any(w.startswith("ensemble members' faces disagree (mean per-pixel spread") for w in noisy.warnings)


def test_card_names_data_method_figures_and_limits(model):
    card = model.card()
    for heading in ("## Training data", "## Method", "## Validation", "## Limitations"):
        assert heading in card
    assert model.sha256 in card



def test_write_prediction_never_replaces_nor_writes_through_links(model, clip, tmp_path):
    prediction = model.predict(*clip)
    folder = tmp_path / "out"
    written = write_prediction(prediction, folder)
    first = {path.name: path.read_bytes() for path in written.values()}
    with pytest.raises(Fs2fError, match="face.png: already exists"):
        write_prediction(prediction, folder)
    assert {path.name: path.read_bytes() for path in folder.iterdir()} == first
    outside = tmp_path / "outside.json"
    outside.write_text("not yours\n")
    linked = tmp_path / "linked"
    linked.mkdir()
    (linked / "prediction.json").symlink_to(outside)
    with pytest.raises(Fs2fError, match="prediction.json: already exists"):
        write_prediction(prediction, linked)
    assert outside.read_text() == "not yours\n"
    assert [path.name for path in linked.iterdir()] == ["prediction.json"]  # (the three images were written first)


def test_write_prediction_writes_all_four_files_or_none(model, clip, tmp_path, monkeypatch):
    """A full disk (or a stop) after some of the files were written left those files, and the
    next try then refused the folder because they were there."""
    import errno

    from forensic_s2f import output_files

    prediction = model.predict(*clip)
    synced = []

    def disk_full_at_the_third(descriptor):
        synced.append(descriptor)
        if len(synced) == 3:
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(output_files.os, "fsync", disk_full_at_the_third)
    folder = tmp_path / "out"
    with pytest.raises(Fs2fError, match=r"members.png: cannot be written \(No space left on device\); nothing was written"):
        write_prediction(prediction, folder)
    assert list(folder.iterdir()) == []
    monkeypatch.undo()
    assert sorted(path.name for path in write_prediction(prediction, folder).values()) == sorted(
        path.name for path in folder.iterdir())


def test_shipped_card_is_the_documented_one(model):
    docs = Path(__file__).resolve().parents[1] / "docs" / "model-card.md"
    assert model.card() == docs.read_text()


def _retrained(model, **training):
    """`model` as if retrained: other model.npz SHA-256, its training record updated with `training`."""
    other = copy.copy(model)
    other.sha256 = "0" * 64
    other.training = {**model.training, **training}
    return other


SHIPPED_ONLY = (
    "only 12 speakers under 18",
    "Sizes chosen on the 5 grouped folds",
    "`fs2f model train --data ../shared/data/s2f-pairs --output DIR` rebuilds",
)


def test_card_of_a_model_trained_on_a_subset_states_its_own_data(model):
    card = _retrained(model, clips=40, videos=39, ids_sha256="ab" * 32, seed=7, members=3).card()
    for shipped_only in SHIPPED_ONLY:
        assert shipped_only not in card
    assert "40 voice–face pairs from 39 YouTube videos, a selection (clip list SHA-256 `" + "ab" * 32 in card
    assert "not recorded with these weights" in card
    assert "These sizes are the shipped recipe's" in card and "not re-chosen on this model's training data" in card
    assert "3 members, seed 7" in card
    assert "Labels are perceived by one annotator" in card  # still the collection's labels


def test_card_of_a_model_trained_on_other_data_claims_nothing_of_the_collection(model):
    card = _retrained(model, clips=30, videos=30, ids_sha256="cd" * 32, labels_sha256="ef" * 32).card()
    for shipped_only in (*SHIPPED_ONLY, "Speech2Face CVPR 2019", "one annotator", "English-language"):
        assert shipped_only not in card
    assert "30 voice–face pairs from 30 videos of a pair folder other than" in card
    assert "labels.csv SHA-256 `" + "ef" * 32 in card


def test_card_of_a_retrain_on_the_same_clips_keeps_the_data_description_only(model):
    card = _retrained(model, seed=3).card()
    assert "only 12 speakers under 18" in card  # same clips, same labels: still true
    assert "Sizes chosen on the 5 grouped folds" not in card and "These sizes are the shipped recipe's" in card
    assert "These are not the shipped weights" in card


def test_card_of_a_model_with_other_sizes_does_not_credit_the_shipped_recipe(model):
    other = _retrained(model, clips=40, ids_sha256="ab" * 32)
    other.face = copy.copy(model.face)
    other.face.retrieval_directions = 4
    card = other.card()
    assert "4 leading directions" in card and "set for this training and differ from the shipped recipe's" in card
    assert "Sizes chosen on the 5 grouped folds" not in card and "shipped recipe's, chosen" not in card
