"""`fs2f case report`: the PDF's sections, hashes and figures, its recording in the store,
reproducibility, and one-line refusals. Cases are real (ingested through the CLI); runs are
recorded through the store API with drawn images (see report_fixtures.py)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader

from conftest import store_snapshot, write_tone
from forensic_s2f.report import validation
from forensic_s2f.report.caveats import CAVEATS_DIR
from forensic_s2f.report.context import SECTION_TITLES
from forensic_s2f.store.case_store import CaseStore
from report_fixtures import make_case, record_first_evidence_run, write_validation


@pytest.fixture
def figures_file(tmp_path, monkeypatch) -> Path:
    """The shipped-model validation path pointed at a fixture JSON for the test."""
    path = write_validation(tmp_path / "validation.json")
    monkeypatch.setattr(validation, "DEFAULT_VALIDATION_PATH", path)
    return path


@pytest.fixture
def no_figures(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(validation, "DEFAULT_VALIDATION_PATH", tmp_path / "absent" / "validation.json")


def _pages(path: Path) -> list[str]:
    return [page.extract_text() for page in PdfReader(path).pages]


def _report(cli, case_id: str, output: Path, *extra: str) -> tuple[Path, str, list[str]]:
    result = cli("case", "report", case_id, "--output", output, "-e", "Bob Examiner", *extra)
    assert result.code == 0, result
    path, sha = result.stdout.splitlines()[0].split("  sha256 ")
    assert Path(path) == output and hashlib.sha256(output.read_bytes()).hexdigest() == sha
    return output, sha, _pages(output)


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_many_speakers_report_contents(cli, store_dir, tmp_path, figures_file):
    run_id = make_case(cli, store_dir, tmp_path, "C3", speakers=3)
    assert cli("case", "add", "C3", write_tone(tmp_path / "later.flac", fmt="FLAC"), "-e", "Ann").code == 0
    store = CaseStore(store_dir)
    head_before = store.case_summary("C3").head_hash
    evidence = store.evidence("C3")[0]
    output, sha, pages = _report(cli, "C3", tmp_path / "out" / "c3.pdf", "-e", "Zoë Ødegård")
    text = _flat(" ".join(pages))
    report_id = re.search(r"R-\d+-[0-9a-f]{12}", pages[0]).group(0)
    assert report_id.startswith(f"R-{run_id}-")

    # every page: case id, report id, page x of y
    for number, page in enumerate(pages, start=1):
        assert f"Case C3 · Report {report_id}" in page and f"Page {number} of {len(pages)}" in page
    # cover: head hash pinned, examiner, software, summary of what was found
    assert head_before in pages[0] and "Zoë Ødegård" in pages[0] and "fs2f 0.1.0" in pages[0]
    assert "found 3 speakers (3 in evidence 1 (C3-interview.wav))" in _flat(pages[0])  # (names can repeat: ids cannot)
    for title in SECTION_TITLES:
        assert title in text
    # evidence table
    assert evidence.sha256 in text and "384,044 bytes" in text and "exhibit AB/3" in text
    assert "copied from seized phone" in text and "pcm_s16le, 16000 Hz, 1 channel" in text
    assert "Evidence 2: later.flac (not analysed in this run)" in text
    # one page per speaker, each with its three images and the attribute figure
    reader = PdfReader(output)
    speaker_pages = [i for i, page in enumerate(pages) if re.search(r"3\.\d Speaker SPEAKER_0\d", page)]
    assert len(speaker_pages) == 3
    for index in speaker_pages:
        assert len(reader.pages[index].images) == 4
    # confidence from measured figures: SPEAKER_00 used 3.6 s → the 3 s row; SPEAKER_01 only 0.8 s
    assert "hearing 3 s of speech from each clip (this speaker: 3.6 s of speech)" in text and "93.9 %" in text
    assert "only 0.8 s of speech, less than the shortest duration validated (1 s)" in text
    # validation section quotes the file's figures and its hash
    assert validation.load_validation_figures(figures_file).sha256 in text
    for figure in ("96.1 %", "0.021", "47.3 %", "91.9 %", "46.8 %", "20.0 %"):
        assert figure in text
    # caveats: each template's title, text and SHA-256; case-specific caveats from warnings
    for template in sorted(CAVEATS_DIR.glob("*.md")):
        assert hashlib.sha256(template.read_bytes()).hexdigest() in text and template.name in text
    assert "not identification evidence" in text and "SPEAKER_01: only 0.8 s of speech: low reliability." in text
    # method: activities with model hash; appendix: every custody event's entry hash
    assert "speech2face (completed)" in text and "ab" * 32 in text
    for event in store.custody_log("C3")[:-4]:  # the last four events record this report
        assert event.entry_hash in text

    # recorded: an artifact of a 'report' activity, a custody event naming the file, a clean audit
    report_artifact = [a for a in store.artifacts("C3") if a.kind == "report"]
    assert len(report_artifact) == 1 and report_artifact[0].sha256 == sha
    last = store.custody_log("C3")[-1]
    assert (last.action, last.object_sha256) == ("report", sha) and str(output.resolve()) in last.details_json
    activity = [a for a in store.activities("C3") if a.kind == "report"][0]
    assert activity.run_id is None and report_id in activity.parameters_json and head_before in activity.parameters_json
    assert cli("audit", "verify", "C3").code == 0


def test_one_speaker_without_figures(cli, store_dir, tmp_path, no_figures):
    make_case(cli, store_dir, tmp_path, "C1", speakers=1)
    _, _, pages = _report(cli, "C1", tmp_path / "c1.pdf")
    text = _flat(" ".join(pages))
    assert "found 1 speaker " in text and "3.1 Speaker SPEAKER_00" in text and "3.2 Speaker" not in text
    assert "Measured validation figures are unavailable" in text
    assert "No measured validation figures are available for this model" in text
    validation_page = next(page for page in pages[1:] if "5 Validation of the model" in page)
    assert "%" not in validation_page


def test_zero_speakers(cli, store_dir, tmp_path, figures_file):
    make_case(cli, store_dir, tmp_path, "C0", speakers=0)
    _, _, pages = _report(cli, "C0", tmp_path / "c0.pdf")
    text = _flat(" ".join(pages))
    assert "No speaker was found in any recording" in text
    assert "no speech found: no speakers to analyse" in text
    assert "there are no speaker estimates to show" in text and "Speaker SPEAKER_" not in text


def test_same_run_same_content(cli, store_dir, tmp_path, figures_file):
    make_case(cli, store_dir, tmp_path, "C2", speakers=2)
    _, sha_a, first = _report(cli, "C2", tmp_path / "a.pdf")
    _, sha_b, second = _report(cli, "C2", tmp_path / "b.pdf")
    assert sha_a != sha_b  # written at another time, and the log grew by the first report
    furniture = re.compile(r"written \S+ \S+ UTC|Page \d+ of \d+")
    appendix = next(i for i, page in enumerate(first) if i > 0 and "Appendix A Custody log" in page)
    for a, b in zip(first[1:appendix], second[1:appendix], strict=True):
        assert furniture.sub("", a) == furniture.sub("", b)
    assert re.search(r"R-\d+-[0-9a-f]{12}", first[0]).group(0) == re.search(r"R-\d+-[0-9a-f]{12}", second[0]).group(0)


def test_bytes_deterministic(cli, store_dir, tmp_path, figures_file):
    from forensic_s2f.report.build import build_report
    from forensic_s2f.report.caveats import load_caveats
    from forensic_s2f.report.data import gather_report_data

    make_case(cli, store_dir, tmp_path, "D1", speakers=2)
    data = gather_report_data(CaseStore(store_dir), "D1")
    args = (data, load_caveats(), validation.load_validation_figures(), "Ann", "2026-01-02T03:04:05.000000Z")
    assert build_report(*args).pdf == build_report(*args).pdf
    changed = build_report(data, load_caveats(), None, "Ann", args[-1])
    assert changed.report_id != build_report(*args).report_id
    created = PdfReader(io.BytesIO(build_report(*args).pdf)).metadata.creation_date  # (reportlab's was 2000-01-01)
    assert created.isoformat() == "2026-01-02T03:04:05+00:00" and "SOURCE_DATE_EPOCH" not in os.environ


def test_the_report_activity_records_when_the_report_was_written(cli, store_dir, tmp_path, figures_file):
    """The activity is recorded after the PDF is built (it stores the PDF), so its own times do
    not bracket the writing: the date the report prints is in its parameters."""
    make_case(cli, store_dir, tmp_path, "W1", speakers=1)
    path, _, pages = _report(cli, "W1", tmp_path / "w.pdf")
    (activity,) = [a for a in CaseStore(store_dir).activities("W1") if a.kind == "report"]
    written = json.loads(activity.parameters_json)["written_utc"]
    assert written <= activity.started_utc
    assert PdfReader(path).metadata.creation_date.isoformat() == written[:19] + "+00:00"
    assert f"Date written {written[:10]} {written[11:19]} UTC" in _flat(pages[0])


def test_pages_render_non_blank(cli, store_dir, tmp_path, figures_file):
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm not found: install Debian's poppler-utils (make system-deps) to check rendered pages")
    make_case(cli, store_dir, tmp_path, "R1", speakers=2)
    output, _, pages = _report(cli, "R1", tmp_path / "r1.pdf")
    subprocess.run(["pdftoppm", "-png", "-r", "30", str(output), str(tmp_path / "page")], check=True)
    images = sorted(tmp_path.glob("page-*.png"))
    assert len(images) == len(pages)
    for image in images:
        grey = np.asarray(Image.open(image).convert("L"))
        body = grey[int(0.08 * grey.shape[0]): int(0.9 * grey.shape[0])]  # without header and footer
        assert (body < 200).mean() > 0.005, f"{image.name} looks blank"


def _one_line_error(result) -> str:
    assert result.code != 0 and "Traceback" not in result.stderr + result.stdout, result
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
    return result.stderr


def test_unknown_case(cli, store_dir, tmp_path):
    assert cli("case", "add", "C1", write_tone(tmp_path / "a.wav"), "-e", "Ann").code == 0
    line = _one_line_error(cli("case", "report", "NOPE", "-o", tmp_path / "x.pdf", "-e", "Ann"))
    assert "no case 'NOPE'" in line and not (tmp_path / "x.pdf").exists()


def test_case_never_analysed(cli, store_dir, tmp_path):
    assert cli("case", "add", "C1", write_tone(tmp_path / "a.wav"), "-e", "Ann").code == 0
    before = store_snapshot(store_dir)
    line = _one_line_error(cli("case", "report", "C1", "-o", tmp_path / "x.pdf", "-e", "Ann"))
    assert "no completed analysis" in line and store_snapshot(store_dir) == before


def test_unfinished_run_refused(cli, store_dir, tmp_path):
    assert cli("case", "add", "C1", write_tone(tmp_path / "a.wav"), "-e", "Ann").code == 0
    run = CaseStore(store_dir).start_run("C1", "Ann", {}, [1])
    line = _one_line_error(cli("case", "report", "C1", "--run", run.id, "-o", tmp_path / "x.pdf", "-e", "Ann"))
    assert f"run {run.id} of case 'C1' is running, not completed" in line


def test_existing_output_not_overwritten(cli, store_dir, tmp_path, figures_file):
    make_case(cli, store_dir, tmp_path, "C1", speakers=1)
    target = tmp_path / "taken.pdf"
    target.write_bytes(b"someone else's file")
    before = store_snapshot(store_dir)
    line = _one_line_error(cli("case", "report", "C1", "-o", target, "-e", "Ann"))
    assert "already exists" in line and target.read_bytes() == b"someone else's file"
    assert store_snapshot(store_dir) == before


@pytest.mark.parametrize("command", [("case", "report", "C1", "-o", "{store}/vault/sha256/r.pdf", "-e", "Ann"),
                                     ("case", "export", "C1", "--format", "json", "-o", "{store}/scratch", "-e", "Ann"),
                                     ("case", "export", "C1", "--format", "rttm", "-o", "{store}", "-e", "Ann"),
                                     ("model", "predict", "{audio}", "-o", "{store}/vault/p"),
                                     ("case", "export", "C1", "--format", "csv", "-o", "~/csv", "-e", "Ann")])
def test_outputs_inside_the_case_store_are_refused(cli, store_dir, tmp_path, figures_file, command, monkeypatch):
    """An export written into the vault sat there beside the evidence, and verify still said OK; a
    quoted '~' (a folder of that name, here inside the store) was checked as the home folder."""
    make_case(cli, store_dir, tmp_path, "C1", speakers=1)
    monkeypatch.chdir(store_dir)
    before = store_snapshot(store_dir)
    audio = tmp_path / "C1-interview.wav"
    args = [str(part).format(store=store_dir, audio=audio) for part in command]
    line = _one_line_error(cli(*args))
    assert "is inside the case store" in line
    assert store_snapshot(store_dir) == before


def test_default_output_in_current_folder(cli, store_dir, tmp_path, figures_file, monkeypatch):
    run_id = make_case(cli, store_dir, tmp_path, "C1", speakers=1)
    monkeypatch.chdir(tmp_path)
    result = cli("case", "report", "C1", "-e", "Ann", "--json")
    assert result.code == 0, result
    record = json.loads(result.stdout)
    path = tmp_path / f"C1-report-run{run_id}.pdf"
    assert Path(record["path"]) == path and record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert record["run_id"] == run_id and record["report_id"].startswith(f"R-{run_id}-")


def test_tampered_artifact_refused(cli, store_dir, tmp_path, figures_file):
    make_case(cli, store_dir, tmp_path, "C1", speakers=1)
    store = CaseStore(store_dir)
    face = next(a for a in store.artifacts("C1") if a.kind == "face")
    path = store.vault.path_of(face.sha256)
    os.chmod(path, 0o644)
    path.write_bytes(path.read_bytes()[:-1] + b"\x00")
    line = _one_line_error(cli("case", "report", "C1", "-o", tmp_path / "x.pdf", "-e", "Ann"))
    assert "fails verification" in line and not (tmp_path / "x.pdf").exists()



def test_the_cover_names_the_cases_other_runs(cli, store_dir, tmp_path, figures_file):
    run_id = make_case(cli, store_dir, tmp_path, "M1", speakers=1)
    _, _, alone = _report(cli, "M1", tmp_path / "alone.pdf")
    assert f"run {run_id}" in _flat(alone[0]) and "the case's only analysis run" in _flat(alone[0])
    store = CaseStore(store_dir)
    later = store.start_run("M1", "Ann", {}, [1])
    store.finish_run(later.id, "Ann", "failed", "RuntimeError: stopped")
    store.close()
    _, _, pages = _report(cli, "M1", tmp_path / "two.pdf", "--run", str(run_id))
    assert (f"this report covers this run only; the case's other runs when it was written: run {later.id} (failed)"
            in _flat(pages[0]))


def test_a_report_that_cannot_be_recorded_leaves_no_file(cli, store_dir, tmp_path, figures_file, monkeypatch):
    from forensic_s2f.errors import StoreError
    from forensic_s2f.report import publish

    make_case(cli, store_dir, tmp_path, "L1", speakers=1)

    def locked(*args, **kwargs):
        raise StoreError("the case store is locked")

    record = publish._record
    monkeypatch.setattr(publish, "_record", locked)
    result = cli("case", "report", "L1", "--output", tmp_path / "r.pdf", "-e", "Ann")
    assert result.code == 2 and not (tmp_path / "r.pdf").exists() and not list(tmp_path.glob(".r.pdf.partial-*"))
    monkeypatch.setattr(publish, "_record", record)
    assert cli("case", "report", "L1", "--output", tmp_path / "r.pdf", "-e", "Ann").code == 0  # (the name is free)


def test_a_report_whose_step_fails_says_the_step_was_recorded_as_failed(cli, store_dir, tmp_path, figures_file,
                                                                       monkeypatch):
    """The report's step is recorded as failed when its PDF cannot be stored; the error line now
    says so, where it named only the error."""
    from forensic_s2f.errors import StoreError

    make_case(cli, store_dir, tmp_path, "L1", speakers=1)
    finish_activity = CaseStore.finish_activity

    def refuse_the_pdf(self, *args, **kwargs):
        if kwargs.get("artifacts"):
            raise StoreError("the case store is locked")
        return finish_activity(self, *args, **kwargs)

    monkeypatch.setattr(CaseStore, "finish_activity", refuse_the_pdf)
    result = cli("case", "report", "L1", "--output", tmp_path / "r.pdf", "-e", "Ann")
    failed = [a for a in CaseStore(store_dir).activities("L1") if a.kind == "report"]
    assert [a.status for a in failed] == ["failed"]
    assert result.code == 2 and result.stderr == (f"error: the case store is locked; the report's step (activity "
                                                  f"{failed[0].id}) was recorded as failed in case L1\n")
    assert not (tmp_path / "r.pdf").exists()
    monkeypatch.setattr(CaseStore, "finish_activity", finish_activity)
    assert cli("audit", "verify", "L1").code == 0


def test_a_report_step_the_store_will_not_record_as_failed_still_ends_with_the_first_error(cli, store_dir, tmp_path,
                                                                                         figures_file, monkeypatch):
    """The line named the store's refusal of the 'failed' record, and lost the error before it."""
    from forensic_s2f.errors import StoreError

    make_case(cli, store_dir, tmp_path, "L1", speakers=1)
    finish_activity = CaseStore.finish_activity

    def refuse_the_pdf_then_its_failure(self, *args, **kwargs):
        if kwargs.get("artifacts"):
            raise StoreError("the disk is full")
        if kwargs.get("status") == "failed":
            raise StoreError("the case store is locked")
        return finish_activity(self, *args, **kwargs)

    monkeypatch.setattr(CaseStore, "finish_activity", refuse_the_pdf_then_its_failure)
    result = cli("case", "report", "L1", "--output", tmp_path / "r.pdf", "-e", "Ann")
    (step,) = [a for a in CaseStore(store_dir).activities("L1") if a.kind == "report"]
    assert step.status == "running" and not (tmp_path / "r.pdf").exists()
    assert result.code == 2 and result.stderr == (
        f"error: the disk is full; the report's step (activity {step.id}) could not be recorded as failed in case "
        f"L1 (the case store is locked); `fs2f audit log L1` shows it begun and not ended\n")
    monkeypatch.setattr(CaseStore, "finish_activity", finish_activity)
    log = json.loads(cli("audit", "log", "L1", "--json").stdout)
    assert [e["action"] for e in log if e["object_kind"] == "activity" and e["object_id"] == str(step.id)] == [
        "activity-start"]
    assert cli("audit", "verify", "L1").code == 0


