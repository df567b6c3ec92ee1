"""`fs2f model predict|info` through the project's CLI entry point (the `cli` fixture)."""

import json

from forensic_s2f.s2f.dataset import load_pairs
from tests.s2f_helpers import pairs_dir


def test_predict_writes_outputs_and_continues_past_bad_files(cli, tmp_path):
    data = pairs_dir()
    clip = data / "audio" / f"{load_pairs(data).ids[0]}.flac"
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("this is not audio\n")
    empty = tmp_path / "empty.flac"
    empty.write_bytes(b"")
    missing = tmp_path / "missing.flac"
    result = cli("model", "predict", not_audio, clip, empty, missing, "--output", tmp_path / "out")
    assert result.code == 1
    assert "Traceback" not in result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 3
    assert any("notes.wav" in line and "cannot be decoded" in line for line in errors)
    assert any("empty.flac" in line and "empty" in line for line in errors)
    assert any("missing.flac" in line and "no such file" in line for line in errors)
    folder = tmp_path / "out" / clip.stem
    assert sorted(p.name for p in folder.iterdir()) == ["face.png", "members.png", "prediction.json", "uncertainty.png"]
    assert json.loads((folder / "prediction.json").read_text())["seconds_used"] > 5


def test_predict_of_silence_is_a_one_line_error(cli, tmp_path):
    import numpy as np
    import soundfile

    silence = tmp_path / "silence.wav"
    soundfile.write(silence, np.zeros(16000 * 3, np.float32), 16000)
    result = cli("model", "predict", str(silence), "--output", str(tmp_path / "out"))
    assert result.code == 1
    assert "silence.wav: no speech detected" in result.stderr
    assert not (tmp_path / "out" / "silence").exists()


def test_info_prints_the_model_card(cli):
    result = cli("model", "info")
    assert result.code == 0
    assert "# Model card" in result.stdout and "## Limitations" in result.stdout


def test_bad_weights_folder_is_a_one_line_error(cli, tmp_path):
    result = cli("model", "info", "--model", str(tmp_path))
    assert result.code != 0
    assert result.stderr.startswith("error: model weights") and "Traceback" not in result.stdout + result.stderr
