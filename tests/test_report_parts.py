"""The report's parts on known inputs: validation file, caveat templates, confidence wording, figures."""

from __future__ import annotations

import hashlib
import io
import json

import pytest
from PIL import Image

from forensic_s2f.errors import Fs2fError
from forensic_s2f.report import figures
from forensic_s2f.report.caveats import CAVEATS_DIR, load_caveats
from forensic_s2f.report.confidence import confidence_statement, probability_spread
from forensic_s2f.report.layout import needs_code_points, shown
from forensic_s2f.report.validation import load_validation_figures
from report_fixtures import FIXTURE_VALIDATION, write_validation


def test_validation_absent_is_none(tmp_path):
    assert load_validation_figures(tmp_path / "validation.json") is None


def test_validation_parsed(tmp_path):
    path = write_validation(tmp_path / "validation.json")
    found = load_validation_figures(path)
    assert found.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (found.gender_accuracy, found.gender_ece, found.age_within_one) == (0.9612, 0.021, 0.9188)
    assert [(r.k, r.rate, r.chance) for r in found.retrieval] == [(1, 0.0812, 0.02), (5, 0.3044, 0.1), (10, 0.4677, 0.2)]
    assert [row.seconds for row in found.by_seconds] == [1.0, 3.0, 6.0]
    assert found.for_seconds(0.5) is None and found.for_seconds(3.0).seconds == 3.0
    assert found.for_seconds(5.9).seconds == 3.0 and found.for_seconds(40).seconds == 6.0
    assert found.group("gender", "female").clips == 287 and found.group("age", "60+").age_exact == 0.44
    assert found.group("age", "90+") is None


@pytest.mark.parametrize("broken", [
    "not json",
    json.dumps({"overall": {}}),
    json.dumps({**FIXTURE_VALIDATION, "overall": {**FIXTURE_VALIDATION["overall"], "gender_accuracy": 96.1}}),  # a percentage
])
def test_validation_unreadable_is_an_error(tmp_path, broken):
    path = tmp_path / "validation.json"
    path.write_text(broken)
    with pytest.raises(Fs2fError, match="not a readable validation-figures file"):
        load_validation_figures(path)


def test_shipped_caveats_load_with_hashes():
    templates = load_caveats()
    assert [t.name for t in templates] == sorted(p.name for p in CAVEATS_DIR.glob("*.md"))
    for template in templates:
        assert template.sha256 == hashlib.sha256((CAVEATS_DIR / template.name).read_bytes()).hexdigest()
        assert template.title and template.body and not template.body.startswith("---")
    text = " ".join(t.body for t in templates)
    for needed in ("not a portrait", "investigative aid", "762 voice-face pairs", "Telephone band", "perceived"):
        assert needed in text


@pytest.mark.parametrize(("name", "content", "message"), [
    ("01-topic.md", "---\ntitle: T\nversion: 1\n---\nbody", "names must look like"),
    ("01-topic-v1.md", "no front matter", "must start with front matter"),
    ("01-topic-v2.md", "---\ntitle: T\nversion: 1\n---\nbody", "version equal to the file name"),
    ("01-topic-v1.md", "---\nversion: 1\n---\nbody", "needs a title"),
])
def test_malformed_caveat_templates_refused(tmp_path, name, content, message):
    (tmp_path / name).write_text(content)
    with pytest.raises(Fs2fError, match=message):
        load_caveats(tmp_path)


def test_no_caveat_templates_refused(tmp_path):
    with pytest.raises(Fs2fError, match="no caveat templates"):
        load_caveats(tmp_path)


def test_spread_from_prediction_json():
    assert probability_spread({"age_member_spread": {"<18": 0.05}}, "age") == {"<18": 0.05}
    assert probability_spread({"gender_member_spread": {"female": 0.02, "male": 0.02}}, "gender") == {"female": 0.02, "male": 0.02}
    assert probability_spread({"gender": {"female": 0.3, "male": 0.7}}, "gender") is None


