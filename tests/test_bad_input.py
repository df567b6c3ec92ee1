"""Bad input is refused with one line naming the file and the reason, a non-zero exit,
no traceback, and the case store exactly as it was."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
import soundfile as sf

from conftest import store_snapshot, write_tone


@pytest.fixture
def populated(cli, store_dir, tmp_path):
    """A store that already holds a case, so 'unchanged' means something."""
    assert cli("case", "add", "C1", write_tone(tmp_path / "first.wav"), "-e", "Ann").code == 0
    return store_snapshot(store_dir)


def _refused(cli, store_dir, before, *args):
    result = cli(*args)
    assert result.code != 0, result
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert store_snapshot(store_dir) == before
    return result.stderr


def test_missing_file(cli, store_dir, populated, tmp_path):
    line = _refused(cli, store_dir, populated, "case", "add", "C1", tmp_path / "nope.wav", "-e", "Ann")
    assert "nope.wav: no such file" in line


def test_symbolic_link_to_nothing(cli, store_dir, populated, tmp_path):
    """A dangling link or a loop of links was refused as "no such file", though the name is there."""
    dangling = tmp_path / "dangling.wav"
    dangling.symlink_to(tmp_path / "gone.wav")
    (tmp_path / "loop-a.wav").symlink_to(tmp_path / "loop-b.wav")
    (tmp_path / "loop-b.wav").symlink_to(tmp_path / "loop-a.wav")
    line = _refused(cli, store_dir, populated, "case", "add", "C1", dangling, "-e", "Ann")
    assert line.endswith("dangling.wav: is a symbolic link that leads to no file (No such file or directory)\n")
    line = _refused(cli, store_dir, populated, "case", "add", "C1", tmp_path / "loop-a.wav", "-e", "Ann")
    assert line.endswith("loop-a.wav: is a symbolic link that leads to no file (Too many levels of symbolic links)\n")
    assert "dangling.wav: is a symbolic link that leads to no file" in cli("model", "predict", dangling, "--output",
                                                                            tmp_path / "out").stderr


def test_directory(cli, store_dir, populated, tmp_path):
    line = _refused(cli, store_dir, populated, "case", "add", "C1", tmp_path, "-e", "Ann")
    assert "is a directory" in line


def test_empty_file(cli, store_dir, populated, tmp_path):
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    assert "empty.wav: is empty" in _refused(cli, store_dir, populated, "case", "add", "C1", empty, "-e", "Ann")


def test_unreadable_file(cli, store_dir, populated, tmp_path):
    if os.geteuid() == 0:
        unreadable = "/proc/self/mem"  # root reads any mode; this file fails every read with EIO
    else:
        unreadable = tmp_path / "locked.wav"
        write_tone(unreadable)
        unreadable.chmod(0)
    line = _refused(cli, store_dir, populated, "case", "add", "C1", unreadable, "-e", "Ann")
    assert "cannot be read" in line or "permission denied" in line


def test_not_audio(cli, store_dir, populated, tmp_path):
    text = tmp_path / "notes.wav"
    text.write_text("this is a text file pretending to be a recording\n" * 20)
    assert "cannot be decoded as audio" in _refused(cli, store_dir, populated, "case", "add", "C1", text, "-e", "Ann")


def test_wrong_format_image(cli, store_dir, populated, tmp_path):
    from PIL import Image

    image = tmp_path / "photo.jpg"
    Image.new("RGB", (64, 64), (200, 10, 10)).save(image)
    assert "photo.jpg" in _refused(cli, store_dir, populated, "case", "add", "C1", image, "-e", "Ann")


def test_truncated_flac(cli, store_dir, populated, tmp_path):
    whole = write_tone(tmp_path / "whole.flac", seconds=3.0, fmt="FLAC")
    cut = tmp_path / "cut.flac"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    line = _refused(cli, store_dir, populated, "case", "add", "C1", cut, "-e", "Ann")
    assert "cut.flac" in line and "cannot be decoded" in line


def test_truncated_mp3(cli, store_dir, populated, tmp_path):
    """Its header (LAME's Info frame) states 20 s; a copy cut at half its bytes decodes to 10 s."""
    import numpy as np
    import torch
    from torchcodec.encoders import AudioEncoder

    whole = tmp_path / "whole.mp3"
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(20 * 44_100) / 44_100, dtype=np.float32)
    AudioEncoder(torch.from_numpy(tone[None]), sample_rate=44_100).to_file(str(whole))
    assert cli("case", "add", "C2", whole, "-e", "Ann").code == 0
    before = store_snapshot(store_dir)
    cut = tmp_path / "cut.mp3"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    line = _refused(cli, store_dir, before, "case", "add", "C1", cut, "-e", "Ann")
    assert "cut.mp3" in line and "truncated: its audio ends at 10.0 s of the 20.0 s its header states" in line


