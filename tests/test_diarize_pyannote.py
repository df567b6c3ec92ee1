"""The FS2F_PYANNOTE_PIPELINE loader, on a tiny pipeline built here (random weights, offline)."""

from pathlib import Path

import numpy as np
import pytest

import forensic_s2f  # noqa: F401
from forensic_s2f.diarize.pyannote_pipeline import ENV_VAR, PyannotePipelineDiarizer, diarizer_from_environment
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


def _tiny_pipeline(folder: Path) -> Path:
    """A VoiceActivityDetection pipeline over a 1-layer PyanNet saved as a local checkpoint."""
    import pytorch_lightning
    import torch
    from pyannote.audio.core.task import Problem, Resolution, Specifications
    from pyannote.audio.models.segmentation import PyanNet

    torch.manual_seed(0)
    model = PyanNet(lstm={"hidden_size": 16, "num_layers": 1, "bidirectional": True}, linear={"hidden_size": 16, "num_layers": 1})
    model.specifications = Specifications(
        problem=Problem.MULTI_LABEL_CLASSIFICATION, resolution=Resolution.FRAME, duration=2.0, classes=["speech"]
    )
    model.build()
    checkpoint = {
        "state_dict": model.state_dict(),
        "hyper_parameters": dict(model.hparams),
        "pytorch-lightning_version": pytorch_lightning.__version__,
    }
    model.on_save_checkpoint(checkpoint)
    (folder / "segmentation").mkdir(parents=True)
    torch.save(checkpoint, folder / "segmentation" / "pytorch_model.bin")
    (folder / "config.yaml").write_text(CONFIG)
    return folder


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory) -> Path:
    return _tiny_pipeline(tmp_path_factory.mktemp("pipeline"))


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
