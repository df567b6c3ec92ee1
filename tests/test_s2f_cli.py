"""`fs2f model predict|info` through the project's CLI entry point (the `cli` fixture)."""

import hashlib
import json
import shutil
from pathlib import Path

from forensic_s2f.manifest import write_manifest
from forensic_s2f.s2f.dataset import load_pairs
from forensic_s2f.s2f.model import ARRAYS_FILE, CONFIG_FILE, DEFAULT_WEIGHTS_DIR, VALIDATION_FILE
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
    document = json.loads((folder / "prediction.json").read_text())
    assert document["seconds_used"] > 5 and "joined end to end" in document["speech_regions_time"]
    # what shaped the numbers besides the weights: the voice activity used (not the one config.json
    # records for training) and the software
    from forensic_s2f.audio.vad import SileroVAD

    assert document["settings"]["vad"] == SileroVAD().get_params()
    # what the input was, as `case analyze` records it (a format review found only the path and hash)
    assert document["input"]["original"] == {"media_type": "audio/flac", "codec": "flac", "sample_rate_hz": 16_000,
                                             "channels": 1, "duration_seconds": 6.0}
    assert document["settings"]["decoder"]["sample_rate_hz"] == 16_000 and document["settings"]["decoder"]["resampler"]
    software = document["settings"]["software"]
    assert software["fs2f"] and software["torch"]
    # the native decoders and the packaged pretrained weights, by version and SHA-256
    import resemblyzer
    import soundfile

    weights = Path(resemblyzer.__file__).parent / "pretrained.pt"
    assert software["sha256 resemblyzer/pretrained.pt"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert len(software["sha256 silero_vad/data/silero_vad.jit"]) == 64
    assert software["libsndfile"] == soundfile.__libsndfile_version__
    assert software["libavcodec"].count(".") == 2 and software["ffmpeg"] not in ("", "not loadable")


def test_predict_names_a_long_path_whole(cli, tmp_path):
    """Redirected output is no terminal: rich's 80 columns cut names to 'deep/aaaa…', and two
    files' rows could not be told apart."""
    data = pairs_dir()
    clip = data / "audio" / f"{load_pairs(data).ids[0]}.flac"
    folder = tmp_path / "deep" / ("a" * 90)
    folder.mkdir(parents=True)
    paths = [folder / f"suspect_call_recording_part{i}.flac" for i in (1, 2)]
    for path in paths:
        path.write_bytes(clip.read_bytes())
    result = cli("model", "predict", *paths, "--output", tmp_path / "out")
    assert result.code == 0, result
    first_column = "".join(line.split("│")[1].strip() for line in result.stdout.splitlines() if line.startswith("│"))
    assert all(str(path) in first_column for path in paths)  # (folded lines joined)


def test_predict_of_silence_is_a_one_line_error(cli, tmp_path):
    import numpy as np
    import soundfile

    silence = tmp_path / "silence.wav"
    soundfile.write(silence, np.zeros(16000 * 3, np.float32), 16000)
    result = cli("model", "predict", str(silence), "--output", str(tmp_path / "out"))
    assert result.code == 1
    assert "silence.wav: no speech detected" in result.stderr
    assert not (tmp_path / "out" / "silence").exists()


def test_predict_error_for_a_file_whose_name_holds_a_newline_stays_on_one_line(cli, tmp_path):
    odd = tmp_path / "two\nlines.wav"
    odd.write_text("not audio")
    result = cli("model", "predict", str(odd), "--output", str(tmp_path / "out"))
    error, summary = result.stderr.splitlines()
    assert result.code == 1 and "two\\nlines.wav: " in error and summary == "1 of 1 file(s) failed"


def test_predict_refuses_what_case_add_refuses_and_reports_what_the_file_calls_for(cli, tmp_path):
    """libsndfile reads a FLAC stream and ignores bytes after it: random bytes there were
    accepted by `model predict` (and refused by `case add`); the file's own warnings (here a tag
    around the stream) were not in prediction.json."""
    (clip,) = _clips(tmp_path, "x.flac")
    junk = tmp_path / "junk.flac"
    junk.write_bytes(clip.read_bytes() + bytes(range(200, 72, -1)))
    tagged = tmp_path / "tagged.flac"
    tagged.write_bytes(clip.read_bytes() + b"TAG" + bytes(125))
    result = cli("model", "predict", junk, tagged, "--output", tmp_path / "out")
    assert result.code == 1 and not (tmp_path / "out" / "junk").exists()
    assert result.stderr.startswith(f"error: {junk}: cannot be decoded as audio")
    warnings = json.loads((tmp_path / "out" / "tagged" / "prediction.json").read_text())["warnings"]
    assert warnings[0].startswith("the file holds an ID3v1 tag (128 bytes, after the stream) besides its FLAC stream")


def test_predict_hears_a_quiet_copy_as_case_analyze_does(cli, tmp_path):
    """`model predict` ran the model's own VAD (silero on the audio as recorded): a copy 40 dB
    quieter was "no speech detected", while `case analyze` raises quiet audio first."""
    import numpy as np
    import soundfile as sf

    (clip,) = _clips(tmp_path, "x.flac")
    samples, rate = sf.read(clip, dtype="float32")
    sf.write(tmp_path / "quiet.wav", samples * np.float32(0.01), rate, subtype="FLOAT")
    result = cli("model", "predict", clip, tmp_path / "quiet.wav", "--output", tmp_path / "out")
    assert result.code == 0, result
    loud, quiet = (json.loads((tmp_path / "out" / name / "prediction.json").read_text()) for name in ("x", "quiet"))
    assert abs(loud["seconds_used"] - quiet["seconds_used"]) < 0.2
    assert abs(loud["gender"]["male"] - quiet["gender"]["male"]) < 0.05


def test_info_prints_the_model_card(cli):
    result = cli("model", "info")
    assert result.code == 0
    assert "# Model card" in result.stdout and "## Limitations" in result.stdout


def test_bad_weights_folder_is_a_one_line_error(cli, tmp_path):
    result = cli("model", "info", "--model", str(tmp_path))
    assert result.code != 0
    assert result.stderr.startswith("error: model weights") and "Traceback" not in result.stdout + result.stderr


def _clips(tmp_path, *names):
    """Copies of distinct shared clips at tmp_path/NAME (NAME may hold a sub-folder)."""
    data = pairs_dir()
    ids = load_pairs(data).ids
    copies = []
    for clip_id, name in zip(ids, names):
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data / "audio" / f"{clip_id}.flac", target)
        copies.append(target)
    return copies


