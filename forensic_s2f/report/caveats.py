"""Caveats: the general ones from versioned template files, the case-specific ones from warnings.

A template is `templates/caveats/NN-topic-vK.md`: front matter (`title:`, `version: K`,
matching the file name) between `---` lines, then the text in a small Markdown subset
(paragraphs, `- ` bullets, `**bold**`, `*italic*`). The report prints each file's SHA-256.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from forensic_s2f.config import TEMPLATES_DIR
from forensic_s2f.errors import Fs2fError
from forensic_s2f.report.data import EvidenceFindings, ReportData, RunInfo, SpeakerFindings
from forensic_s2f.report.validation import ValidationFigures

CAVEATS_DIR = TEMPLATES_DIR / "caveats"
_NAME = re.compile(r"^\d{2}-[a-z0-9-]+-v(\d+)\.md$")


@dataclass(frozen=True)
class CaveatTemplate:
    """One caveat text; `name` is the file name, `sha256` that of its bytes."""

    name: str
    title: str
    version: int
    body: str
    sha256: str


def load_caveats(folder: Path = CAVEATS_DIR) -> list[CaveatTemplate]:
    """Every caveat template in `folder`, in file-name order; a missing or malformed one is an error."""
    paths = sorted(path for path in Path(folder).glob("*.md"))
    if not paths:
        raise Fs2fError(f"{folder}: no caveat templates found; a report cannot be written without its caveats")
    return [_load(path) for path in paths]


def _load(path: Path) -> CaveatTemplate:
    match = _NAME.match(path.name)
    if not match:
        raise Fs2fError(f"{path}: caveat template names must look like 01-topic-v1.md")
    data = path.read_bytes()
    text = data.decode("utf-8")
    parts = text.split("---\n", 2)
    if len(parts) != 3 or parts[0].strip():
        raise Fs2fError(f"{path}: caveat template must start with front matter between '---' lines")
    meta = dict(line.split(":", 1) for line in parts[1].strip().splitlines() if ":" in line)
    meta = {key.strip(): value.strip() for key, value in meta.items()}
    if meta.get("version") != match.group(1) or not meta.get("title"):
        raise Fs2fError(f"{path}: front matter needs a title and a version equal to the file name's (v{match.group(1)})")
    return CaveatTemplate(name=path.name, title=meta["title"], version=int(meta["version"]),
                          body=parts[2].strip(), sha256=hashlib.sha256(data).hexdigest())


def sentence(text: str) -> str:
    """The text ending with a full stop (warnings are recorded as clauses)."""
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


def count_choice(options: Mapping[str, Any]) -> str | None:
    """How the examiner set the number of speakers in each recording of a run, from its recorded
    options ('fixed at 3', 'limited to 2 to 4', 'limited to at least 2', 'limited to at most 4');
    None when it was counted freely (`case analyze` without --num-speakers, --min-speakers or
    --max-speakers). `case show` and the report both word it so."""
    fixed, low, high = options.get("num_speakers"), options.get("min_speakers"), options.get("max_speakers")
    if fixed or (low and low == high):
        return f"fixed at {fixed or low}"
    if low and high:
        return f"limited to {low} to {high}"
    if low or high:
        return f"limited to at {'least' if low else 'most'} {low or high}"
    return None


def count_sentence(run: RunInfo) -> str:
    """How the number of speakers came about, as one sentence."""
    choice = count_choice(run.options)
    if choice is None:
        return "The number of speakers was counted automatically."
    how = ("not counted freely; a warning says where that many were not found" if choice.startswith("fixed") else
           "counted within those limits")
    return f"The number of speakers in each recording was {choice} by the examiner ({how})."


def case_caveats(data: ReportData, figures: ValidationFigures | None) -> list[str]:
    """Plain-language caveats for this case, from the run's options and warnings and the validated durations."""
    found: list[str] = []
    if figures is None:
        found.append("No measured validation figures are available for the model that ran: its error rates are "
                      "unknown, and every estimate in this report must be treated as unvalidated.")
    choice = count_choice(data.run.options)
    if choice is not None and choice.startswith("fixed"):
        found.append(f"The number of speakers in each recording was {choice} by the examiner: where that many "
                     "were found, the count is the examiner's, not measured, so the measured counting accuracy in the "
                     "caveat on who spoke when does not apply (a recording's warning says where fewer were found). A "
                     "speaker made up to reach a fixed count may be a fragment of another person's speech, or of noise. "
                     "With the count fixed, speech unlike every speaker is not looked for: no warning of speech set "
                     "aside (a further person who spoke too little to be counted) can appear, and such speech is in "
                     "the speakers' estimates.")
    elif choice is not None:
        found.append(f"The number of speakers in each recording was {choice} by the examiner: the measured counting "
                     "accuracy in the caveat on who spoke when is for a free count.")
    for item in data.findings:
        name = f"Evidence {item.evidence.id} ({item.evidence.filename})"
        for warning in item.warnings:
            found.append(f"{name}: {sentence(warning)}")
        if not item.speakers:
            found.append(f"{name}: no speaker was found, so no voice-to-face estimate was made for this recording.")
        overlap = item.quality.get("overlap_fraction")
        if overlap is not None and overlap > 0.05:
            found.append(f"{name}: {100 * overlap:.0f} % of the speech is overlapped by another speaker; estimates may "
                         "mix voices.")
        for speaker in item.speakers:
            found.extend(_speaker_caveats(name, speaker.label, speaker.prediction, own_warnings(item, speaker), figures))
        found.extend(_alike_speakers(name, item.speakers))
    return found


def _alike_speakers(name: str, speakers: list[SpeakerFindings]) -> list[str]:
    """A caveat per gender estimated for two or more of a recording's speakers: one voice split in
    two is the commonest count error, and such a split lies as far apart as two voices do (docs/
    benchmarks.md), so nothing measured tells it from two people; listening does."""
    by_gender: dict[str, list[str]] = {}
    for speaker in speakers:
        gender = speaker.prediction.get("gender", {})
        if gender:
            by_gender.setdefault(max(gender, key=gender.get), []).append(speaker.label)
    return [f"{name}: {', '.join(labels[:-1])} and {labels[-1]} are {'both' if len(labels) == 2 else 'all'} "
            f"estimated {gender}. The commonest error of the speaker count is one voice split into two speakers, "
            "and nothing measured tells such a split from two people: listen to their turns before treating them "
            "as different people."
            for gender, labels in sorted(by_gender.items()) if len(labels) > 1]


def own_warnings(item: EvidenceFindings, speaker: SpeakerFindings) -> list[str]:
    """A speaker's warnings that its recording does not raise already, each once."""
    return list(dict.fromkeys(warning for warning in speaker.warnings if warning not in item.warnings))


def warning_count(data: ReportData) -> int:
    """The warnings as Section 6 lists them: each recording's, then each speaker's own."""
    return sum(len(item.warnings) + sum(len(own_warnings(item, s)) for s in item.speakers) for item in data.findings)


def _speaker_caveats(name: str, label: str, prediction: dict, warnings: list[str],
                     figures: ValidationFigures | None) -> list[str]:
    found = [f"{name}, {label}: {sentence(warning)}" for warning in warnings]
    if not prediction:
        return found
    seconds = prediction.get("seconds_used")
    if figures is not None and figures.by_seconds and seconds is not None:
        shortest = figures.by_seconds[0].seconds
        if seconds < shortest:
            found.append(f"{name}, {label}: only {seconds:.1f} s of speech was used, less than the shortest duration "
                         f"validated ({shortest:g} s); no measured error rate applies to this estimate.")
    return found