def test_one_bad_file_refuses_the_whole_command(cli, store_dir, populated, tmp_path):
    good = write_tone(tmp_path / "good.wav", frequency=500)
    _refused(cli, store_dir, populated, "case", "add", "C1", good, tmp_path / "missing.wav", "-e", "Ann")
    _refused(cli, store_dir, populated, "case", "add", "NEWCASE", good, tmp_path / "missing.wav", "-e", "Ann")


@pytest.mark.parametrize("case_id", ["../escape", "a/b", "..", "x..y", "", "-flag", "a" * 65, "c\nd", "/abs", "a b"])
def test_hostile_case_ids(cli, store_dir, populated, tmp_path, case_id):
    good = write_tone(tmp_path / "good.wav", frequency=600)
    line = _refused(cli, store_dir, populated, "case", "add", "--", case_id, good, "-e", "Ann")
    assert "invalid case id" in line


def test_hostile_file_name_is_stored_verbatim(cli, store_dir, tmp_path):
    import json

    odd = tmp_path / "[bold]x; rm -rf ~ $(id)\n.wav"
    write_tone(odd, frequency=700)
    result = cli("case", "add", "C1", odd, "-e", "Ann", "--json")
    assert result.code == 0, result
    assert json.loads(result.stdout)["added"][0]["original_filename"] == odd.name
    assert "[bold]x" in cli("case", "show", "C1").stdout


def test_file_names_print_as_they_are_in_the_terminal(cli, store_dir, tmp_path):
    """A right-to-left override in a file name reordered what a terminal showed ('b\u202evaw.exe'
    reads 'bexe.wav'), and a tab was printed raw: each is now an escape, in tables and lines."""
    odd = write_tone(tmp_path / "b\u202evaw.exe", frequency=710, fmt="WAV")
    assert cli("case", "add", "C1", odd, "-e", "Ann").code == 0
    assert "b\\u202evaw.exe" in cli("case", "show", "C1").stdout
    copy = tmp_path / "c\td.wav"
    copy.write_bytes(odd.read_bytes())
    result = cli("case", "add", "C1", copy, "-e", "Ann")
    assert result.code == 0 and "c\\td.wav: identical bytes already in case C1" in result.stdout, result


def test_a_file_name_that_is_not_utf8_is_refused_for_that_reason(cli, store_dir, populated, tmp_path):
    """A name holding a byte that is not UTF-8 (a Latin-1 name copied from a seized device) was
    refused as 'cannot be decoded as audio' with a decoder's cast error, though the audio is good."""
    import os

    name = os.fsencode(tmp_path) + b"/caf\xe9.wav"
    try:
        with open(name, "wb") as handle:
            handle.write(write_tone(tmp_path / "good.wav", frequency=720).read_bytes())
    except OSError:
        pytest.skip("this file system takes only UTF-8 names")
    line = _refused(cli, store_dir, populated, "case", "add", "C1", os.fsdecode(name), "-e", "Ann")
    assert "caf\\udce9.wav: its name holds bytes that are not UTF-8" in line
    # through a link with a UTF-8 name: intake records the real path ('internal error: UnicodeEncodeError')
    link = tmp_path / "link.wav"
    link.symlink_to(os.fsdecode(name))
    line = _refused(cli, store_dir, populated, "case", "add", "C1", link, "-e", "Ann")
    assert "link.wav: its name holds bytes that are not UTF-8" in line


