"""Training and evaluation end to end on a small subset of the shared pairs; bit-for-bit determinism."""

import json
import shutil

import pytest

from forensic_s2f.audio.decode import load
from forensic_s2f.s2f.evaluate import evaluate, format_evaluation
from forensic_s2f.s2f.model import DEFAULT_WEIGHTS_DIR, load_model
from forensic_s2f.s2f.train import train
from tests.s2f_helpers import pairs_dir

SUBSET = 40


@pytest.mark.slow
def test_train_on_subset_is_deterministic_and_loads(cli, tmp_path):
    data = pairs_dir()
    model = train(data, tmp_path / "a", members=3, seed=7, limit=SUBSET)
    (tmp_path / "b").mkdir()  # an empty folder is a new one
    result = cli("model", "train", "--data", data, "--output", tmp_path / "b",
                 "--members", "3", "--seed", "7", "--limit", SUBSET)
    assert result.code == 0, result
    for name in ("model.npz", "config.json", "manifest.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert model.sha256 in result.stdout
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["training"]["clips"] == SUBSET and config["params"]["heads"]["members"] == 3
    other_seed = train(data, tmp_path / "c", members=3, seed=8, limit=SUBSET)
    assert other_seed.sha256 != model.sha256

    loaded = load_model(tmp_path / "a")
    audio = load(sorted((data / "audio").glob("*.flac"))[0])
    prediction = loaded.predict(audio.samples, audio.sample_rate)
    assert len(prediction.member_faces) == 3
    assert sum(prediction.gender.values()) == pytest.approx(1.0)

    card = cli("model", "info", "--model", tmp_path / "a")
    assert card.code == 0, card
    assert f"{SUBSET} voice–face pairs" in card.stdout and "not recorded with these weights" in card.stdout
    assert "only 12 speakers under 18" not in card.stdout
    assert "Sizes chosen on the 5 grouped folds" not in card.stdout and "shipped recipe's" in card.stdout
    assert "3 members, seed 7" in card.stdout


def test_train_refuses_an_existing_folder_before_training(cli, tmp_path):
    data = pairs_dir()
    weights = tmp_path / "weights"
    shutil.copytree(DEFAULT_WEIGHTS_DIR, weights)
    before = {p.name: p.read_bytes() for p in weights.iterdir()}
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("notes\n")
    link = tmp_path / "link"
    (tmp_path / "empty").mkdir()
    link.symlink_to(tmp_path / "empty")
    for output, reason in (
        (weights, "exists and is not empty"), (not_a_folder, "exists and is not a folder"), (link, "is a link")
    ):
        result = cli("model", "train", "--data", data, "--output", output, "--members", "2", "--limit", "10")
        assert result.code == 2, result
        assert result.stderr == f"error: {output}: {reason}; choose a new folder for the weights\n"
    assert {p.name: p.read_bytes() for p in weights.iterdir()} == before
    assert not_a_folder.read_text() == "notes\n" and not any((tmp_path / "empty").iterdir())


@pytest.mark.slow
def test_evaluate_on_subset_reports_every_figure():
    data = pairs_dir()
    result = evaluate(data, folds=2, seed=0, members=2, seconds=(1.0,), pool_size=10, limit=SUBSET)
    overall = result["overall"]
    for key in ("gender_accuracy", "age_exact", "age_within_one", "gender_ece", "R@1", "R@5", "R@10"):
        assert 0.0 <= overall[key] <= 1.0
    assert overall["R@1"] <= overall["R@5"] <= overall["R@10"]
    assert overall["age_exact"] <= overall["age_within_one"]
    assert set(result["by_seconds"]) == {"whole clip", "1 s"}
    assert set(result["by_gender"]) == {"female", "male"}
    assert result["clips"] == SUBSET
    table = format_evaluation(result)
    assert "voice gender accuracy" in table and "R@10" in table
    json.dumps(result, allow_nan=False)  # JSON-able: empty groups give None, never NaN
