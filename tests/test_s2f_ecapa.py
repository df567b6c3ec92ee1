"""The optional SpeechBrain ECAPA voice encoder: a tiny random-weight ECAPA folder built here."""

import hashlib
import json
import socket
from pathlib import Path

import numpy as np
import pytest
import torch

import forensic_s2f  # noqa: F401  (offline settings before speechbrain/pyannote)
from forensic_s2f.audio.decode import load
from forensic_s2f.errors import Fs2fError
from forensic_s2f.s2f.ecapa import ECAPAEncoder
from forensic_s2f.s2f.evaluate import evaluate
from forensic_s2f.s2f.model import attach_validation, load_model
from tests.s2f_helpers import pairs_dir

N_MELS = 24
CHANNELS = [32, 32, 32, 32, 96]
LIN_NEURONS = 32

# The layout of speechbrain/spkrec-ecapa-voxceleb's hyperparams.yaml, with small sizes.
HYPERPARAMS = f"""\
n_mels: {N_MELS}
pretrained_path: speechbrain/spkrec-ecapa-voxceleb
out_n_neurons: 7

compute_features: !new:speechbrain.lobes.features.Fbank
    n_mels: !ref <n_mels>

mean_var_norm: !new:speechbrain.processing.features.InputNormalization
    norm_type: sentence
    std_norm: False

embedding_model: !new:speechbrain.lobes.models.ECAPA_TDNN.ECAPA_TDNN
    input_size: !ref <n_mels>
    channels: {CHANNELS}
    kernel_sizes: [5, 3, 3, 3, 1]
    dilations: [1, 2, 3, 4, 1]
    attention_channels: 16
    lin_neurons: {LIN_NEURONS}

classifier: !new:speechbrain.lobes.models.ECAPA_TDNN.Classifier
    input_size: {LIN_NEURONS}
    out_neurons: !ref <out_n_neurons>

mean_var_norm_emb: !new:speechbrain.processing.features.InputNormalization
    norm_type: global
    std_norm: False

modules:
    compute_features: !ref <compute_features>
    mean_var_norm: !ref <mean_var_norm>
    embedding_model: !ref <embedding_model>
    mean_var_norm_emb: !ref <mean_var_norm_emb>
    classifier: !ref <classifier>
"""


def write_tiny_ecapa(directory: Path) -> Path:
    """hyperparams.yaml and embedding_model.ckpt (random weights, seed 0) saved as SpeechBrain saves them."""
    from speechbrain.lobes.models.ECAPA_TDNN import ECAPA_TDNN
    from speechbrain.utils.checkpoints import torch_save

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "hyperparams.yaml").write_text(HYPERPARAMS)
    torch.manual_seed(0)
    network = ECAPA_TDNN(N_MELS, channels=CHANNELS, attention_channels=16, lin_neurons=LIN_NEURONS)
    torch_save(network, directory / "embedding_model.ckpt")
    return directory


@pytest.fixture(scope="module")
def ecapa_dir(tmp_path_factory) -> Path:
    return write_tiny_ecapa(tmp_path_factory.mktemp("ecapa"))


@pytest.fixture(scope="module")
def sample_audio():
    from pyannote.audio.sample import SAMPLE_FILE

    return load(SAMPLE_FILE["audio"])