def test_a_bad_file_whose_name_holds_a_newline_is_refused_on_one_line(cli, store_dir, populated, tmp_path):
    odd = tmp_path / "two\nlines.wav"
    odd.write_text("not audio")
    line = _refused(cli, store_dir, populated, "case", "add", "C1", odd, "-e", "Ann")
    assert "two\\nlines.wav: " in line


def test_examiner_with_control_characters(cli, store_dir, populated, tmp_path):
    _refused(cli, store_dir, populated, "case", "add", "C1", write_tone(tmp_path / "g.wav"), "-e", "bad\x1bname")


def test_analysis_without_room_on_disk_is_refused_before_anything_is_recorded(cli, store_dir, populated, monkeypatch):
    from forensic_s2f.analysis import SPARE_BYTES
    from forensic_s2f.store.case_store import CaseStore

    monkeypatch.setattr(CaseStore, "free_bytes", lambda self: SPARE_BYTES)  # short of the audio's share
    line = _refused(cli, store_dir, populated, "case", "analyze", "C1", "-e", "Ann")
    assert "'first.wav'" in line and "GiB of free disk where the case store is" in line


def _tamper_vault_copy(store_dir, flip_at):
    """Flip bytes of the only evidence's vault copy as someone with file access could."""
    (path,) = [p for p in (store_dir / "vault" / "sha256").rglob("*") if p.is_file()]
    path.chmod(0o644)
    data = bytearray(path.read_bytes())
    for i in range(flip_at, flip_at + 400):
        data[i] ^= 0x55
    path.write_bytes(bytes(data))
    path.chmod(0o444)


def test_analysis_of_a_changed_vault_copy_is_refused_before_anything_is_recorded(cli, store_dir, populated):
    """A WAV whose samples were changed still decodes: without the check the run would record
    results under the SHA-256 of bytes it never read."""
    _tamper_vault_copy(store_dir, 20_000)
    before = store_snapshot(store_dir)
    line = _refused(cli, store_dir, before, "case", "analyze", "C1", "-e", "Ann")
    assert "evidence 1 (first.wav)" in line and "SHA-256 does not match" in line and "not analysed" in line


def test_a_vault_copy_changed_after_the_first_check_is_not_analysed(cli, store_dir, populated, monkeypatch):
    """The vault copy is re-hashed when the run starts, but a long run reaches its last file
    minutes later: a copy swapped in between was decoded, and its findings recorded under the
    intake SHA-256 (an auditor's review found it). The file decoded is a private copy hashed as
    it is made: the run fails, naming the evidence, and records no findings."""
    import json

    from forensic_s2f.store.case_store import CaseStore

    start_run = CaseStore.start_run

    def start_then_swap(self, *args, **kwargs):
        run = start_run(self, *args, **kwargs)
        _tamper_vault_copy(store_dir, 20_000)
        return run

    monkeypatch.setattr(CaseStore, "start_run", start_then_swap)
    result = cli("case", "analyze", "C1", "-e", "Ann")
    assert result.code != 0 and result.stderr.count("\n") == 1, result
    assert result.stderr.startswith("error: evidence 1 (first.wav): its vault copy no longer holds the bytes recorded "
                                    "at intake"), result.stderr
    assert [run["status"] for run in json.loads(cli("case", "show", "C1", "--json").stdout)["runs"]] == ["failed"]
    store = CaseStore(store_dir)
    assert store.run_results(1) == []
    assert [(a.kind, a.status) for a in store.activities("C1", 1)] == [("decode", "failed")]
    store.close()
    assert list((store_dir / "scratch").glob("*/evidence-*")) == []


def test_analysis_decode_failure_names_the_evidence(cli, store_dir, populated, monkeypatch):
    """Intake decodes every file whole, so no file is known that fails only at analysis; an I/O
    error or another FFmpeg build could. The line then names the evidence id and file, not the
    vault path, and the run is kept as failed."""
    import json

    from forensic_s2f.audio import decode
    from forensic_s2f.errors import InputError

    def failing(path, *args, **kwargs):
        raise InputError(path, "cannot be read (Input/output error)")

    monkeypatch.setattr(decode, "decode_to_pcm", failing)
    result = cli("case", "analyze", "C1", "-e", "Ann")
    assert result.code != 0 and result.stderr.count("\n") == 1, result
    assert result.stderr == ("error: evidence 1 (first.wav): cannot be read (Input/output error); "
                             "run 1 of case C1 was recorded as failed\n")
    runs = json.loads(cli("case", "show", "C1", "--json").stdout)["runs"]
    assert [run["status"] for run in runs] == ["failed"]