def test_the_report_takes_its_name_only_once_recorded(cli, store_dir, tmp_path, figures_file, monkeypatch):
    """A kill while the report was being recorded left a whole PDF with a report id under the
    name asked for, which the store never recorded. Until it is recorded, the PDF is written
    under a hidden '.partial' name only."""
    from forensic_s2f.report import publish

    make_case(cli, store_dir, tmp_path, "P1", speakers=1)
    seen = []
    record = publish._record

    def watched(*args, **kwargs):
        seen.append(sorted(p.name for p in tmp_path.glob("*r.pdf*")))
        return record(*args, **kwargs)

    monkeypatch.setattr(publish, "_record", watched)
    assert cli("case", "report", "P1", "--output", tmp_path / "r.pdf", "-e", "Ann").code == 0
    assert len(seen) == 1 and len(seen[0]) == 1 and seen[0][0].startswith(".r.pdf.partial-")
    assert sorted(p.name for p in tmp_path.glob("*r.pdf*")) == ["r.pdf"]


def test_text_the_fonts_cannot_draw_is_printed_as_code_points(cli, store_dir, tmp_path, figures_file):
    """A title, an examiner and a file name in Chinese and Arabic script, with a right-to-left
    override and two spaces. Before, the PDF drew empty boxes for the Chinese, the Arabic letters
    left to right (reversed and unjoined), the override as nothing and one space for two."""
    audio = write_tone(tmp_path / "録音 ملف\u202e  x.wav", seconds=12.0, frequency=235.0)
    result = cli("case", "add", "U1", audio, "-e", "王小明", "--title", "盗聴 \u27e61\u27e7")
    assert result.code == 0, result
    record_first_evidence_run(store_dir, "U1", 12.0, 1)
    _, _, pages = _report(cli, "U1", tmp_path / "u1.pdf")
    text = "\n".join(pages)
    assert re.search(r"⟦U\+9332⟧⟦U\+97F3⟧ ⟦U\+0645⟧⟦U\+0644⟧⟦U\+0641⟧⟦U\+202E⟧\s\sx\.wav", text)
    assert "⟦U+76D7⟧⟦U+8074⟧ ⟦U+27E6⟧1⟧" in text and "by ⟦U+738B⟧⟦U+5C0F⟧⟦U+660E⟧" in text
    assert not re.search("[\u0600-\u06ff\u4e00-\u9fff\u202e]", text)
    assert "printed as its Unicode code point" in _flat(text)

    make_case(cli, store_dir, tmp_path, "C1", speakers=1)
    _, _, pages = _report(cli, "C1", tmp_path / "c1.pdf")
    assert "⟦" not in "".join(pages) and "Unicode code point" not in _flat(" ".join(pages))