def test_loads_offline_and_embeds_speech_deterministically(ecapa_dir, sample_audio, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the ECAPA encoder tried to open a network socket")

    monkeypatch.setattr(socket, "socket", no_network)
    regions = [(0.5, 9.0), (12.0, 27.5)]
    encoder = ECAPAEncoder(ecapa_dir, block_seconds=10.0)
    voice = encoder(sample_audio.samples, sample_audio.sample_rate, regions)
    again = ECAPAEncoder(ecapa_dir, block_seconds=10.0)(sample_audio.samples, sample_audio.sample_rate, regions)
    assert voice.embedding.shape == (LIN_NEURONS,)
    assert np.linalg.norm(voice.embedding) == pytest.approx(1.0, abs=1e-5)
    assert np.array_equal(voice.embedding, again.embedding)
    assert voice.partials.shape == (3, LIN_NEURONS)  # 24 s of speech in three equal 8 s blocks
    assert voice.seconds_used == pytest.approx(24.0)
    params = encoder.get_params()
    assert params["kind"] == "ecapa" and params["directory"] == str(ecapa_dir.resolve())
    assert params["sha256"] == {
        name: hashlib.sha256((ecapa_dir / name).read_bytes()).hexdigest()
        for name in ("hyperparams.yaml", "embedding_model.ckpt")
    }
    json.dumps(params)
    other = ECAPAEncoder(ecapa_dir)(sample_audio.samples, sample_audio.sample_rate, [(12.0, 27.5)])
    assert float(voice.embedding @ other.embedding) < 0.9999  # different speech, different embedding


def test_matches_speechbrain_encode_batch(ecapa_dir, sample_audio):
    """One block gives the direction of SpeechBrain's own EncoderClassifier.encode_batch."""
    from hyperpyyaml import load_hyperpyyaml
    from speechbrain.inference.classifiers import EncoderClassifier

    with open(ecapa_dir / "hyperparams.yaml") as handle:
        hparams = load_hyperpyyaml(handle)
    hparams["embedding_model"].load_state_dict(torch.load(ecapa_dir / "embedding_model.ckpt", weights_only=True))
    reference = EncoderClassifier(modules=hparams["modules"], hparams=hparams)
    wav = sample_audio.samples[16000 * 2 : 16000 * 14]
    with torch.inference_mode():
        expected = reference.encode_batch(torch.from_numpy(wav)[None, :])[0, 0].numpy()
    ours = ECAPAEncoder(ecapa_dir)(wav, 16000, [(0.0, 12.0)]).embedding
    np.testing.assert_allclose(ours, expected / np.linalg.norm(expected), atol=1e-5)


def test_unusable_folders_are_one_line_errors(ecapa_dir, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    no_ckpt = tmp_path / "no-ckpt"
    no_ckpt.mkdir()
    (no_ckpt / "hyperparams.yaml").write_text(HYPERPARAMS)
    cases = {
        tmp_path / "absent": "ECAPA folder not found",
        empty: "not a SpeechBrain ECAPA folder: missing hyperparams.yaml, embedding_model.ckpt",
        no_ckpt: "not a SpeechBrain ECAPA folder: missing embedding_model.ckpt",
    }
    for folder, reason in cases.items():
        with pytest.raises(Fs2fError) as error:
            ECAPAEncoder(folder)
        assert str(error.value) == f"{folder}: {reason}"
    recorded = ECAPAEncoder(ecapa_dir).get_params()["sha256"]
    with pytest.raises(Fs2fError, match="embedding_model.ckpt: SHA-256 differs"):
        ECAPAEncoder(ecapa_dir, sha256={**recorded, "embedding_model.ckpt": "0" * 64})
    wrong_size = tmp_path / "wrong-size"
    write_tiny_ecapa(wrong_size)
    (wrong_size / "hyperparams.yaml").write_text(HYPERPARAMS.replace(f"lin_neurons: {LIN_NEURONS}", "lin_neurons: 8"))
    with pytest.raises(Fs2fError, match="ECAPA checkpoint does not load"):
        ECAPAEncoder(wrong_size)


def test_cli_refuses_an_unusable_folder_in_one_line(cli, tmp_path):
    result = cli("model", "train", "--data", tmp_path, "--output", tmp_path / "m", "--ecapa-dir", tmp_path)
    assert result.code != 0
    assert result.stderr.strip() == f"error: {tmp_path}: not a SpeechBrain ECAPA folder: missing hyperparams.yaml, embedding_model.ckpt"
    assert not (tmp_path / "m").exists()


@pytest.mark.slow
def test_train_predict_with_ecapa_and_refuse_an_altered_checkpoint(cli, tmp_path):
    data = pairs_dir()
    ecapa = write_tiny_ecapa(tmp_path / "ecapa")
    model_dir = tmp_path / "model"
    result = cli("model", "train", "--data", data, "--output", model_dir, "--members", "2",
                 "--limit", "24", "--ecapa-dir", ecapa)
    assert result.code == 0, result
    encoder = json.loads((model_dir / "config.json").read_text())["params"]["encoder"]
    assert encoder["kind"] == "ecapa" and encoder["directory"] == str(ecapa.resolve())
    assert set(encoder["sha256"]) == {"hyperparams.yaml", "embedding_model.ckpt"}

    clip = sorted((data / "audio").glob("*.flac"))[0]
    result = cli("model", "predict", clip, "--output", tmp_path / "out", "--model", model_dir)
    assert result.code == 0, result
    folder = tmp_path / "out" / clip.stem
    assert sorted(p.name for p in folder.iterdir()) == ["face.png", "members.png", "prediction.json", "uncertainty.png"]
    prediction = json.loads((folder / "prediction.json").read_text())
    manifest = json.loads((model_dir / "manifest.json").read_text())["files"]
    assert prediction["model"] == {"name": "fs2f-s2f-ecapa-pca", "sha256": manifest["model.npz"], "files": manifest}
    card = cli("model", "info", "--model", model_dir)
    assert card.code == 0 and "# Model card: fs2f-s2f-ecapa-pca" in card.stdout
    assert "SpeechBrain ECAPA-TDNN speaker encoder from the local folder" in card.stdout

    refused = cli("model", "evaluate", "--data", data, "--limit", "24", "--attach-to", model_dir)
    assert refused.code != 0 and "voice encoder differs" in refused.stderr
    assert "validation.json" not in json.loads((model_dir / "manifest.json").read_text())["files"]
    figures = evaluate(data, folds=2, members=2, seconds=(1.0,), pool_size=10, limit=24, encoder=ECAPAEncoder(ecapa))
    attach_validation(model_dir, figures)
    validated = load_model(model_dir)
    assert validated.validation["clips"] == 24 and "voice gender accuracy" in validated.card()

    checkpoint = ecapa / "embedding_model.ckpt"
    altered = bytearray(checkpoint.read_bytes())
    altered[-1] ^= 1
    checkpoint.write_bytes(bytes(altered))
    for args in (("predict", clip, "--output", tmp_path / "again"), ("info",)):
        result = cli("model", *args, "--model", model_dir)
        assert result.code != 0
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "embedding_model.ckpt: SHA-256 differs" in lines[0], result
    assert not (tmp_path / "again").exists()