def _foreign_database(store_dir):
    import sqlite3
    from contextlib import closing

    store_dir.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(store_dir / "fs2f.db")) as connection:  # (closed here, not when collected)
        connection.execute("CREATE TABLE notes (id INTEGER, body TEXT)")
        connection.execute("INSERT INTO notes VALUES (1, 'not ours')")
        connection.commit()


def _written_by_a_later_fs2f(store_dir):
    import sqlite3
    from contextlib import closing

    with closing(sqlite3.connect(store_dir / "fs2f.db")) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999_later'")
        connection.commit()


@pytest.mark.parametrize("make, reason", [
    (_foreign_database, "not an fs2f case store (it holds other tables: notes)"),
    (lambda store_dir: store_dir.mkdir(parents=True) or (store_dir / "fs2f.db").write_bytes(os.urandom(4096)),
     "not an fs2f case store (file is not a database)"),
    (_written_by_a_later_fs2f, "schema revision '9999_later' is unknown to this one"),
])
def test_a_database_that_is_not_this_fs2f_store_is_refused_untouched(cli, store_dir, tmp_path, make, reason):
    """FS2F_HOME pointing at another program's SQLite file, at garbage, or at a store written by
    a later fs2f: one line, and not one byte of the file changes (no schema, no WAL switch)."""
    if make is _written_by_a_later_fs2f:
        from forensic_s2f.store.case_store import CaseStore

        CaseStore(store_dir, create=True).close()  # (a store at this fs2f's head, its connections closed)
    make(store_dir)
    def files():  # every file's bytes, the database's and its WAL's (not the lock, SQLite's shared-memory index
        # nor the empty WAL file SQLite may create to read a WAL-mode database: both hold no data)
        return {p.name: p.read_bytes() for p in store_dir.rglob("*")
                if p.is_file() and p.name != ".fs2f.lock" and not p.name.endswith("-shm")
                and not (p.name.endswith("-wal") and p.stat().st_size == 0)}

    before = files()
    for command in (("case", "list"), ("case", "add", "C1", write_tone(tmp_path / "g.wav"), "-e", "Ann")):
        result = cli(*command)
        assert result.code == 2 and result.stderr.count("\n") == 1, result
        assert result.stderr.startswith(f"error: {store_dir / 'fs2f.db'}: ") and reason in result.stderr, result.stderr
        assert files() == before


def test_another_title_for_an_existing_case_is_refused(cli, store_dir, populated, tmp_path):
    line = _refused(cli, store_dir, populated, "case", "add", "C1", write_tone(tmp_path / "g.wav"), "-e", "Ann",
                    "--title", "Another title")
    assert "case 'C1' exists with title ''" in line
    assert cli("case", "add", "C1", write_tone(tmp_path / "g.wav"), "-e", "Ann", "--title", "").code == 0


def test_a_case_store_path_that_is_a_file_is_refused(cli, tmp_path, monkeypatch):
    home = tmp_path / "not-a-folder"
    home.write_bytes(b"something else")
    monkeypatch.setenv("FS2F_HOME", str(home))
    for command in (("case", "list"), ("case", "add", "C1", write_tone(tmp_path / "g.wav"), "-e", "Ann")):
        result = cli(*command)
        assert result.code == 2 and result.stderr == f"error: {home}: the case store must be a folder, and this is a file (check $FS2F_HOME)\n"
    assert home.read_bytes() == b"something else"