def test_an_output_name_that_is_not_utf8_is_refused_before_anything_is_written(cli, store_dir, tmp_path, figures_file):
    """A folder name holding a byte that is not UTF-8: the report was written and its artifact
    recorded, then the custody event failed ('internal error: UnicodeEncodeError'), leaving the PDF;
    the export left its files."""
    make_case(cli, store_dir, tmp_path, "N1", speakers=1)
    folder = os.fsdecode(os.fsencode(tmp_path) + b"/d\xe9")
    try:
        os.mkdir(folder)
    except OSError:
        pytest.skip("this file system takes only UTF-8 names")
    before = store_snapshot(store_dir)
    for args in (("case", "report", "N1", "--output", f"{folder}/r.pdf"),
                 ("case", "export", "N1", "--format", "rttm", "--output", f"{folder}/x")):
        result = cli(*args, "-e", "Ann")
        assert result.code == 2 and result.stderr.count("\n") == 1, result
        assert "d\\udce9" in result.stderr and "its name holds bytes that are not UTF-8" in result.stderr
    assert os.listdir(folder) == [] and store_snapshot(store_dir) == before


def test_the_report_states_what_this_run_did(cli, store_dir, tmp_path, figures_file):
    """Run with --no-denoise, one of three speakers without an estimate, a 20,000-character note.
    Before: the report could not be written at all (a table row taller than a page: 'internal
    error: LayoutError'); Section 4 said denoised audio was kept; the cover said each speaker was
    estimated; and it counted every speaker's copy of a recording warning (Section 6 lists it once)."""
    note = ("acquisition note " * 1200)[:20_000]
    audio = write_tone(tmp_path / "long-note.wav", seconds=12.0, frequency=245.0)
    assert cli("case", "add", "W1", audio, "-e", "Ann", "--note", note).code == 0
    record_first_evidence_run(store_dir, "W1", 12.0, 3, denoise=False, unestimated=(2,))
    _, _, pages = _report(cli, "W1", tmp_path / "w1.pdf")
    text = _flat(" ".join(pages))
    assert text.count("acquisition note") >= note.count("acquisition note")  # (the log appendix repeats it)
    assert "this run did not denoise" in text and "Denoised audio" not in text
    assert "For 2 of the 3 speakers a model estimated" in text and "No estimate was made for the other 1" in text
    assert "The analysis recorded 2 warnings" in text  # SPEAKER_01's short speech, SPEAKER_02's missing estimate
    # (a speaker's SNR is measured on its own speech, without pauses: it read as the recording's, with no method)
    assert "18.5 dB (blind percentile estimate, on the speech given to the model)" in text