def test_confidence_quotes_measured_figures(tmp_path):
    found = load_validation_figures(write_validation(tmp_path / "validation.json"))
    prediction = {"gender": {"female": 0.1, "male": 0.9}, "age": {"30-44": 0.6, "45-59": 0.4}, "seconds_used": 7.5}
    text = " ".join(confidence_statement(prediction, found))
    assert "hearing each whole 6 s clip (this speaker: 7.5 s of speech)" in text and "96.1 %" in text
    # (of clips named male: 459 of 471 males right, 18 of 287 females wrong; accuracy given the annotation,
    # 97.5 %, had been quoted, larger than the estimate's own probability allows a reader to take it)
    assert ("On whole validation clips (62 % of them male; the figure moves with that mix), of the 477 it named male, "
            "96.2 % were annotated male") in text
    assert "annotated male, it was right" not in text
    assert "it gives male a probability of 0.90." in text and "calibrated to within 0.021 on average" in text
    unmeasured = load_validation_figures(write_validation(tmp_path / "validation.json"))
    object.__setattr__(unmeasured, "gender_ece", None)
    assert "calibrated to" not in " ".join(confidence_statement(prediction, unmeasured))  # (it called them calibrated)
    assert "Always answering 30-44, the commonest bracket, scored 38.3 % exact and 85.6 % within one" in text
    assert "For clips annotated 30-44" not in text  # (accuracy given the true bracket does not describe an estimate)
    assert "46.8 %" in text and "20.0 %" in text
    within = {**prediction, "age_estimate": "30-44", "age_estimate_within_one": 0.97}
    assert ("gives the range 18-29 to 45-59, centred on 30-44, a probability of 0.97 (its own, calibrated); the most "
            "probable single bracket is 30-44 (0.60).") in " ".join(confidence_statement(within, found))
    assert "never on" not in text  # (the fixture records no estimates given)
    assert "overstate" not in text
    assert "likely to overstate" in " ".join(confidence_statement(prediction, found, ["narrow band: 3.9 kHz"]))
    assert "unvalidated" in " ".join(confidence_statement(prediction, None))
    assert confidence_statement({}, found) == ["No estimate was made for this speaker, so no confidence applies."]
    assert "it may leave out" not in text  # (the fixture's outer brackets score as all do)


def _figures_of(raw: dict, tmp_path):
    """Validation figures read from `raw` (a changed copy of the fixture's validation.json)."""
    path = tmp_path / "validation.json"
    write_validation(path)
    path.write_text(json.dumps(raw))
    return load_validation_figures(path)


def test_an_outer_bracket_the_range_often_leaves_out_is_named_beside_the_estimate(tmp_path):
    """A 60+ speaker was given the range 18-29 to 45-59; that the range held the bracket of only
    half the 60+ validation speakers was said in Section 5 only."""
    raw = json.loads(json.dumps(FIXTURE_VALIDATION))
    raw["by_age"]["60+"]["age_within_one"] = 0.51
    found = _figures_of(raw, tmp_path)
    prediction = {"gender": {"female": 0.1, "male": 0.9}, "age": {"30-44": 0.6, "45-59": 0.4}, "seconds_used": 7.5}
    text = " ".join(confidence_statement(prediction, found))
    clips = raw["by_age"]["60+"]["n"]
    assert (f"The range held the annotated bracket of only 51.0 % of the {clips} annotated 60+ in validation: it may "
            "leave out an old speaker's.") in text
    assert "annotated <18" not in text