def test_float_audio_with_samples_that_are_not_numbers_is_analysed_with_a_warning(cli, store_dir, tmp_path):
    """It used to ingest, then fail every analysis with an internal error in the quality step."""
    import json

    import numpy as np
    import soundfile as sf

    path = write_tone(tmp_path / "tone.wav", seconds=3.0)
    data, rate = sf.read(path, dtype="float32")
    data[100:110] = np.nan
    sf.write(tmp_path / "nan.wav", data, rate, subtype="FLOAT")
    added = cli("case", "add", "C1", tmp_path / "nan.wav", "-e", "Ann", "--json")
    warning = "10 decoded samples were not numbers (NaN or infinite) and were set to 0 (silence)"
    assert added.code == 0 and json.loads(added.stdout)["warnings"] == {str(tmp_path / "nan.wav"): [warning]}
    analysed = cli("case", "analyze", "C1", "-e", "Ann", "--json")
    assert analysed.code == 0, analysed
    assert warning in json.loads(analysed.stdout)["evidence"][0]["warnings"]
    assert cli("audit", "verify", "C1").code == 0


def test_a_flac_file_with_an_id3v1_tag_is_ingested_whole_and_analysed_with_a_warning(cli, store_dir, tmp_path):
    """FFmpeg took the tag at its end for damaged audio, so such a file could not be ingested."""
    import hashlib
    import json

    tagged = tmp_path / "tagged.flac"
    stream = write_tone(tmp_path / "tone.flac", seconds=3.0, fmt="FLAC").read_bytes()
    tagged.write_bytes(stream + b"TAG" + b"interview".ljust(30, b"\0") + bytes(94) + b"\x0c")
    added = cli("case", "add", "C1", tagged, "-e", "Ann", "--json")
    assert added.code == 0, added
    (warning,) = json.loads(added.stdout)["warnings"][str(tagged)]
    assert warning.startswith("the file holds an ID3v1 tag (128 bytes, after the stream) besides its FLAC stream")
    shown = json.loads(cli("case", "show", "C1", "--json").stdout)
    assert shown["evidence"][0]["sha256"] == hashlib.sha256(tagged.read_bytes()).hexdigest()
    analysed = cli("case", "analyze", "C1", "-e", "Ann", "--json")
    assert analysed.code == 0, analysed
    assert warning in json.loads(analysed.stdout)["evidence"][0]["warnings"]
    assert cli("audit", "verify", "C1").code == 0