@pytest.mark.parametrize("count, cover, caveat", [
    ({"num_speakers": 3}, "with the number of speakers in each recording fixed at 3 by the examiner, gave 3 speakers",
     "no warning of speech set aside (a further person who spoke too little to be counted) can appear"),
    ({"min_speakers": 3, "max_speakers": 3}, "fixed at 3 by the examiner, gave 3 speakers", "the count is the examiner's"),
    ({"min_speakers": 2, "max_speakers": 4}, "with the number of speakers in each recording limited to 2 to 4 by the "
     "examiner, found 3 speakers", "the measured counting accuracy in the caveat on who spoke when is for a free count"),
    ({}, "Speaker diarization (who spoke when) found 3 speakers", None),
])
def test_a_speaker_count_set_by_the_examiner_is_reported_as_theirs(cli, store_dir, tmp_path, figures_file,
                                                                   count, cover, caveat):
    """A run with --num-speakers 3 was reported as 'diarization found 3 speakers', with the
    measured counting accuracy as its caveat: the count was the examiner's."""
    audio = write_tone(tmp_path / "fixed.wav", seconds=12.0, frequency=231.0)
    assert cli("case", "add", "N1", audio, "-e", "Ann").code == 0
    record_first_evidence_run(store_dir, "N1", 12.0, 3, count=count)
    _, _, pages = _report(cli, "N1", tmp_path / "n1.pdf")
    text = _flat(" ".join(pages))
    assert cover in text
    if caveat is None:
        assert "The number of speakers was counted automatically." in text and "by the examiner (" not in text
    else:
        assert caveat in text and ("by the examiner (not counted freely" in text or "by the examiner (counted within" in text)