def _files(folder):
    """{relative path: bytes} of every file under `folder` (links listed by their target path)."""
    return {
        str(p.relative_to(folder)): (f"-> {p.readlink()}" if p.is_symlink() else p.read_bytes())
        for p in sorted(folder.rglob("*")) if p.is_symlink() or p.is_file()
    }


def _refused(result, folder):
    """The command failed on one `error:` line naming `folder`, with no traceback."""
    assert result.code == 2, result
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result
    assert f"{folder}:" in result.stderr and "Traceback" not in result.stdout + result.stderr


def test_predict_prints_file_names_as_they_are(cli, tmp_path, monkeypatch):
    """The table took a file name for rich markup: '[b]x.flac' was printed as 'x.flac'."""
    _clips(tmp_path, "[b]x.flac")
    monkeypatch.chdir(tmp_path)
    result = cli("model", "predict", "[b]x.flac", "--output", "out")
    assert result.code == 0 and "[b]x.flac" in result.stdout, result


def test_predict_keeps_inputs_named_with_dots_only_inside_the_output_folder(cli, tmp_path):
    """'...flac' has the stem '..': its outputs went to the output folder's parent; '..flac' (the
    stem '.') wrote them loose in the output folder."""
    _clips(tmp_path / "in", "..flac", "...flac")
    parent = tmp_path / "parent"
    parent.mkdir()
    result = cli("model", "predict", tmp_path / "in" / "..flac", tmp_path / "in" / "...flac", "--output",
                 parent / "out")
    assert result.code == 0, result
    assert sorted(p.name for p in parent.iterdir()) == ["out"]
    assert sorted(p.name for p in (parent / "out").iterdir()) == ["_.", "_.."]
    assert all((parent / "out" / name / "prediction.json").is_file() for name in ("_.", "_.."))


def test_predict_records_its_input_and_never_replaces_earlier_output(cli, tmp_path):
    first, second, other = _clips(tmp_path, "a/x.flac", "b/x.flac", "c/y.flac")
    out = tmp_path / "out"
    result = cli("model", "predict", first, second, "--output", out)
    assert result.code == 0, result
    for name, clip in (("x", first), ("x-2", second)):
        document = json.loads((out / name / "prediction.json").read_text())
        assert document["input"] == {
            "path": str(clip), "bytes": clip.stat().st_size, "sha256": hashlib.sha256(clip.read_bytes()).hexdigest(),
            "original": document["input"]["original"],
        }
        assert {"gender", "age", "seconds_used", "model", "warnings"} <= set(document)
    before = _files(out)

    _refused(cli("model", "predict", second, "--output", out), out / "x")
    # One existing target refuses the whole call: y is not written either.
    _refused(cli("model", "predict", other, second, "--output", out), out / "x")
    assert _files(out) == before

    user = tmp_path / "user"
    (user / "x").mkdir(parents=True)
    (user / "x" / "face.png").write_bytes(b"the user's own picture")
    _refused(cli("model", "predict", first, "--output", user), user / "x")
    assert _files(user) == {"x/face.png": b"the user's own picture"}