def test_truncated_wav(cli, store_dir, populated, tmp_path):
    """FFmpeg and libsndfile both read a cut WAV to its end and take the duration from its size."""
    whole = write_tone(tmp_path / "whole.wav", seconds=6.0).read_bytes()
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole[: len(whole) // 2])
    line = _refused(cli, store_dir, populated, "case", "add", "C1", cut, "-e", "Ann")
    assert line == f"error: {cut}: cannot be decoded as audio (truncated: its audio ends at 3.0 s of the 6.0 s its header states)\n"


def test_a_video_without_sound_is_refused_as_having_no_audio_stream(cli, store_dir, populated, tmp_path):
    """torchcodec's own text for this ends 'This should never happen. Please report an issue'."""
    import torch
    from torchcodec.encoders import VideoEncoder

    video = tmp_path / "silent-film.mp4"
    VideoEncoder(torch.zeros((10, 3, 64, 64), dtype=torch.uint8), frame_rate=10).to_file(str(video))
    line = _refused(cli, store_dir, populated, "case", "add", "C1", video, "-e", "Ann")
    assert line == f"error: {video}: cannot be decoded as audio (no audio stream)\n"


def test_too_little_speech_is_never_rounded_up_to_the_minimum():
    from forensic_s2f.s2f.checks import SpeechError, require_speech

    with pytest.raises(SpeechError, match=r"^only 0\.99 s of speech detected; at least 1 s is needed$"):
        require_speech(0.998)


def test_a_file_name_the_file_system_refuses_is_a_one_line_error(cli, store_dir, populated, tmp_path):
    """Errors of the machine (here ENAMETOOLONG) were internal errors with exit 3."""
    name = tmp_path / ("z" * 300 + ".wav")
    line = _refused(cli, store_dir, populated, "case", "add", "C1", name, "-e", "Ann")
    assert line == f"error: {name}: File name too long\n"


def test_another_programs_database_in_wal_mode_is_left_byte_for_byte(cli, store_dir, tmp_path):
    """Closing a read-write connection folds a WAL file into its database: the check reads only."""
    import subprocess
    import sys

    store_dir.mkdir(parents=True)
    subprocess.run([sys.executable, "-c", (  # the other program ends without closing: its WAL stays unfolded
        "import os, sqlite3; c = sqlite3.connect(os.sys.argv[1]); c.execute('PRAGMA journal_mode=WAL'); "
        "c.execute('CREATE TABLE notes (id INTEGER, body TEXT)'); c.execute(\"INSERT INTO notes VALUES (1, 'x')\"); "
        "c.commit(); os._exit(0)"), str(store_dir / "fs2f.db")], check=True)
    before = {name: (store_dir / name).read_bytes() for name in ("fs2f.db", "fs2f.db-wal")}
    result = cli("case", "list")
    assert result.code == 2 and "not an fs2f case store (it holds other tables: notes)" in result.stderr
    assert {name: (store_dir / name).read_bytes() for name in ("fs2f.db", "fs2f.db-wal")} == before


@pytest.mark.parametrize("fmt, subtype, suffix", [("AIFF", "FLOAT", ".aifc"), ("AU", "PCM_16", ".au"),
                                                  ("RF64", "PCM_16", ".wav"), ("W64", "PCM_16", ".w64"),
                                                  ("W64", "IMA_ADPCM", ".w64"), ("CAF", "PCM_16", ".caf")])
def test_truncated_aiff_au_rf64_w64_and_caf_are_refused(cli, store_dir, populated, tmp_path, fmt, subtype, suffix):
    """Their headers count the audio, but half of such a file was ingested as a whole recording."""
    whole = tmp_path / f"whole{suffix}"
    t = np.arange(16_000 * 20) / 16_000
    sf.write(whole, 0.3 * np.sin(2 * np.pi * 330 * t), 16_000, format=fmt, subtype=subtype)
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    line = _refused(cli, store_dir, populated, "case", "add", "C1", cut, "-e", "Ann")
    assert re.fullmatch(rf"error: {re.escape(str(cut))}: cannot be decoded as audio \(truncated: its audio ends at "
                        r"(9\.9|10\.0) s of the 20\.0 s its header states\)\n", line), line
    assert cli("case", "add", "C1", whole, "-e", "Ann").code == 0


def test_an_impossible_sample_rate_and_an_unsupported_codec_are_refused_for_what_they_are(
        cli, store_dir, populated, tmp_path):
    """A WAV header stating 1 Hz was ingested as 640000 s (the analysis then asked for 95 GiB of
    disk); NMS ADPCM was refused with FFmpeg's 'patches welcome'."""
    rate_one = write_tone(tmp_path / "rate1.wav", seconds=2.0)
    header = bytearray(rate_one.read_bytes())
    fmt = header.index(b"fmt ") + 8
    header[fmt + 4: fmt + 8] = (1).to_bytes(4, "little")  # sample rate
    header[fmt + 8: fmt + 12] = (2).to_bytes(4, "little")  # byte rate
    rate_one.write_bytes(bytes(header))
    line = _refused(cli, store_dir, populated, "case", "add", "C1", rate_one, "-e", "Ann")
    assert "rate1.wav: cannot be decoded as audio (its header states a sample rate of 1 Hz" in line
    from forensic_s2f.audio.decode import load
    from forensic_s2f.errors import InputError

    with pytest.raises(InputError, match="sample rate of 1 Hz"):  # (it resampled 2 s into 27 GiB)
        load(rate_one)
    nms = tmp_path / "nms.wav"
    try:
        sf.write(nms, np.zeros(8000), 8000, subtype="NMS_ADPCM_32")
    except (ValueError, sf.LibsndfileError):
        pytest.skip("this libsndfile writes no NMS ADPCM")
    line = _refused(cli, store_dir, populated, "case", "add", "C1", nms, "-e", "Ann")
    assert "nms.wav: cannot be decoded as audio (its codec, or a feature of it, is not supported by this FFmpeg)" in line


def test_odd_w64_and_caf_headers_are_one_line_errors_and_compressed_aiff_c_is_whole(
        cli, store_dir, populated, tmp_path):
    """The size checks of W64/CAF headers crashed on a NaN sample rate, a cut 'desc' chunk or a
    huge chunk size ('internal error'); a GSM 6.10 AIFF-C was refused as 160 times its length."""
    import struct

    t = np.arange(16_000 * 4) / 16_000
    tone = 0.3 * np.sin(2 * np.pi * 300 * t)
    caf, w64 = tmp_path / "good.caf", tmp_path / "good.w64"
    sf.write(caf, tone, 16_000, format="CAF", subtype="PCM_16")
    sf.write(w64, tone, 16_000, format="W64", subtype="PCM_16")
    nan_rate = bytearray(caf.read_bytes())
    nan_rate[20:28] = struct.pack(">d", float("nan"))
    huge = bytearray(w64.read_bytes())
    huge[56:64] = (2**63).to_bytes(8, "little")  # (the fmt chunk's size)
    for name, content in (("nan.caf", bytes(nan_rate)), ("cut.caf", caf.read_bytes()[:30]), ("huge.w64", bytes(huge))):
        (tmp_path / name).write_bytes(content)
        result = cli("case", "add", "C1", tmp_path / name, "-e", "Ann")
        assert "internal error" not in result.stderr and "Traceback" not in result.stderr, (name, result)
    gsm = tmp_path / "gsm.aiff"
    sf.write(gsm, tone, 16_000, format="AIFF", subtype="GSM610")
    result = cli("case", "add", "C1", gsm, "-e", "Ann", "--json")
    assert result.code == 0, result


def test_a_renamed_file_is_warned_of_at_intake_and_in_the_run(cli, store_dir, tmp_path):
    """The warning names the file as the examiner gave it; the run, which decodes a private copy
    of the vault file, names it from the evidence's original file name."""
    import json
    import shutil

    renamed = shutil.copy(write_tone(tmp_path / "first.wav", seconds=3.0), tmp_path / "call.mp3")
    added = cli("case", "add", "C1", renamed, "-e", "Ann")
    assert added.code == 0 and "call.mp3: warning: the file's name ends in '.mp3', but its bytes are audio/wav" in \
        " ".join(added.stdout.split()), added.stdout
    assert cli("case", "analyze", "C1", "-e", "Ann").code == 0
    (recording,) = json.loads(cli("case", "show", "C1", "--json").stdout)["runs"][0]["evidence"]
    assert any(w.startswith("the file's name ends in '.mp3', but its bytes are audio/wav") for w in recording["warnings"])


def test_digital_silence_is_taken_in_with_a_warning_and_its_run_says_no_speech_once(cli, store_dir, tmp_path):
    """A file of zeros is evidence like any other (taken in, exit 0), but the examiner is told at
    intake that it holds no sound; it was taken in without a word. The run says it once."""
    import json

    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros((3 * 16_000, 2), np.float32), 16_000)
    added = cli("case", "add", "C1", silent, "-e", "Ann", "--json")
    assert added.code == 0, added
    (evidence,) = json.loads(added.stdout)["added"]
    assert json.loads(added.stdout)["warnings"] == {str(silent): [
        "every sample is zero (digital silence): the file holds no sound, so analysis will find no speech in it"]}
    plain = cli("case", "add", "C1", write_tone(tmp_path / "tone.wav", seconds=3.0), "-e", "Ann")
    assert plain.code == 0 and "warning" not in plain.stdout, plain.stdout
    assert cli("case", "analyze", "C1", "-e", "Ann", "--evidence", str(evidence["id"])).code == 0
    (recording,) = json.loads(cli("case", "show", "C1", "--json").stdout)["runs"][0]["evidence"]
    assert recording["warnings"] == ["no speech detected"]
    assert cli("audit", "verify", "C1").code == 0