def test_the_evidence_section_names_every_receipt_of_the_same_bytes(cli, store_dir, tmp_path, figures_file):
    """A second receipt (another name, another exhibit) was only in the custody log's appendix."""
    make_case(cli, store_dir, tmp_path, "R1", speakers=1)
    again = tmp_path / "copy from email.wav"
    again.write_bytes((tmp_path / "R1-interview.wav").read_bytes())
    assert cli("case", "add", "R1", again, "-e", "Bob", "--source", "exhibit CD/2").code == 0
    _, _, pages = _report(cli, "R1", tmp_path / "r1.pdf")
    evidence = _flat(pages[1])
    assert "Received again" in evidence and "by Bob: the same bytes as copy from email.wav" in evidence
    assert "source exhibit CD/2" in evidence


def test_the_evidence_section_names_the_file_a_link_led_to(cli, store_dir, tmp_path, figures_file):
    audio = write_tone(tmp_path / "recorder_0001.wav", seconds=12.0, frequency=233.0)
    link = tmp_path / "EXHIBIT-7.wav"
    link.symlink_to(audio)
    assert cli("case", "add", "L1", link, "-e", "Ann").code == 0
    record_first_evidence_run(store_dir, "L1", 12.0, 1)
    _, _, pages = _report(cli, "L1", tmp_path / "l1.pdf")
    evidence = _flat(pages[1])
    assert f"Path at intake {link}" in evidence and f"File read {audio} (where the path given led)" in evidence


