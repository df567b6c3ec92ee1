"""The FS2F_PYANNOTE_PIPELINE loader, on tiny pipelines built here (random weights, offline):
a VoiceActivityDetection one and a real SpeakerDiarization one (segmentation, embedding, PLDA)."""

import hashlib
import json
import socket
from pathlib import Path

import numpy as np
import pytest

import forensic_s2f  # noqa: F401
from forensic_s2f.diarize.pyannote_pipeline import ENV_VAR, PyannotePipelineDiarizer, diarizer_from_environment, pipeline_files
from forensic_s2f.errors import Fs2fError

CONFIG = """\
pipeline:
  name: pyannote.audio.pipelines.VoiceActivityDetection
  params:
    segmentation: $model/segmentation
params:
  onset: 0.5
  offset: 0.5
  min_duration_on: 0.0
  min_duration_off: 0.0
"""


SPEAKER_DIARIZATION_CONFIG = """\
pipeline:
  name: pyannote.audio.pipelines.SpeakerDiarization
  params:
    segmentation: $model/segmentation
    segmentation_step: 0.5
    embedding: $model/embedding
    embedding_exclude_overlap: true
    embedding_batch_size: 16
    plda: $model/plda
    clustering: VBxClustering
params:
  segmentation:
    min_duration_off: 0.0
  clustering:
    threshold: 0.6
    Fa: 0.07
    Fb: 0.8
"""


def _save_checkpoint(model, folder: Path) -> None:
    """`folder/pytorch_model.bin`, the local checkpoint `Model.from_pretrained(dir, subfolder)` reads."""
    import pytorch_lightning
    import torch

    checkpoint = {
        "state_dict": model.state_dict(),
        "hyper_parameters": dict(model.hparams),
        "pytorch-lightning_version": pytorch_lightning.__version__,
    }
    model.on_save_checkpoint(checkpoint)
    folder.mkdir(parents=True)
    torch.save(checkpoint, folder / "pytorch_model.bin")


def _tiny_pyannet(specifications):
    from pyannote.audio.models.segmentation import PyanNet

    model = PyanNet(lstm={"hidden_size": 16, "num_layers": 1, "bidirectional": True}, linear={"hidden_size": 16, "num_layers": 1})
    model.specifications = specifications
    model.build()
    return model


def _tiny_pipeline(folder: Path) -> Path:
    """A VoiceActivityDetection pipeline over a 1-layer PyanNet saved as a local checkpoint."""
    import torch
    from pyannote.audio.core.task import Problem, Resolution, Specifications

    torch.manual_seed(0)
    model = _tiny_pyannet(Specifications(
        problem=Problem.MULTI_LABEL_CLASSIFICATION, resolution=Resolution.FRAME, duration=2.0, classes=["speech"]
    ))
    _save_checkpoint(model, folder / "segmentation")
    (folder / "config.yaml").write_text(CONFIG)
    return folder


def _tiny_speaker_diarization(folder: Path) -> Path:
    """pyannote's SpeakerDiarization laid out like speaker-diarization-community-1, all tiny and
    random (seed 0): a powerset PyanNet segmentation (3 speakers, at most 2 at once, 5 s windows
    as segmentation-3.0; its output bias makes each frame one speaker alone, which one the random
    weights pick from the audio), a WeSpeakerResNet34 embedding over 8 mel bins (256-dim), and a
    16-dim PLDA for VBx clustering."""
    import torch
    from pyannote.audio.core.task import Problem, Resolution, Specifications
    from pyannote.audio.models.embedding import WeSpeakerResNet34
    from pyannote.audio.utils.powerset import Powerset

    torch.manual_seed(0)
    segmentation = _tiny_pyannet(Specifications(
        problem=Problem.MONO_LABEL_CLASSIFICATION, resolution=Resolution.FRAME, duration=5.0,
        classes=["speaker#1", "speaker#2", "speaker#3"], powerset_max_classes=2, permutation_invariant=True,
    ))
    with torch.no_grad():  # random weights alone put every frame in one overlap class: VBx would get no embedding
        speakers_at_once = Powerset(3, 2).mapping.sum(dim=1)
        segmentation.classifier.bias.copy_(torch.where(speakers_at_once == 1, 0.0, -10.0))
    _save_checkpoint(segmentation, folder / "segmentation")
    embedding = WeSpeakerResNet34(num_mel_bins=8)
    embedding.specifications = Specifications(problem=Problem.REPRESENTATION, resolution=Resolution.CHUNK, duration=5.0)
    _save_checkpoint(embedding, folder / "embedding")
    _tiny_plda(folder / "plda", embedding.dimension, lda_dimension=16)
    (folder / "config.yaml").write_text(SPEAKER_DIARIZATION_CONFIG)
    return folder