def test_an_amr_file_with_silence_compression_frames_is_refused_for_what_it_holds(cli, store_dir, populated, tmp_path):
    """FFmpeg's AMR decoder fails on a phone's discontinuous transmission (SID and NO_DATA
    frames); the refusal said only 'a feature of it is not supported', or 'invalid data', which
    reads as a corrupt file (a format review). The same speech frames without them decode."""
    rng = np.random.default_rng(0)
    sizes = {7: 31, 8: 5, 15: 0}  # payload bytes of the 12.2 kb/s speech mode, SID and NO_DATA (RFC 4867)

    def amr(kinds: list[int]) -> bytes:
        return b"#!AMR\n" + b"".join(bytes([kind << 3 | 4]) + rng.integers(0, 256, sizes[kind], dtype=np.uint8).tobytes()
                                     for kind in kinds)

    speech = tmp_path / "speech.amr"
    speech.write_bytes(amr([7] * 100))
    assert cli("case", "add", "C2", speech, "-e", "Ann").code == 0
    before = store_snapshot(store_dir)
    for name, pause in (("dtx.amr", [8] + [15] * 7), ("nodata.amr", [15] * 8)):
        path = tmp_path / name
        path.write_bytes(amr([7] * 50 + pause + [7] * 50))
        line = _refused(cli, store_dir, before, "case", "add", "C1", path, "-e", "Ann")
        assert name in line and "it holds 8 AMR silence-compression frames (SID or NO_DATA" in line, line