def test_a_recording_without_speech_has_no_overlap_measured():
    from forensic_s2f.report.findings import _quality_rows

    rows = dict(_quality_rows({"speech_seconds": 0.0, "overlap_fraction": 0.0, "dc_offset": -1e-6}))
    assert rows["Overlapped speech"] == "not measured"  # (it read '0.0 % of speech' with no speech to measure)
    assert rows["DC offset (mean of the waveform)"] == "+0.0000 of full scale"  # (it read '-0.0000')
    assert dict(_quality_rows({"speech_seconds": 2.0, "overlap_fraction": 0.25}))["Overlapped speech"] == "25.0 % of speech"


def test_warnings_are_counted_as_section_6_lists_them():
    """A recording's warning that its speakers repeat is one warning (it was counted three times)."""
    from types import SimpleNamespace as Item

    from forensic_s2f.report.caveats import warning_count

    band = "narrow band: effective bandwidth 3.9 kHz"
    speakers = [Item(warnings=[band]), Item(warnings=[band, "low SNR", "low SNR"])]
    assert warning_count(Item(findings=[Item(warnings=[band], speakers=speakers)])) == 2


def test_the_report_holds_the_rows_its_verification_checked(cli, store_dir, tmp_path):
    """A row changed (triggers dropped and put back) just after the report's verification passed
    went into the vaulted report (an auditor's review made a female speaker male so). The report
    reads everything in the snapshot the verification read."""
    import sqlite3

    from forensic_s2f.report.data import gather_report_data

    make_case(cli, store_dir, tmp_path, "D1", speakers=2)
    store = CaseStore(store_dir)
    verify = store.verify
    forged = '{"forged":true}'

    def verify_then_tamper(*args, **kwargs):
        checked = verify(*args, **kwargs)
        with sqlite3.connect(store_dir / "fs2f.db") as connection:
            triggers = connection.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND "
                                          "tbl_name = 'speaker'").fetchall()
            for name, _ in triggers:
                connection.execute(f"DROP TRIGGER {name}")
            connection.execute(f"UPDATE speaker SET prediction_json = '{forged}' WHERE id = 1")
            for _, sql in triggers:
                connection.execute(sql)
        return checked

    store.verify = verify_then_tamper
    data = gather_report_data(store, "D1")
    store.close()
    predictions = [speaker.prediction for found in data.findings for speaker in found.speakers]
    assert len(predictions) == 2 and {"forged": True} not in predictions
    assert cli("audit", "verify", "D1").code == 1  # (the change is there, and found)