def test_the_face_figure_is_the_one_measured_at_the_speakers_amount_of_speech(tmp_path):
    """The face sentence always quoted the whole-clip R@10, even for a speaker with 1.5 s of speech."""
    raw = json.loads(json.dumps(FIXTURE_VALIDATION))
    raw["by_seconds"]["1 s"]["R@10"] = 0.291
    found = _figures_of(raw, tmp_path)
    short = {"gender": {"female": 0.1, "male": 0.9}, "seconds_used": 1.5}
    assert ("Face: hearing 1 s of speech from each clip, the true canonical face was among the 10 closest of 50 "
            "candidates for 29.1 % of validation clips") in " ".join(confidence_statement(short, found))
    whole = " ".join(confidence_statement({**short, "seconds_used": 7.5}, found))
    assert "Face: on whole validation clips, the true canonical face was among the 10 closest of 50 candidates " \
           "for 46.8 %" in whole  # (the fixture's whole-clip row records no R@10)


def test_attribute_figure_labels_never_round_to_certainty(monkeypatch):
    """The bars were labelled 1.00 and 0.00 for p = 0.998 / 0.002 while the text said 0.998."""
    from matplotlib.axes import Axes

    labels = []
    draw = Axes.text
    monkeypatch.setattr(Axes, "text", lambda self, x, y, s, *a, **k: labels.append(s) or draw(self, x, y, s, *a, **k))
    figures.attribute_png({"female": 0.002, "male": 0.998}, None, {"30-44": 0.9971, "45-59": 0.0029}, None)
    assert labels == ["0.002", "0.998", "0.997", "0.003"]


def test_figures_deterministic_and_ordered():
    gender, age = {"male": 0.3, "female": 0.7}, {"60+": 0.1, "18-29": 0.2, "<18": 0.1, "45-59": 0.3, "30-44": 0.3}
    png = figures.attribute_png(gender, None, age, {"<18": 0.05})
    assert png == figures.attribute_png(gender, None, age, {"<18": 0.05})
    assert figures.ordered(age) == ["<18", "18-29", "30-44", "45-59", "60+"]
    timeline = figures.timeline_png([("A", 0.0, 1.0), ("B", 1.5, 3.0)], 4.0, ["A", "B"])
    assert timeline == figures.timeline_png([("A", 0.0, 1.0), ("B", 1.5, 3.0)], 4.0, ["A", "B"])
    assert b"Software" not in timeline and Image.open(io.BytesIO(timeline)).size[0] == figures.DPI * figures.FIGURE_WIDTH_INCHES


def test_age_estimate_is_the_models_not_the_argmax():
    from forensic_s2f.report.confidence import estimated_age

    ages = {"<18": 0.05, "18-29": 0.4, "30-44": 0.3, "45-59": 0.25, "60+": 0.0}
    assert estimated_age({"age": ages, "age_estimate": "30-44"}) == ("30-44", 0.3)
    assert estimated_age({"age": ages}) == ("18-29", 0.4)
    assert estimated_age({}) is None


def test_age_estimate_text_gives_the_within_one_probability_when_recorded():
    from forensic_s2f.report.confidence import age_estimate_text

    ages = {"<18": 0.05, "18-29": 0.4, "30-44": 0.3, "45-59": 0.25, "60+": 0.0}
    assert age_estimate_text({"age": ages, "age_estimate": "30-44", "age_estimate_within_one": 0.95}) == (
        "18-29 to 45-59 (0.95); most probable 18-29 (0.40)")  # (it read '30-44 (0.30; ±1 bracket 0.95)')
    assert age_estimate_text({"age": ages, "age_estimate": "<18", "age_estimate_within_one": 0.45}).startswith(
        "<18 to 18-29 (0.45)")
    assert age_estimate_text({"age": ages, "age_estimate": "30-44"}) == "30-44 (0.30)"
    assert age_estimate_text({}) == "-"


def test_validation_age_rows_youngest_first(tmp_path):
    found = load_validation_figures(write_validation(tmp_path / "validation.json"))
    assert [row.group for row in found.by_age] == ["<18", "18-29", "30-44", "45-59", "60+"]