@pytest.mark.parametrize("args, said", [
    (("case", "show", "C1", "--bogus"), "error: fs2f case show: No such option: --bogus"),
    (("case", "shw"), "error: fs2f case: No such command 'shw'. Did you mean 'show'?"),
    (("case", "add"), "error: fs2f case add: Missing argument 'case_id'."),
    (("case", "analyze", "C1", "--num-speakers", "two"), "error: fs2f case analyze: Invalid value for '--num-speakers'"),
    (("case", "add", "C1", "e.wav", "--examiner"), "error: fs2f case add: Option '--examiner' requires an argument"),
])
def test_a_command_line_fs2f_cannot_run_is_one_line(cli, store_dir, args, said):
    """An unknown option or command, or a bad or missing value, printed a boxed block of five lines."""
    result = cli(*args)
    assert result.code == 2 and result.stderr.startswith(said) and result.stderr.count("\n") == 1, result
    assert result.stdout == "" and not (store_dir / "fs2f.db").exists()


def test_help_still_prints_and_no_arguments_still_show_it(cli):
    assert cli("--help").code == 0
    shown = cli("case")
    assert shown.code == 2 and "add" in shown.stdout and "analyze" in shown.stdout


def test_version_as_an_option_too(cli, store_dir):
    """`fs2f --version` was refused as an unknown option; only `fs2f version` printed it."""
    from forensic_s2f import __version__

    for args in (("--version",), ("version",)):
        result = cli(*args)
        assert result.code == 0 and result.stdout == f"fs2f {__version__}\n" and result.stderr == "", result
    assert not (store_dir / "fs2f.db").exists()


@pytest.mark.parametrize("change", ["cut short", "replaced", "rewritten"])
def test_a_file_that_changes_after_its_audio_is_checked_is_refused(cli, store_dir, populated, tmp_path, monkeypatch,
                                                                   change):
    """Every file named is checked as audio before any is copied into the vault: one cut short,
    replaced by another file or rewritten (same size) in between was stored as evidence with the
    check of the file it had been (exit 0; `audit verify` OK), found out only when analysed."""
    from forensic_s2f.audio import decode

    victim, later = write_tone(tmp_path / "victim.wav", seconds=3.0), write_tone(tmp_path / "later.wav", seconds=2.0)
    probe = decode.probe

    def probe_then_change(path):
        info = probe(path)
        if path == later:  # (the victim is checked; before it is copied, it changes)
            if change == "cut short":
                os.truncate(victim, victim.stat().st_size // 2)
            elif change == "replaced":
                os.replace(write_tone(tmp_path / "other.wav", seconds=3.0, frequency=330.0), victim)
            else:
                data = bytearray(victim.read_bytes())
                data[-100:] = bytes(100)
                victim.write_bytes(bytes(data))
        return info

    monkeypatch.setattr(decode, "probe", probe_then_change)
    line = _refused(cli, store_dir, populated, "case", "add", "C1", victim, later, "-e", "Ann")
    assert f"{victim}: changed while it was taken in" in line and "nothing was added" in line, line
    monkeypatch.setattr(decode, "probe", probe)  # (taken in again, the file is checked as it now is)
    retaken = cli("case", "add", "C1", victim, later, "-e", "Ann")
    if change == "cut short":
        assert retaken.code == 2 and "truncated" in retaken.stderr, retaken
    else:
        assert retaken.code == 0, retaken