def test_a_report_removes_the_partial_file_a_killed_report_left(cli, store_dir, tmp_path, figures_file):
    """SIGKILL while a report was written left `.r.pdf.partial-<pid>` beside it for good; the next
    report of that name removes it once its process has ended."""
    import subprocess
    import sys

    make_case(cli, store_dir, tmp_path, "S1", speakers=1)
    ended = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True).stdout)
    (tmp_path / f".r.pdf.partial-{ended}").write_bytes(b"%PDF-1.4 half a report")
    assert cli("case", "report", "S1", "--output", tmp_path / "r.pdf", "-e", "Ann").code == 0
    assert sorted(p.name for p in tmp_path.glob("*r.pdf*")) == ["r.pdf"]


def test_a_folder_named_like_this_process_s_partial_report_is_refused_and_left_alone(cli, store_dir, tmp_path,
                                                                                     figures_file):
    """A folder named like the partial file this very process writes ended the report with
    'internal error: IsADirectoryError' (removing the partial file met the folder)."""
    import os

    make_case(cli, store_dir, tmp_path, "F1", speakers=1)
    folder = tmp_path / f".r.pdf.partial-{os.getpid()}"
    folder.mkdir()
    (folder / "kept.txt").write_text("an analyst's notes")
    events = len(json.loads(cli("audit", "log", "F1", "--json").stdout))
    line = _one_line_error(cli("case", "report", "F1", "--output", tmp_path / "r.pdf", "-e", "Ann"))
    assert line.startswith(f"error: {folder}: cannot be written (File exists)"), line
    assert (folder / "kept.txt").read_text() == "an analyst's notes" and not (tmp_path / "r.pdf").exists()
    assert len(json.loads(cli("audit", "log", "F1", "--json").stdout)) == events