def _tiny_plda(folder: Path, dimension: int, lda_dimension: int) -> None:
    """The two files pyannote's PLDA reads: `xvec_transform.npz` (centring means and a random
    `dimension` x `lda_dimension` LDA) and `plda.npz` (identity transform, decreasing variances)."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    np.savez(folder / "xvec_transform.npz", mean1=np.zeros(dimension), mean2=np.zeros(lda_dimension),
             lda=rng.standard_normal((dimension, lda_dimension)) / np.sqrt(dimension))
    np.savez(folder / "plda.npz", mu=np.zeros(lda_dimension), tr=np.eye(lda_dimension),
             psi=np.linspace(2.0, 0.5, lda_dimension))


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny models on a shared machine: one thread is ~8x faster than two fighting other work."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a network connection fails the test."""

    def refuse(sock, address):
        raise AssertionError(f"network connection attempted to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory) -> Path:
    return _tiny_pipeline(tmp_path_factory.mktemp("pipeline"))


@pytest.fixture(scope="module")
def speaker_diarization_dir(tmp_path_factory) -> Path:
    return _tiny_speaker_diarization(tmp_path_factory.mktemp("speaker-diarization"))


@pytest.fixture(scope="module")
def sample_speech():
    """pyannote's 30 s two-speaker sample, decoded to 16 kHz mono."""
    from pyannote.audio.sample import SAMPLE_FILE

    from forensic_s2f.audio.decode import load

    return load(SAMPLE_FILE["audio"])


def test_local_pipeline_loads_offline_and_returns_an_annotation(pipeline_dir, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(pipeline_dir))
    diarizer = diarizer_from_environment()
    assert isinstance(diarizer, PyannotePipelineDiarizer)
    samples = (0.1 * np.random.default_rng(0).standard_normal(16_000 * 3)).astype(np.float32)
    annotation = diarizer(samples, 16_000)
    assert set(annotation.labels()) <= {"SPEAKER_00"}
    assert all(segment.end <= 3.01 for segment in annotation.get_timeline())
    params = diarizer.get_params()
    assert params["pipeline_class"] == "VoiceActivityDetection" and len(params["config_sha256"]) == 64


def test_every_file_the_pipeline_reads_is_recorded(pipeline_dir, tmp_path, monkeypatch, no_network):
    """Only config.yaml was hashed: two pipelines with the same config and other checkpoints
    recorded the same parameters and diarized differently (a reproducibility review). A
    checkpoint named by an absolute path outside the folder is hashed too."""
    import shutil

    import yaml

    other = shutil.copytree(pipeline_dir, tmp_path / "other")
    checkpoint = next(p for p in (other / "segmentation").iterdir() if p.is_file() and p.suffix in (".bin", ".ckpt"))
    monkeypatch.setenv(ENV_VAR, str(pipeline_dir))
    first = diarizer_from_environment().get_params()
    monkeypatch.setenv(ENV_VAR, str(other))
    _retrain(checkpoint)
    second = diarizer_from_environment().get_params()
    assert first["config_sha256"] == second["config_sha256"]
    assert sorted(first["files_sha256"]) == sorted(second["files_sha256"]) and "config.yaml" in first["files_sha256"]
    name = str(checkpoint.relative_to(other))
    assert first["files_sha256"][name] != second["files_sha256"][name] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert {"pyannote.audio", "pyannote.pipeline", "lightning", "asteroid-filterbanks"} <= set(first)

    moved = shutil.move(str(other / "segmentation"), str(tmp_path / "elsewhere"))
    config = yaml.safe_load((other / "config.yaml").read_text())
    config["pipeline"]["params"]["segmentation"] = str(moved)
    (other / "config.yaml").write_text(yaml.safe_dump(config))
    outside = pipeline_files(other, other / "config.yaml")
    assert outside[str(Path(moved) / checkpoint.name)] == second["files_sha256"][name]


def _retrain(checkpoint: Path) -> None:
    """Other weights in the same checkpoint file (every parameter moved a little)."""
    import torch

    saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
    state = saved["state_dict"] if "state_dict" in saved else saved
    for key, value in state.items():
        if torch.is_floating_point(value):
            state[key] = value + 0.01
    torch.save(saved, checkpoint)


def test_unset_variable_means_fs2f_own_diarizer(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert diarizer_from_environment() is None


@pytest.mark.parametrize("case", ["missing", "no-config", "broken-checkpoint"])
def test_bad_directory_is_a_one_line_error(tmp_path, monkeypatch, case):
    target = tmp_path / "pipe"
    if case != "missing":
        target.mkdir()
    if case == "broken-checkpoint":
        (target / "config.yaml").write_text(CONFIG)
        (target / "segmentation").mkdir()
        (target / "segmentation" / "pytorch_model.bin").write_bytes(b"not a checkpoint")
    monkeypatch.setenv(ENV_VAR, str(target))
    with pytest.raises(Fs2fError) as raised:
        diarizer_from_environment()
    message = str(raised.value)
    assert message.startswith(f"{ENV_VAR}=") and "\n" not in message


def test_analyze_uses_the_local_pipeline_and_records_it(pipeline_dir, monkeypatch, cli, store_dir):
    import json

    from pyannote.audio.sample import SAMPLE_FILE

    from forensic_s2f.store.case_store import CaseStore

    monkeypatch.setenv(ENV_VAR, str(pipeline_dir))
    assert cli("case", "add", "P1", SAMPLE_FILE["audio"], "-e", "Ann").code == 0
    result = cli("case", "analyze", "P1", "-e", "Ann", "--no-denoise", "--json")
    assert result.code == 0, result
    store = CaseStore(store_dir)
    diarize = [a for a in store.activities("P1") if a.kind == "diarize"]
    store.close()
    assert json.loads(diarize[0].parameters_json)["pipeline_class"] == "VoiceActivityDetection"
    monkeypatch.setenv(ENV_VAR, str(pipeline_dir / "missing"))
    refused = cli("case", "analyze", "P1", "-e", "Ann")
    assert refused.code != 0 and refused.stderr.startswith(f"error: {ENV_VAR}=")


def test_speaker_diarization_pipeline_loads_offline(speaker_diarization_dir, monkeypatch, no_network):
    monkeypatch.setenv(ENV_VAR, str(speaker_diarization_dir))
    diarizer = diarizer_from_environment()
    assert isinstance(diarizer, PyannotePipelineDiarizer)
    params = diarizer.get_params()
    assert params["pipeline_class"] == "SpeakerDiarization"
    assert params["config_sha256"] == hashlib.sha256((speaker_diarization_dir / "config.yaml").read_bytes()).hexdigest()
    assert params["directory"] == str(speaker_diarization_dir.resolve())
    assert json.loads(json.dumps(params)) == params


def _speaker_count(annotation, duration: float) -> int:
    """Number of speakers, after checking they are SPEAKER_00, SPEAKER_01 … in order of first
    appearance and every turn lies inside the audio's `duration` (seconds)."""
    from pyannote.core import Annotation

    assert isinstance(annotation, Annotation)
    first_appearance = list(dict.fromkeys(label for _, _, label in annotation.itertracks(yield_label=True)))
    assert first_appearance == [f"SPEAKER_{i:02d}" for i in range(len(first_appearance))]
    assert sorted(annotation.labels()) == first_appearance
    assert all(0.0 <= segment.start < segment.end <= duration + 0.01 for segment in annotation.get_timeline())
    return len(first_appearance)


def test_speaker_diarization_on_real_speech(speaker_diarization_dir, sample_speech, tmp_path, no_network):
    """Random weights: the structure is checked, not the accuracy; speaker counts reach pyannote."""
    from forensic_s2f.audio.pcm import PcmWriter

    diarizer = PyannotePipelineDiarizer(speaker_diarization_dir)
    rate = sample_speech.sample_rate
    duration = len(sample_speech.samples) / rate
    found = diarizer(sample_speech.samples, rate)
    assert _speaker_count(found, duration) >= 1
    with PcmWriter(tmp_path / "speech.f32", rate) as writer:
        writer.write(sample_speech.samples)
        pcm, _ = writer.close()
    for counts, expected in (({"num_speakers": 2}, 2), ({"min_speakers": 2, "max_speakers": 3}, 2), ({"max_speakers": 1}, 1)):
        annotation = diarizer(pcm, rate, **counts)
        assert _speaker_count(annotation, duration) == expected, counts
        assert annotation.get_timeline().support() == found.get_timeline().support()  # clustering moves no speech


def test_bad_speaker_diarization_directory_is_a_one_line_error_without_network(
        speaker_diarization_dir, tmp_path, monkeypatch, no_network):
    """A config naming a hub model (not a local folder) fails offline, without reaching for the hub."""
    target = tmp_path / "hub-named"
    target.mkdir()
    (target / "config.yaml").write_text(
        (speaker_diarization_dir / "config.yaml").read_text().replace("$model/embedding", "fs2f-tests/no-such-embedding"))
    (target / "segmentation").symlink_to(speaker_diarization_dir / "segmentation")
    (target / "plda").symlink_to(speaker_diarization_dir / "plda")
    monkeypatch.setenv(ENV_VAR, str(target))
    with pytest.raises(Fs2fError) as raised:
        diarizer_from_environment()
    message = str(raised.value)
    assert message.startswith(f"{ENV_VAR}={target}: cannot load") and "\n" not in message
    assert "local cache" in message  # offline mode refused the hub; nothing was fetched


def test_analyze_with_a_speaker_diarization_pipeline(speaker_diarization_dir, monkeypatch, cli, store_dir, no_network):
    from pyannote.audio.sample import SAMPLE_FILE

    from forensic_s2f.store.case_store import CaseStore

    monkeypatch.setenv(ENV_VAR, str(speaker_diarization_dir))
    assert cli("case", "add", "SD1", SAMPLE_FILE["audio"], "-e", "Ann").code == 0
    result = cli("case", "analyze", "SD1", "-e", "Ann", "--no-denoise", "--num-speakers", "2", "--json")
    assert result.code == 0, result
    speakers = {row["speaker"] for row in json.loads(result.stdout)["speakers"]}
    assert speakers == {"SPEAKER_00", "SPEAKER_01"}
    store = CaseStore(store_dir)
    diarize = [a for a in store.activities("SD1") if a.kind == "diarize"]
    rttm = [store.artifact_bytes(a).decode() for a in store.artifacts("SD1") if a.kind == "rttm"]
    store.close()
    assert len(diarize) == 1 and len(rttm) == 1
    assert speakers == {line.split()[7] for line in rttm[0].splitlines()}
    recorded = json.loads(diarize[0].parameters_json)
    assert recorded["pipeline_class"] == "SpeakerDiarization" and recorded["directory"] == str(speaker_diarization_dir.resolve())
    assert recorded["config_sha256"] == hashlib.sha256((speaker_diarization_dir / "config.yaml").read_bytes()).hexdigest()
    assert recorded["num_speakers"] == 2
    verified = cli("audit", "verify", "SD1")
    assert verified.code == 0, verified