def test_shown_writes_what_the_fonts_cannot_draw_as_code_points():
    assert shown("Zoë Ólafsdóttir, Жанна, λ, ł, e\u0301") == "Zoë Ólafsdóttir, Жанна, λ, ł, e\u0301"
    assert shown("録音 🎙") == "⟦U+9332⟧⟦U+97F3⟧ ⟦U+1F399⟧"
    assert shown("محمد") == "⟦U+0645⟧⟦U+062D⟧⟦U+0645⟧⟦U+062F⟧"  # right to left: would read reversed
    assert shown("אב") == "⟦U+05D0⟧⟦U+05D1⟧"  # in the sans faces, but right to left
    assert shown("a\u202eb\nc\td\u200be\u00a0f") == "a⟦U+202E⟧b⟦U+000A⟧c⟦U+0009⟧d⟦U+200B⟧e⟦U+00A0⟧f"
    assert shown("x\udcff.wav") == "x⟦U+DCFF⟧.wav"  # an undecodable byte in a file name
    assert shown("⟦U+41⟧") == "⟦U+27E6⟧U+41⟧"  # the notation's own bracket, so no text reads as a code point
    assert shown("  a  b ") == "\u00a0\u00a0a \u00a0b\u00a0"  # spaces a paragraph would drop or merge
    assert shown("Жλ") == "Жλ" and shown("Жλ", monospaced=True) == "Жλ"
    # a combining mark with nothing drawn to sit on: after a code point, at the start, after a space
    assert shown("王\u0301 \u0301a") == "⟦U+738B⟧⟦U+0301⟧ ⟦U+0301⟧a" and shown("\u0301") == "⟦U+0301⟧"
    assert shown("שָׁ") == "⟦U+05E9⟧⟦U+05B8⟧⟦U+05C1⟧"
    assert not needs_code_points({"title": ["a", ("b", "Zoë")]}) and needs_code_points({"x": ["a", ("録",)]})


def test_the_report_quotes_what_the_validation_file_says_of_age_and_faces_alone(tmp_path):
    """The age calibration error, the brackets the estimate was centred on and the retrieval of
    the mean face of the true gender and age bracket are in validation.json; the report had
    left all three out (a face scoring 34 % looked worth more than gender and age, 44 %)."""
    raw = json.loads(json.dumps(FIXTURE_VALIDATION))
    raw["overall"]["age_ece"] = 0.047
    raw["overall"]["age_estimates_given"] = {"18-29": 0, "30-44": 566, "45-59": 196, "60+": 0, "<18": 0}
    raw["baselines"]["retrieval_true_gender_age"] = {"R@1": 0.055, "R@5": 0.257, "R@10": 0.438}
    path = write_validation(tmp_path / "validation.json")
    path.write_text(json.dumps(raw))
    found = load_validation_figures(path)
    assert found.age_ece == 0.047 and found.group_mean_recall == ((1, 0.055), (5, 0.257), (10, 0.438))
    assert found.age_estimates_given == (("<18", 0), ("18-29", 0), ("30-44", 566), ("45-59", 196), ("60+", 0))
    prediction = {"gender": {"female": 0.1, "male": 0.9}, "age": {"30-44": 0.6, "45-59": 0.4}, "seconds_used": 7.5,
                  "age_estimate": "30-44", "age_estimate_within_one": 0.9}
    text = " ".join(confidence_statement(prediction, found))
    assert "only ever centred on 30-44 or 45-59, never on <18 or 18-29 or 60+" in text
    assert "the mean face of each clip's true gender and age bracket, made without hearing the voice, scored 43.8 %" in text
    (tmp_path / "old").mkdir()
    old = load_validation_figures(write_validation(tmp_path / "old" / "validation.json"))
    assert old.age_ece is None and old.age_estimates_given == () and old.group_mean_recall == ()
    assert "without hearing" not in " ".join(confidence_statement(prediction, old))


def test_the_gender_named_is_found_from_the_breakdown_by_annotation(tmp_path):
    found = load_validation_figures(write_validation(tmp_path / "validation.json"))
    assert found.gender_named("male") == (459 / 477, 477)  # 459 men right + 18 women named male
    assert found.gender_named("female") == (269 / 281, 281)
    assert found.gender_named("other") is None