def test_a_link_that_leads_nowhere_in_place_of_the_report_is_refused_first(cli, store_dir, tmp_path, figures_file):
    """A dangling link under the report's name passed the first check (`exists()` follows links),
    so the report was made and recorded before the name was found taken."""
    make_case(cli, store_dir, tmp_path, "K1", speakers=1)
    (tmp_path / "r.pdf").symlink_to(tmp_path / "nowhere.pdf")
    events = len(json.loads(cli("audit", "log", "K1", "--json").stdout))
    result = cli("case", "report", "K1", "--output", tmp_path / "r.pdf", "-e", "Ann")
    assert result.code == 2 and "r.pdf: already exists" in result.stderr, result
    assert (tmp_path / "r.pdf").is_symlink() and not (tmp_path / "nowhere.pdf").exists()
    assert len(json.loads(cli("audit", "log", "K1", "--json").stdout)) == events


def test_a_stop_the_moment_the_report_s_partial_file_is_opened_leaves_nothing(cli, store_dir, tmp_path, figures_file,
                                                                             monkeypatch):
    """A stop between opening the partial file and the block that removes it left the file."""
    from forensic_s2f.report import publish

    make_case(cli, store_dir, tmp_path, "Q1", speakers=1)

    def open_then_stop(path, mode):
        open(path, mode).close()
        raise KeyboardInterrupt

    monkeypatch.setattr(publish, "open", open_then_stop, raising=False)
    assert cli("case", "report", "Q1", "--output", tmp_path / "r.pdf", "-e", "Ann").code != 0
    assert list(tmp_path.glob("*r.pdf*")) == []


def test_a_report_with_no_estimate_at_all_does_not_say_one_was_made(cli, store_dir, tmp_path, figures_file):
    """Two speakers, neither estimated: the cover read 'For 0 of the 2 speakers a model estimated
    from the voice alone the probable gender ...'."""
    audio = write_tone(tmp_path / "none.wav", seconds=12.0, frequency=239.0)
    assert cli("case", "add", "Z1", audio, "-e", "Ann").code == 0
    record_first_evidence_run(store_dir, "Z1", 12.0, 2, unestimated=(0, 1))
    _, _, pages = _report(cli, "Z1", tmp_path / "z1.pdf")
    text = _flat(" ".join(pages))
    assert "found 2 speakers" in text and "No voice-to-face estimate was made for any of them" in text
    assert "For 0 of" not in text and "a model estimated from the voice alone" not in text


def _two_speaker_case_data(cli, store_dir, tmp_path, case_id: str):
    """The report data of a new case with a run of two speakers."""
    from forensic_s2f.report.data import gather_report_data

    make_case(cli, store_dir, tmp_path, case_id, speakers=2)
    store = CaseStore(store_dir)
    try:
        return gather_report_data(store, case_id)
    finally:
        store.close()


def test_the_cover_says_speakers_are_not_matched_across_recordings(cli, store_dir, tmp_path):
    """A run on two recordings read 'found 4 speakers': labels of each recording counted as people."""
    import dataclasses

    from forensic_s2f.report.front import summary_text

    one = _two_speaker_case_data(cli, store_dir, tmp_path, "M1")
    assert "not matched across recordings" not in summary_text(one)
    two = dataclasses.replace(one, findings=[*one.findings, one.findings[0]])
    text = summary_text(two)
    assert "found 4 speakers" in text and "one person heard in two recordings is counted in each" in text


def test_speakers_of_one_estimated_gender_get_a_caveat_to_listen_for_a_split_voice(cli, store_dir, tmp_path):
    """One voice split into two speakers (the commonest count error) was reported as two people
    with no word of it beside them; nothing measured tells such a split from two people."""
    import dataclasses

    from forensic_s2f.report.caveats import case_caveats

    data = _two_speaker_case_data(cli, store_dir, tmp_path, "G1")

    def with_genders(*males: float):
        item = data.findings[0]
        speakers = [dataclasses.replace(s, prediction={**s.prediction, "gender": {"female": 1 - m, "male": m}})
                    for s, m in zip(item.speakers, males)]
        return dataclasses.replace(data, findings=[dataclasses.replace(item, speakers=speakers)])

    said = " ".join(case_caveats(with_genders(0.9, 0.8), None))
    assert "SPEAKER_00 and SPEAKER_01 are both estimated male. The commonest error of the speaker count is one " \
           "voice split into two speakers" in said
    assert "are both estimated" not in " ".join(case_caveats(with_genders(0.9, 0.2), None))