def test_predict_never_writes_through_links(cli, tmp_path):
    (clip,) = _clips(tmp_path, "a/x.flac")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "prediction.json").write_text("not yours\n")
    linked_file = tmp_path / "out1"
    (linked_file / "x").mkdir(parents=True)
    (linked_file / "x" / "prediction.json").symlink_to(outside / "prediction.json")
    _refused(cli("model", "predict", clip, "--output", linked_file), linked_file / "x")
    linked_folder = tmp_path / "out2"
    linked_folder.mkdir()
    (linked_folder / "x").symlink_to(outside)
    _refused(cli("model", "predict", clip, "--output", linked_folder), linked_folder / "x")
    dangling = tmp_path / "out3"
    dangling.mkdir()
    (dangling / "x").symlink_to(tmp_path / "nowhere")
    _refused(cli("model", "predict", clip, "--output", dangling), dangling / "x")
    assert _files(outside) == {"prediction.json": b"not yours\n"}
    assert not (tmp_path / "nowhere").exists()


def test_predict_into_a_file_is_a_one_line_refusal(cli, tmp_path):
    (clip,) = _clips(tmp_path, "a/x.flac")
    not_a_folder = tmp_path / "out.txt"
    not_a_folder.write_text("notes\n")
    _refused(cli("model", "predict", clip, "--output", not_a_folder), not_a_folder)
    assert not_a_folder.read_text() == "notes\n"
    out = tmp_path / "out10"
    out.mkdir()
    (out / "x").write_text("a file where the folder would go\n")
    _refused(cli("model", "predict", clip, "--output", out), out / "x")
    assert _files(out) == {"x": b"a file where the folder would go\n"}


def _signed_copy(tmp_path, name, change):
    """A copy of the shipped weights with `change(folder)` applied and the manifest re-signed to match."""
    folder = tmp_path / name
    shutil.copytree(DEFAULT_WEIGHTS_DIR, folder)
    change(folder)
    write_manifest(folder, [ARRAYS_FILE, CONFIG_FILE, VALIDATION_FILE])
    return folder


def test_unreadable_weights_matching_their_manifest_are_one_line_errors(cli, tmp_path):
    (clip,) = _clips(tmp_path, "a/x.flac")
    truncated = _signed_copy(
        tmp_path, "truncated", lambda f: (f / ARRAYS_FILE).write_bytes((f / ARRAYS_FILE).read_bytes()[:100_000])
    )
    malformed = _signed_copy(tmp_path, "malformed", lambda f: (f / CONFIG_FILE).write_text('{"params": '))
    gutted = _signed_copy(tmp_path, "gutted", lambda f: (f / CONFIG_FILE).write_text('{"params": {}, "training": {}}'))
    for folder, named, reason in (
        (truncated, truncated / ARRAYS_FILE, "cannot be read as fs2f model weights (BadZipFile"),
        (malformed, malformed / CONFIG_FILE, "cannot be read as fs2f model weights (JSONDecodeError"),
        (gutted, gutted, "do not describe an fs2f model (KeyError: 'vad')"),
    ):
        for command in (("info",), ("predict", clip, "--output", tmp_path / f"out-{folder.name}")):
            result = cli("model", *command, "--model", folder)
            _refused(result, named)
            assert reason in result.stderr
        assert not (tmp_path / f"out-{folder.name}").exists()


def test_train_and_evaluate_on_a_folder_without_pairs_are_one_line_errors(cli, tmp_path):
    """Off a terminal the progress display left an empty line on stderr before the error."""
    folder = tmp_path / "not-pairs"
    folder.mkdir()
    for args in (("model", "evaluate", "--data", folder), ("model", "train", "--data", folder, "--output", tmp_path / "w")):
        result = cli(*args)
        assert result.code == 2 and result.stdout == ""
        assert result.stderr == f"error: {folder}: not a voice–face pair folder (no labels.csv)\n"
    assert not (tmp_path / "w").exists()
